// The HTTPS front (server/http_server.h) in-process with its own routes,
// over real TLS: extra response headers and Cache-Control, HEAD, keep-alive
// limits, pipelining, the idle deadline, slow handlers not blocking other
// connections, and a graceful Stop that still delivers an answer in flight.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "crypto/key_manager.h"
#include "crypto/key_store.h"
#include "http_test_client.h"
#include "server/http_server.h"
#include "support/test_data.h"

namespace livegate::server::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class HttpFrontTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    dir_ = livegate::testing::MakeTempDir("lg_http_front");
    auto keys = crypto::KeyManager::FromKeys(crypto::RandomBytes(32));
    ASSERT_TRUE(keys.ok());
    crypto::TlsOptions to;
    to.key_dir = (dir_ / "tls").string();
    auto tls = crypto::LoadOrCreateTlsMaterial(to, *keys);
    ASSERT_TRUE(tls.ok()) << tls.status().ToString();
    options_.cert_pem = tls->cert_pem;
    options_.key_pem = tls->key_pem;
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Start() {
    auto s = HttpServer::Create(options_, &metrics_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    server_->Route("GET", "/page", [](const ApiRequest&) {
      ApiResponse r;
      r.body = "hello";
      r.content_type = "text/html; charset=utf-8";
      r.headers = {{"Content-Security-Policy", "default-src 'none'"},
                   {"Content-Length", "999"},       // framing stays the server's
                   {"Cache-Control", "max-age=60"},  // always no-store
                   {"Bad\r\nName", "x"}};
      return r;
    });
    server_->Route("GET", "/echo/([a-z0-9]+)", [](const ApiRequest& r) {
      return JsonResponse(200, "{\"n\":\"" + r.captures[0] + "\"}");
    });
    server_->Route("GET", "/slow", [this](const ApiRequest&) {
      slow_started_ = true;
      std::this_thread::sleep_for(milliseconds(1500));
      return JsonResponse(200, "{\"slow\":true}");
    });
    server_->Route("GET", "/judge", [this](const ApiRequest&) {
      const int now = ++judging_;
      int seen = max_judging_.load();
      while (now > seen && !max_judging_.compare_exchange_weak(seen, now)) {}
      std::this_thread::sleep_for(milliseconds(1200));
      --judging_;
      return JsonResponse(200, "{\"judged\":true}");
    }, RequestBody::kJson, RouteCost::kSlow);
    ASSERT_TRUE(server_->Start().ok());
  }

  std::filesystem::path dir_;
  HttpServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> slow_started_{false};
  std::atomic<int> judging_{0}, max_judging_{0};
};

