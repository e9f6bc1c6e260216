// Lockout (decision 11.9, R-SEC-SRV-1: "every authentication failure looks
// the same to the caller"), real HTTPS, SQLite and (with LIVEGATE_PG_URI)
// PostgreSQL:
//   - an unknown account id accumulates failures and locks out exactly like
//     a known one: same status, same body, same audit record, same expiry;
//   - the lockout lives in the database: failures sent alternately to two
//     server objects on one database add up, and both refuse afterwards;
//   - a success ends the run of failures; the admin view shows the lock;
//   - failure events of unknown ids are purged once the lockout no longer
//     needs them (bounded table), those of known accounts stay (history);
//   - issue 12: the lockout holds at every step of flows started before it,
//     open flows per account id are capped, and a second proof on a flow
//     gets one answer whatever the first proof's outcome.
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

// R-SEC-SRV-1 (issue 12, finding 1): flows started before the lockout carry
// no guess past it. The proof on a pre-started flow of a locked account id
// gets the start's lockout answer, byte for byte, right password or not,
// on either server, and nothing is checked or recorded.
TEST_P(LockoutTest, ProofOnAPreStartedFlowIsRefusedOnceLocked) {
  ASSERT_EQ(CreateAccount(*ha_, "pre", "right password").status, 201);
  FlowClient early(*ha_, clock_);  // started before the failures (cap 3: one open)
  ASSERT_EQ(early.Start(FlowType::kRegistration, "pre", "dev-x").status, 200);
  for (int i = 0; i < 5; ++i) Fail(i % 2 == 0 ? *ha_ : *hb_, "pre");
  const auto locked_start = StartOn(*ha_, "pre");
  ASSERT_EQ(locked_start.reason, "auth.locked_out");
  auto right = early.VerifyVia(*hb_, "pre", "right password");
  EXPECT_EQ(right.status, 429);
  EXPECT_EQ(right.body, locked_start.body);
  EXPECT_EQ(a_->store().GetAccount("pre")->failure_count, 5);  // not checked, not counted
  // After the lockout (900 s) a new flow takes the right proof again.
  clock_.Advance(901 * 1000);
  FlowClient later(*ha_, clock_);
  ASSERT_EQ(later.Start(FlowType::kRegistration, "pre", "dev-x").status, 200);
  EXPECT_EQ(later.Verify("pre", "right password").status, 200);
}

// Every step after the start checks the lockout too (risk, capture): a flow
// that proved the password goes no further once the account id is locked.
TEST_P(LockoutTest, LaterStepsOfAnOpenFlowAreRefusedOnceLocked) {
  ASSERT_EQ(CreateAccount(*ha_, "steps", "pw").status, 201);
  FlowClient c(*ha_, clock_);
  ASSERT_EQ(c.Start(FlowType::kRegistration, "steps", "dev-x").status, 200);
  ASSERT_EQ(c.Verify("steps", "pw").status, 200);
  for (int i = 0; i < 5; ++i) Fail(*hb_, "steps");
  const auto locked_start = StartOn(*ha_, "steps");
  ASSERT_EQ(locked_start.reason, "auth.locked_out");
  HttpResult raw;
  EXPECT_FALSE(c.Risk(CleanRisk(), &raw));
  EXPECT_EQ(raw.status, 429);
  EXPECT_EQ(raw.body, locked_start.body);
}

// Open flows per account id are capped (limits.max_open_flows_per_account,
// default 3), counted in the database: starts alternating between two
// servers add up, an unknown id is capped exactly like a known one, and a
// flow that ended (here: its one proof refused) no longer counts.
TEST_P(LockoutTest, OpenFlowsPerAccountAreCappedAcrossServers) {
  ASSERT_EQ(CreateAccount(*ha_, "capped", "pw").status, 201);
  std::vector<std::unique_ptr<FlowClient>> open;
  for (const char* id : {"capped", "nobody-capped"}) {
    for (int i = 0; i < 3; ++i) {
      open.push_back(std::make_unique<FlowClient>(i % 2 == 0 ? *ha_ : *hb_, clock_));
      ASSERT_EQ(open.back()->Start(FlowType::kRegistration, id, "dev-x").status, 200);
    }
  }
  auto known = StartOn(*hb_, "capped");
  auto unknown = StartOn(*ha_, "nobody-capped");
  EXPECT_EQ(known.status, 429);
  EXPECT_EQ(known.reason, "flow.too_many_open");
  EXPECT_EQ(unknown.status, known.status);
  EXPECT_EQ(unknown.body, known.body);
  // One proof refused: that flow is spent and no longer open.
  EXPECT_EQ(open[0]->Verify("capped", "wrong").status, 401);
  EXPECT_EQ(StartOn(*hb_, "capped").status, 200);
  EXPECT_EQ(StartOn(*ha_, "capped").reason, "flow.too_many_open");
  // Expired flows do not count either (flow_lifetime_seconds = 600).
  clock_.Advance(601 * 1000);
  EXPECT_EQ(StartOn(*ha_, "capped").status, 200);
}

// A second proof on a flow whose proof was refused gets the same answer as
// a second proof on a flow whose proof was accepted (the flow is spent, not
// deleted): a later proof cannot tell the first one's outcome.
TEST_P(LockoutTest, SecondProofGetsOneAnswerWhateverTheFirstOutcome) {
  ASSERT_EQ(CreateAccount(*ha_, "twice", "pw").status, 201);
  FlowClient ok(*ha_, clock_), bad(*ha_, clock_);
  ASSERT_EQ(ok.Start(FlowType::kRegistration, "twice", "dev-x").status, 200);
  ASSERT_EQ(bad.Start(FlowType::kRegistration, "twice", "dev-x").status, 200);
  ASSERT_EQ(ok.Verify("twice", "pw").status, 200);
  ASSERT_EQ(bad.Verify("twice", "wrong").status, 401);
  auto after_ok = ok.VerifyVia(*hb_, "twice", "pw");
  auto after_bad_right = bad.VerifyVia(*hb_, "twice", "pw");
  auto after_bad_wrong = bad.VerifyVia(*ha_, "twice", "wrong");
  EXPECT_EQ(after_ok.status, 409);
  EXPECT_EQ(after_ok.reason, "flow.wrong_step");
  EXPECT_EQ(after_bad_right.body, after_ok.body);
  EXPECT_EQ(after_bad_wrong.body, after_ok.body);
  EXPECT_EQ(a_->store().GetAccount("twice")->failure_count, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, LockoutTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         storage::testing::BackendName);

}  // namespace
}  // namespace livegate::server::testing
