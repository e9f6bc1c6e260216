#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "server/http_parser.h"
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

namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// A transport error in the API's JSON error shape, with an explicit status
// (415, 431, 505... have no StatusCode).
ApiResponse TransportError(int http_status, const std::string& reason, const std::string& message) {
  nlohmann::json j;
  j["error"]["reason"] = reason;
  j["error"]["message"] = message;
  return JsonResponse(http_status, j.dump());
}

// Loads the PEM certificate chain and key into the context, TLS 1.2+ only.
bool SetupTls(SSL_CTX& ctx, const std::string& cert_pem, const std::string& key_pem) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Forward-secret AEAD suites only for TLS 1.2 (1.3 suites are all AEAD).
  SSL_CTX_set_cipher_list(&ctx, "ECDHE+AESGCM:ECDHE+CHACHA20");
  // Responses are written from a buffer that stays put but may be retried
  // after WANT_WRITE; partial writes let a large response drain gradually.
  SSL_CTX_set_mode(&ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                             SSL_MODE_RELEASE_BUFFERS);
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
  ERR_clear_error();
  return ok;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ValidHeaderValue(const std::string& v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

// Status line, framing headers, Cache-Control: no-store, the handler's extra
// headers (those that would change framing or caching are dropped), body.
std::string SerializeResponse(const ApiResponse& r, bool head_only, bool keep_alive) {
  std::string out;
  out.reserve(256 + (head_only ? 0 : r.body.size()));
  out += "HTTP/1.1 " + std::to_string(r.status) + " ";
  out += http::ReasonPhrase(r.status);
  out += "\r\nContent-Type: " + (ValidHeaderValue(r.content_type) ? r.content_type : "application/octet-stream");
  out += "\r\nContent-Length: " + std::to_string(r.body.size());
  out += "\r\nCache-Control: no-store";
  for (const auto& [name, value] : r.headers) {
    const std::string lower = Lower(name);
    const bool reserved = lower == "content-length" || lower == "transfer-encoding" ||
                          lower == "connection" || lower == "content-type" || lower == "cache-control";
    const bool valid = !name.empty() &&
                       std::all_of(name.begin(), name.end(),
                                   [](char c) { return http::IsTokenChar(static_cast<unsigned char>(c)); }) &&
                       ValidHeaderValue(value);
    if (reserved || !valid) {
      LogEvent(LogLevel::kWarn, "http.response_header_dropped", {{"name", valid ? name : "(invalid)"}});
      continue;
    }
    out += "\r\n" + name + ": " + value;
  }
  out += keep_alive ? "\r\nConnection: keep-alive\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  if (!head_only) out += r.body;
  return out;
}

// The peer's address as text, IPv4-mapped IPv6 shown as IPv4 (the key of
// the per-address cap and ApiRequest::remote_addr).
std::string PeerAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    }
  }
  return buf;
}

enum class Phase {
  kProxyHeader, // PROXY protocol header from a trusted proxy, before TLS
  kHandshake,   // TLS handshake (header deadline runs from accept)
  kHead,        // request line and headers
  kBody,        // Content-Length body
  kIdle,        // keep-alive, between requests
  kDispatched,  // a worker runs the handler
  kWriting,     // the response drains
  kLinger,      // after an error answer: half-closed, discarding input
};

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kProxyHeader: return "proxy_header";
    case Phase::kHandshake: return "handshake";
    case Phase::kHead: return "header";
    case Phase::kBody: return "body";
    case Phase::kIdle: return "idle";
    case Phase::kDispatched: return "handler";
    case Phase::kWriting: return "write";
    case Phase::kLinger: return "linger";
  }
  return "other";
}

struct Conn {
  std::uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  std::string peer;        // the client: the socket's peer, or the PROXY header's source
  bool peer_counted = false;  // counted in per_address under `peer`
  bool signature_checked = false;  // an untrusted peer's first bytes checked for a PROXY header
  Phase phase = Phase::kHandshake;
  http::ProxyHeaderParser proxy;
  http::RequestParser parser;
  std::string in;          // decrypted bytes not yet taken by the parser
  std::string out;         // the response being written
  std::size_t out_off = 0;
  bool close_after_write = false;
  bool linger_after_write = false;  // unread request bytes may follow
  std::size_t lingered_bytes = 0;
  bool tls_broken = false; // no close_notify after a fatal TLS error
  int served = 0;
  TimePoint deadline;      // of the current phase
  TimePoint last_read;
  std::uint32_t events = 0;
  explicit Conn(const http::ParserLimits& limits) : parser(limits) {}
};

