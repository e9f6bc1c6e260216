// Incremental, strict HTTP/1.1 request parser (RFC 9112) for the server's
// own front (http_server.cc). A pure function of the bytes fed to it: no
// sockets, no clocks, so it is unit-tested and fuzzed on its own
// (fuzz/fuzz_http_parser.cc).
//
// Strict where leniency enables request smuggling or resource abuse
// (issue 12, findings 2 and 7):
// - CRLF line endings only; a bare CR or bare LF is an error;
// - obs-fold (a header line starting with SP/HT), whitespace before the
//   colon, and header names that are not tokens are errors;
// - the body is framed by one Content-Length only: a repeated
//   Content-Length (even with the same value), a list or a non-decimal
//   value is refused, and any Transfer-Encoding is refused (no chunked
//   bodies: the API never needs them);
// - the head (request line + headers) and the header count are bounded
//   (431), the body is bounded (413) before any of it is read.
// Every error carries an HTTP status and a stable reason for the JSON
// error shape; after an error the connection is closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace livegate::server::http {

struct ParserLimits {
  std::size_t max_head_bytes = 16 * 1024;  // request line + headers, CRLFs included
  std::size_t max_header_count = 64;
  std::size_t max_body_bytes = 4u << 20;
};

struct ParsedRequest {
  std::string method;  // a token, as sent (case-sensitive, RFC 9110 9.1)
  std::string target;  // the raw origin-form request target
  std::string path;    // target without the query, percent-decoded
  std::string query;   // after '?', raw
  int version_minor = 1;  // HTTP/1.<minor>: 0 or 1
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool keep_alive = true;       // HTTP/1.1 without "Connection: close"
  bool expect_continue = false; // "Expect: 100-continue"
  std::size_t content_length = 0;
  // First value of a header (names lower-cased), or "" when absent.
  std::string Header(std::string_view lower_name) const;
};

struct ParseError {
  int http_status = 400;
  std::string reason;   // e.g. http.bad_content_length
  std::string message;  // for the client; never echoes request bytes
};

class RequestParser {
 public:
  enum class State { kHead, kBody, kComplete, kError };

  explicit RequestParser(ParserLimits limits = {});

  // Consumes bytes of the current request and returns how many it took: it
  // stops at the end of a complete request (the rest belongs to the next,
  // pipelined one) or at the first error.
  std::size_t Feed(std::string_view data);

  State state() const { return state_; }
  // Any byte of this request seen (leading empty lines excluded).
  bool started() const { return started_; }
  bool head_complete() const { return state_ == State::kBody || state_ == State::kComplete; }
  const ParsedRequest& request() const { return request_; }
  ParsedRequest TakeRequest() { return std::move(request_); }
  const ParseError& error() const { return error_; }
  // Ready for the next request on the same connection.
  void Reset();

 private:
  void Fail(int status, std::string reason, std::string message);
  void ParseHead();
  bool ParseRequestLine(std::string_view line);
  bool ParseHeaderLine(std::string_view line);
  bool FinishHeaders();

  ParserLimits limits_;
  State state_ = State::kHead;
  bool started_ = false;
  std::string head_;
  std::size_t leading_empty_bytes_ = 0;
  ParsedRequest request_;
  ParseError error_;
};

// ---- PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) ----
// A load balancer in TCP mode (TLS passes through to us) tells the server
// the client's address with a header sent before the TLS ClientHello
// (docs/DEPLOY.md). The server reads it ONLY on connections from its
// configured trusted proxies (listen.trusted_proxies): a header from anyone
// else could claim any address, and would defeat the per-address rate
// limits and the audit's record of who connected.
//
// The parser never takes a byte past the header's end (the TLS bytes that
// follow belong to OpenSSL), is bounded (v1: 107 bytes; v2: 16 + at most
// kMaxProxyV2Payload bytes), and fails on the first byte that cannot start
// or continue a valid header, so garbage is refused without waiting.
inline constexpr std::size_t kMaxProxyV1Bytes = 107;    // the spec's bound, CRLF included
inline constexpr std::size_t kMaxProxyV2Payload = 512;  // address block + TLVs we accept

struct ProxyHeader {
  int version = 0;             // 1 or 2
  bool local = false;          // v2 LOCAL / v1 UNKNOWN: the proxy's own connection (health checks)
  std::string source_address;  // the client's address (IPv4 dotted or IPv6 text); empty when local
  int source_port = 0;
};

class ProxyHeaderParser {
 public:
  enum class State { kNeedMore, kComplete, kError };
  // Takes bytes of the header and returns how many: all of `data` while the
  // header is incomplete, only up to its end once complete, and up to the
  // offending byte on an error.
  std::size_t Feed(std::string_view data);
  State state() const { return state_; }
  const ProxyHeader& header() const { return header_; }
  // Stable reasons: proxy.missing_header (the first bytes are not a PROXY
  // header), proxy.bad_header (malformed), proxy.too_large (over the bounds),
  // proxy.unsupported (v2 command/family/protocol we do not take).
  const std::string& error() const { return error_; }
  std::size_t bytes_taken() const { return buf_.size(); }

 private:
  void Fail(std::string reason) {
    state_ = State::kError;
    error_ = std::move(reason);
  }
  void FinishV1();
  void FinishV2();
  State state_ = State::kNeedMore;
  std::string buf_;
  std::size_t v2_total_ = 0;  // 16 + payload length, once known
  ProxyHeader header_;
  std::string error_;
};

// Whether the first bytes received on a connection are (the start of) a
// PROXY header: kYes once a full v1 "PROXY " or v2 signature is seen, kNo on
// the first byte that differs, kMaybe for a strict prefix of one. Used to
// refuse, with its own reason, a header sent by an address that is not a
// trusted proxy.
enum class ProxySignature { kNo, kMaybe, kYes };
ProxySignature MatchProxySignature(std::string_view first_bytes);

// An address range from a CIDR ("10.0.0.0/8", "::1/128") or one address
// ("127.0.0.2" = /32, "::1" = /128). IPv4-mapped IPv6 peers are compared as IPv4.
struct AddressRange {
  int family = 0;  // AF_INET or AF_INET6
  unsigned char bytes[16] = {};
  int prefix_bits = 0;
  bool Contains(std::string_view address) const;
};
// Reasons in the returned string ("" on success): a malformed address or
// prefix, or a /0 range (it would trust every address on the Internet).
std::string ParseAddressRange(std::string_view text, AddressRange* out);

// True for RFC 9110 token characters (method and header names).
bool IsTokenChar(unsigned char c);

// The label under which a method is counted in metrics: one of a fixed set,
// never the raw method (issue 12, finding 3).
std::string_view MethodLabel(std::string_view method);

// Whether a Content-Type header value names `type` ("application/json"),
// case-insensitively, with no parameter except "charset=utf-8" when
// `allow_utf8_charset` (quoted or not).
bool MediaTypeIs(std::string_view content_type, std::string_view type, bool allow_utf8_charset);

// The reason phrase of an HTTP status code ("Not Found").
std::string_view ReasonPhrase(int status);

}  // namespace livegate::server::http
