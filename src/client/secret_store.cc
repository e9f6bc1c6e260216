// R-CLI-SM-1: the device secret encrypted at rest, 0600 files, 0700 folder.
#include "client/secret_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "crypto/aead.h"

namespace livegate::client {
namespace {

std::string Hex(const std::uint8_t* p, std::size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s.push_back(kDigits[p[i] >> 4]);
    s.push_back(kDigits[p[i] & 15]);
  }
  return s;
}

Result<std::vector<std::uint8_t>> FromHex(const std::string& s) {
  if (s.size() % 2) return Status::BadInput("secret.corrupt", "odd-length hex");
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    auto v = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = v(s[i]), lo = v(s[i + 1]);
    if (hi < 0 || lo < 0) return Status::BadInput("secret.corrupt", "bad hex digit");
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

std::string Sha256Hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  return Hex(md, n);
}

std::vector<std::uint8_t> Aad(const std::string& server, const std::string& account) {
  const std::string a = "livegate-device-credential-v1\n" + server + "\n" + account;
  return {a.begin(), a.end()};
}

Status EnsurePrivateDir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status(StatusCode::kUnavailable, "secret.cannot_create",
                  "cannot create " + dir.string() + ": " + ec.message());
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) {
    return Status(StatusCode::kUnavailable, "secret.cannot_create", "cannot stat " + dir.string());
  }
  if ((st.st_mode & 077) != 0) {
    // Tighten a folder we may own; refuse if that fails.
    if (::chmod(dir.c_str(), 0700) != 0) {
      return Status(StatusCode::kPermissionDenied, "secret.permissions_too_open",
                    dir.string() + " is accessible by other users and cannot be restricted");
    }
  }
  return Status::Ok();
}

}  // namespace

std::filesystem::path DefaultStateDir() {
  if (const char* d = std::getenv("LIVEGATE_STATE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_STATE_HOME"); d && *d) {
    return std::filesystem::path(d) / "livegate";
  }
  if (const char* h = std::getenv("HOME"); h && *h) {
    return std::filesystem::path(h) / ".local" / "state" / "livegate";
  }
  return std::filesystem::path(".livegate-state");
}

Status WritePrivateFile(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status(StatusCode::kUnavailable, "secret.cannot_write", "cannot create " + tmp);
  }
  ::fchmod(fd, 0600);  // in case the file existed with wider permissions
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status(StatusCode::kUnavailable, "secret.cannot_write", "short write to " + tmp);
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status(StatusCode::kUnavailable, "secret.cannot_write", "cannot replace " + path.string());
  }
  return Status::Ok();
}

Result<std::vector<std::uint8_t>> ReadPrivateFile(const std::filesystem::path& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("secret.not_found", path.string() + " does not exist");
  }
  if ((st.st_mode & 077) != 0) {
    return Status(StatusCode::kPermissionDenied, "secret.permissions_too_open",
                  path.string() + " may be read by other users (mode " +
                      std::to_string(st.st_mode & 0777) + " decimal); it must be 0600");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kUnavailable, "secret.cannot_read", "cannot open " + path.string());
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

Result<SecretStore> SecretStore::Open(const std::filesystem::path& state_dir) {
  LG_RETURN_IF_ERROR(EnsurePrivateDir(state_dir));
  LG_RETURN_IF_ERROR(EnsurePrivateDir(state_dir / "credentials"));
  const auto key_path = state_dir / "device.key";
  if (!std::filesystem::exists(key_path)) {
    LG_RETURN_IF_ERROR(WritePrivateFile(key_path, crypto::RandomBytes(crypto::kAeadKeySize)));
  }
  LG_ASSIGN_OR_RETURN(auto key, ReadPrivateFile(key_path));
  if (key.size() != crypto::kAeadKeySize) {
    return Status(StatusCode::kDataLoss, "secret.corrupt", key_path.string() + " is not a 32-byte key");
  }
  return SecretStore(state_dir, std::move(key));
}

DeviceCredential SecretStore::Generate(const std::string& server, const std::string& account) {
  DeviceCredential c;
  c.server = server;
  c.account = account;
  const auto id = crypto::RandomBytes(12);
  c.device_id = "dev-" + Hex(id.data(), id.size());
  c.secret = crypto::RandomBytes(32);
  return c;
}

std::filesystem::path SecretStore::CredentialPath(const std::string& server,
                                                  const std::string& account) const {
  return dir_ / "credentials" / (Sha256Hex(server + "\n" + account) + ".cred");
}

Status SecretStore::Save(const DeviceCredential& c) const {
  const nlohmann::json j = {{"server", c.server},
                            {"account", c.account},
                            {"device_id", c.device_id},
                            {"secret", Hex(c.secret.data(), c.secret.size())}};
  const std::string plain = j.dump();
  LG_ASSIGN_OR_RETURN(auto sealed, crypto::AeadSeal(key_, {reinterpret_cast<const std::uint8_t*>(plain.data()), plain.size()},
                                                    Aad(c.server, c.account)));
  return WritePrivateFile(CredentialPath(c.server, c.account), sealed);
}

Result<DeviceCredential> SecretStore::Load(const std::string& server, const std::string& account) const {
  const auto path = CredentialPath(server, account);
  auto sealed = ReadPrivateFile(path);
  if (!sealed.ok()) {
    if (sealed.status().reason() == "secret.not_found") {
      return Status::NotFound("secret.not_found", "this device holds no credential for account '" +
                                                      account + "' at " + server +
                                                      " (register first)");
    }
    return sealed.status();
  }
  auto plain = crypto::AeadOpen(key_, *sealed, Aad(server, account));
  if (!plain.ok()) {
    return Status(StatusCode::kDataLoss, "secret.corrupt",
                  path.string() + " cannot be decrypted (altered, or sealed under another key)");
  }
  const auto j = nlohmann::json::parse(plain->begin(), plain->end(), nullptr, false);
  if (!j.is_object() || !j.contains("secret") || !j["secret"].is_string() ||
      !j.contains("device_id") || !j["device_id"].is_string()) {
    return Status(StatusCode::kDataLoss, "secret.corrupt", path.string() + " has no credential in it");
  }
  DeviceCredential c;
  c.server = server;
  c.account = account;
  c.device_id = j["device_id"].get<std::string>();
  LG_ASSIGN_OR_RETURN(c.secret, FromHex(j["secret"].get<std::string>()));
  return c;
}

Status SecretStore::Remove(const std::string& server, const std::string& account) const {
  std::error_code ec;
  std::filesystem::remove(CredentialPath(server, account), ec);
  if (ec) return Status(StatusCode::kUnavailable, "secret.cannot_write", ec.message());
  return Status::Ok();
}

}  // namespace livegate::client
