// HTTPS transport (R-SEC-COM-1): the server's own event-driven front
// (issue 12, finding 2: cpp-httplib held a worker thread per connection and
// timed out per recv, so 9 slow connections stopped the server).
//
// One event thread (epoll) accepts, runs the TLS handshake (OpenSSL, TLS
// 1.2+, forward-secret AEAD suites) and reads requests without ever
// blocking on a peer; it parses them with the strict incremental parser of
// http_parser.h under deadlines that cover the whole request (handshake and
// head, then body), not each recv; it caps connections globally and per
// peer address. Complete requests go to a pool of worker threads that run
// the router; the event thread writes the responses back, also under a
// deadline. See docs/SECURITY.md "Transport" and docs/API.md "Transport".
//
// Routing is kept apart from the transport: handlers see an ApiRequest and
// return an ApiResponse, so the API can be driven without a socket, and
// every error leaves as the same JSON shape
// {"error":{"reason":..., "message":...}}.
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

// How long a route's handler runs. Slow ones (a capture's judgement: seconds
// of CPU) may occupy at most thread_pool_size - 1 workers at once, so one
// worker always remains for the quick ones: a server busy judging still
// answers /healthz - its load balancer's health check - and the cheap flow
// steps promptly (issue 16: behind HAProxy, a saturated single server was
// taken out as dead because its checks queued behind judgements).
enum class RouteCost { kQuick, kSlow };

// StatusCode -> HTTP status (400, 401, 403, 404, 409, 410, 413, 429, 500, 503).
int HttpStatusFor(StatusCode code);
// {"error":{"reason":..., "message":...}} with HttpStatusFor(code).
ApiResponse ErrorResponse(const Status& status);
ApiResponse JsonResponse(int http_status, const std::string& json);

// What a route's request body must be (checked when the body is not empty;
// anything else gets 415 http.unsupported_media_type).
enum class RequestBody {
  kJson,         // Content-Type: application/json (optionally ; charset=utf-8)
  kOctetStream,  // Content-Type: application/octet-stream (sealed messages)
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;                         // 0: any free port (see port())
  std::string cert_pem;                 // server certificate chain (PEM)
  std::string key_pem;                  // private key (PEM, unencrypted in memory)
  std::size_t max_body_bytes = 4u << 20;   // larger bodies: 413 before any is read
  std::size_t max_header_bytes = 16384;    // request line + headers: else 431
  int max_header_count = 64;               // header fields: else 431
  // Deadlines per request, not per recv. A connection that misses one is closed.
  int header_timeout_ms = 10000;  // TLS handshake (first request) + request line + headers
  int body_timeout_ms = 60000;    // the whole body, from the end of the headers
  int read_timeout_ms = 5000;     // longest silence inside a request (handshake, head, body)
  int idle_timeout_ms = 5000;     // keep-alive: waiting for the next request
  int write_timeout_ms = 5000;    // the whole response
  int keep_alive_max_count = 100; // requests per connection
  int thread_pool_size = 8;       // workers running the handlers
  int max_connections = 1024;             // open connections in all
  int max_connections_per_address = 64;   // open connections from one peer address
  // Load balancers whose connections start with a PROXY protocol header
  // (v1 or v2) carrying the client's address (docs/DEPLOY.md). Addresses or
  // CIDR ranges. A connection from one of them MUST start with the header;
  // a header from any other address is refused; the header counts against
  // header_timeout_ms. Empty: no PROXY protocol (every header refused).
  std::vector<std::string> trusted_proxies;
};

class HttpServer {
 public:
  // Reasons: http.tls_setup (bad certificate/key), http.bind (address in use).
  static Result<std::unique_ptr<HttpServer>> Create(const HttpServerOptions& options,
                                                    Metrics* metrics);
  ~HttpServer();

  // `pattern` is a full-match regex over the path; groups go to captures.
  // A non-empty request body must have the media type `body` names.
  void Route(const std::string& method, const std::string& pattern, ApiHandler handler,
             RequestBody body = RequestBody::kJson, RouteCost cost = RouteCost::kQuick);

  // Binds and serves on a background thread. Reasons: http.bind.
  Status Start();
  // The bound port (after Start).
  int port() const { return port_; }
  // Stops accepting, lets requests already being handled finish and their
  // responses be written (bounded by write_timeout_ms), closes every
  // connection and joins the threads. Idempotent.
  void Stop();

  // Runs the router without a socket (used by the workers and tests):
  // route, method, request media type, handler.
  ApiResponse Dispatch(ApiRequest request) const;
  // Whether the route `method` `path` goes to is RouteCost::kSlow.
  bool IsSlowRoute(const std::string& method, const std::string& path) const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  struct RouteEntry {
    std::string method;
    std::regex pattern;
    std::string pattern_text;
    ApiHandler handler;
    RequestBody body;
    RouteCost cost;
  };
  std::vector<RouteEntry> routes_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> started_{false};
};

}  // namespace livegate::server
