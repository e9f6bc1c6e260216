#include "crypto/key_store.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "crypto/kdf.h"

namespace livegate::crypto {

namespace fs = std::filesystem;

void X509Free::operator()(X509* x) const { X509_free(x); }
void EvpPkeyFree::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

namespace {

constexpr char kTlsPurpose[] = "tls-private-key";
constexpr char kAuditPurpose[] = "audit-signing-key";

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

Status Io(const std::string& what) {
  return Status(StatusCode::kUnavailable, "keys.io", what + ": " + std::strerror(errno));
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("keys.io", "cannot read " + path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Writes atomically (temp file + rename) with the given mode.
Status WriteFile(const std::string& path, ByteView data, mode_t mode) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Io("cannot create " + tmp);
  ::fchmod(fd, mode);
  const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return Io("cannot write " + path);
  return Status::Ok();
}

Status EnsurePrivateDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Status(StatusCode::kUnavailable, "keys.io", "cannot create " + dir + ": " + ec.message());
  }
  ::chmod(dir.c_str(), 0700);
  return Status::Ok();
}

Status CheckPrivateFile(const std::string& path, const char* reason) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Io("cannot stat " + path);
  if ((st.st_mode & 077) != 0) {
    return Status(StatusCode::kFailedPrecondition, reason,
                  "refusing to use private key file " + path +
                      ": readable or writable by group/others; run: chmod 600 " + path);
  }
  return Status::Ok();
}

std::string PemOfKey(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string PemOfCert(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

bool AddExt(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

Result<TlsMaterial> GenerateSelfSigned(const TlsOptions& o) {
  // ECDSA P-256: small, fast, accepted by every TLS 1.2/1.3 client.
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) return Status::Internal("crypto.openssl_error", "key generation failed");
  X509_set_version(cert.get(), 2);
  Bytes serial = RandomBytes(16);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(o.validity_days) * 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("livegate demo"), -1, -1, 0);
  const std::string cn = o.dns_names.empty() ? "localhost" : o.dns_names.front();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san;
  for (const auto& d : o.dns_names) san += (san.empty() ? "" : ",") + ("DNS:" + d);
  for (const auto& ip : o.ip_addresses) san += (san.empty() ? "" : ",") + ("IP:" + ip);
  if (san.empty() || !AddExt(cert.get(), NID_subject_alt_name, san) ||
      !AddExt(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExt(cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExt(cert.get(), NID_ext_key_usage, "serverAuth")) {
    return Status::InvalidArgument("keys.tls_bad_san",
                                   "cannot build the certificate extensions (SAN: " + san + ")");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Status::Internal("crypto.openssl_error", "certificate signing failed");
  }
  TlsMaterial m;
  m.cert_pem = PemOfCert(cert.get());
  m.key_pem = PemOfKey(key.get());
  m.generated = true;
  return m;
}

Result<PkeyPtr> ParseKeyPem(const std::string& pem, const char* passphrase) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr,
                                      const_cast<char*>(passphrase)));
  if (!key) {
    return Status::BadInput("keys.tls_bad_pem",
                            "cannot read the TLS private key (not PEM, or wrong passphrase)");
  }
  return key;
}

Result<X509Ptr> ParseCertPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Status::BadInput("keys.tls_bad_pem", "cannot read the TLS certificate PEM");
  return cert;
}

Status CheckPair(const TlsMaterial& m) {
  LG_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(m.cert_pem));
  LG_ASSIGN_OR_RETURN(PkeyPtr key, ParseKeyPem(m.key_pem, ""));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return Status::BadInput("keys.tls_key_mismatch",
                            "the TLS private key does not match the certificate");
  }
  return Status::Ok();
}

}  // namespace