struct Job {
  std::uint64_t conn_id;
  bool slow = false;  // RouteCost::kSlow
  ApiRequest request;
  std::string_view method_label;
  bool head_only;
  bool keep_alive;
};

struct Done {
  std::uint64_t conn_id;
  std::string bytes;
  bool close;
};

constexpr std::uint64_t kListenerId = 0;
constexpr std::uint64_t kWakeId = 1;
constexpr std::size_t kReadChunk = 16 * 1024;

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Metrics* metrics = nullptr;
  SSL_CTX* ctx = nullptr;
  const HttpServer* server = nullptr;
  http::ParserLimits limits;
  std::vector<http::AddressRange> trusted_proxies;

  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};

  // Event thread only.
  std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns;
  std::unordered_map<std::string, int> per_address;
  std::uint64_t next_id = 2;
  bool accept_paused = false;
  TimePoint accept_resume;

  // Worker pool.
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> jobs;       // quick routes, taken first
  std::deque<Job> slow_jobs;  // slow routes, at most max_slow running
  int slow_running = 0;
  int max_slow = 1;
  bool workers_stop = false;
  std::deque<Done> done;  // guarded by mu too

  ~Impl() {
    if (listen_fd >= 0) close(listen_fd);
    if (epoll_fd >= 0) close(epoll_fd);
    if (wake_fd >= 0) close(wake_fd);
    if (ctx) SSL_CTX_free(ctx);
  }

  Status Bind(int* bound_port);
  void EventLoop();
  void WorkerLoop();
  void Wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd, &one, sizeof(one));
  }

  void Count(const std::string& name, const std::string& labels) {
    if (metrics) metrics->Increment(name, labels);
  }
  void CountRequest(std::string_view method_label, int status) {
    Count("livegate_http_requests_total",
          "method=\"" + std::string(method_label) + "\",code=\"" + std::to_string(status) + "\"");
  }

  void Accept(TimePoint now);
  void SetInterest(Conn& c, std::uint32_t events);
  void OnEvent(Conn& c, std::uint32_t events, TimePoint now);
  bool TrustedProxy(const std::string& peer) const {
    return std::any_of(trusted_proxies.begin(), trusted_proxies.end(),
                       [&](const http::AddressRange& r) { return r.Contains(peer); });
  }
  void ReadProxyHeader(Conn& c, TimePoint now);
  // false: the connection was refused and closed.
  bool CheckUntrustedSignature(Conn& c);
  void RefuseProxy(Conn& c, const std::string& reason);
  void Handshake(Conn& c, TimePoint now);
  void Read(Conn& c, TimePoint now);
  void Process(Conn& c, TimePoint now);
  void Dispatch(Conn& c, TimePoint now);
  void Respond(Conn& c, std::string bytes, bool close, TimePoint now);
  void RespondError(Conn& c, std::string_view method_label, int status, const std::string& reason,
                    const std::string& message, TimePoint now);
  void Write(Conn& c, TimePoint now);
  void AfterResponse(Conn& c, TimePoint now);
  void Linger(Conn& c);
  // false: the connection is gone (do not touch it again).
  bool HandleSslResult(Conn& c, int ret, bool* want_read, bool* want_write);
  void Close(Conn& c);
  void Sweep(TimePoint now);
  void DrainDone(TimePoint now);
};

