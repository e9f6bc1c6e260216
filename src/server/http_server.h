// HTTPS transport (R-SEC-COM-1): cpp-httplib's SSLServer with TLS 1.2+,
// TCP_NODELAY, a payload limit (413), read/write timeouts and a sized
// worker pool (docs: /work/shared/notes/platform.md). Routing is kept apart
// from httplib: handlers see an ApiRequest and return an ApiResponse, so the
// API can be driven without a socket, and every error leaves as the same
// JSON shape {"error":{"reason":..., "message":...}}.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "livegate/status.h"
#include "server/metrics.h"

namespace livegate::server {

struct ApiRequest {
  std::string method;
  std::string path;
  std::string body;
  std::string remote_addr;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::vector<std::string> captures;           // regex groups of the route
  std::string Header(const std::string& lower_name) const;
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // Extra response headers (e.g. Content-Security-Policy for static pages).
  std::vector<std::pair<std::string, std::string>> headers;
};

using ApiHandler = std::function<ApiResponse(const ApiRequest&)>;

// StatusCode -> HTTP status (400, 401, 403, 404, 409, 410, 413, 429, 500, 503).
int HttpStatusFor(StatusCode code);
// {"error":{"reason":..., "message":...}} with HttpStatusFor(code).
ApiResponse ErrorResponse(const Status& status);
ApiResponse JsonResponse(int http_status, const std::string& json);

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;                         // 0: any free port (see port())
  std::string cert_pem;                 // server certificate chain (PEM)
  std::string key_pem;                  // private key (PEM, unencrypted in memory)
  std::size_t max_body_bytes = 4u << 20;
  int read_timeout_ms = 5000;
  int write_timeout_ms = 5000;
  int keep_alive_max_count = 100;
  int thread_pool_size = 8;
};

class HttpServer {
 public:
  // Reasons: http.tls_setup (bad certificate/key), http.bind (address in use).
  static Result<std::unique_ptr<HttpServer>> Create(const HttpServerOptions& options,
                                                    Metrics* metrics);
  ~HttpServer();

  // `pattern` is a full-match regex over the path; groups go to captures.
  void Route(const std::string& method, const std::string& pattern, ApiHandler handler);

  // Binds and serves on a background thread. Reasons: http.bind.
  Status Start();
  // The bound port (after Start).
  int port() const { return port_; }
  // Stops listening and joins the thread. Idempotent.
  void Stop();

  // Runs the router without a socket (used by Start's handlers and tests).
  ApiResponse Dispatch(ApiRequest request) const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  struct RouteEntry {
    std::string method;
    std::regex pattern;
    std::string pattern_text;
    ApiHandler handler;
  };
  std::vector<RouteEntry> routes_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> started_{false};
};

}  // namespace livegate::server
