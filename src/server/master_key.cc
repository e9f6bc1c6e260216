// Master key(s) from the configuration: see master_key.h.
#include "server/master_key.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "crypto/kdf.h"

namespace livegate::server {
namespace {

// The current key from a file descriptor: 64 hex characters, surrounding
// whitespace allowed. The descriptor is closed after reading.
Result<crypto::Bytes> ReadKeyFromFd(int fd) {
  std::string text;
  char buf[256];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Status::NotFound("keys.kek_missing",
                              "cannot read the master key from file descriptor " + std::to_string(fd) +
                                  ": " + why);
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > 1024) break;
  }
  ::close(fd);
  explicit_bzero(buf, sizeof buf);
  std::string_view t(text);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  if (t.empty()) {
    return Status::NotFound("keys.kek_missing",
                            "file descriptor " + std::to_string(fd) + " gave no master key");
  }
  Result<crypto::Bytes> key = Status::BadInput("keys.kek_malformed", "");
  if (t.size() == 2 * crypto::kKekSize) key = crypto::HexDecode(t);
  explicit_bzero(text.data(), text.size());
  if (!key.ok()) {
    return Status::BadInput("keys.kek_malformed",
                            "file descriptor " + std::to_string(fd) +
                                ": the master key must be 64 hexadecimal characters (32 bytes)");
  }
  return key;
}

}  // namespace

crypto::KeyManagerOptions MasterKeyManagerOptions(const MasterKeyOptions& m) {
  crypto::KeyManagerOptions ko;
  ko.key_file = m.file.string();
  if (!m.env.empty()) ko.env_var = m.env;
  ko.previous_key_file = m.previous_file.string();
  if (!m.previous_env.empty()) ko.previous_env_var = m.previous_env;
  return ko;
}

void ScrubEnvironmentVariable(const std::string& name) {
  if (name.empty()) return;
  if (char* v = std::getenv(name.c_str())) explicit_bzero(v, std::strlen(v));
  ::unsetenv(name.c_str());
}

Result<crypto::KeyManager> LoadMasterKeys(const MasterKeyOptions& m) {
  const crypto::KeyManagerOptions ko = MasterKeyManagerOptions(m);
  // Whatever happens below, no key stays in the environment.
  struct Scrub {
    std::string current, previous;
    ~Scrub() {
      ScrubEnvironmentVariable(current);
      ScrubEnvironmentVariable(previous);
    }
  } scrub{m.file.empty() && m.fd < 0 ? ko.env_var : std::string(),
          m.previous_file.empty() ? ko.previous_env_var : std::string()};

  if (!m.previous_env.empty()) {
    const char* v = std::getenv(m.previous_env.c_str());
    if (v == nullptr || *v == '\0') {
      return Status::NotFound("keys.kek_missing",
                              "master_key.previous_env names " + m.previous_env +
                                  ", which is not set (remove the setting once rotation is done)");
    }
  }
  if (m.fd < 0) return crypto::KeyManager::Load(ko);

  LG_ASSIGN_OR_RETURN(crypto::Bytes current, ReadKeyFromFd(m.fd));
  std::optional<crypto::Bytes> previous;
  if (!ko.previous_key_file.empty()) {
    LG_ASSIGN_OR_RETURN(previous, crypto::KeyManager::ReadKeyFile(ko.previous_key_file));
  } else if (const char* v = std::getenv(ko.previous_env_var.c_str()); v != nullptr && *v != '\0') {
    auto p = crypto::HexDecode(v);
    if (!p.ok() || p->size() != crypto::kKekSize) {
      return Status::BadInput("keys.kek_malformed",
                              "environment variable " + ko.previous_env_var +
                                  ": the master key must be 64 hexadecimal characters (32 bytes)");
    }
    previous = std::move(*p);
  }
  return crypto::KeyManager::FromKeys(std::move(current), std::move(previous));
}

}  // namespace livegate::server
