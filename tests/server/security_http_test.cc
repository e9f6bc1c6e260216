// Attack regressions for the HTTP transport (issue 12, findings 2, 3, 7 and
// the JSON media type of 8), each against a real livegate-server process
// over real TLS (R-SEC-COM-1):
// - slowloris: 50 slow connections (trickled headers, unfinished TLS
//   handshakes, trickled bodies) do not stop /healthz from answering in
//   under a second, and the server closes each of them at its deadline;
// - the per-address connection cap closes the N+1th connection from one
//   address while other addresses (127.0.0.2) are served; the global cap
//   holds across addresses;
// - duplicate or conflicting Content-Length, Transfer-Encoding, obs-fold
//   and non-JSON bodies on JSON endpoints are refused with JSON errors;
// - a made-up method is refused and never becomes a metrics label.
#include <signal.h>

#include <atomic>
#include <mutex>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "http_test_client.h"
#include "server_process.h"

namespace livegate::server::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The value of `name{labels}` in a Prometheus exposition, or -1.
double MetricValue(const std::string& exposition, const std::string& series) {
  const auto at = exposition.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(exposition.substr(at + series.size() + 2));
}

class SecurityHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Writing to a connection the server closed must fail, not kill the test.
    signal(SIGPIPE, SIG_IGN);
    dir_ = livegate::testing::MakeTempDir("lg_security_http");
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void StartServer(nlohmann::json limits) {
    // The shipped example's capture limits (the built-in max_frames with
    // the default max_body_bytes would not pass validation).
    if (!limits.contains("max_frames")) limits["max_frames"] = 12;
    ServerProcess::Setup setup;
    setup.key_source = MasterKeySource::kConfigFile;
    setup.extra = {{"limits", limits}, {"log", {{"level", "warn"}}}};
    server_ = std::make_unique<ServerProcess>();
    ASSERT_EQ(server_->Start(dir_, setup), "");
  }
  std::string Metrics() {
    // /metrics with the admin token: accepted whether or not the exposition
    // is behind it.
    auto r = OneRequest(server_->port(), GetRequest("/metrics", std::string("Authorization: Bearer ") + kAdminToken + "\r\n"));
    return r && r->status == 200 ? r->body : std::string();
  }
  // GET /healthz on a fresh connection: the status, and the time it took
  // (TCP connect and TLS handshake included).
  std::pair<int, milliseconds> TimedHealth(const std::string& source = "") {
    const auto t0 = Clock::now();
    auto r = OneRequest(server_->port(), GetRequest("/healthz"), source, 3000);
    return {r ? r->status : -1, std::chrono::duration_cast<milliseconds>(Clock::now() - t0)};
  }

  std::filesystem::path dir_;
  std::unique_ptr<ServerProcess> server_;
};