Status HttpServer::Impl::Bind(int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(options.port);
  if (getaddrinfo(options.address.c_str(), port_text.c_str(), &hints, &res) != 0 || res == nullptr) {
    return Status(StatusCode::kUnavailable, "http.bind", "cannot resolve " + options.address);
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    return Status(StatusCode::kUnavailable, "http.bind",
                  "cannot bind " + options.address + ":" + std::to_string(options.port) + " (in use?)");
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *bound_port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listen_fd = fd;
  return Status::Ok();
}

void HttpServer::Impl::SetInterest(Conn& c, std::uint32_t events) {
  if (c.events == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = c.id;
  epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
  c.events = events;
}

void HttpServer::Impl::Accept(TimePoint now) {
  // Bounded per wake-up so that a connection flood cannot starve the
  // connections already open (the listener stays readable; the rest are
  // accepted on the next turn).
  for (int accepted = 0; accepted < 256; ++accepted) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting for a moment rather than spin.
        LogEvent(LogLevel::kWarn, "http.accept_paused", {{"errno", errno}});
        epoll_event ev{};
        ev.data.u64 = kListenerId;
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &ev);
        accept_paused = true;
        accept_resume = now + std::chrono::milliseconds(200);
      }
      return;
    }
    if (stopping) {
      close(fd);
      continue;
    }
    std::string peer = PeerAddress(ss);
    // Caps (issue 12, finding 2): over-cap connections are closed at once,
    // before any TLS work, and counted.
    if (static_cast<int>(conns.size()) >= options.max_connections) {
      close(fd);
      Count("livegate_http_connections_refused_total", "limit=\"total\"");
      continue;
    }
    // A trusted proxy carries many clients: its connections are counted per
    // address under the client's address, once its PROXY header is read.
    const bool from_proxy = TrustedProxy(peer);
    if (!from_proxy && per_address[peer] >= options.max_connections_per_address) {
      close(fd);
      Count("livegate_http_connections_refused_total", "limit=\"per_address\"");
      continue;
    }
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
      if (ssl) SSL_free(ssl);
      close(fd);
      ERR_clear_error();
      continue;
    }
    SSL_set_accept_state(ssl);
    const int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    auto c = std::make_unique<Conn>(limits);
    c->id = next_id++;
    c->fd = fd;
    c->ssl = ssl;
    c->peer = std::move(peer);
    c->phase = from_proxy ? Phase::kProxyHeader : Phase::kHandshake;
    c->deadline = now + std::chrono::milliseconds(options.header_timeout_ms);
    c->last_read = now;
    c->events = EPOLLIN;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
      SSL_free(ssl);
      close(fd);
      continue;
    }
    if (!from_proxy) {
      ++per_address[c->peer];
      c->peer_counted = true;
    }
    conns.emplace(c->id, std::move(c));
  }
}

void HttpServer::Impl::Close(Conn& c) {
  epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
  if (c.ssl) {
    // One non-blocking close_notify, never waited for.
    if (!c.tls_broken && SSL_is_init_finished(c.ssl)) SSL_shutdown(c.ssl);
    SSL_free(c.ssl);
    ERR_clear_error();
  }
  close(c.fd);
  if (c.peer_counted) {
    auto it = per_address.find(c.peer);
    if (it != per_address.end() && --it->second <= 0) per_address.erase(it);
  }
  conns.erase(c.id);  // destroys c
}

bool HttpServer::Impl::HandleSslResult(Conn& c, int ret, bool* want_read, bool* want_write) {
  const int err = SSL_get_error(c.ssl, ret);
  *want_read = *want_write = false;
  if (err == SSL_ERROR_WANT_READ) {
    *want_read = true;
    return true;
  }
  if (err == SSL_ERROR_WANT_WRITE) {
    *want_write = true;
    return true;
  }
  // Peer closed, reset, or a TLS protocol error: nothing more to do.
  if (err != SSL_ERROR_ZERO_RETURN) c.tls_broken = true;
  ERR_clear_error();
  Close(c);
  return false;
}

void HttpServer::Impl::RefuseProxy(Conn& c, const std::string& reason) {
  // No answer: nothing can be said before TLS that the peer could trust.
  // Counted, not logged per connection (a flood would fill the log).
  Count("livegate_http_proxy_refused_total", "reason=\"" + reason + "\"");
  c.tls_broken = true;
  Close(c);
}

