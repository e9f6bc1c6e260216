// Server key material at rest (R-SEC-STO-1/2; R-SEC-COM-1 HTTPS): the TLS
// certificate and private key, the audit-log signing key, and re-wrapping
// of every KEK-wrapped key during master-key rotation.
//
// Key directory layout (created 0700; secrets 0600, wrapped under the KEK):
//   tls_cert.pem              self-signed demo certificate (public)
//   tls_key.wrapped           PKCS#8 PEM of its private key, KeyManager-wrapped
//                             for purpose "tls-private-key"
//   audit_signing.wrapped     Ed25519 seed, purpose "audit-signing-key"
//   audit_signing.pub.pem     its public key, for `livegate-admin audit verify`
// A private key is only ever decrypted in memory.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/types.h>

#include "crypto/aead.h"
#include "crypto/key_manager.h"
#include "crypto/signing.h"
#include "livegate/status.h"

namespace livegate::crypto {

struct TlsOptions {
  // Operator-provided certificate chain and private key (PEM). When both are
  // empty a self-signed demo certificate is generated in key_dir at first
  // run. The key file must be mode 0600 (else keys.tls_key_permissions); an
  // encrypted PKCS#8 key is decrypted with the passphrase in the environment
  // variable `key_passphrase_env`. Defaults "".
  std::string cert_file;
  std::string key_file;
  std::string key_passphrase_env = "LIVEGATE_TLS_KEY_PASSPHRASE";
  // Where generated material lives. Default "var/keys".
  std::string key_dir = "var/keys";
  // Subject alternative names of the generated certificate.
  // Defaults: DNS localhost, IP 127.0.0.1.
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1"};
  // Validity of the generated certificate. Default 365 days.
  int validity_days = 365;
};

struct TlsMaterial {
  std::string cert_pem;  // leaf first, then any chain
  std::string key_pem;   // decrypted, in memory only
  bool generated = false;               // self-signed at this or an earlier run
  std::vector<std::string> warnings;    // e.g. operator key not encrypted at rest
};

// Errors: keys.tls_key_permissions (FailedPrecondition), keys.tls_bad_pem
// (BadInput), keys.tls_key_mismatch (BadInput), keys.tls_passphrase_missing,
// keys.* from the KeyManager, keys.io (Unavailable).
Result<TlsMaterial> LoadOrCreateTlsMaterial(const TlsOptions& options, const KeyManager& keys);

// OpenSSL objects for an in-memory HTTPS server:
//   auto tls = ToOpenSsl(material);
//   httplib::SSLServer server(tls->cert.get(), tls->key.get());
// (SSLServer takes its own references; the objects may be freed after.)
struct X509Free { void operator()(X509* x) const; };
struct EvpPkeyFree { void operator()(EVP_PKEY* k) const; };
struct OpenSslTls {
  std::unique_ptr<X509, X509Free> cert;
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> key;
};
Result<OpenSslTls> ToOpenSsl(const TlsMaterial& material);

// Writes cert and key into a fresh private (0700) temporary directory with
// 0600 files, for APIs that need paths; the directory is removed when the
// returned object is destroyed.
class TlsTempFiles {
 public:
  static Result<std::unique_ptr<TlsTempFiles>> Create(const TlsMaterial& material);
  ~TlsTempFiles();
  const std::string& cert_path() const { return cert_path_; }
  const std::string& key_path() const { return key_path_; }

 private:
  std::string dir_, cert_path_, key_path_;
};

// The audit-log signing key: created at first use (wrapped in key_dir, public
// PEM beside it), then loaded.
Result<Ed25519KeyPair> LoadOrCreateAuditSigningKey(const std::string& key_dir,
                                                   const KeyManager& keys);

// ---- master-key rotation ----------------------------------------------------

// Anything holding KEK-wrapped keys (the storage layer's per-user data keys,
// the key directory). For each key it calls `rewrap(purpose, wrapped)`; when
// that returns new bytes the holder must replace the stored key (for a
// database: in a transaction, only if the row still holds `wrapped`).
using RewrapFn = std::function<Result<std::optional<Bytes>>(std::string_view purpose,
                                                             ByteView wrapped)>;
class WrappedKeyHolder {
 public:
  virtual ~WrappedKeyHolder() = default;
  virtual std::string name() const = 0;
  virtual Status ForEachWrappedKey(const RewrapFn& rewrap) = 0;
};

// The *.wrapped files of a key directory.
std::unique_ptr<WrappedKeyHolder> KeyDirHolder(const std::string& key_dir);

struct RotationReport {
  std::size_t examined = 0;
  std::size_t rewrapped = 0;
  std::size_t already_current = 0;
  std::vector<std::string> failures;  // "<holder>: <purpose>: <status>"
};

// Re-wraps every key not under the current KEK. `keys` must hold the new KEK
// as current and the old one as previous. Safe to run while servers run
// (they accept both KEKs) and to re-run after an interruption.
RotationReport RewrapAll(const KeyManager& keys, const std::vector<WrappedKeyHolder*>& holders);

}  // namespace livegate::crypto
