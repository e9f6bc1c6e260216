// Lockout (decision 11.9, R-SEC-SRV-1: "every authentication failure looks
// the same to the caller"), real HTTPS, SQLite and (with LIVEGATE_PG_URI)
// PostgreSQL:
//   - an unknown account id accumulates failures and locks out exactly like
//     a known one: same status, same body, same audit record, same expiry;
//   - the lockout lives in the database: failures sent alternately to two
//     server objects on one database add up, and both refuse afterwards;
//   - a success ends the run of failures; the admin view shows the lock;
//   - failure events of unknown ids are purged once the lockout no longer
//     needs them (bounded table), those of known accounts stay (history).
#include <gtest/gtest.h>

#include "server_harness.h"

namespace livegate::server::testing {
namespace {

using protocol::FlowType;

class LockoutTest : public TwoServerTest {
 protected:
  void SetUp() override {
    LG_REQUIRE_BACKEND(GetParam());
    StartServers("lg_server_lockout", TestServer::Options{});
  }
  // One failed SRP attempt (wrong password or unknown account) on `http`.
  void Fail(TestHttp& http, const std::string& account) {
    FlowClient c(http, clock_);
    ASSERT_EQ(c.Start(FlowType::kRegistration, account, "dev-x").status, 200);
    auto v = c.Verify(account, "wrong password");
    ASSERT_EQ(v.status, 401);
    ASSERT_EQ(v.reason, "auth.failed");
  }
  HttpResult StartOn(TestHttp& http, const std::string& account) {
    FlowClient c(http, clock_);
    return c.Start(FlowType::kRegistration, account, "dev-x");
  }
  // The last audit record of a flow start for `account`, without the
  // account id and time (everything the two cases could differ in).
  std::string LastStartAudit(TestServer& s, const std::string& account) {
    std::string out;
    for (const auto& e : s.audit().Recent()) {
      if (e.account_id != account || e.operation != "flow.registration.start") continue;
      AuditEvent x = e;
      x.account_id.clear();
      x.at_ms = 0;
      out = x.ToJson().dump();
    }
    return out;
  }

};

TEST_P(LockoutTest, UnknownAccountLocksOutExactlyLikeAKnownOne) {
  ASSERT_EQ(CreateAccount(*ha_, "known", "right password").status, 201);
  // Four failures (policy max_failures = 5): both still start.
  for (int i = 0; i < 4; ++i) {
    Fail(*ha_, "known");
    Fail(*ha_, "ghost");
  }
  EXPECT_EQ(StartOn(*ha_, "known").status, 200);
  EXPECT_EQ(StartOn(*ha_, "ghost").status, 200);
  Fail(*ha_, "known");
  Fail(*ha_, "ghost");
  // Locked: the same answer, byte for byte, and the same audit record.
  auto k = StartOn(*ha_, "known");
  auto g = StartOn(*ha_, "ghost");
  EXPECT_EQ(k.status, 429);
  EXPECT_EQ(k.reason, "auth.locked_out");
  EXPECT_EQ(g.status, k.status);
  EXPECT_EQ(g.body, k.body);
  EXPECT_EQ(LastStartAudit(*a_, "ghost"), LastStartAudit(*a_, "known"));
  EXPECT_NE(LastStartAudit(*a_, "known").find("auth.locked_out"), std::string::npos);
  // The right password does not help while locked.
  FlowClient right(*ha_, clock_);
  EXPECT_EQ(right.Start(FlowType::kRegistration, "known", "dev-x").status, 429);
  // Both expire together (lockout_seconds = 900 after the fifth failure).
  clock_.Advance(899 * 1000);
  EXPECT_EQ(StartOn(*ha_, "known").status, 429);
  EXPECT_EQ(StartOn(*ha_, "ghost").status, 429);
  clock_.Advance(2 * 1000);
  EXPECT_EQ(StartOn(*ha_, "ghost").status, 200);
  FlowClient later(*ha_, clock_);
  ASSERT_EQ(later.Start(FlowType::kRegistration, "known", "dev-x").status, 200);
  EXPECT_EQ(later.Verify("known", "right password").status, 200);
}

TEST_P(LockoutTest, FailuresOnTwoServersAddUpInTheDatabase) {
  ASSERT_EQ(CreateAccount(*ha_, "shared", "pw").status, 201);
  for (int i = 0; i < 5; ++i) {
    Fail(i % 2 == 0 ? *ha_ : *hb_, "shared");  // A, B, A, B, A
    Fail(i % 2 == 0 ? *hb_ : *ha_, "nobody");  // B, A, B, A, B
  }
  for (TestHttp* h : {ha_.get(), hb_.get()}) {
    EXPECT_EQ(StartOn(*h, "shared").reason, "auth.locked_out");
    EXPECT_EQ(StartOn(*h, "nobody").reason, "auth.locked_out");
  }
  // The admin view shows the lock from the same source.
  auto adm = ha_->Get("/v1/admin/accounts/shared", kAdminToken);
  ASSERT_EQ(adm.status, 200) << adm.body;
  auto j = nlohmann::json::parse(adm.body);
  EXPECT_EQ(j["locked"], true);
  EXPECT_EQ(j["failure_count"], 5);
}

TEST_P(LockoutTest, FailuresOutsideTheWindowDoNotLock) {
  // Five failures at 0, 230, 460, 690, 920 s: they span more than
  // window_seconds (900 s), so no lockout.
  for (int i = 0; i < 5; ++i) {
    if (i > 0) clock_.Advance(230 * 1000);
    Fail(*ha_, "slow");
  }
  EXPECT_EQ(StartOn(*ha_, "slow").status, 200);
  // One more at 1020 s: the last five (230..1020 s) fit in 900 s.
  clock_.Advance(100 * 1000);
  Fail(*ha_, "slow");
  EXPECT_EQ(StartOn(*ha_, "slow").reason, "auth.locked_out");
}

TEST_P(LockoutTest, ASuccessEndsTheRunOfFailures) {
  ASSERT_EQ(CreateAccount(*ha_, "ok", "pw").status, 201);
  for (int i = 0; i < 4; ++i) Fail(*ha_, "ok");
  // A completed flow is a success; simulate it as the capture step records it.
  storage::RiskEvent ev;
  ev.account_id = "ok";
  ev.event_type = "authentication";
  ev.success = true;
  ev.at = storage::Timestamp(std::chrono::milliseconds(clock_.ms->load()));
  ASSERT_TRUE(a_->store().AppendRiskEvent(ev).ok());
  clock_.Advance(1);
  Fail(*ha_, "ok");
  EXPECT_EQ(StartOn(*ha_, "ok").status, 200);  // 1 failure since the success
  for (int i = 0; i < 4; ++i) Fail(*ha_, "ok");
  EXPECT_EQ(StartOn(*ha_, "ok").reason, "auth.locked_out");
}

TEST_P(LockoutTest, UnknownIdFailuresArePurgedKnownHistoryStays) {
  ASSERT_EQ(CreateAccount(*ha_, "kept", "pw").status, 201);
  Fail(*ha_, "kept");
  Fail(*ha_, "spray-1");
  Fail(*ha_, "spray-2");
  auto n = a_->service().PurgeExpired();
  ASSERT_TRUE(n.ok());
  auto spray = a_->store().ListRiskEvents("spray-1", storage::Timestamp{}, 10);
  ASSERT_TRUE(spray.ok());
  EXPECT_EQ(spray->size(), 1u);  // still inside window + lockout: kept
  clock_.Advance((900 + 900 + 1) * 1000);
  n = a_->service().PurgeExpired();
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_GE(*n, 2);
  for (const char* id : {"spray-1", "spray-2"}) {
    auto ev = a_->store().ListRiskEvents(id, storage::Timestamp{}, 10);
    ASSERT_TRUE(ev.ok());
    EXPECT_TRUE(ev->empty()) << id;
  }
  auto kept = a_->store().ListRiskEvents("kept", storage::Timestamp{}, 10);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, LockoutTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         storage::testing::BackendName);

}  // namespace
}  // namespace livegate::server::testing