void HttpServer::Impl::ReadProxyHeader(Conn& c, TimePoint now) {
  // Peek, give the parser what it takes, then consume exactly that: the
  // parser stops at the header's end, so the TLS bytes behind it stay in
  // the socket for OpenSSL. Everything taken is consumed, so level-
  // triggered epoll does not spin on a partial header.
  char buf[16 + http::kMaxProxyV2Payload];
  for (;;) {
    const ssize_t n = recv(c.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {  // EOF or error before the header ended
      c.tls_broken = true;
      Close(c);
      return;
    }
    const std::size_t taken = c.proxy.Feed(std::string_view(buf, static_cast<std::size_t>(n)));
    if (taken > 0 && recv(c.fd, buf, taken, MSG_DONTWAIT) != static_cast<ssize_t>(taken)) {
      c.tls_broken = true;
      Close(c);
      return;
    }
    c.last_read = now;
    if (c.proxy.state() == http::ProxyHeaderParser::State::kError) {
      RefuseProxy(c, c.proxy.error());
      return;
    }
    if (c.proxy.state() == http::ProxyHeaderParser::State::kNeedMore) continue;
    const auto& h = c.proxy.header();
    if (!h.local) c.peer = h.source_address;  // LOCAL: the proxy itself (health checks)
    int& from_peer = per_address[c.peer];
    if (from_peer >= options.max_connections_per_address) {
      if (from_peer == 0) per_address.erase(c.peer);
      Count("livegate_http_connections_refused_total", "limit=\"per_address\"");
      c.tls_broken = true;
      Close(c);
      return;
    }
    ++from_peer;
    c.peer_counted = true;
    c.phase = Phase::kHandshake;
    c.signature_checked = true;
    Handshake(c, now);  // the ClientHello may be waiting already
    return;
  }
}

bool HttpServer::Impl::CheckUntrustedSignature(Conn& c) {
  // A PROXY header from an address that is not a trusted proxy is refused
  // with its own reason (otherwise it would only fail as a TLS error) and
  // never believed. A TLS ClientHello starts with 0x16: its first byte is
  // peeked and left for OpenSSL. A first byte that could start a PROXY
  // header ('P' or CR) is no TLS either way, so those bytes are consumed
  // (at most 12) until they are or are not a PROXY signature - consuming
  // keeps level-triggered epoll from spinning on a peer that stalls there.
  char first = 0;
  const ssize_t n = recv(c.fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;  // nothing yet
  if (n <= 0) {  // EOF or error before any byte
    c.tls_broken = true;
    Close(c);
    return false;
  }
  if (c.in.empty() && http::MatchProxySignature(std::string_view(&first, 1)) == http::ProxySignature::kNo) {
    c.signature_checked = true;
    return true;
  }
  char buf[12];
  const ssize_t got = recv(c.fd, buf, sizeof(buf) - c.in.size(), MSG_DONTWAIT);
  if (got > 0) c.in.append(buf, static_cast<std::size_t>(got));
  switch (http::MatchProxySignature(c.in)) {
    case http::ProxySignature::kMaybe:
      return true;  // wait for more, within the header deadline
    case http::ProxySignature::kYes:
      c.in.clear();
      RefuseProxy(c, "proxy.untrusted_source");
      return false;
    case http::ProxySignature::kNo:
      break;
  }
  c.tls_broken = true;  // neither TLS nor PROXY: e.g. plain HTTP on the TLS port
  Close(c);
  return false;
}

void HttpServer::Impl::Handshake(Conn& c, TimePoint now) {
  if (!c.signature_checked) {
    if (!CheckUntrustedSignature(c)) return;
    if (!c.signature_checked) {
      c.last_read = now;
      return;
    }
  }
  ERR_clear_error();
  const int ret = SSL_do_handshake(c.ssl);
  if (ret == 1) {
    c.phase = Phase::kHead;  // the header deadline still runs from accept
    Read(c, now);
    return;
  }
  bool want_read = false, want_write = false;
  if (!HandleSslResult(c, ret, &want_read, &want_write)) return;
  c.last_read = now;
  SetInterest(c, want_write ? EPOLLOUT : EPOLLIN);
}

void HttpServer::Impl::Read(Conn& c, TimePoint now) {
  char buf[kReadChunk];
  for (;;) {
    if (c.phase != Phase::kHead && c.phase != Phase::kBody && c.phase != Phase::kIdle) return;
    ERR_clear_error();
    const int n = SSL_read(c.ssl, buf, sizeof(buf));
    if (n > 0) {
      c.last_read = now;
      c.in.append(buf, static_cast<std::size_t>(n));
      const std::uint64_t id = c.id;
      Process(c, now);
      if (conns.find(id) == conns.end()) return;  // closed by Process
      continue;
    }
    bool want_read = false, want_write = false;
    if (!HandleSslResult(c, n, &want_read, &want_write)) return;
    SetInterest(c, want_write ? EPOLLOUT : EPOLLIN);
    return;
  }
}

void HttpServer::Impl::Process(Conn& c, TimePoint now) {
  while (!c.in.empty() &&
         (c.phase == Phase::kHead || c.phase == Phase::kBody || c.phase == Phase::kIdle)) {
    const std::size_t used = c.parser.Feed(c.in);
    c.in.erase(0, used);
    if (c.phase == Phase::kIdle && c.parser.started()) {
      c.phase = Phase::kHead;
      c.deadline = now + std::chrono::milliseconds(options.header_timeout_ms);
    }
    const auto state = c.parser.state();
    if (state == http::RequestParser::State::kError) {
      const auto& e = c.parser.error();
      RespondError(c, http::MethodLabel(c.parser.request().method), e.http_status, e.reason, e.message, now);
      return;
    }
    if (c.phase == Phase::kHead && c.parser.head_complete()) {
      c.phase = Phase::kBody;
      c.deadline = now + std::chrono::milliseconds(options.body_timeout_ms);
    }
    if (state == http::RequestParser::State::kComplete) {
      Dispatch(c, now);
      return;
    }
  }
}

void HttpServer::Impl::Dispatch(Conn& c, TimePoint now) {
  http::ParsedRequest p = c.parser.TakeRequest();
  const std::string_view label = http::MethodLabel(p.method);
  if (label == "other") {
    // RFC 9110 9.1: an unrecognised method is 501; the raw method goes
    // neither to a metric label nor into the answer (issue 12, finding 3).
    RespondError(c, label, 501, "http.method_not_implemented",
                 "the request method is not implemented by this server", now);
    return;
  }
  Job job;
  job.conn_id = c.id;
  job.method_label = label;
  job.head_only = p.method == "HEAD";
  job.keep_alive = p.keep_alive && c.served + 1 < options.keep_alive_max_count && !stopping;
  ApiRequest& a = job.request;
  a.method = job.head_only ? "GET" : p.method;
  a.path = std::move(p.path);
  a.body = std::move(p.body);
  a.remote_addr = c.peer;
  for (auto& [k, v] : p.headers) a.headers.emplace(k, std::move(v));  // first value wins
  c.phase = Phase::kDispatched;
  SetInterest(c, 0);
  job.slow = server->IsSlowRoute(a.method, a.path);
  {
    std::lock_guard<std::mutex> lock(mu);
    (job.slow ? slow_jobs : jobs).push_back(std::move(job));
  }
  cv.notify_one();
}

void HttpServer::Impl::WorkerLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu);
      const auto slow_ready = [this] { return !slow_jobs.empty() && slow_running < max_slow; };
      cv.wait(lock, [&] { return workers_stop || !jobs.empty() || slow_ready(); });
      if (!jobs.empty()) {
        job = std::move(jobs.front());
        jobs.pop_front();
      } else if (slow_ready()) {
        job = std::move(slow_jobs.front());
        slow_jobs.pop_front();
        ++slow_running;
      } else {
        return;  // stopping and nothing left
      }
    }
    const auto t0 = Clock::now();
    ApiResponse r = server->Dispatch(std::move(job.request));
    if (metrics) {
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      CountRequest(job.method_label, r.status);
      metrics->Observe("livegate_http_request_seconds",
                       "method=\"" + std::string(job.method_label) + "\"", secs);
    }
    Done d{job.conn_id, SerializeResponse(r, job.head_only, job.keep_alive), !job.keep_alive};
    {
      std::lock_guard<std::mutex> lock(mu);
      done.push_back(std::move(d));
      if (job.slow) --slow_running;
    }
    if (job.slow) cv.notify_all();  // a waiting slow job may start now
    Wake();
  }
}

