#include "server/http_parser.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace livegate::server::http {
namespace {

char LowerChar(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = LowerChar(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (LowerChar(a[i]) != LowerChar(b[i])) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::size_t kMaxMethodLength = 32;

}  // namespace

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

std::string ParsedRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return std::string();
}

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

void RequestParser::Reset() {
  state_ = State::kHead;
  started_ = false;
  head_.clear();
  leading_empty_bytes_ = 0;
  request_ = ParsedRequest{};
  error_ = ParseError{};
}

void RequestParser::Fail(int status, std::string reason, std::string message) {
  state_ = State::kError;
  error_ = {status, std::move(reason), std::move(message)};
}

std::size_t RequestParser::Feed(std::string_view data) {
  std::size_t i = 0;
  while (state_ == State::kHead && i < data.size()) {
    const char c = data[i++];
    const bool after_cr = !head_.empty() && head_.back() == '\r';
    if (c == '\n' && !after_cr) {
      Fail(400, "http.bad_line_ending", "header lines must end with CRLF (bare LF)");
      return i;
    }
    if (after_cr && c != '\n') {
      Fail(400, "http.bad_line_ending", "a bare CR is not allowed in the request head");
      return i;
    }
    head_.push_back(c);
    if (!started_ && head_ == "\r\n") {
      // RFC 9112 2.2: empty lines before the request line are ignored, but
      // only a bounded number of them.
      head_.clear();
      leading_empty_bytes_ += 2;
      if (leading_empty_bytes_ > limits_.max_head_bytes) {
        Fail(400, "http.bad_request_line", "too many empty lines before the request line");
        return i;
      }
      continue;
    }
    if (head_ != "\r") started_ = true;
    if (head_.size() > limits_.max_head_bytes) {
      Fail(431, "http.headers_too_large", "the request line and headers are too large");
      return i;
    }
    if (c == '\n' && head_.size() >= 4 && head_.compare(head_.size() - 4, 4, "\r\n\r\n") == 0) {
      ParseHead();
      if (state_ == State::kError) return i;
      state_ = request_.content_length == 0 ? State::kComplete : State::kBody;
      // One buffer of the declared size (already <= max_body_bytes): growing
      // by appends would reallocate and copy a multi-MiB capture several
      // times, with old and new buffers alive at once (peak RSS). Pages are
      // only touched as bytes arrive, so a client that declares and stalls
      // costs address space, not memory, until the body deadline closes it.
      request_.body.reserve(request_.content_length);
      head_.clear();
      head_.shrink_to_fit();
    }
  }
  if (state_ == State::kBody && i < data.size()) {
    const std::size_t missing = request_.content_length - request_.body.size();
    const std::size_t take = std::min(missing, data.size() - i);
    request_.body.append(data.data() + i, take);
    i += take;
    if (request_.body.size() == request_.content_length) state_ = State::kComplete;
  }
  return i;
}

void RequestParser::ParseHead() {
  // head_ ends with CRLF CRLF and holds no bare CR or LF (checked in Feed).
  std::string_view rest(head_.data(), head_.size() - 2);
  bool first = true;
  while (!rest.empty()) {
    const auto eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    if (first) {
      if (!ParseRequestLine(line)) return;
      first = false;
    } else if (!ParseHeaderLine(line)) {
      return;
    }
  }
  FinishHeaders();
}

bool RequestParser::ParseRequestLine(std::string_view line) {
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    Fail(400, "http.bad_request_line", "the request line must be METHOD SP TARGET SP HTTP/1.1");
    return false;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || method.size() > kMaxMethodLength ||
      !std::all_of(method.begin(), method.end(), [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); })) {
    Fail(400, "http.bad_method", "the request method is not a valid token");
    return false;
  }
  if (version == "HTTP/1.1") {
    request_.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    request_.version_minor = 0;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[5] >= '0' &&
             version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9') {
    Fail(505, "http.version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served");
    return false;
  } else {
    Fail(400, "http.bad_request_line", "the request line must end with HTTP/1.1");
    return false;
  }
  // Origin form only ("/path?query"): the API has no use for absolute or
  // authority forms, and "*" is for OPTIONS of proxies.
  if (target.empty() || target.front() != '/' ||
      !std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    Fail(400, "http.bad_request_target", "the request target must be an absolute path");
    return false;
  }
  const auto q = target.find('?');
  const std::string_view raw_path = target.substr(0, q);
  std::string path;
  path.reserve(raw_path.size());
  for (std::size_t i = 0; i < raw_path.size(); ++i) {
    char c = raw_path[i];
    if (c == '%') {
      const bool two_follow = i + 2 < raw_path.size();
      const int h = two_follow ? HexValue(raw_path[i + 1]) : -1;
      const int l = two_follow ? HexValue(raw_path[i + 2]) : -1;
      if (h < 0 || l < 0) {
        Fail(400, "http.bad_request_target", "bad percent-encoding in the request path");
        return false;
      }
      const int v = h * 16 + l;
      if (v < 0x20 || v == 0x7f) {
        Fail(400, "http.bad_request_target", "control characters are not allowed in the path");
        return false;
      }
      c = static_cast<char>(v);
      i += 2;
    }
    path.push_back(c);
  }
  request_.method = std::string(method);
  request_.target = std::string(target);
  request_.path = std::move(path);
  request_.query = q == std::string_view::npos ? std::string() : std::string(target.substr(q + 1));
  return true;
}

