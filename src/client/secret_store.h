// Security management on the device (X.1279 7.2, R-CLI-SM-1; decision 11.6):
// the per-device secret generated at registration, kept encrypted at rest in
// the client state folder.
//
// Layout of the state folder (0700):
//   device.key                     32 random bytes (0600): the key-encryption key
//   credentials/<hex>.cred         AES-256-GCM(key, credential), 0600; <hex> is
//                                  SHA-256(server URL "\n" account) - no account
//                                  name in file names
//
// What this protects, honestly: a copied or backed-up credential file alone
// is useless (its key is elsewhere), a file changed on disk is detected
// (GCM tag, with the server and account bound in as associated data), and
// the secret never sits in the clear on disk. It does NOT protect against
// malware or anyone running as the same user: they can read device.key as
// well. This machine has no TPM or OS keyring we can rely on (R-SEC-CLI-5 is
// not met by a plain Linux process; decision 11.15 says the server should
// raise the risk tier for such a device).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "livegate/status.h"

namespace livegate::client {

struct DeviceCredential {
  std::string server;                 // server URL the credential belongs to
  std::string account;
  std::string device_id;              // chosen by the client at registration
  std::vector<std::uint8_t> secret;   // 32 random bytes; SRP password of this device
};

// Default: $LIVEGATE_STATE_DIR, else $XDG_STATE_HOME/livegate, else ~/.local/state/livegate.
std::filesystem::path DefaultStateDir();

class SecretStore {
 public:
  // Creates the folder (0700) and device.key (0600) when missing. Refuses a
  // folder or key file readable by others: secret.permissions_too_open.
  static Result<SecretStore> Open(const std::filesystem::path& state_dir);

  // A fresh credential: random device id and 32-byte secret (not yet saved).
  static DeviceCredential Generate(const std::string& server, const std::string& account);

  Status Save(const DeviceCredential& credential) const;
  // Reasons: secret.not_found, secret.permissions_too_open, secret.corrupt
  // (tampered, wrong key or not ours).
  Result<DeviceCredential> Load(const std::string& server, const std::string& account) const;
  // Removes the credential (after deregistration). Not finding it is OK.
  Status Remove(const std::string& server, const std::string& account) const;

  std::filesystem::path CredentialPath(const std::string& server, const std::string& account) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  SecretStore(std::filesystem::path dir, std::vector<std::uint8_t> key)
      : dir_(std::move(dir)), key_(std::move(key)) {}
  std::filesystem::path dir_;
  std::vector<std::uint8_t> key_;
};

// Writes `bytes` to `path` atomically with mode 0600 (temp file, fsync, rename).
Status WritePrivateFile(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes);
// Reads a file, refusing it if group or others may read or write it.
Result<std::vector<std::uint8_t>> ReadPrivateFile(const std::filesystem::path& path);

}  // namespace livegate::client