Result<TlsMaterial> LoadOrCreateTlsMaterial(const TlsOptions& o, const KeyManager& keys) {
  if (!o.cert_file.empty() || !o.key_file.empty()) {
    if (o.cert_file.empty() || o.key_file.empty()) {
      return Status::InvalidArgument("keys.tls_config",
                                     "give both the TLS certificate and key files, or neither");
    }
    LG_RETURN_IF_ERROR(CheckPrivateFile(o.key_file, "keys.tls_key_permissions"));
    TlsMaterial m;
    LG_ASSIGN_OR_RETURN(m.cert_pem, ReadFile(o.cert_file));
    LG_ASSIGN_OR_RETURN(std::string key_text, ReadFile(o.key_file));
    const bool encrypted = key_text.find("ENCRYPTED") != std::string::npos;
    const char* pass = nullptr;
    if (encrypted) {
      pass = o.key_passphrase_env.empty() ? nullptr : std::getenv(o.key_passphrase_env.c_str());
      if (pass == nullptr) {
        return Status(StatusCode::kFailedPrecondition, "keys.tls_passphrase_missing",
                      "the TLS private key is encrypted; set " + o.key_passphrase_env);
      }
    } else {
      m.warnings.push_back("TLS private key " + o.key_file +
                           " is not encrypted at rest (R-SEC-STO-2): use an encrypted PKCS#8 key");
    }
    LG_ASSIGN_OR_RETURN(PkeyPtr key, ParseKeyPem(key_text, pass ? pass : ""));
    std::fill(key_text.begin(), key_text.end(), '\0');
    m.key_pem = PemOfKey(key.get());
    LG_RETURN_IF_ERROR(CheckPair(m));
    return m;
  }

  const std::string cert_path = o.key_dir + "/tls_cert.pem";
  const std::string key_path = o.key_dir + "/tls_key.wrapped";
  if (fs::exists(cert_path) && fs::exists(key_path)) {
    LG_RETURN_IF_ERROR(CheckPrivateFile(key_path, "keys.tls_key_permissions"));
    TlsMaterial m;
    m.generated = true;
    LG_ASSIGN_OR_RETURN(m.cert_pem, ReadFile(cert_path));
    LG_ASSIGN_OR_RETURN(std::string wrapped, ReadFile(key_path));
    LG_ASSIGN_OR_RETURN(Bytes pem, keys.UnwrapKey(AsBytes(wrapped), kTlsPurpose));
    m.key_pem.assign(pem.begin(), pem.end());
    Cleanse(pem);
    LG_RETURN_IF_ERROR(CheckPair(m));
    return m;
  }
  LG_RETURN_IF_ERROR(EnsurePrivateDir(o.key_dir));
  LG_ASSIGN_OR_RETURN(TlsMaterial m, GenerateSelfSigned(o));
  LG_ASSIGN_OR_RETURN(Bytes wrapped, keys.WrapKey(AsBytes(m.key_pem), kTlsPurpose));
  LG_RETURN_IF_ERROR(WriteFile(key_path, wrapped, 0600));
  LG_RETURN_IF_ERROR(WriteFile(cert_path, AsBytes(m.cert_pem), 0600));
  return m;
}

Result<OpenSslTls> ToOpenSsl(const TlsMaterial& m) {
  LG_ASSIGN_OR_RETURN(X509Ptr cert, ParseCertPem(m.cert_pem));
  LG_ASSIGN_OR_RETURN(PkeyPtr key, ParseKeyPem(m.key_pem, ""));
  OpenSslTls out;
  out.cert = std::move(cert);
  out.key = std::move(key);
  return out;
}

