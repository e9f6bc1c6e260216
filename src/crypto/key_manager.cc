#include "crypto/key_manager.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "crypto/kdf.h"

namespace livegate::crypto {
namespace {

constexpr char kMagic[4] = {'L', 'G', 'W', 'K'};
constexpr std::uint8_t kFormat = 1;
constexpr std::size_t kHeaderSize = 4 + 1 + kKekIdSize;
constexpr std::size_t kMaxWrappedKey = 16384;  // also private-key PEMs

Bytes WrapAad(ByteView kek_id, std::string_view purpose) {
  Bytes aad = ToBytes("livegate/wrap/v1");
  aad.insert(aad.end(), kek_id.begin(), kek_id.end());
  aad.insert(aad.end(), purpose.begin(), purpose.end());
  return aad;
}

Result<Bytes> ParseKeyText(std::string_view text, const std::string& where) {
  // Trim surrounding whitespace (a trailing newline from `echo` is common).
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  if (text.size() == 2 * kKekSize) {
    auto bytes = HexDecode(text);
    if (bytes.ok()) return bytes;
  }
  return Status::BadInput("keys.kek_malformed",
                          where + ": the master key must be 64 hexadecimal characters (32 bytes)");
}

Result<Bytes> KeyFromEnv(const std::string& var) {
  const char* v = var.empty() ? nullptr : std::getenv(var.c_str());
  if (v == nullptr || *v == '\0') {
    return Status::NotFound("keys.kek_missing", "no master key: environment variable " + var +
                                                    " is not set and no key file is configured");
  }
  return ParseKeyText(v, "environment variable " + var);
}

}  // namespace

KeyManager::Kek KeyManager::MakeKek(Bytes key) {
  Kek k;
  Bytes id = HmacSha256(key, AsBytes("livegate kek id"));
  k.id.assign(id.begin(), id.begin() + kKekIdSize);
  k.key = std::move(key);
  return k;
}

Result<Bytes> KeyManager::ReadKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("keys.kek_missing",
                            "master key file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::BadInput("keys.kek_malformed", "master key file " + path + " is not a regular file");
  }
  // R-SEC-STO-1: strict access control. Any group/other bit refuses start-up.
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status(StatusCode::kFailedPrecondition, "keys.kek_file_permissions",
                  "refusing to start: master key file " + path + " has mode " + mode +
                      " (readable or writable by group/others); run: chmod 600 " + path);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("keys.kek_missing", "cannot open master key file " + path);
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() == kKekSize) {
    // 32 raw bytes are accepted too, unless they happen to look like text.
    auto parsed = ParseKeyText(text, path);
    if (!parsed.ok()) return Bytes(text.begin(), text.end());
    return parsed;
  }
  if (text.size() > 1024) {
    return Status::BadInput("keys.kek_malformed", "master key file " + path + " is too large");
  }
  return ParseKeyText(text, "master key file " + path);
}

Status KeyManager::GenerateKeyFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status(StatusCode::kAlreadyExists, "keys.kek_exists",
                    "refusing to overwrite existing master key file " + path);
    }
    return Status(StatusCode::kUnavailable, "keys.kek_write_failed",
                  "cannot create " + path + ": " + std::strerror(errno));
  }
  Bytes key = RandomBytes(kKekSize);
  std::string text = HexEncode(key) + "\n";
  Cleanse(key);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  std::fill(text.begin(), text.end(), '\0');
  if (!ok) {
    return Status(StatusCode::kUnavailable, "keys.kek_write_failed", "cannot write " + path);
  }
  return Status::Ok();
}