TEST_F(HttpFrontTest, ExtraHeadersAreWrittenAndFramingHeadersStayTheServers) {
  ASSERT_NO_FATAL_FAILURE(Start());
  RawConn c;
  ASSERT_TRUE(c.Connect(server_->port()));
  // HEAD then GET on one connection: HEAD has the length but no body, so
  // the GET answer that follows parses cleanly.
  ASSERT_TRUE(c.Send("HEAD /page HTTP/1.1\r\nHost: a\r\n\r\nGET /page HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto head = c.ReadResponse(5000, /*head_only=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->Header("Content-Length"), "5");
  auto get = c.ReadResponse();
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "hello");
  EXPECT_EQ(get->Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(get->Header("Content-Security-Policy"), "default-src 'none'");
  EXPECT_EQ(get->Header("Cache-Control"), "no-store");
  EXPECT_EQ(get->Header("Content-Length"), "5");
  EXPECT_EQ(get->head.find("999"), std::string::npos);
  EXPECT_EQ(get->head.find("max-age"), std::string::npos);
  EXPECT_EQ(get->head.find("Bad"), std::string::npos);
  EXPECT_EQ(metrics_.CounterValue("livegate_http_requests_total", "method=\"HEAD\",code=\"200\""), 1u);
  EXPECT_EQ(metrics_.CounterValue("livegate_http_requests_total", "method=\"GET\",code=\"200\""), 1u);
}

TEST_F(HttpFrontTest, PipelinedRequestsInOrderUpToTheKeepAliveCount) {
  options_.keep_alive_max_count = 2;
  ASSERT_NO_FATAL_FAILURE(Start());
  RawConn c;
  ASSERT_TRUE(c.Connect(server_->port()));
  ASSERT_TRUE(c.Send("GET /echo/a HTTP/1.1\r\nHost: a\r\n\r\nGET /echo/b HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /echo/c HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto a = c.ReadResponse();
  auto b = c.ReadResponse();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->body, "{\"n\":\"a\"}");
  EXPECT_EQ(a->Header("Connection"), "keep-alive");
  EXPECT_EQ(b->body, "{\"n\":\"b\"}");
  EXPECT_EQ(b->Header("Connection"), "close");  // the second of at most two
  EXPECT_TRUE(c.WaitClosed(2000));
  EXPECT_EQ(c.buffer().find("\"c\""), std::string::npos);
}

TEST_F(HttpFrontTest, IdleKeepAliveConnectionsAreClosed) {
  options_.idle_timeout_ms = 300;
  ASSERT_NO_FATAL_FAILURE(Start());
  RawConn c;
  ASSERT_TRUE(c.Connect(server_->port()));
  ASSERT_TRUE(c.Send("GET /echo/a HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(c.ReadResponse().has_value());
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.WaitClosed(3000));
  const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count();
  EXPECT_GE(waited, 200);
  EXPECT_LT(waited, 2000);
  EXPECT_EQ(metrics_.CounterValue("livegate_http_timeouts_total", "phase=\"idle\""), 1u);
}

TEST_F(HttpFrontTest, ASlowHandlerHoldsOneWorkerOnlyAndStopDeliversItsAnswer) {
  options_.thread_pool_size = 2;
  ASSERT_NO_FATAL_FAILURE(Start());
  RawConn slow;
  ASSERT_TRUE(slow.Connect(server_->port()));
  ASSERT_TRUE(slow.Send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"));
  for (int i = 0; i < 100 && !slow_started_; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(slow_started_);
  // Other connections are served meanwhile.
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    auto r = OneRequest(server_->port(), GetRequest("/echo/x"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count(), 1000);
  }
  // Stop while the slow handler runs: its answer still arrives, then the
  // connection closes and Stop returns.
  std::thread stopper([this] { server_->Stop(); });
  auto r = slow.ReadResponse(5000);
  stopper.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("Connection"), "keep-alive");
  EXPECT_TRUE(slow.WaitClosed(2000));
  // No longer listening.
  RawConn after;
  EXPECT_FALSE(after.Connect(server_->port()));
}

// Issue 16: slow routes (the capture's judgement) never take the last
// worker, so a server busy judging still answers its balancer's health
// check and the quick steps at once; the slow ones queue and all complete.
TEST_F(HttpFrontTest, SlowRoutesLeaveOneWorkerForQuickOnes) {
  options_.thread_pool_size = 3;
  ASSERT_NO_FATAL_FAILURE(Start());
  std::vector<std::unique_ptr<RawConn>> judges;
  for (int i = 0; i < 4; ++i) {
    judges.push_back(std::make_unique<RawConn>());
    ASSERT_TRUE(judges.back()->Connect(server_->port()));
    ASSERT_TRUE(judges.back()->Send("GET /judge HTTP/1.1\r\nHost: a\r\n\r\n"));
  }
  for (int i = 0; i < 100 && judging_ < 2; ++i) std::this_thread::sleep_for(milliseconds(10));
  ASSERT_EQ(judging_.load(), 2);  // two of three workers; two requests wait
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    auto r = OneRequest(server_->port(), GetRequest("/echo/h"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count(), 800);
  }
  for (auto& j : judges) {
    auto r = j->ReadResponse(10000);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(max_judging_.load(), 2);
}

}  // namespace
}  // namespace livegate::server::testing
