#include "server/http_server.h"

#include <chrono>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "server/json_log.h"

namespace livegate::server {

std::string ApiRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kBadInput: return 400;
    case StatusCode::kTooLarge: return 413;
    case StatusCode::kUnsupported: return 400;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kReplay: return 409;
    case StatusCode::kExpired: return 410;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDataLoss: return 500;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

ApiResponse JsonResponse(int http_status, const std::string& json) {
  ApiResponse r;
  r.status = http_status;
  r.body = json;
  return r;
}

ApiResponse ErrorResponse(const Status& status) {
  nlohmann::json j;
  j["error"]["reason"] = status.reason();
  j["error"]["message"] = status.message();
  return JsonResponse(HttpStatusFor(status.code()), j.dump());
}

struct HttpServer::Impl {
  HttpServerOptions options;
  Metrics* metrics = nullptr;
  std::unique_ptr<httplib::SSLServer> server;
};

namespace {

// Loads the PEM certificate chain and key into the context, TLS 1.2+ only.
bool SetupTls(SSL_CTX& ctx, const std::string& cert_pem, const std::string& key_pem) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Forward-secret AEAD suites only for TLS 1.2 (1.3 suites are all AEAD).
  SSL_CTX_set_cipher_list(&ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
  BIO* cbio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* leaf = PEM_read_bio_X509(cbio, nullptr, nullptr, nullptr);
  bool ok = leaf != nullptr && SSL_CTX_use_certificate(&ctx, leaf) == 1;
  while (ok) {  // intermediate certificates, if any
    X509* extra = PEM_read_bio_X509(cbio, nullptr, nullptr, nullptr);
    if (extra == nullptr) break;
    if (SSL_CTX_add_extra_chain_cert(&ctx, extra) != 1) {
      X509_free(extra);
      ok = false;
    }
  }
  ERR_clear_error();
  X509_free(leaf);
  BIO_free(cbio);
  if (!ok) return false;
  BIO* kbio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr);
  ok = key != nullptr && SSL_CTX_use_PrivateKey(&ctx, key) == 1 &&
       SSL_CTX_check_private_key(&ctx) == 1;
  EVP_PKEY_free(key);
  BIO_free(kbio);
  return ok;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpServerOptions& options,
                                                       Metrics* metrics) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->metrics = metrics;
  const std::string cert = options.cert_pem, key = options.key_pem;
  impl->server = std::make_unique<httplib::SSLServer>(
      [cert, key](SSL_CTX& ctx) { return SetupTls(ctx, cert, key); });
  if (!impl->server->is_valid()) {
    return Status::BadInput("http.tls_setup",
                            "the TLS certificate or private key could not be loaded");
  }
  auto& s = *impl->server;
  s.set_tcp_nodelay(true);
  s.set_payload_max_length(options.max_body_bytes);
  s.set_read_timeout(std::chrono::milliseconds(options.read_timeout_ms));
  s.set_write_timeout(std::chrono::milliseconds(options.write_timeout_ms));
  s.set_keep_alive_max_count(static_cast<size_t>(options.keep_alive_max_count));
  s.set_keep_alive_timeout(2);
  const int threads = options.thread_pool_size;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Route(const std::string& method, const std::string& pattern, ApiHandler handler) {
  routes_.push_back({method, std::regex(pattern), pattern, std::move(handler)});
}

ApiResponse HttpServer::Dispatch(ApiRequest request) const {
  bool path_known = false;
  for (const auto& r : routes_) {
    std::smatch m;
    if (!std::regex_match(request.path, m, r.pattern)) continue;
    path_known = true;
    if (r.method != request.method) continue;
    request.captures.clear();
    for (std::size_t i = 1; i < m.size(); ++i) request.captures.push_back(m[i].str());
    try {
      return r.handler(request);
    } catch (const std::exception& e) {
      LogEvent(LogLevel::kError, "http.handler_exception", {{"path", request.path}, {"what", e.what()}});
      return ErrorResponse(Status::Internal("server.internal", "internal error"));
    }
  }
  if (path_known) {
    return ErrorResponse(Status(StatusCode::kBadInput, "http.method_not_allowed",
                                "method " + request.method + " is not allowed here"));
  }
  return ErrorResponse(Status::NotFound("http.not_found", "no such endpoint: " + request.path));
}

Status HttpServer::Start() {
  if (started_.exchange(true)) return Status::Ok();
  auto& s = *impl_->server;
  Metrics* metrics = impl_->metrics;
  auto handle = [this, metrics](const httplib::Request& req, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    ApiRequest a;
    a.method = req.method;
    a.path = req.path;
    a.body = req.body;
    a.remote_addr = req.remote_addr;
    for (const auto& [k, v] : req.headers) a.headers[Lower(k)] = v;
    ApiResponse r = Dispatch(std::move(a));
    res.status = r.status;
    res.set_content(r.body, r.content_type.c_str());
    res.set_header("Cache-Control", "no-store");
    for (const auto& [name, value] : r.headers) res.set_header(name, value);
    if (metrics) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      metrics->Increment("livegate_http_requests_total",
                         "method=\"" + req.method + "\",code=\"" + std::to_string(r.status) + "\"");
      metrics->Observe("livegate_http_request_seconds", "method=\"" + req.method + "\"", secs);
    }
  };
  s.Get(".*", handle);
  s.Post(".*", handle);
  s.Put(".*", handle);
  s.Delete(".*", handle);
  // Errors produced by httplib itself (413 payload too large, 400 bad
  // request line) get the same JSON shape; our own error bodies pass through.
  httplib::Server::HandlerWithResponse on_error = [metrics](const httplib::Request& req,
                                                           httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    Status st = res.status == 413
                    ? Status::TooLarge("http.payload_too_large", "the request body is too large")
                    : Status::BadInput("http.bad_request", "malformed HTTP request");
    auto r = ErrorResponse(st);
    res.set_content(r.body, "application/json");
    if (metrics) {
      metrics->Increment("livegate_http_requests_total",
                         "method=\"" + req.method + "\",code=\"" + std::to_string(res.status) + "\"");
    }
    return httplib::Server::HandlerResponse::Handled;
  };
  s.set_error_handler(std::move(on_error));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    auto r = ErrorResponse(Status::Internal("server.internal", "internal error"));
    res.status = 500;
    res.set_content(r.body, "application/json");
  });
  const auto& o = impl_->options;
  if (o.port == 0) {
    port_ = s.bind_to_any_port(o.address);
    if (port_ <= 0) return Status(StatusCode::kUnavailable, "http.bind", "cannot bind " + o.address);
  } else {
    if (!s.bind_to_port(o.address, o.port)) {
      return Status(StatusCode::kUnavailable, "http.bind",
                    "cannot bind " + o.address + ":" + std::to_string(o.port) + " (in use?)");
    }
    port_ = o.port;
  }
  thread_ = std::thread([&s] { s.listen_after_bind(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_ && impl_->server && thread_.joinable()) {
    // stop() only acts on a running listener: wait until it runs.
    for (int i = 0; i < 500 && !impl_->server->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    impl_->server->stop();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace livegate::server