Result<std::unique_ptr<TlsTempFiles>> TlsTempFiles::Create(const TlsMaterial& m) {
  std::string tmpl = (fs::temp_directory_path() / "livegate-tls-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) return Io("mkdtemp");
  auto files = std::unique_ptr<TlsTempFiles>(new TlsTempFiles());
  files->dir_ = tmpl;
  files->cert_path_ = tmpl + "/cert.pem";
  files->key_path_ = tmpl + "/key.pem";
  LG_RETURN_IF_ERROR(WriteFile(files->cert_path_, AsBytes(m.cert_pem), 0600));
  LG_RETURN_IF_ERROR(WriteFile(files->key_path_, AsBytes(m.key_pem), 0600));
  return files;
}

TlsTempFiles::~TlsTempFiles() {
  if (dir_.empty()) return;
  // Overwrite the key before unlinking it.
  std::error_code size_ec;
  if (auto size = fs::file_size(key_path_, size_ec); !size_ec && size > 0) {
    std::ofstream(key_path_, std::ios::binary | std::ios::in | std::ios::out)
        << std::string(static_cast<std::size_t>(size), '\0');
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

Result<Ed25519KeyPair> LoadOrCreateAuditSigningKey(const std::string& key_dir,
                                                   const KeyManager& keys) {
  const std::string path = key_dir + "/audit_signing.wrapped";
  const std::string pub_path = key_dir + "/audit_signing.pub.pem";
  if (fs::exists(path)) {
    LG_RETURN_IF_ERROR(CheckPrivateFile(path, "keys.audit_key_permissions"));
    LG_ASSIGN_OR_RETURN(std::string wrapped, ReadFile(path));
    Ed25519KeyPair kp;
    LG_ASSIGN_OR_RETURN(kp.private_key, keys.UnwrapKey(AsBytes(wrapped), kAuditPurpose));
    LG_ASSIGN_OR_RETURN(kp.public_key, Ed25519PublicFromPrivate(kp.private_key));
    return kp;
  }
  LG_RETURN_IF_ERROR(EnsurePrivateDir(key_dir));
  Ed25519KeyPair kp = GenerateEd25519();
  LG_ASSIGN_OR_RETURN(Bytes wrapped, keys.WrapKey(kp.private_key, kAuditPurpose));
  LG_RETURN_IF_ERROR(WriteFile(path, wrapped, 0600));
  LG_RETURN_IF_ERROR(WriteFile(pub_path, AsBytes(Ed25519PublicKeyToPem(kp.public_key)), 0600));
  return kp;
}

// ---- rotation ---------------------------------------------------------------

namespace {

class KeyDirHolderImpl : public WrappedKeyHolder {
 public:
  explicit KeyDirHolderImpl(std::string dir) : dir_(std::move(dir)) {}
  std::string name() const override { return "key-dir:" + dir_; }
  Status ForEachWrappedKey(const RewrapFn& rewrap) override {
    const std::pair<const char*, const char*> files[] = {{"tls_key.wrapped", kTlsPurpose},
                                                         {"audit_signing.wrapped", kAuditPurpose}};
    for (const auto& [file, purpose] : files) {
      const std::string path = dir_ + "/" + file;
      if (!fs::exists(path)) continue;
      LG_ASSIGN_OR_RETURN(std::string wrapped, ReadFile(path));
      LG_ASSIGN_OR_RETURN(std::optional<Bytes> fresh, rewrap(purpose, AsBytes(wrapped)));
      if (fresh) LG_RETURN_IF_ERROR(WriteFile(path, *fresh, 0600));
    }
    return Status::Ok();
  }

 private:
  std::string dir_;
};

}  // namespace

std::unique_ptr<WrappedKeyHolder> KeyDirHolder(const std::string& key_dir) {
  return std::make_unique<KeyDirHolderImpl>(key_dir);
}

RotationReport RewrapAll(const KeyManager& keys, const std::vector<WrappedKeyHolder*>& holders) {
  RotationReport rep;
  for (WrappedKeyHolder* h : holders) {
    const Status st = h->ForEachWrappedKey(
        [&](std::string_view purpose, ByteView wrapped) -> Result<std::optional<Bytes>> {
          ++rep.examined;
          if (!keys.NeedsRewrap(wrapped)) {
            ++rep.already_current;
            return std::optional<Bytes>();
          }
          auto fresh = keys.Rewrap(wrapped, purpose);
          if (!fresh.ok()) {
            rep.failures.push_back(h->name() + ": " + std::string(purpose) + ": " +
                                   fresh.status().ToString());
            return std::optional<Bytes>();
          }
          ++rep.rewrapped;
          return std::optional<Bytes>(std::move(*fresh));
        });
    if (!st.ok()) rep.failures.push_back(h->name() + ": " + st.ToString());
  }
  return rep;
}

}  // namespace livegate::crypto
