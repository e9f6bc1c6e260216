// The real HTTPS server in-process on a random port, on SQLite and (with
// LIVEGATE_PG_URI) PostgreSQL: health, metrics, JSON errors with stable
// reasons, payload limit (413), admin authentication (R-SEC-SRV-1), SRP
// refusals that all look the same (wrong password, unknown account, unknown
// device), rate limits and lockout (decision 11.9), and that a refusal
// writes no registration data.
#include <gtest/gtest.h>

#include "server_harness.h"

namespace livegate::server::testing {
namespace {

using protocol::FlowType;

class HttpTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    LG_REQUIRE_BACKEND(GetParam());
    dir_ = livegate::testing::MakeTempDir("lg_server_http");
    db_ = std::make_unique<TestDatabase>(GetParam());
    auto keys = crypto::KeyManager::FromKeys(crypto::RandomBytes(32));
    ASSERT_TRUE(keys.ok());
    keys_.emplace(std::move(keys).value());
    Start(TestServer::Options{});
  }
  void Start(TestServer::Options o) {
    http_.reset();
    server_.reset();
    o.limits.max_body_bytes = 64 * 1024;
    o.limits.max_frames = 4;
    o.limits.max_frame_bytes = 8 * 1024;
    server_ = std::make_unique<TestServer>(*db_, *keys_, clock_, std::move(o), dir_ / "tls");
    ASSERT_TRUE(server_->ok());
    http_ = std::make_unique<TestHttp>(server_->port(), server_->cert_pem(), dir_);
  }
  void TearDown() override {
    http_.reset();
    server_.reset();
    db_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path dir_;
  std::unique_ptr<TestDatabase> db_;
  std::optional<crypto::KeyManager> keys_;
  TestClock clock_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<TestHttp> http_;
};

TEST_P(HttpTest, HealthAndMetrics) {
  auto h = http_->Get("/healthz");
  ASSERT_EQ(h.status, 200) << h.body;
  auto j = nlohmann::json::parse(h.body);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["database"], GetParam() == Backend::kSqlite ? "sqlite" : "postgresql");
  // /metrics is behind the admin token (issue 12, finding 3).
  auto anonymous = http_->Get("/metrics");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.reason, "auth.failed");
  auto m = http_->Get("/metrics", kAdminToken);
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("# TYPE livegate_http_requests_total counter"), std::string::npos);
  EXPECT_NE(m.body.find("# HELP livegate_http_requests_total "), std::string::npos);
  EXPECT_NE(m.body.find("livegate_http_requests_total{method=\"GET\",code=\"200\"} 1"),
            std::string::npos) << m.body;
  EXPECT_NE(m.body.find("livegate_http_requests_total{method=\"GET\",code=\"401\"} 1"),
            std::string::npos) << m.body;
  EXPECT_NE(m.body.find("livegate_processing_seconds_total{part=\"vision\"}"), std::string::npos);
}

TEST_P(HttpTest, ErrorsAreJsonWithStableReasons) {
  auto nf = http_->Get("/v1/nothing");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(nf.reason, "http.not_found");
  auto bad = http_->Post("/v1/flows", "{not json");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.reason, "codec.bad_json");
  auto unknown = http_->Post("/v1/flows", R"({"flow":"registration","account_id":"a","device_id":"d","x":1})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.reason, "codec.unknown_field");
  auto badflow = http_->Post("/v1/flows", R"({"flow":"enrol","account_id":"a","device_id":"d"})");
  EXPECT_EQ(badflow.status, 400);
  EXPECT_EQ(badflow.reason, "codec.bad_enum");
  auto badid = http_->Post("/v1/flows", R"({"flow":"registration","account_id":"a b","device_id":"d"})");
  EXPECT_EQ(badid.status, 400);
  EXPECT_EQ(badid.reason, "message.bad_id");
  auto method = http_->Get("/v1/flows");
  EXPECT_EQ(method.status, 400);
  EXPECT_EQ(method.reason, "http.method_not_allowed");
}

TEST_P(HttpTest, OversizedRequestIs413) {
  const std::string big(70 * 1024, 'x');
  auto r = http_->Post("/v1/flows", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.reason, "http.payload_too_large");
  // The server still serves afterwards.
  EXPECT_EQ(http_->Get("/healthz").status, 200);
}