void HttpServer::Impl::DrainDone(TimePoint now) {
  std::deque<Done> ready;
  {
    std::lock_guard<std::mutex> lock(mu);
    ready.swap(done);
  }
  for (auto& d : ready) {
    auto it = conns.find(d.conn_id);
    if (it == conns.end()) continue;  // the peer went away meanwhile
    Respond(*it->second, std::move(d.bytes), d.close, now);
  }
}

void HttpServer::Impl::Respond(Conn& c, std::string bytes, bool close, TimePoint now) {
  c.out = std::move(bytes);
  c.out_off = 0;
  c.close_after_write = close;
  c.phase = Phase::kWriting;
  c.deadline = now + std::chrono::milliseconds(options.write_timeout_ms);
  Write(c, now);
}

void HttpServer::Impl::RespondError(Conn& c, std::string_view method_label, int status,
                                    const std::string& reason, const std::string& message,
                                    TimePoint now) {
  CountRequest(method_label, status);
  // After a framing error the rest of the bytes cannot be trusted: close.
  c.in.clear();
  c.linger_after_write = true;
  Respond(c, SerializeResponse(TransportError(status, reason, message), false, false), true, now);
}

void HttpServer::Impl::Write(Conn& c, TimePoint now) {
  while (c.out_off < c.out.size()) {
    ERR_clear_error();
    const std::size_t left = std::min<std::size_t>(c.out.size() - c.out_off, 1u << 30);
    const int n = SSL_write(c.ssl, c.out.data() + c.out_off, static_cast<int>(left));
    if (n > 0) {
      c.out_off += static_cast<std::size_t>(n);
      continue;
    }
    bool want_read = false, want_write = false;
    if (!HandleSslResult(c, n, &want_read, &want_write)) return;
    SetInterest(c, want_read ? EPOLLIN : EPOLLOUT);
    return;
  }
  AfterResponse(c, now);
}

