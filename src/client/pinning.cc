// R-CLI-SM-1: certificate pinning and explicit trust-on-first-use.
#include "client/pinning.h"

#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "client/secret_store.h"

namespace livegate::client {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using CtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Result<ServerAddress> ParseServerUrl(const std::string& url) {
  static const std::regex kUrl(R"(^([a-zA-Z][a-zA-Z0-9+.-]*)://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:([0-9]{1,5}))?/?$)");
  std::smatch m;
  if (!std::regex_match(url, m, kUrl)) {
    return Status::InvalidArgument("url.bad", "'" + url + "' is not a server URL like https://host:8443");
  }
  if (m[1].str() != "https") {
    return Status::InvalidArgument("url.not_https", "the server must be reached over https:// (got " +
                                                        m[1].str() + "://)");
  }
  ServerAddress a;
  a.host = m[2].str();
  if (m[4].matched) {
    a.port = std::stoi(m[4].str());
    if (a.port < 1 || a.port > 65535) return Status::InvalidArgument("url.bad", "port out of range");
  }
  return a;
}

Result<std::string> CertificateFingerprint(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return Status::BadInput("pin.bad_pem", "no PEM certificate found");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert.get(), EVP_sha256(), md, &n);
  static const char* kDigits = "0123456789ABCDEF";
  std::string s;
  for (unsigned int i = 0; i < n; ++i) {
    if (i) s.push_back(':');
    s.push_back(kDigits[md[i] >> 4]);
    s.push_back(kDigits[md[i] & 15]);
  }
  return s;
}

Result<std::string> FetchServerCertificatePem(const ServerAddress& address) {
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::Internal("pin.fetch_failed", "SSL_CTX_new failed");
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // we only look, we do not trust
  BioPtr bio(BIO_new_ssl_connect(ctx.get()));
  const std::string target = address.host + ":" + std::to_string(address.port);
  BIO_set_conn_hostname(bio.get(), target.c_str());
  SSL* ssl = nullptr;
  BIO_get_ssl(bio.get(), &ssl);
  if (ssl) SSL_set_tlsext_host_name(ssl, address.host.c_str());
  if (BIO_do_connect(bio.get()) <= 0 || BIO_do_handshake(bio.get()) <= 0 || !ssl) {
    ERR_clear_error();
    return Status(StatusCode::kUnavailable, "pin.fetch_failed",
                  "cannot open a TLS connection to " + target);
  }
  X509Ptr cert(SSL_get1_peer_certificate(ssl));
  if (!cert) return Status(StatusCode::kUnavailable, "pin.fetch_failed", target + " sent no certificate");
  BioPtr out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(out.get(), cert.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::filesystem::path PinPath(const std::filesystem::path& state_dir, const ServerAddress& address) {
  return state_dir / "pins" / (address.Key() + ".pem");
}

Result<PinnedTrust> ResolveTrust(const std::filesystem::path& state_dir, const ServerAddress& address,
                                 const TrustOptions& options) {
  const auto pin_path = PinPath(state_dir, address);
  std::error_code ec;
  std::filesystem::create_directories(pin_path.parent_path(), ec);
  PinnedTrust trust;
  trust.ca_file = pin_path;
  std::string pem;
  if (!options.pin_file.empty()) {
    pem = ReadText(options.pin_file);
    if (pem.empty()) {
      return Status::BadInput("pin.bad_pem", options.pin_file.string() + " is empty or unreadable");
    }
    LG_ASSIGN_OR_RETURN(trust.fingerprint, CertificateFingerprint(pem));
    if (std::filesystem::exists(pin_path) && ReadText(pin_path) == pem) return trust;  // same pin
    LG_RETURN_IF_ERROR(WritePrivateFile(pin_path, {pem.begin(), pem.end()}));
    trust.newly_pinned = true;
    return trust;
  }
  if (std::filesystem::exists(pin_path)) {
    LG_ASSIGN_OR_RETURN(auto bytes, ReadPrivateFile(pin_path));
    LG_ASSIGN_OR_RETURN(trust.fingerprint, CertificateFingerprint({bytes.begin(), bytes.end()}));
    return trust;
  }
  auto presented = FetchServerCertificatePem(address);
  if (!options.trust_on_first_use) {
    std::string seen = "it could not be reached to show its certificate";
    if (presented.ok()) {
      auto fp = CertificateFingerprint(*presented);
      if (fp.ok()) seen = "it presents a certificate with SHA-256 fingerprint " + *fp;
    }
    return Status(StatusCode::kPermissionDenied, "pin.unpinned_server",
                  "no certificate is pinned for " + address.host + ":" + std::to_string(address.port) +
                      " (" + seen + "). Pass --pin FILE with the server's certificate or CA, "
                      "or --insecure-trust-on-first-use to pin what it presents now.");
  }
  if (!presented.ok()) return presented.status();
  LG_ASSIGN_OR_RETURN(trust.fingerprint, CertificateFingerprint(*presented));
  LG_RETURN_IF_ERROR(WritePrivateFile(pin_path, {presented->begin(), presented->end()}));
  trust.newly_pinned = true;
  return trust;
}

}  // namespace livegate::client
