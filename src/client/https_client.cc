// R-CLI-SM-1: TLS to the server verified against the pinned certificate only.
#include "client/https_client.h"

#include <httplib.h>

namespace livegate::client {
namespace {

class HttplibClient final : public HttpsClient {
 public:
  HttplibClient(const ServerAddress& address, const PinnedTrust& trust, const HttpsOptions& options)
      : address_(address), trust_(trust), cli_(address.host, address.port) {
    cli_.set_ca_cert_path(trust.ca_file.string());  // the pin is the only trust anchor
    cli_.enable_server_certificate_verification(true);
    cli_.set_connection_timeout(options.connect_timeout_s, 0);
    cli_.set_read_timeout(options.read_timeout_s, 0);
    cli_.set_write_timeout(options.read_timeout_s, 0);
    cli_.set_tcp_nodelay(true);
    // No keep-alive: the capture takes longer than the server keeps an idle
    // connection, and writing on a connection it closed fails.
    cli_.set_keep_alive(false);
  }

  Result<HttpResponse> Get(const std::string& path) override { return Convert(cli_.Get(path.c_str())); }

  Result<HttpResponse> Post(const std::string& path, const std::string& body,
                            const std::string& content_type) override {
    return Convert(cli_.Post(path.c_str(), body, content_type.c_str()));
  }

 private:
  Result<HttpResponse> Convert(httplib::Result r) {
    if (!r) {
      const auto err = r.error();
      const std::string where = address_.host + ":" + std::to_string(address_.port);
      if (err == httplib::Error::SSLServerVerification) {
        std::string presented = "unknown";
        if (auto pem = FetchServerCertificatePem(address_); pem.ok()) {
          if (auto fp = CertificateFingerprint(*pem); fp.ok()) presented = *fp;
        }
        return Status(StatusCode::kPermissionDenied, "pin.mismatch",
                      "the server at " + where + " presents a certificate (SHA-256 " + presented +
                          ") that does not verify against the pinned one (" + trust_.fingerprint +
                          "); refusing to talk to it. If the server's certificate was "
                          "legitimately replaced, pin the new one with --pin FILE.");
      }
      return Status(StatusCode::kUnavailable, "https.unreachable",
                    "cannot reach the server at " + where + ": " + httplib::to_string(err));
    }
    HttpResponse out;
    out.status = r->status;
    out.body = r->body;
    out.content_type = r->get_header_value("Content-Type");
    return out;
  }

  ServerAddress address_;
  PinnedTrust trust_;
  httplib::SSLClient cli_;
};

}  // namespace

std::unique_ptr<HttpsClient> HttpsClient::Create(const ServerAddress& address, const PinnedTrust& trust,
                                                 const HttpsOptions& options) {
  return std::make_unique<HttplibClient>(address, trust, options);
}

}  // namespace livegate::client