void HttpServer::Impl::AfterResponse(Conn& c, TimePoint now) {
  ++c.served;
  if (c.linger_after_write && !stopping) {
    // The peer may still be sending the request we refused (an oversized
    // body, the rest of a head): closing now, with bytes unread, would
    // reset the connection and could destroy the answer before the client
    // reads it. Half-close and discard input for a bounded time instead.
    SSL_shutdown(c.ssl);
    ERR_clear_error();
    c.tls_broken = true;  // close_notify is sent; nothing more over TLS
    shutdown(c.fd, SHUT_WR);
    c.phase = Phase::kLinger;
    c.deadline = now + std::chrono::milliseconds(std::min(options.write_timeout_ms, 2000));
    SetInterest(c, EPOLLIN);
    Linger(c);
    return;
  }
  if (c.close_after_write || stopping) {
    Close(c);
    return;
  }
  c.out.clear();
  c.out.shrink_to_fit();
  c.out_off = 0;
  c.parser.Reset();
  c.phase = Phase::kIdle;
  c.deadline = now + std::chrono::milliseconds(options.idle_timeout_ms);
  SetInterest(c, EPOLLIN);
  const std::uint64_t id = c.id;
  Process(c, now);  // a pipelined request already buffered
  auto it = conns.find(id);
  if (it == conns.end()) return;
  Read(*it->second, now);  // TLS may hold decrypted bytes epoll cannot see
}