Result<KeyManager> KeyManager::Load(const KeyManagerOptions& options) {
  Bytes current;
  if (!options.key_file.empty()) {
    LG_ASSIGN_OR_RETURN(current, ReadKeyFile(options.key_file));
  } else {
    LG_ASSIGN_OR_RETURN(current, KeyFromEnv(options.env_var));
  }
  std::optional<Bytes> previous;
  if (!options.previous_key_file.empty()) {
    LG_ASSIGN_OR_RETURN(previous, ReadKeyFile(options.previous_key_file));
  } else if (!options.previous_env_var.empty() && std::getenv(options.previous_env_var.c_str()) &&
             *std::getenv(options.previous_env_var.c_str()) != '\0') {
    LG_ASSIGN_OR_RETURN(previous, KeyFromEnv(options.previous_env_var));
  }
  return FromKeys(std::move(current), std::move(previous));
}

Result<KeyManager> KeyManager::FromKeys(Bytes current, std::optional<Bytes> previous) {
  if (current.size() != kKekSize || (previous && previous->size() != kKekSize)) {
    return Status::InvalidArgument("keys.kek_malformed", "a master key must be 32 bytes");
  }
  KeyManager km;
  km.current_ = MakeKek(std::move(current));
  if (previous) {
    Kek prev = MakeKek(std::move(*previous));
    // Same key given twice is not a rotation.
    if (prev.id != km.current_.id) km.previous_ = std::move(prev);
  }
  return km;
}

Bytes KeyManager::NewDataKey() { return RandomBytes(kDataKeySize); }

Result<Bytes> KeyManager::WrapKey(ByteView data_key, std::string_view purpose) const {
  if (data_key.empty() || data_key.size() > kMaxWrappedKey) {
    return Status::InvalidArgument("keys.bad_data_key", "data key must be 1..16384 bytes");
  }
  LG_ASSIGN_OR_RETURN(Bytes sealed,
                      AeadSeal(current_.key, data_key, WrapAad(current_.id, purpose)));
  Bytes out(kMagic, kMagic + 4);
  out.push_back(kFormat);
  out.insert(out.end(), current_.id.begin(), current_.id.end());
  out.insert(out.end(), sealed.begin(), sealed.end());
  return out;
}

Result<Bytes> KeyManager::UnwrapKey(ByteView wrapped, std::string_view purpose) const {
  if (wrapped.size() < kHeaderSize + kAeadNonceSize + kAeadTagSize ||
      std::memcmp(wrapped.data(), kMagic, 4) != 0 || wrapped[4] != kFormat) {
    return Status::BadInput("keys.wrapped_malformed", "not a livegate wrapped key (format 1)");
  }
  const ByteView id = wrapped.subspan(5, kKekIdSize);
  const Kek* kek = nullptr;
  if (ConstantTimeEqual(id, current_.id)) {
    kek = &current_;
  } else if (previous_ && ConstantTimeEqual(id, previous_->id)) {
    kek = &*previous_;
  } else {
    return Status::NotFound("keys.unknown_kek", "key was wrapped under master key " +
                                                    HexEncode(id) + ", which is not loaded");
  }
  auto opened = AeadOpen(kek->key, wrapped.subspan(kHeaderSize), WrapAad(kek->id, purpose));
  if (!opened.ok()) {
    return Status(StatusCode::kDataLoss, "keys.unwrap_failed",
                  "wrapped key does not authenticate for purpose '" + std::string(purpose) + "'");
  }
  return opened;
}

bool KeyManager::NeedsRewrap(ByteView wrapped) const {
  if (wrapped.size() < kHeaderSize) return false;
  return !ConstantTimeEqual(wrapped.subspan(5, kKekIdSize), current_.id);
}

Result<Bytes> KeyManager::Rewrap(ByteView wrapped, std::string_view purpose) const {
  LG_ASSIGN_OR_RETURN(Bytes key, UnwrapKey(wrapped, purpose));
  auto out = WrapKey(key, purpose);
  Cleanse(key);
  return out;
}

Bytes KeyManager::DeriveSecret(std::string_view label) const {
  return HkdfSha256(current_.key, AsBytes("livegate/kek-derive/v1"), AsBytes(label), 32);
}

std::string KeyManager::current_kek_id() const { return HexEncode(current_.id); }
std::string KeyManager::previous_kek_id() const {
  return previous_ ? HexEncode(previous_->id) : std::string();
}

}  // namespace livegate::crypto