bool RequestParser::ParseHeaderLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    Fail(400, "http.obs_fold", "folded header lines (obs-fold) are not accepted");
    return false;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    Fail(400, "http.bad_header_name", "a header line has no name or no colon");
    return false;
  }
  const std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), [](char c) { return IsTokenChar(static_cast<unsigned char>(c)); })) {
    Fail(400, "http.bad_header_name", "a header name is not a valid token");
    return false;
  }
  const std::string_view value = TrimOws(line.substr(colon + 1));
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (c != '\t' && (c < 0x20 || c == 0x7f)) {
      Fail(400, "http.bad_header_value", "a header value holds a control character");
      return false;
    }
  }
  if (request_.headers.size() >= limits_.max_header_count) {
    Fail(431, "http.too_many_headers", "the request has too many header fields");
    return false;
  }
  request_.headers.emplace_back(LowerAscii(name), std::string(value));
  return true;
}

bool RequestParser::FinishHeaders() {
  int content_lengths = 0, hosts = 0, authorizations = 0, content_types = 0;
  std::string content_length;
  bool has_transfer_encoding = false;
  request_.keep_alive = request_.version_minor == 1;
  for (const auto& [name, value] : request_.headers) {
    if (name == "content-length") {
      ++content_lengths;
      content_length = value;
    } else if (name == "transfer-encoding") {
      has_transfer_encoding = true;
    } else if (name == "host") {
      ++hosts;
    } else if (name == "authorization") {
      ++authorizations;
    } else if (name == "content-type") {
      ++content_types;
    } else if (name == "connection") {
      std::string_view v(value);
      while (!v.empty()) {
        const auto comma = v.find(',');
        const std::string_view opt = TrimOws(v.substr(0, comma));
        if (EqualsIgnoreCase(opt, "close")) request_.keep_alive = false;
        v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      }
    } else if (name == "expect") {
      if (!EqualsIgnoreCase(value, "100-continue")) {
        Fail(417, "http.expectation_failed", "only \"Expect: 100-continue\" is understood");
        return false;
      }
      request_.expect_continue = true;
    }
  }
  // Issue 12 finding 7: with two framings a proxy in front and this server
  // could disagree on where the body ends (request smuggling), so any
  // ambiguity is refused rather than resolved.
  if (has_transfer_encoding) {
    Fail(411, "http.transfer_encoding_unsupported",
         "Transfer-Encoding is not accepted; send the body with one Content-Length");
    return false;
  }
  if (content_lengths > 1) {
    Fail(400, "http.bad_content_length", "more than one Content-Length header");
    return false;
  }
  if (content_lengths == 1) {
    if (content_length.empty() || content_length.size() > 18 ||
        !std::all_of(content_length.begin(), content_length.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      Fail(400, "http.bad_content_length", "Content-Length must be one decimal number");
      return false;
    }
    request_.content_length = std::stoull(content_length);
    if (request_.content_length > limits_.max_body_bytes) {
      Fail(413, "http.payload_too_large", "the request body is too large");
      return false;
    }
  }
  // Two credentials or two media types: which one counts would depend on
  // the reader, so neither does.
  if (authorizations > 1 || content_types > 1) {
    Fail(400, "http.duplicate_header", "Authorization and Content-Type may appear only once");
    return false;
  }
  if (request_.version_minor == 1 && hosts != 1) {
    Fail(400, "http.bad_host", "an HTTP/1.1 request needs exactly one Host header");
    return false;
  }
  return true;
}

std::string_view MethodLabel(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"};
  for (auto m : kKnown) {
    if (method == m) return m;
  }
  return "other";
}

bool MediaTypeIs(std::string_view content_type, std::string_view type, bool allow_utf8_charset) {
  const auto semi = content_type.find(';');
  if (!EqualsIgnoreCase(TrimOws(content_type.substr(0, semi)), type)) return false;
  std::string_view params = semi == std::string_view::npos ? std::string_view() : content_type.substr(semi + 1);
  while (!params.empty()) {
    const auto next = params.find(';');
    const std::string_view p = TrimOws(params.substr(0, next));
    params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
    if (p.empty()) continue;
    const auto eq = p.find('=');
    if (!allow_utf8_charset || eq == std::string_view::npos) return false;
    std::string_view value = p.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (!EqualsIgnoreCase(p.substr(0, eq), "charset") || !EqualsIgnoreCase(value, "utf-8")) return false;
  }
  return true;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

// ---- PROXY protocol -------------------------------------------------------

namespace {

constexpr std::string_view kProxyV1Prefix = "PROXY ";
constexpr char kProxyV2SignatureBytes[12] = {'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'};
constexpr std::string_view kProxyV2Signature(kProxyV2SignatureBytes, 12);

// IPv4 dotted or IPv6 text of 4/16 address bytes; IPv4-mapped IPv6 as IPv4
// (the same form as the server's PeerAddress, so limits key on one text).
std::string AddressText(int family, const unsigned char* bytes) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family == AF_INET6) {
    in6_addr a{};
    std::memcpy(&a, bytes, 16);
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      inet_ntop(AF_INET, bytes + 12, buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &a, buf, sizeof(buf));
    }
  } else {
    inet_ntop(AF_INET, bytes, buf, sizeof(buf));
  }
  return buf;
}