void HttpServer::Impl::Linger(Conn& c) {
  constexpr std::size_t kMaxLingerBytes = 1u << 20;
  char sink[kReadChunk];
  for (;;) {
    const ssize_t n = recv(c.fd, sink, sizeof(sink), MSG_DONTWAIT);
    if (n > 0) {
      c.lingered_bytes += static_cast<std::size_t>(n);
      if (c.lingered_bytes > kMaxLingerBytes) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    break;  // EOF or error
  }
  Close(c);
}

void HttpServer::Impl::OnEvent(Conn& c, std::uint32_t events, TimePoint now) {
  if (c.phase == Phase::kDispatched) {
    // Only errors and hang-ups are reported while a handler runs: the
    // answer has no one to go to.
    if (events & (EPOLLERR | EPOLLHUP)) {
      c.tls_broken = true;
      Close(c);
    }
    return;
  }
  switch (c.phase) {
    case Phase::kProxyHeader: ReadProxyHeader(c, now); break;
    case Phase::kHandshake: Handshake(c, now); break;
    case Phase::kHead:
    case Phase::kBody:
    case Phase::kIdle: Read(c, now); break;
    case Phase::kWriting: Write(c, now); break;
    case Phase::kLinger: Linger(c); break;
    case Phase::kDispatched: break;
  }
}

void HttpServer::Impl::Sweep(TimePoint now) {
  std::vector<Conn*> expired;
  const auto silence = std::chrono::milliseconds(options.read_timeout_ms);
  for (auto& [id, c] : conns) {
    bool late = false;
    switch (c->phase) {
      case Phase::kProxyHeader:
      case Phase::kHandshake:
      case Phase::kHead:
      case Phase::kBody:
        late = now >= c->deadline || now >= c->last_read + silence;
        break;
      case Phase::kIdle:
      case Phase::kWriting:
      case Phase::kLinger:
        late = now >= c->deadline;
        break;
      case Phase::kDispatched:
        break;
    }
    if (late) expired.push_back(c.get());
  }
  for (Conn* c : expired) {
    if (c->phase == Phase::kLinger) {  // the answer is out: not a timeout
      Close(*c);
      continue;
    }
    Count("livegate_http_timeouts_total", std::string("phase=\"") + PhaseName(c->phase) + "\"");
    if (c->phase == Phase::kHead || c->phase == Phase::kBody) {
      // A best-effort 408 so an honest slow client learns why; one
      // non-blocking attempt, the connection closes either way.
      const std::string bytes = SerializeResponse(
          TransportError(408, "http.request_timeout", "the request was not received in time"), false, false);
      ERR_clear_error();
      (void)SSL_write(c->ssl, bytes.data(), static_cast<int>(bytes.size()));
      CountRequest(http::MethodLabel(c->parser.request().method), 408);
    }
    Close(*c);
  }
  if (accept_paused && now >= accept_resume && !stopping) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerId;
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &ev);
    accept_paused = false;
  }
  if (metrics) metrics->SetGauge("livegate_http_connections_open", "", static_cast<double>(conns.size()));
}