TEST_P(HttpTest, AdminNeedsTheToken) {
  auto none = http_->Post("/v1/admin/accounts", "{}");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.reason, "auth.failed");
  auto wrong = http_->Post("/v1/admin/accounts", "{}", "application/json", "not-the-token");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.reason, "auth.failed");
  auto ok = CreateAccount(*http_, "alice", "correct horse");
  EXPECT_EQ(ok.status, 201) << ok.body;
  auto dup = CreateAccount(*http_, "alice", "other");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.reason, "storage.account_exists");
  auto weak = CreateAccount(*http_, "bob", "pw", "modp/srp/1024");
  EXPECT_EQ(weak.status, 400);
  auto get = http_->Get("/v1/admin/accounts/alice", kAdminToken);
  ASSERT_EQ(get.status, 200);
  auto j = nlohmann::json::parse(get.body);
  EXPECT_EQ(j["state"], "active");
  EXPECT_EQ(j["references"].size(), 0u);
  // Every admin operation is audited, refusals included (R-SEC-SRV-4).
  int creates = 0, refused = 0;
  for (const auto& e : server_->audit().Recent()) {
    if (e.operation == "admin.account.create") {
      ++creates;
      refused += e.outcome == "refused";
    }
  }
  // The second wrong token of the window is counted, not written
  // (issue 12, finding 4): it comes in the window's summary.
  EXPECT_EQ(creates, 4);
  EXPECT_EQ(refused, 3);
  server_->service().FlushRefusalSummaries(/*all=*/true);
  int summaries = 0;
  for (const auto& e : server_->audit().Recent()) {
    if (e.operation != "audit.refusals_aggregated") continue;
    ++summaries;
    ASSERT_GE(e.reasons.size(), 2u);
    EXPECT_EQ(e.reasons[0], "auth.failed");
    EXPECT_EQ(e.reasons[1], "count:2");
  }
  EXPECT_EQ(summaries, 1);
}

// Every authentication failure looks the same to the caller: wrong
// password, unknown account, unknown device, deregistered device.
TEST_P(HttpTest, SrpFailuresAreIndistinguishable) {
  ASSERT_EQ(CreateAccount(*http_, "carol", "right password").status, 201);
  const AccountSnapshot before = Snapshot(server_->store(), "carol");
  std::vector<HttpResult> answers;
  {
    FlowClient c(*http_, clock_);  // R-FLOW-REG-2 with the wrong password
    ASSERT_EQ(c.Start(FlowType::kRegistration, "carol", "dev-1").status, 200);
    answers.push_back(c.Verify("carol", "wrong password"));
  }
  {
    FlowClient c(*http_, clock_);  // unknown account
    auto s = c.Start(FlowType::kRegistration, "nobody", "dev-1");
    ASSERT_EQ(s.status, 200);
    EXPECT_EQ(c.start().salt.size(), crypto::kSrpSaltSize);  // a plausible fake salt
    answers.push_back(c.Verify("nobody", "whatever"));
  }
  {
    FlowClient c(*http_, clock_);  // R-FLOW-AUT-2 with a device never registered
    ASSERT_EQ(c.Start(FlowType::kAuthentication, "carol", "dev-unknown").status, 200);
    answers.push_back(c.Verify("dev-unknown", "device secret"));
  }
  for (const auto& a : answers) {
    EXPECT_EQ(a.status, 401);
    EXPECT_EQ(a.reason, "auth.failed");
    EXPECT_EQ(a.body, answers.front().body);
  }
  // Nothing was written for the account (only the failure count, 11.9):
  // the wrong password and the unknown device both count against "carol".
  EXPECT_EQ(Snapshot(server_->store(), "carol"), before);
  EXPECT_EQ(server_->store().GetAccount("carol")->failure_count, 2);
}

TEST_P(HttpTest, FlowStepsInOrderAndFlowIdsSingleUse) {
  ASSERT_EQ(CreateAccount(*http_, "dave", "pw-dave").status, 201);
  FlowClient c(*http_, clock_);
  ASSERT_EQ(c.Start(FlowType::kRegistration, "dave", "dev-d").status, 200);
  // Risk before the SRP proof: wrong step.
  auto early = c.PostWire("risk", "xxxx");
  EXPECT_EQ(early.status, 409);
  EXPECT_EQ(early.reason, "flow.wrong_step");
  ASSERT_EQ(c.Verify("dave", "pw-dave").status, 200);
  // A second proof for the same flow is refused (one SRP attempt per flow).
  auto again = http_->Post("/v1/flows/" + c.start().flow_id + "/verify",
                           R"({"A":"AAAA","M1":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.reason, "flow.wrong_step");
  // Risk data -> procedure (R-FLOW-REG-3/4): a new device is medium risk.
  auto proc = c.Risk(CleanRisk());
  ASSERT_TRUE(proc);
  EXPECT_EQ(proc->tier, "medium");
  EXPECT_EQ(proc->asd_type, "actions");
  EXPECT_EQ(proc->challenge["steps"].size(), 2u);
  EXPECT_EQ(proc->reasons, (std::vector<std::string>{"risk.new_device", "tier.medium"}));
  EXPECT_EQ(proc->challenge["bound_nonce"], crypto::HexEncode(proc->session_nonce));  // R-FLOW-X2
  // The same sealed risk message again: replay refused, nothing changes.
  auto replay = c.PostWire("risk", c.last_wire());
  EXPECT_EQ(replay.status, 409);
  EXPECT_EQ(replay.reason, "flow.wrong_step");
  // Unknown flow id.
  auto gone = http_->Post("/v1/flows/0123456789abcdef0123456789abcdef/verify", "{}");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.reason, "flow.not_found");
}