// A decimal port: 1-5 digits, no leading zero (except "0"), <= 65535.
bool ParsePort(std::string_view s, int* port) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > 65535) return false;
  *port = v;
  return true;
}

// An address of one family, parsed strictly (inet_pton) into 16 bytes.
bool ParseAddress(std::string_view text, int family, unsigned char* out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  const std::string z(text);
  return inet_pton(family, z.c_str(), out) == 1;
}

}  // namespace

ProxySignature MatchProxySignature(std::string_view first) {
  for (std::string_view sig : {kProxyV1Prefix, kProxyV2Signature}) {
    const std::size_t n = std::min(first.size(), sig.size());
    if (first.substr(0, n) != sig.substr(0, n)) continue;
    return first.size() >= sig.size() ? ProxySignature::kYes : ProxySignature::kMaybe;
  }
  return ProxySignature::kNo;
}

std::size_t ProxyHeaderParser::Feed(std::string_view data) {
  std::size_t taken = 0;
  while (state_ == State::kNeedMore && taken < data.size()) {
    const char c = data[taken];
    const std::size_t at = buf_.size();  // index of c in the header
    if (at == 0 && c != kProxyV1Prefix[0] && c != kProxyV2Signature[0]) {
      Fail("proxy.missing_header");
      break;
    }
    const bool v2 = buf_.empty() ? c == kProxyV2Signature[0] : buf_[0] == kProxyV2Signature[0];
    if (!v2) {
      if (at < kProxyV1Prefix.size() && c != kProxyV1Prefix[at]) {
        Fail("proxy.missing_header");
        break;
      }
      if (at + 1 > kMaxProxyV1Bytes) {
        Fail("proxy.too_large");
        break;
      }
      if (at >= kProxyV1Prefix.size()) {
        const bool after_cr = buf_.back() == '\r';
        if (after_cr && c != '\n') {
          Fail("proxy.bad_header");  // a bare CR
          break;
        }
        if (!after_cr && c == '\n') {
          Fail("proxy.bad_header");  // a bare LF
          break;
        }
        if (c != '\r' && c != '\n' && (c < 0x20 || c > 0x7e)) {
          Fail("proxy.bad_header");
          break;
        }
      }
      buf_.push_back(c);
      ++taken;
      if (c == '\n') FinishV1();
      continue;
    }
    // Version 2: fixed 16 bytes, then the declared payload.
    if (at < kProxyV2Signature.size() && c != kProxyV2Signature[at]) {
      Fail("proxy.missing_header");
      break;
    }
    if (at == 12 && (static_cast<unsigned char>(c) >> 4) != 0x2) {
      Fail("proxy.bad_header");  // version nibble
      break;
    }
    buf_.push_back(c);
    ++taken;
    if (buf_.size() == 16) {
      const std::size_t len = (static_cast<std::size_t>(static_cast<unsigned char>(buf_[14])) << 8) |
                              static_cast<unsigned char>(buf_[15]);
      if (len > kMaxProxyV2Payload) {
        Fail("proxy.too_large");
        break;
      }
      v2_total_ = 16 + len;
    }
    if (v2_total_ != 0 && buf_.size() == v2_total_) FinishV2();
  }
  return taken;
}