void HttpServer::Impl::EventLoop() {
  // SSL writes to a peer that reset would raise SIGPIPE in this thread.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  constexpr int kSweepMs = 50;
  auto next_sweep = Clock::now();
  TimePoint drain_until{};
  bool draining = false;
  std::vector<epoll_event> events(256);
  for (;;) {
    const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), kSweepMs);
    auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = events[i].data.u64;
      if (id == kListenerId) {
        Accept(now);
      } else if (id == kWakeId) {
        std::uint64_t v;
        [[maybe_unused]] ssize_t r = read(wake_fd, &v, sizeof(v));
      } else {
        auto it = conns.find(id);
        if (it != conns.end()) OnEvent(*it->second, events[i].events, now);
      }
    }
    DrainDone(now);
    if (stopping && !draining) {
      // Stop: no new connections; connections not waiting for an answer
      // close now; the others get theirs, within the write deadline.
      draining = true;
      drain_until = now + std::chrono::milliseconds(options.write_timeout_ms);
      epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
      std::vector<Conn*> idle;
      for (auto& [cid, c] : conns) {
        if (c->phase != Phase::kDispatched && c->phase != Phase::kWriting) idle.push_back(c.get());
      }
      for (Conn* c : idle) Close(*c);
    }
    if (draining && (conns.empty() || now >= drain_until)) break;
    if (now >= next_sweep) {
      Sweep(now);
      next_sweep = now + std::chrono::milliseconds(kSweepMs);
    }
  }
  std::vector<Conn*> rest;
  for (auto& [cid, c] : conns) rest.push_back(c.get());
  for (Conn* c : rest) Close(*c);
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpServerOptions& options,
                                                       Metrics* metrics) {
  const auto& o = options;
  if (o.header_timeout_ms < 1 || o.body_timeout_ms < 1 || o.read_timeout_ms < 1 ||
      o.idle_timeout_ms < 1 || o.write_timeout_ms < 1 || o.keep_alive_max_count < 1 ||
      o.thread_pool_size < 1 || o.max_connections < 1 || o.max_connections_per_address < 1 ||
      o.max_header_count < 1 || o.max_header_bytes < 64) {
    return Status::InvalidArgument("http.bad_options", "HTTP limits and timeouts must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->metrics = metrics;
  impl->limits.max_head_bytes = options.max_header_bytes;
  impl->limits.max_header_count = static_cast<std::size_t>(options.max_header_count);
  impl->limits.max_body_bytes = options.max_body_bytes;
  for (const auto& text : options.trusted_proxies) {
    http::AddressRange r;
    if (const std::string why = http::ParseAddressRange(text, &r); !why.empty()) {
      return Status::InvalidArgument("http.bad_options", "trusted proxy \"" + text + "\": " + why);
    }
    impl->trusted_proxies.push_back(r);
  }
  impl->ctx = SSL_CTX_new(TLS_server_method());
  if (impl->ctx == nullptr || !SetupTls(*impl->ctx, options.cert_pem, options.key_pem)) {
    return Status::BadInput("http.tls_setup",
                            "the TLS certificate or private key could not be loaded");
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Route(const std::string& method, const std::string& pattern, ApiHandler handler,
                       RequestBody body, RouteCost cost) {
  routes_.push_back({method, std::regex(pattern), pattern, std::move(handler), body, cost});
}

bool HttpServer::IsSlowRoute(const std::string& method, const std::string& path) const {
  for (const auto& r : routes_) {
    if (r.cost == RouteCost::kSlow && r.method == method && std::regex_match(path, r.pattern)) return true;
  }
  return false;
}

ApiResponse HttpServer::Dispatch(ApiRequest request) const {
  bool path_known = false;
  for (const auto& r : routes_) {
    std::smatch m;
    if (!std::regex_match(request.path, m, r.pattern)) continue;
    path_known = true;
    if (r.method != request.method) continue;
    // Issue 12, finding 8: a body is read only as the media type the
    // endpoint documents (docs/API.md), so content sniffing and form posts
    // from a browser cannot reach a JSON endpoint.
    if (!request.body.empty()) {
      const std::string type = request.Header("content-type");
      const bool ok = r.body == RequestBody::kJson
                          ? http::MediaTypeIs(type, "application/json", true)
                          : http::MediaTypeIs(type, "application/octet-stream", false);
      if (!ok) {
        return TransportError(415, "http.unsupported_media_type",
                              r.body == RequestBody::kJson
                                  ? "this endpoint takes Content-Type: application/json"
                                  : "this endpoint takes Content-Type: application/octet-stream");
      }
    }
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
  Impl& im = *impl_;
  im.server = this;
  LG_RETURN_IF_ERROR(im.Bind(&port_));
  // Every open connection needs a descriptor: raise the soft limit towards
  // the hard one when the configured cap needs it, and say so when it cannot.
  rlimit rl{};
  const rlim_t need = static_cast<rlim_t>(im.options.max_connections) + 256;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
    rl.rlim_cur = std::min(need, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need) {
      LogEvent(LogLevel::kWarn, "http.fd_limit",
               {{"max_connections", im.options.max_connections}, {"nofile", rl.rlim_cur}});
    }
  }
  im.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  im.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (im.epoll_fd < 0 || im.wake_fd < 0) {
    return Status(StatusCode::kUnavailable, "http.bind", "cannot create the event loop");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerId;
  epoll_ctl(im.epoll_fd, EPOLL_CTL_ADD, im.listen_fd, &ev);
  ev.data.u64 = kWakeId;
  epoll_ctl(im.epoll_fd, EPOLL_CTL_ADD, im.wake_fd, &ev);
  // One worker stays free of slow routes whenever there are two or more.
  im.max_slow = std::max(1, im.options.thread_pool_size - 1);
  for (int i = 0; i < im.options.thread_pool_size; ++i) {
    im.workers.emplace_back([&im] { im.WorkerLoop(); });
  }
  thread_ = std::thread([&im] { im.EventLoop(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!impl_) return;
  Impl& im = *impl_;
  if (thread_.joinable()) {
    im.stopping = true;
    im.Wake();
    thread_.join();
  }
  {
    std::lock_guard<std::mutex> lock(im.mu);
    im.workers_stop = true;
    im.jobs.clear();  // their connections are closed already
    im.slow_jobs.clear();
  }
  im.cv.notify_all();
  for (auto& w : im.workers) {
    if (w.joinable()) w.join();
  }
  im.workers.clear();
  if (im.listen_fd >= 0) {
    close(im.listen_fd);
    im.listen_fd = -1;
  }
}

}  // namespace livegate::server