// Finding 2. Before the fix, 9 connections sending a header byte every 3 s
// left /healthz unanswered. Now: 50 slow connections of three kinds, a
// 2-thread worker pool, and /healthz answers in under a second throughout;
// each slow connection is closed by the server at its deadline even though
// it keeps sending (so it is the whole-request deadline, not the silence
// limit, that ends it).
TEST_F(SecurityHttpTest, SlowlorisDoesNotStopTheServer) {
  constexpr int kHeaderTimeoutMs = 6000, kBodyTimeoutMs = 7000, kTrickleMs = 2000;
  ASSERT_NO_FATAL_FAILURE(StartServer({{"thread_pool_size", 2},
               {"header_timeout_ms", kHeaderTimeoutMs},
               {"body_timeout_ms", kBodyTimeoutMs},
               {"read_timeout_ms", 5000},  // longer than the trickle period
               {"max_connections_per_address", 200}}));
  const int port = server_->port();

  struct Slow {
    std::unique_ptr<RawConn> conn;
    std::string kind;  // header | handshake | body
    std::string to_send;
    Clock::time_point opened, closed_at{};
  };
  std::vector<Slow> slow;
  const std::string head = "POST /v1/flows HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
  for (int i = 0; i < 50; ++i) {
    Slow s;
    s.conn = std::make_unique<RawConn>();
    s.kind = i < 30 ? "header" : i < 40 ? "handshake" : "body";
    if (s.kind == "handshake") {
      // TCP only, then a TLS handshake record header announcing 512 bytes,
      // whose body is trickled: the ClientHello never completes.
      ASSERT_TRUE(s.conn->ConnectTcp(port));
      ASSERT_TRUE(s.conn->Send(std::string("\x16\x03\x01\x02\x00", 5)));
      s.to_send = std::string(512, '\x01');
    } else {
      ASSERT_TRUE(s.conn->Connect(port)) << i;
      if (s.kind == "header") {
        s.to_send = head + "Content-Length: 2\r\n\r\n{}";
      } else {
        ASSERT_TRUE(s.conn->Send(head + "Content-Length: 1000\r\n\r\n"));
        s.to_send = std::string(1000, ' ');
      }
    }
    s.opened = Clock::now();
    slow.push_back(std::move(s));
  }
  const auto t0 = Clock::now();

  // One byte per connection every 2 s; a connection is marked closed when
  // the server ends it (EOF or reset, possibly after a 408).
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::thread trickler([&] {
    auto next = Clock::now();
    while (!stop) {
      const bool send_now = Clock::now() >= next;
      if (send_now) next += milliseconds(kTrickleMs);
      for (auto& s : slow) {
        std::lock_guard<std::mutex> lock(mu);
        if (s.closed_at != Clock::time_point{}) continue;
        if (send_now && !s.to_send.empty()) {
          s.conn->Send(s.to_send.substr(0, 1));
          s.to_send.erase(0, 1);
        }
        if (!s.conn->ReadSome(0)) s.closed_at = Clock::now();
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  });

  // While all 50 are open: /healthz on fresh connections, every 400 ms
  // for 4.5 s, each answered with 200 in under a second.
  int checks = 0;
  while (Clock::now() - t0 < milliseconds(4500)) {
    auto [status, took] = TimedHealth();
    EXPECT_EQ(status, 200);
    EXPECT_LT(took.count(), 1000) << "check " << checks;
    ++checks;
    std::this_thread::sleep_for(milliseconds(400));
  }
  EXPECT_GE(checks, 8);
  {
    std::lock_guard<std::mutex> lock(mu);
    int open = 0;
    for (const auto& s : slow) open += s.closed_at == Clock::time_point{} ? 1 : 0;
    EXPECT_EQ(open, 50) << "the slow connections must still be open during the checks";
  }

  // Every slow connection is closed by the server after its deadline
  // (sweep period and scheduling give generous margins).
  const auto give_up = t0 + milliseconds(kBodyTimeoutMs + 6000);
  for (;;) {
    int open = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& s : slow) open += s.closed_at == Clock::time_point{} ? 1 : 0;
    }
    if (open == 0 || Clock::now() > give_up) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  stop = true;
  trickler.join();
  for (const auto& s : slow) {
    ASSERT_NE(s.closed_at, Clock::time_point{}) << s.kind << " connection never closed by the server";
    const auto lived = std::chrono::duration_cast<milliseconds>(s.closed_at - s.opened).count();
    const int deadline = s.kind == "body" ? kBodyTimeoutMs : kHeaderTimeoutMs;
    EXPECT_GE(lived, deadline - 200) << s.kind;
    EXPECT_LE(lived, deadline + 3000) << s.kind;
  }
  // The server still serves, and counted the timeouts per phase.
  EXPECT_EQ(TimedHealth().first, 200);
  const std::string m = Metrics();
  EXPECT_GE(MetricValue(m, "livegate_http_timeouts_total{phase=\"header\"}"), 30) << m;
  EXPECT_GE(MetricValue(m, "livegate_http_timeouts_total{phase=\"handshake\"}"), 10) << m;
  EXPECT_GE(MetricValue(m, "livegate_http_timeouts_total{phase=\"body\"}"), 10) << m;
}

// The N+1th connection from one address is closed at once; another
// address is served meanwhile; a freed slot can be used again.
TEST_F(SecurityHttpTest, PerAddressConnectionCap) {
  constexpr int kCap = 4;
  ASSERT_NO_FATAL_FAILURE(StartServer({{"max_connections_per_address", kCap}, {"header_timeout_ms", 30000},
               {"read_timeout_ms", 30000}}));
  const int port = server_->port();
  // 127.0.0.2 must be usable as a second client address on loopback.
  {
    RawConn probe;
    if (!probe.ConnectTcp(port, "127.0.0.2")) GTEST_SKIP() << "cannot bind 127.0.0.2 on this host";
  }
  std::this_thread::sleep_for(milliseconds(100));  // the probe's slot is released
  std::vector<std::unique_ptr<RawConn>> held;
  for (int i = 0; i < kCap; ++i) {
    held.push_back(std::make_unique<RawConn>());
    ASSERT_TRUE(held.back()->Connect(port)) << i;
  }
  RawConn over;
  const bool handshake = over.Connect(port);
  EXPECT_FALSE(handshake) << "the connection over the cap completed a TLS handshake";
  EXPECT_TRUE(over.WaitClosed(2000));
  // Other traffic still works: another address, and a held connection.
  auto [status, took] = TimedHealth("127.0.0.2");
  EXPECT_EQ(status, 200);
  EXPECT_LT(took.count(), 1000);
  ASSERT_TRUE(held[0]->Send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  auto kept = held[0]->ReadResponse();
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->status, 200);
  // Freeing one slot lets the address in again.
  held.pop_back();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(TimedHealth().first, 200);
  const std::string m = Metrics();
  EXPECT_GE(MetricValue(m, "livegate_http_connections_refused_total{limit=\"per_address\"}"), 1) << m;
}

// The global cap holds across addresses: with every slot taken, a
// connection from another address is closed at once too; a freed slot
// serves again.
TEST_F(SecurityHttpTest, GlobalConnectionCap) {
  constexpr int kCap = 3;
  ASSERT_NO_FATAL_FAILURE(StartServer({{"max_connections", kCap}, {"max_connections_per_address", kCap},
                                       {"header_timeout_ms", 30000}, {"read_timeout_ms", 30000}}));
  const int port = server_->port();
  {
    RawConn probe;
    if (!probe.ConnectTcp(port, "127.0.0.2")) GTEST_SKIP() << "cannot bind 127.0.0.2 on this host";
  }
  std::this_thread::sleep_for(milliseconds(100));
  std::vector<std::unique_ptr<RawConn>> held;
  for (int i = 0; i < kCap; ++i) {
    held.push_back(std::make_unique<RawConn>());
    ASSERT_TRUE(held.back()->Connect(port)) << i;
  }
  RawConn other;
  EXPECT_FALSE(other.Connect(port, "127.0.0.2"));
  EXPECT_TRUE(other.WaitClosed(2000));
  held.pop_back();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(TimedHealth("127.0.0.2").first, 200);
  const std::string m = Metrics();
  EXPECT_GE(MetricValue(m, "livegate_http_connections_refused_total{limit=\"total\"}"), 1) << m;
}

struct Refused {
  std::string name, request;
  int status;
  std::string reason;
};

// Finding 7 (duplicate Content-Length), framing and media types: each
// refusal is a JSON error with a stable reason, and the connection is
// closed after a framing error (the rest of the bytes cannot be trusted).
TEST_F(SecurityHttpTest, AmbiguousFramingAndWrongMediaTypesAreRefused) {
  ASSERT_NO_FATAL_FAILURE(StartServer(nlohmann::json::object()));
  const std::string start = "POST /v1/flows HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  const std::string body = R"({"flow":"registration","account_id":"a","device_id":"d"})";
  const std::string len = "Content-Length: " + std::to_string(body.size()) + "\r\n";
  const std::vector<Refused> cases = {
      {"same Content-Length twice", start + "Content-Type: application/json\r\n" + len + len + "\r\n" + body, 400,
       "http.bad_content_length"},
      {"conflicting Content-Length", start + "Content-Type: application/json\r\n" + len + "Content-Length: 5\r\n\r\n" + body,
       400, "http.bad_content_length"},
      {"Transfer-Encoding", start + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
       "3a\r\n" + body + "\r\n0\r\n\r\n", 411, "http.transfer_encoding_unsupported"},
      {"Transfer-Encoding with Content-Length", start + "Content-Type: application/json\r\n" + len +
       "Transfer-Encoding: chunked\r\n\r\n" + body, 411, "http.transfer_encoding_unsupported"},
      {"obs-fold", start + "Content-Type: application/json\r\nX-A: a\r\n b\r\n" + len + "\r\n" + body, 400, "http.obs_fold"},
      {"bare CR", start + "Content-Type: application/json\rX: 1\r\n" + len + "\r\n" + body, 400, "http.bad_line_ending"},
      {"text/plain JSON", start + "Content-Type: text/plain\r\n" + len + "\r\n" + body, 415, "http.unsupported_media_type"},
      {"no Content-Type", start + len + "\r\n" + body, 415, "http.unsupported_media_type"},
      {"form post", start + "Content-Type: application/x-www-form-urlencoded\r\n" + len + "\r\n" + body, 415,
       "http.unsupported_media_type"},
      {"octet-stream on a JSON endpoint", start + "Content-Type: application/octet-stream\r\n" + len + "\r\n" + body,
       415, "http.unsupported_media_type"},
      {"JSON on a sealed endpoint",
       "POST /v1/flows/0123456789abcdef0123456789abcdef/risk HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       "Content-Type: application/json\r\n" + len + "\r\n" + body, 415, "http.unsupported_media_type"},
      {"oversized headers", start + "X-Big: " + std::string(20000, 'a') + "\r\n\r\n", 431, "http.headers_too_large"},
      {"oversized body", start + "Content-Type: application/json\r\nContent-Length: 99999999\r\n\r\n", 413,
       "http.payload_too_large"},
  };
  for (const auto& c : cases) {
    RawConn conn;
    ASSERT_TRUE(conn.Connect(server_->port())) << c.name;
    ASSERT_TRUE(conn.Send(c.request)) << c.name;
    auto r = conn.ReadResponse();
    ASSERT_TRUE(r.has_value()) << c.name;
    EXPECT_EQ(r->status, c.status) << c.name << ": " << r->body;
    EXPECT_EQ(r->reason, c.reason) << c.name << ": " << r->body;
    EXPECT_EQ(r->Header("Content-Type"), "application/json") << c.name;
    EXPECT_EQ(r->Header("Cache-Control"), "no-store") << c.name;
    if (c.status != 415) {  // framing errors end the connection
      EXPECT_TRUE(conn.WaitClosed(2000)) << c.name;
    }
  }
  // The media types the API documents are accepted: the request reaches
  // the handler (which then judges the content itself).
  for (const std::string type : {"application/json", "application/json; charset=utf-8"}) {
    auto r = OneRequest(server_->port(), start + "Content-Type: " + type + "\r\n" + len + "Connection: close\r\n\r\n" + body);
    ASSERT_TRUE(r.has_value()) << type;
    EXPECT_NE(r->reason, "http.unsupported_media_type") << type;
    EXPECT_NE(r->status, 415) << type;
  }
}

// Finding 3: a made-up method is refused and never becomes a label.
TEST_F(SecurityHttpTest, MadeUpMethodsNeverBecomeMetricLabels) {
  ASSERT_NO_FATAL_FAILURE(StartServer(nlohmann::json::object()));
  auto quoted = OneRequest(server_->port(), "FOO\"BAR /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  ASSERT_TRUE(quoted.has_value());
  EXPECT_EQ(quoted->status, 400);
  EXPECT_EQ(quoted->reason, "http.bad_method");
  for (const std::string method : {"FOOBAR", "PATCH", "TRACE", "X-LIVEGATE-1234"}) {
    auto r = OneRequest(server_->port(), method + " /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ASSERT_TRUE(r.has_value()) << method;
    EXPECT_EQ(r->status, 501) << method;
    EXPECT_EQ(r->reason, "http.method_not_implemented") << method;
    EXPECT_EQ(r->body.find(method), std::string::npos) << "the answer echoes the method";
  }
  const std::string m = Metrics();
  ASSERT_FALSE(m.empty());
  for (const char* raw : {"FOO", "BAR", "PATCH", "TRACE", "X-LIVEGATE"}) {
    EXPECT_EQ(m.find(raw), std::string::npos) << raw << " leaked into /metrics:\n" << m;
  }
  EXPECT_GE(MetricValue(m, "livegate_http_requests_total{method=\"other\",code=\"501\"}"), 4) << m;
  EXPECT_GE(MetricValue(m, "livegate_http_requests_total{method=\"other\",code=\"400\"}"), 1) << m;
  // Every method label is one of the fixed set.
  const std::regex label(R"re(method="([^"]*)")re");
  for (std::sregex_iterator it(m.begin(), m.end(), label), end; it != end; ++it) {
    const std::string v = (*it)[1];
    EXPECT_TRUE(v == "GET" || v == "POST" || v == "PUT" || v == "DELETE" || v == "HEAD" || v == "OPTIONS" ||
                v == "other")
        << v;
  }
}

}  // namespace
}  // namespace livegate::server::testing
