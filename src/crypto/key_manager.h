// Master key (KEK) and data-key wrapping (R-SEC-STO-1/2, R-SEC-STO-3 via the
// storage layer; X.1279 section 11 decision 5: per-user data key wrapped by a
// master key; decision 11: deleting the wrapped key crypto-shreds the data).
//
// The KEK comes from a file (must be mode 0600 or stricter: any group/other
// permission bit refuses start-up) or from an environment variable. Both hold
// 64 hexadecimal characters (32 bytes); a file may also hold 32 raw bytes.
//
// Wrapped key layout (all integers big-endian):
//   "LGWK" (4) | format 0x01 (1) | kek_id (8) | AES-256-GCM(nonce 12 | ct | tag 16)
// AAD = "livegate/wrap/v1" | kek_id | purpose, so a wrapped key moved to
// another purpose (e.g. another user's row) fails to unwrap.
// kek_id = first 8 bytes of HMAC-SHA256(KEK, "livegate kek id"): it names
// the KEK version without revealing it.
//
// Rotation without downtime: load the new KEK as current and the old one as
// previous; UnwrapKey accepts both; Rewrap() re-wraps under the current KEK;
// once every row is re-wrapped the previous KEK can be dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/aead.h"
#include "livegate/status.h"

namespace livegate::crypto {

constexpr std::size_t kKekSize = 32;
constexpr std::size_t kKekIdSize = 8;
constexpr std::size_t kDataKeySize = 32;

struct KeyManagerOptions {
  // File holding the current KEK. Empty: use `env_var`. Default "".
  std::string key_file;
  // Environment variable with the current KEK in hex, used when key_file is
  // empty. Default "LIVEGATE_MASTER_KEY".
  std::string env_var = "LIVEGATE_MASTER_KEY";
  // During rotation only: the previous KEK (file, else env variable). A key
  // wrapped under it still unwraps. Defaults "" and
  // "LIVEGATE_MASTER_KEY_PREVIOUS" (ignored when unset).
  std::string previous_key_file;
  std::string previous_env_var = "LIVEGATE_MASTER_KEY_PREVIOUS";
};

class KeyManager {
 public:
  // Loads the KEK(s). Errors: NotFound(keys.kek_missing),
  // FailedPrecondition(keys.kek_file_permissions) for a key file readable or
  // writable by group/others, BadInput(keys.kek_malformed).
  static Result<KeyManager> Load(const KeyManagerOptions& options);
  // From raw keys (tests, rotation tooling). Each key must be 32 bytes.
  static Result<KeyManager> FromKeys(Bytes current, std::optional<Bytes> previous = std::nullopt);

  // Writes a fresh random KEK (hex) to `path` with mode 0600; refuses to
  // overwrite (AlreadyExists(keys.kek_exists)).
  static Status GenerateKeyFile(const std::string& path);
  // Reads a KEK file with the permission check (shared by Load and tools).
  static Result<Bytes> ReadKeyFile(const std::string& path);

  // A fresh random 32-byte data key.
  static Bytes NewDataKey();

  // Wraps a data key (1..16384 bytes; also private-key PEMs) for `purpose`
  // (e.g. "user:42").
  Result<Bytes> WrapKey(ByteView data_key, std::string_view purpose) const;
  // Unwraps with the current or the previous KEK (chosen by kek_id).
  // Errors: BadInput(keys.wrapped_malformed), NotFound(keys.unknown_kek)
  // when neither loaded KEK wrapped it, DataLoss(keys.unwrap_failed) when
  // the purpose or the bytes do not match.
  Result<Bytes> UnwrapKey(ByteView wrapped, std::string_view purpose) const;
  // True when `wrapped` is not under the current KEK (needs Rewrap).
  bool NeedsRewrap(ByteView wrapped) const;
  // Unwraps (current or previous KEK) and wraps again under the current KEK.
  Result<Bytes> Rewrap(ByteView wrapped, std::string_view purpose) const;

  // A 32-byte secret derived from the current KEK with HKDF-SHA256 for a
  // fixed label (e.g. "srp fake salt", "tls key encryption"). Stable for a
  // given KEK.
  Bytes DeriveSecret(std::string_view label) const;

  // Hex kek_id of the current / previous KEK ("" if none).
  std::string current_kek_id() const;
  std::string previous_kek_id() const;
  bool has_previous() const { return previous_.has_value(); }

 private:
  struct Kek {
    Bytes key;
    Bytes id;  // kKekIdSize
  };
  static Kek MakeKek(Bytes key);
  Kek current_;
  std::optional<Kek> previous_;
};

}  // namespace livegate::crypto