void ProxyHeaderParser::FinishV1() {
  // "PROXY " proto [SP src SP dst SP sport SP dport] CRLF, single spaces.
  std::string_view line(buf_);
  line.remove_prefix(kProxyV1Prefix.size());
  line.remove_suffix(2);
  std::vector<std::string_view> parts;
  while (true) {
    const auto sp = line.find(' ');
    parts.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  header_.version = 1;
  if (parts[0] == "UNKNOWN") {  // the rest of the line is ignored (spec 2.1)
    header_.local = true;
    state_ = State::kComplete;
    return;
  }
  const int family = parts[0] == "TCP4" ? AF_INET : parts[0] == "TCP6" ? AF_INET6 : 0;
  if (family == 0) return Fail("proxy.bad_header");
  unsigned char src[16] = {}, dst[16] = {};
  int sport = 0, dport = 0;
  if (parts.size() != 5 || !ParseAddress(parts[1], family, src) || !ParseAddress(parts[2], family, dst) ||
      !ParsePort(parts[3], &sport) || !ParsePort(parts[4], &dport)) {
    return Fail("proxy.bad_header");
  }
  header_.source_address = AddressText(family, src);
  header_.source_port = sport;
  state_ = State::kComplete;
}

void ProxyHeaderParser::FinishV2() {
  const auto* b = reinterpret_cast<const unsigned char*>(buf_.data());
  const int command = b[12] & 0x0f;
  const int family = b[13] >> 4, protocol = b[13] & 0x0f;
  const std::size_t len = v2_total_ - 16;
  header_.version = 2;
  if (command == 0x0) {  // LOCAL: the proxy speaks for itself (health checks)
    header_.local = true;
    state_ = State::kComplete;
    return;
  }
  if (command != 0x1) return Fail("proxy.unsupported");
  if (family == 0x0) {  // UNSPEC: use the connection's own address (spec 2.2)
    header_.local = true;
    state_ = State::kComplete;
    return;
  }
  if (protocol != 0x1 || (family != 0x1 && family != 0x2)) return Fail("proxy.unsupported");  // TCP over IPv4/6 only
  const std::size_t addr_len = family == 0x1 ? 12 : 36;
  if (len < addr_len) return Fail("proxy.bad_header");
  // TLVs after the addresses: type, 2-byte length, value; they must tile
  // the rest of the payload exactly. Their content is not used.
  for (std::size_t i = 16 + addr_len; i < v2_total_;) {
    if (i + 3 > v2_total_) return Fail("proxy.bad_header");
    const std::size_t tlv_len = (static_cast<std::size_t>(b[i + 1]) << 8) | b[i + 2];
    i += 3 + tlv_len;
    if (i > v2_total_) return Fail("proxy.bad_header");
  }
  if (family == 0x1) {
    header_.source_address = AddressText(AF_INET, b + 16);
    header_.source_port = (b[24] << 8) | b[25];
  } else {
    header_.source_address = AddressText(AF_INET6, b + 16);
    header_.source_port = (b[48] << 8) | b[49];
  }
  state_ = State::kComplete;
}

std::string ParseAddressRange(std::string_view text, AddressRange* out) {
  AddressRange r;
  std::string_view addr = text;
  int bits = -1;
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    const std::string_view b = text.substr(slash + 1);
    if (b.empty() || b.size() > 3 || (b.size() > 1 && b[0] == '0')) return "bad prefix length";
    bits = 0;
    for (char c : b) {
      if (c < '0' || c > '9') return "bad prefix length";
      bits = bits * 10 + (c - '0');
    }
  }
  if (ParseAddress(addr, AF_INET, r.bytes)) {
    r.family = AF_INET;
    if (bits < 0) bits = 32;
    if (bits > 32) return "prefix length over 32";
  } else if (ParseAddress(addr, AF_INET6, r.bytes)) {
    r.family = AF_INET6;
    if (bits < 0) bits = 128;
    if (bits > 128) return "prefix length over 128";
    in6_addr a{};
    std::memcpy(&a, r.bytes, 16);
    if (IN6_IS_ADDR_V4MAPPED(&a) && bits >= 96) {  // compare as IPv4, like the peers
      std::memmove(r.bytes, r.bytes + 12, 4);
      std::memset(r.bytes + 4, 0, 12);
      r.family = AF_INET;
      bits -= 96;
    }
  } else {
    return "not an IPv4 or IPv6 address";
  }
  if (bits == 0) return "a /0 range would trust every address";
  r.prefix_bits = bits;
  *out = r;
  return "";
}

bool AddressRange::Contains(std::string_view address) const {
  unsigned char a[16] = {};
  int fam = 0;
  if (ParseAddress(address, AF_INET, a)) {
    fam = AF_INET;
  } else if (ParseAddress(address, AF_INET6, a)) {
    fam = AF_INET6;
    in6_addr x{};
    std::memcpy(&x, a, 16);
    if (IN6_IS_ADDR_V4MAPPED(&x)) {
      std::memmove(a, a + 12, 4);
      fam = AF_INET;
    }
  }
  if (fam == 0 || fam != family) return false;
  const int full = prefix_bits / 8, rest = prefix_bits % 8;
  if (std::memcmp(a, bytes, static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[full] & mask) == (bytes[full] & mask);
}

}  // namespace livegate::server::http