TEST_P(HttpTest, CaptureRefusalsWriteNothing) {
  TestServer::Options o;
  o.limits.max_open_flows_per_account = 6;  // the six refused flows below stay open
  Start(std::move(o));
  ASSERT_EQ(CreateAccount(*http_, "erin", "pw-erin").status, 201);
  const AccountSnapshot before = Snapshot(server_->store(), "erin");
  // Each refusal on its own flow, at step 8 (capture expected).
  auto ready = [&]() {
    auto c = std::make_unique<FlowClient>(*http_, clock_);
    EXPECT_EQ(c->Start(FlowType::kRegistration, "erin", "dev-e").status, 200);
    EXPECT_EQ(c->Verify("erin", "pw-erin").status, 200);
    EXPECT_TRUE(c->Risk(CleanRisk()));
    return c;
  };
  auto submission = [](const protocol::Procedure& p) {
    protocol::CaptureSubmission sub;
    sub.challenge_id = p.challenge["id"];
    sub.session_nonce = p.session_nonce;
    sub.device_credential = MakeDeviceCredential("dev-e", "device secret");
    sub.frames.push_back({0, {0xff, 0xd8, 0xff}});
    return sub;
  };
  HttpResult r;
  {  // Another session's nonce and challenge (R-FLOW-X2).
    auto a = ready();
    auto b = ready();
    EXPECT_FALSE(a->Capture(submission(b->procedure()), &r));
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(r.reason, "flow.nonce_mismatch");
  }
  {  // Tampered payload: one bit of the sealed body flipped (R-SEC-COM-4).
    auto c = ready();
    std::string wire = c->Seal(protocol::ToJson(submission(c->procedure())));
    wire[wire.size() - 20] ^= 0x01;
    r = c->PostWire("capture", wire);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.reason, "seal.auth_failed");
  }
  {  // Too many frames for the configured limit (4).
    auto c = ready();
    auto many = submission(c->procedure());
    many.frames.assign(5, {0, {0xff, 0xd8, 0xff}});
    EXPECT_FALSE(c->Capture(many, &r));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.reason, "codec.too_many_items");
  }
  {  // Registration without the device credential.
    auto c = ready();
    auto sub = submission(c->procedure());
    sub.device_credential.reset();
    EXPECT_FALSE(c->Capture(sub, &r));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.reason, "registration.device_credential_missing");
  }
  {  // Expired challenge (lifetime 120 s by default).
    auto c = ready();
    clock_.Advance(121 * 1000);
    EXPECT_FALSE(c->Capture(submission(c->procedure()), &r));
    EXPECT_EQ(r.status, 410);
    EXPECT_EQ(r.reason, "challenge.expired");
  }
  EXPECT_EQ(Snapshot(server_->store(), "erin"), before);
  EXPECT_EQ(before, (AccountSnapshot{0, 0, false}));
}

TEST_P(HttpTest, LockoutAfterRepeatedFailures) {
  ASSERT_EQ(CreateAccount(*http_, "frank", "pw-frank").status, 201);
  for (int i = 0; i < 5; ++i) {  // policy lockout.max_failures = 5
    FlowClient c(*http_, clock_);
    ASSERT_EQ(c.Start(FlowType::kRegistration, "frank", "dev-f").status, 200);
    ASSERT_EQ(c.Verify("frank", "bad").status, 401);
  }
  FlowClient c(*http_, clock_);
  auto locked = c.Start(FlowType::kRegistration, "frank", "dev-f");
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(locked.reason, "auth.locked_out");
  // The right password does not help while locked; after the lockout it does.
  clock_.Advance(901 * 1000);
  FlowClient later(*http_, clock_);
  ASSERT_EQ(later.Start(FlowType::kRegistration, "frank", "dev-f").status, 200);
  EXPECT_EQ(later.Verify("frank", "pw-frank").status, 200);
  EXPECT_EQ(Snapshot(server_->store(), "frank"), (AccountSnapshot{0, 0, false}));
}

TEST_P(HttpTest, RateLimitPerAccount) {
  TestServer::Options o;
  o.limits.rate_per_account_per_minute = 3;
  Start(std::move(o));
  for (int i = 0; i < 3; ++i) {
    FlowClient c(*http_, clock_);
    EXPECT_EQ(c.Start(FlowType::kRegistration, "gina", "dev-g").status, 200);
  }
  FlowClient c(*http_, clock_);
  auto r = c.Start(FlowType::kRegistration, "gina", "dev-g");
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.reason, "rate.limited");
  EXPECT_EQ(r.retry_after, "60");
}

INSTANTIATE_TEST_SUITE_P(Backends, HttpTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         storage::testing::BackendName);

}  // namespace
}  // namespace livegate::server::testing
