#include "server/http_parser.h"

#include <algorithm>

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

}  // namespace livegate::server::http
