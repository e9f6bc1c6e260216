// A raw TLS client for transport tests: it sends exactly the bytes a test
// gives (malformed requests, slow trickles, several requests at once) and
// reads what the server answers, which no HTTP client library allows.
// Plain OpenSSL over a blocking socket with timeouts; an optional source
// address (127.0.0.2...) stands for a second client machine on loopback.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace livegate::server::testing {

struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
  std::string reason;  // error.reason of a JSON error body
  std::string Header(const std::string& name) const {
    // Case-insensitive search for "\r\nName: value".
    std::string lower_head = head, lower_name = name;
    for (auto& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto at = lower_head.find("\r\n" + lower_name + ":");
    if (at == std::string::npos) return {};
    const auto start = at + 3 + name.size();
    const auto end = head.find("\r\n", start);
    std::string v = head.substr(start, end - start);
    while (!v.empty() && v.front() == ' ') v.erase(0, 1);
    return v;
  }
};

class RawConn {
 public:
  RawConn() = default;
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  ~RawConn() { Close(); }

  // TCP only (no TLS yet). `source` empty = any local address.
  bool ConnectTcp(int port, const std::string& source = "") {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    if (!source.empty()) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      inet_pton(AF_INET, source.c_str(), &src.sin_addr);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return false;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    const int yes = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    return connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  // TCP + TLS handshake (the server's self-signed certificate is not
  // verified: these tests are about the transport, not the PKI).
  bool Connect(int port, const std::string& source = "") {
    if (!ConnectTcp(port, source)) return false;
    ctx_ = SSL_CTX_new(TLS_client_method());
    // Return from SSL_read after a TLS 1.3 session ticket instead of
    // blocking for application data.
    SSL_CTX_clear_mode(ctx_, SSL_MODE_AUTO_RETRY);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    const bool ok = SSL_connect(ssl_) == 1;
    ERR_clear_error();
    return ok;
  }
  int fd() const { return fd_; }

  bool Send(const std::string& bytes) {
    if (ssl_ == nullptr) return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
    const bool ok = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
    ERR_clear_error();
    return ok;
  }

  // Waits up to `timeout_ms` for bytes; appends them to buffer_. Returns
  // false at end of stream (closed by the peer) or error; true on data or
  // timeout (timed_out() tells which).
  bool ReadSome(int timeout_ms) {
    timed_out_ = false;
    if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      const int r = poll(&p, 1, timeout_ms);
      if (r == 0) {
        timed_out_ = true;
        return true;
      }
    }
    char buf[16384];
    int n;
    if (ssl_ != nullptr) {
      n = SSL_read(ssl_, buf, sizeof(buf));
      const int err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        timed_out_ = true;  // a handshake record, no data yet
        return true;
      }
    } else {
      n = static_cast<int>(::recv(fd_, buf, sizeof(buf), 0));
    }
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  bool timed_out() const { return timed_out_; }
  bool closed() const { return closed_; }

  // True when the server closes the connection within `timeout_ms` (any
  // bytes it sends first, such as a 408, are kept in buffer()).
  bool WaitClosed(int timeout_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (!ReadSome(static_cast<int>(std::max<long>(1, left.count())))) return true;
    }
    return false;
  }

  // Reads one response (Content-Length framed) within `timeout_ms`.
  std::optional<RawResponse> ReadResponse(int timeout_ms = 5000, bool head_only = false) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const auto end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        RawResponse r;
        r.head = buffer_.substr(0, end + 2);
        if (r.head.size() > 12) r.status = std::atoi(r.head.substr(9, 3).c_str());
        const std::string cl = r.Header("Content-Length");
        const std::size_t len = head_only || cl.empty() ? 0 : std::stoul(cl);
        if (buffer_.size() >= end + 4 + len) {
          r.body = buffer_.substr(end + 4, len);
          buffer_.erase(0, end + 4 + len);
          auto j = nlohmann::json::parse(r.body, nullptr, false);
          if (j.is_object() && j.contains("error")) r.reason = j["error"].value("reason", "");
          return r;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      if (!ReadSome(static_cast<int>(left.count()))) return std::nullopt;
    }
  }

  const std::string& buffer() const { return buffer_; }

  void Close() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
    ssl_ = nullptr;
    ctx_ = nullptr;
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
  bool timed_out_ = false;
  bool closed_ = false;
};

// One request on a fresh connection; nullopt when the connection or the
// answer failed.
inline std::optional<RawResponse> OneRequest(int port, const std::string& bytes, const std::string& source = "",
                                             int timeout_ms = 5000) {
  RawConn c;
  if (!c.Connect(port, source) || !c.Send(bytes)) return std::nullopt;
  return c.ReadResponse(timeout_ms);
}

inline std::string GetRequest(const std::string& path, const std::string& extra_headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers + "Connection: close\r\n\r\n";
}

}  // namespace livegate::server::testing
