// The strict incremental HTTP/1.1 request parser (server/http_parser.h):
// framing, limits and the refusals of issue 12 (findings 2, 3, 7, 8), fed
// whole and one byte at a time.
#include "server/http_parser.h"

#include <gtest/gtest.h>

namespace livegate::server::http {
namespace {

struct Outcome {
  RequestParser::State state;
  ParsedRequest request;
  ParseError error;
  std::size_t consumed = 0;
};

// Feeds `bytes` in pieces of `step` bytes (0 = all at once).
Outcome Parse(const std::string& bytes, std::size_t step = 0, ParserLimits limits = {}) {
  RequestParser p(limits);
  Outcome o;
  std::string_view rest(bytes);
  while (!rest.empty()) {
    const std::string_view piece = step == 0 ? rest : rest.substr(0, step);
    const std::size_t n = p.Feed(piece);
    o.consumed += n;
    rest.remove_prefix(n);
    if (p.state() == RequestParser::State::kComplete || p.state() == RequestParser::State::kError) break;
    if (n < piece.size()) break;
  }
  o.state = p.state();
  o.error = p.error();
  if (o.state == RequestParser::State::kComplete) o.request = p.TakeRequest();
  return o;
}

const std::string kPost =
    "POST /v1/flows HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
    "Content-Length: 7\r\n\r\n{\"a\":1}";

TEST(HttpParser, ParsesARequestWholeAndBytewise) {
  for (std::size_t step : {0u, 1u, 3u}) {
    auto o = Parse(kPost, step);
    ASSERT_EQ(o.state, RequestParser::State::kComplete) << step << " " << o.error.reason;
    EXPECT_EQ(o.request.method, "POST");
    EXPECT_EQ(o.request.path, "/v1/flows");
    EXPECT_EQ(o.request.body, "{\"a\":1}");
    EXPECT_EQ(o.request.Header("content-type"), "application/json");
    EXPECT_TRUE(o.request.keep_alive);
    EXPECT_EQ(o.consumed, kPost.size());
  }
}

TEST(HttpParser, StopsAtTheEndOfARequestLeavingThePipelinedNext) {
  const std::string two = kPost + "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestParser p;
  const std::size_t n = p.Feed(two);
  EXPECT_EQ(n, kPost.size());
  ASSERT_EQ(p.state(), RequestParser::State::kComplete);
  p.Reset();
  EXPECT_EQ(p.Feed(std::string_view(two).substr(n)), two.size() - n);
  ASSERT_EQ(p.state(), RequestParser::State::kComplete);
  EXPECT_EQ(p.request().path, "/healthz");
}

TEST(HttpParser, IgnoresEmptyLinesBeforeTheRequestLineAndDecodesThePath) {
  auto o = Parse("\r\n\r\nGET /v1/admin/accounts/a%40b?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(o.state, RequestParser::State::kComplete) << o.error.reason;
  EXPECT_EQ(o.request.path, "/v1/admin/accounts/a@b");
  EXPECT_EQ(o.request.query, "x=1");
  EXPECT_FALSE(o.request.keep_alive);
}

TEST(HttpParser, Http10ClosesAfterTheResponse) {
  auto o = Parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(o.state, RequestParser::State::kComplete) << o.error.reason;
  EXPECT_FALSE(o.request.keep_alive);
}

struct Refusal {
  std::string bytes;
  int status;
  std::string reason;
};

TEST(HttpParser, RefusesAmbiguousFramingAndMalformedHeads) {
  const std::vector<Refusal> cases = {
      // Finding 7: duplicate or conflicting Content-Length, lists, signs.
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, "http.bad_content_length"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc", 400, "http.bad_content_length"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400, "http.bad_content_length"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400, "http.bad_content_length"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400, "http.bad_content_length"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "http.bad_content_length"},
      // Only Content-Length framing.
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 411, "http.transfer_encoding_unsupported"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc", 411, "http.transfer_encoding_unsupported"},
      // obs-fold, bare CR / LF, bad names, whitespace before the colon.
      {"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400, "http.obs_fold"},
      {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400, "http.bad_line_ending"},
      {"GET / HTTP/1.1\nHost: a\n\n", 400, "http.bad_line_ending"},
      {"GET / HTTP/1.1\r\nHost: a\r\nBad Name: b\r\n\r\n", 400, "http.bad_header_name"},
      {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n", 400, "http.bad_header_name"},
      {"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400, "http.bad_header_name"},
      {"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01" "c\r\n\r\n", 400, "http.bad_header_value"},
      // Request line.
      {"FOO\"BAR / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_method"},
      {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
      {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http.version_not_supported"},
      {"GET / http/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
      {"GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_target"},
      {"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_target"},
      {"GET /%0a HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_target"},
      {"GET /% HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_target"},
      // Host: exactly one in HTTP/1.1. Duplicated credentials and types.
      {"GET / HTTP/1.1\r\n\r\n", 400, "http.bad_host"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "http.bad_host"},
      {"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer a\r\nauthorization: Bearer b\r\n\r\n", 400, "http.duplicate_header"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n", 400, "http.duplicate_header"},
      {"GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417, "http.expectation_failed"},
  };
  for (const auto& c : cases) {
    for (std::size_t step : {0u, 1u}) {
      auto o = Parse(c.bytes, step);
      EXPECT_EQ(o.state, RequestParser::State::kError) << c.bytes;
      EXPECT_EQ(o.error.http_status, c.status) << c.bytes;
      EXPECT_EQ(o.error.reason, c.reason) << c.bytes;
      EXPECT_FALSE(o.error.message.empty());
    }
  }
}

TEST(HttpParser, BoundsTheHeadTheHeaderCountAndTheBody) {
  ParserLimits limits;
  limits.max_head_bytes = 256;
  limits.max_header_count = 4;
  limits.max_body_bytes = 10;
  auto big = Parse("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'a') + "\r\n\r\n", 1, limits);
  EXPECT_EQ(big.error.http_status, 431);
  EXPECT_EQ(big.error.reason, "http.headers_too_large");
  // Refused as soon as the limit is passed, not at the end of the head.
  EXPECT_LE(big.consumed, 257u);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 4; ++i) many += "X" + std::to_string(i) + ": v\r\n";
  auto count = Parse(many + "\r\n", 0, limits);
  EXPECT_EQ(count.error.http_status, 431);
  EXPECT_EQ(count.error.reason, "http.too_many_headers");
  auto body = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 0, limits);
  EXPECT_EQ(body.error.http_status, 413);
  EXPECT_EQ(body.error.reason, "http.payload_too_large");
  auto fits = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", 0, limits);
  EXPECT_EQ(fits.state, RequestParser::State::kComplete);
  // Endless empty lines are bounded too.
  std::string empty_lines;
  for (int i = 0; i < 300; ++i) empty_lines += "\r\n";
  auto empty = Parse(empty_lines, 0, limits);
  EXPECT_EQ(empty.state, RequestParser::State::kError);
  EXPECT_EQ(empty.error.reason, "http.bad_request_line");
}

TEST(HttpParser, ReportsProgressForTheDeadlines) {
  RequestParser p;
  p.Feed("\r\n");
  EXPECT_FALSE(p.started());  // an empty line is not the start of a request
  p.Feed("P");
  EXPECT_TRUE(p.started());
  EXPECT_FALSE(p.head_complete());
  p.Feed("OST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab");
  EXPECT_TRUE(p.head_complete());
  EXPECT_EQ(p.state(), RequestParser::State::kBody);
  p.Feed("cd");
  EXPECT_EQ(p.state(), RequestParser::State::kComplete);
}

TEST(HttpParser, MethodLabelsComeFromAFixedSet) {
  for (const char* m : {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"}) EXPECT_EQ(MethodLabel(m), m);
  for (const char* m : {"get", "PATCH", "FOO\"BAR", "", "TRACE"}) EXPECT_EQ(MethodLabel(m), "other");
}

TEST(HttpParser, MediaTypes) {
  EXPECT_TRUE(MediaTypeIs("application/json", "application/json", true));
  EXPECT_TRUE(MediaTypeIs("Application/JSON; charset=UTF-8", "application/json", true));
  EXPECT_TRUE(MediaTypeIs("application/json;charset=\"utf-8\"", "application/json", true));
  EXPECT_FALSE(MediaTypeIs("application/json; charset=latin1", "application/json", true));
  EXPECT_FALSE(MediaTypeIs("application/json; boundary=x", "application/json", true));
  EXPECT_FALSE(MediaTypeIs("text/plain", "application/json", true));
  EXPECT_FALSE(MediaTypeIs("application/jsonx", "application/json", true));
  EXPECT_FALSE(MediaTypeIs("", "application/json", true));
  EXPECT_TRUE(MediaTypeIs("application/octet-stream", "application/octet-stream", false));
  EXPECT_FALSE(MediaTypeIs("application/octet-stream; charset=utf-8", "application/octet-stream", false));
}


// ---- PROXY protocol header (docs/DEPLOY.md: the client's address from a trusted balancer) ----

namespace proxy_test {

struct ProxyOutcome {
  ProxyHeaderParser::State state;
  ProxyHeader header;
  std::string error;
  std::size_t consumed = 0;
};

// Feeds `bytes` in pieces of `step` bytes (0 = all at once), as the server
// does from what it peeks; stops where the parser stops taking.
ProxyOutcome ParseProxy(const std::string& bytes, std::size_t step = 0) {
  ProxyHeaderParser p;
  ProxyOutcome o;
  std::string_view rest(bytes);
  while (!rest.empty() && p.state() == ProxyHeaderParser::State::kNeedMore) {
    const std::string_view piece = step == 0 ? rest : rest.substr(0, step);
    const std::size_t n = p.Feed(piece);
    o.consumed += n;
    rest.remove_prefix(n);
    if (n < piece.size()) break;
  }
  o.state = p.state();
  o.header = p.header();
  o.error = p.error();
  return o;
}

std::string V2(unsigned char ver_cmd, unsigned char fam, const std::string& payload) {
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h.push_back(static_cast<char>(ver_cmd));
  h.push_back(static_cast<char>(fam));
  h.push_back(static_cast<char>(payload.size() >> 8));
  h.push_back(static_cast<char>(payload.size() & 0xff));
  return h + payload;
}

std::string V2Inet(const std::string& tlvs = "") {
  // 203.0.113.7:51000 -> 10.0.0.1:8443
  const unsigned char a[12] = {203, 0, 113, 7, 10, 0, 0, 1, 0xC7, 0x38, 0x20, 0xFB};
  return V2(0x21, 0x11, std::string(reinterpret_cast<const char*>(a), 12) + tlvs);
}

}  // namespace proxy_test

TEST(ProxyHeader, Version1Tcp4AndTcp6WholeAndBytewiseStopAtTheHeaderEnd) {
  using namespace proxy_test;
  const std::string tls("\x16\x03\x01\x02\x00", 5);  // what follows: a ClientHello, not ours
  for (std::size_t step : {0u, 1u, 7u}) {
    auto o = ParseProxy("PROXY TCP4 198.51.100.22 10.0.0.1 35646 8443\r\n" + tls, step);
    ASSERT_EQ(o.state, ProxyHeaderParser::State::kComplete) << step;
    EXPECT_EQ(o.header.version, 1);
    EXPECT_FALSE(o.header.local);
    EXPECT_EQ(o.header.source_address, "198.51.100.22");
    EXPECT_EQ(o.header.source_port, 35646);
    EXPECT_EQ(o.consumed, std::string("PROXY TCP4 198.51.100.22 10.0.0.1 35646 8443\r\n").size());
    auto six = ParseProxy("PROXY TCP6 2001:db8::7 2001:db8::1 443 8443\r\n" + tls, step);
    ASSERT_EQ(six.state, ProxyHeaderParser::State::kComplete);
    EXPECT_EQ(six.header.source_address, "2001:db8::7");
  }
  // IPv4-mapped IPv6 sources are keyed as IPv4, like direct peers.
  EXPECT_EQ(ParseProxy("PROXY TCP6 ::ffff:192.0.2.9 ::1 1 2\r\n").header.source_address, "192.0.2.9");
  // UNKNOWN: the proxy's own connection; the rest of the line is ignored.
  auto u = ParseProxy("PROXY UNKNOWN whatever\r\n");
  ASSERT_EQ(u.state, ProxyHeaderParser::State::kComplete);
  EXPECT_TRUE(u.header.local);
  EXPECT_TRUE(u.header.source_address.empty());
}

TEST(ProxyHeader, Version2InetInet6LocalAndTlvs) {
  using namespace proxy_test;
  for (std::size_t step : {0u, 1u, 5u}) {
    auto o = ParseProxy(V2Inet() + "\x16\x03", step);
    ASSERT_EQ(o.state, ProxyHeaderParser::State::kComplete) << step;
    EXPECT_EQ(o.header.version, 2);
    EXPECT_EQ(o.header.source_address, "203.0.113.7");
    EXPECT_EQ(o.header.source_port, 51000);
    EXPECT_EQ(o.consumed, 28u);
  }
  std::string a6(36, '\0');
  a6[0] = 0x20; a6[1] = 0x01; a6[2] = 0x0d; a6[3] = static_cast<char>(0xb8); a6[15] = 9;
  auto six = ParseProxy(V2(0x21, 0x21, a6));
  ASSERT_EQ(six.state, ProxyHeaderParser::State::kComplete);
  EXPECT_EQ(six.header.source_address, "2001:db8::9");
  // LOCAL (HAProxy's health checks): the proxy's own address stays.
  auto local = ParseProxy(V2(0x20, 0x00, ""));
  ASSERT_EQ(local.state, ProxyHeaderParser::State::kComplete);
  EXPECT_TRUE(local.header.local);
  // Well-formed TLVs are skipped; TLVs that overrun the payload are refused.
  EXPECT_EQ(ParseProxy(V2Inet(std::string("\x01\x00\x02h2", 5))).state, ProxyHeaderParser::State::kComplete);
  EXPECT_EQ(ParseProxy(V2Inet(std::string("\x01\x00\x09h2", 5))).error, "proxy.bad_header");
}

TEST(ProxyHeader, RefusesMissingMalformedOversizedAndUnsupportedHeaders) {
  using namespace proxy_test;
  const struct {
    std::string bytes;
    std::string reason;
  } cases[] = {
      {std::string("\x16\x03\x01\x02\x00", 5), "proxy.missing_header"},  // TLS straight away
      {"GET / HTTP/1.1\r\n", "proxy.missing_header"},
      {"POST /v1/flows HTTP/1.1\r\n", "proxy.missing_header"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "proxy.bad_header"},          // bare LF
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "proxy.bad_header"},         // bare CR
      {"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "proxy.bad_header"},       // double space
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "proxy.bad_header"},          // missing port
      {"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n", "proxy.bad_header"},      // bad address
      {"PROXY TCP4 ::1 ::1 1 2\r\n", "proxy.bad_header"},                // wrong family
      {"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "proxy.bad_header"},    // port range
      {"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "proxy.bad_header"},       // leading zero
      {"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "proxy.bad_header"},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x01\r\n", "proxy.bad_header"},    // control byte
      {"PROXY " + std::string(200, 'A'), "proxy.too_large"},            // no CRLF within 107 bytes
      {proxy_test::V2(0x11, 0x11, std::string(12, '\0')), "proxy.bad_header"},   // version 1 nibble in v2
      {proxy_test::V2(0x22, 0x11, std::string(12, '\0')), "proxy.unsupported"},  // command 2
      {proxy_test::V2(0x21, 0x12, std::string(12, '\0')), "proxy.unsupported"},  // UDP
      {proxy_test::V2(0x21, 0x31, std::string(216, '\0')), "proxy.unsupported"}, // UNIX
      {proxy_test::V2(0x21, 0x11, std::string(8, '\0')), "proxy.bad_header"},    // short address block
      {proxy_test::V2(0x21, 0x11, std::string(600, '\0')), "proxy.too_large"},
      {std::string("\r\n\r\n\0\r\nQUIX\n", 12), "proxy.missing_header"},         // signature differs
  };
  for (const auto& c : cases) {
    for (std::size_t step : {0u, 1u}) {
      auto o = ParseProxy(c.bytes, step);
      EXPECT_EQ(o.state, ProxyHeaderParser::State::kError) << c.bytes.substr(0, 40) << " step " << step;
      EXPECT_EQ(o.error, c.reason) << c.bytes.substr(0, 40) << " step " << step;
      EXPECT_LE(o.consumed, 16 + kMaxProxyV2Payload);
    }
  }
  // The size bound fails before the payload is received, from the length field.
  std::string big = proxy_test::V2(0x21, 0x11, "");
  big[14] = static_cast<char>(0xff);
  big[15] = static_cast<char>(0xff);
  auto o = ParseProxy(big);
  EXPECT_EQ(o.error, "proxy.too_large");
  EXPECT_EQ(o.consumed, 16u);
}

TEST(ProxyHeader, PrefixesWaitForMoreBytes) {
  ProxyHeaderParser p;
  EXPECT_EQ(p.Feed("PROXY TCP4 1.2.3.4"), 18u);
  EXPECT_EQ(p.state(), ProxyHeaderParser::State::kNeedMore);
  EXPECT_EQ(MatchProxySignature("PRO"), ProxySignature::kMaybe);
  EXPECT_EQ(MatchProxySignature("PROXY "), ProxySignature::kYes);
  EXPECT_EQ(MatchProxySignature("POST /"), ProxySignature::kNo);
  EXPECT_EQ(MatchProxySignature(std::string("\r\n\r\n\0\r\nQU", 9)), ProxySignature::kMaybe);
  EXPECT_EQ(MatchProxySignature(std::string("\r\n\r\n\0\r\nQUIT\n", 12)), ProxySignature::kYes);
  EXPECT_EQ(MatchProxySignature("\x16\x03\x01"), ProxySignature::kNo);
}

TEST(ProxyHeader, AddressRanges) {
  AddressRange r;
  ASSERT_EQ(ParseAddressRange("10.1.0.0/16", &r), "");
  EXPECT_TRUE(r.Contains("10.1.200.3"));
  EXPECT_FALSE(r.Contains("10.2.0.1"));
  EXPECT_FALSE(r.Contains("::1"));
  ASSERT_EQ(ParseAddressRange("127.0.0.2", &r), "");
  EXPECT_TRUE(r.Contains("127.0.0.2"));
  EXPECT_FALSE(r.Contains("127.0.0.1"));
  EXPECT_TRUE(r.Contains("::ffff:127.0.0.2"));
  ASSERT_EQ(ParseAddressRange("2001:db8::/33", &r), "");
  EXPECT_TRUE(r.Contains("2001:db8:7fff::1"));
  EXPECT_FALSE(r.Contains("2001:db8:8000::1"));
  ASSERT_EQ(ParseAddressRange("10.0.0.5/31", &r), "");
  EXPECT_TRUE(r.Contains("10.0.0.4"));
  EXPECT_FALSE(r.Contains("10.0.0.6"));
  EXPECT_NE(ParseAddressRange("0.0.0.0/0", &r), "");  // would trust everyone
  EXPECT_NE(ParseAddressRange("::/0", &r), "");
  EXPECT_NE(ParseAddressRange("10.0.0.0/33", &r), "");
  EXPECT_NE(ParseAddressRange("10.0.0.0/", &r), "");
  EXPECT_NE(ParseAddressRange("example.org", &r), "");
}

}  // namespace
}  // namespace livegate::server::http
