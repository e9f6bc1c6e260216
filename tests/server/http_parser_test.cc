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

}  // namespace
}  // namespace livegate::server::http
