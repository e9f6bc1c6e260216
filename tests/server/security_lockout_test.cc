// Attack regression (issue 12, findings 1 and 5; R-SEC-SRV-1 and -3, decision
// 11.9) against a real `livegate-server` process over HTTPS, on SQLite and
// on PostgreSQL. The attack: start many flows for the victim's account id
// while it is not locked, then spend one password guess per flow - before
// the fix the lockout was checked only at the start, so every pre-started
// flow carried a guess past it and the right one got 200 + M2.
//
// The server runs with this test's own configuration: rate limits so high
// that they stop nothing here (the lockout and the open-flow cap must), the
// shipped decision policy (lockout after 5 failures in 900 s, for 900 s).
//
//   - PreStartedFlowsCarryNoGuessPastTheLockout: 12 pre-started flows
//     (cap raised to 16 for this), 5 wrong guesses, then the right proof
//     on a pre-started flow: the lockout answer, byte for byte the locked
//     start's, no M2, nothing written; an unknown id behaves the same;
//   - ConcurrentGuessesOnPreStartedFlowsAreAllCounted: 12 wrong guesses at
//     once, one per pre-started flow: exactly 5 evaluated (401), the rest
//     the lockout answer, and the failure counter says 5;
//   - ConcurrentProofsOnOneFlow: 8 threads send proofs (4 right, 4 wrong)
//     for one flow at once: exactly one is evaluated, the 7 others get one
//     identical refusal - a losing right proof and a losing wrong one get
//     the same bytes;
//   - OpenFlowsAreCapped: with the default cap (3), 12 starts give 3 flows
//     and 9 refusals flow.too_many_open, alike for a known and an unknown id.
#include <latch>
#include <optional>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "server_process.h"

namespace livegate::server::testing {
namespace {

using protocol::FlowType;

// An SRP proof computed ahead of sending (so concurrent senders only post).
struct Proof {
  std::string body;
};
Proof MakeProof(const protocol::StartFlowResponse& start, const std::string& identity,
                const std::string& password) {
  auto g = crypto::SrpGroup::Create({start.srp_group, start.srp_hash});
  EXPECT_TRUE(g.ok());
  auto c = crypto::SrpClientSession::Respond(*g, identity, password, start.salt, start.B);
  EXPECT_TRUE(c.ok());
  return {protocol::ToJson(protocol::VerifyRequest{c->A(), c->M1()})};
}

class SecurityLockoutTest : public ServerProcessTest {
 protected:
  SecurityLockoutTest() : ServerProcessTest("security_lockout") {}

  // Rate limits far above anything this test sends: the lockout and the
  // open-flow cap must be what stops the attack.
  void StartServer(std::optional<int> max_open_flows) {
    nlohmann::json limits{{"rate_per_account_per_minute", 1000000},
                          {"rate_per_device_per_minute", 1000000},
                          {"rate_per_address_per_minute", 1000000},
                          {"thread_pool_size", 24},
                          {"max_frames", 12}};  // 12 x 256 KiB fits the default body limit
    if (max_open_flows) limits["max_open_flows_per_account"] = *max_open_flows;
    ServerProcess::Setup setup;
    setup.db_uri = db_uri_;
    setup.key_source = MasterKeySource::kConfigFile;
    setup.extra = {
        {"limits", limits},
        // The fastest allowed group keeps the test quick (R-SRP-5: >= 2048).
        {"srp", {{"allowed_groups", {"modp/srp/2048"}}, {"default_group", "modp/srp/2048"}, {"hash", "SHA-256"}}}};
    server_ = std::make_unique<ServerProcess>();
    ASSERT_EQ(server_->Start(dir_, setup), "");
    http_ = NewHttp();
  }
  std::unique_ptr<TestHttp> NewHttp() {
    return std::make_unique<TestHttp>(server_->port(), server_->cert_pem(), dir_);
  }
  HttpResult StartOn(const std::string& account, FlowClient* client = nullptr) {
    FlowClient local(*http_, clock_);
    return (client ? *client : local).Start(FlowType::kRegistration, account, "attacker-phone");
  }
  HttpResult PostProof(TestHttp& http, const protocol::StartFlowResponse& start, const Proof& p) {
    return http.Post("/v1/flows/" + start.flow_id + "/verify", p.body);
  }
  nlohmann::json AdminView(const std::string& account) {
    auto r = http_->Get("/v1/admin/accounts/" + account, kAdminToken);
    EXPECT_EQ(r.status, 200) << r.body;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  }
  // `n` flows started for `account`, each with its SRP round-1 answer.
  std::vector<protocol::StartFlowResponse> PreStart(const std::string& account, int n) {
    std::vector<protocol::StartFlowResponse> out;
    for (int i = 0; i < n; ++i) {
      FlowClient c(*http_, clock_);
      auto r = StartOn(account, &c);
      EXPECT_EQ(r.status, 200) << "start " << i << ": " << r.body;
      if (r.status == 200) out.push_back(c.start());
    }
    return out;
  }

  TestClock clock_;  // the client's sealed-channel clock only: the server runs on real time
};

TEST_P(SecurityLockoutTest, PreStartedFlowsCarryNoGuessPastTheLockout) {
  ASSERT_NO_FATAL_FAILURE(StartServer(16));  // a cap above the attack's 12 flows: the lockout alone must hold
  ASSERT_EQ(CreateAccount(*http_, "victim", "correct horse", "modp/srp/2048").status, 201);
  const auto flows = PreStart("victim", 12);
  const auto ghost_flows = PreStart("ghost", 12);  // an account id that does not exist
  ASSERT_EQ(flows.size(), 12u);
  ASSERT_EQ(ghost_flows.size(), 12u);

  // Wrong guesses, one per flow, until the lockout (max_failures = 5).
  for (int i = 0; i < 5; ++i) {
    auto r = PostProof(*http_, flows[i], MakeProof(flows[i], "victim", "guess " + std::to_string(i)));
    ASSERT_EQ(r.status, 401) << r.body;
    ASSERT_EQ(r.reason, "auth.failed");
    auto g = PostProof(*http_, ghost_flows[i], MakeProof(ghost_flows[i], "ghost", "guess"));
    ASSERT_EQ(g.status, 401) << g.body;
  }
  const HttpResult locked_start = StartOn("victim");
  ASSERT_EQ(locked_start.status, 429);
  ASSERT_EQ(locked_start.reason, "auth.locked_out");
  const nlohmann::json before = AdminView("victim");
  EXPECT_EQ(before["locked"], true);
  EXPECT_EQ(before["failure_count"], 5);

  // The sixth guess is wrong, the seventh is the right password: both get
  // the locked start's answer, byte for byte, and no M2.
  auto wrong = PostProof(*http_, flows[5], MakeProof(flows[5], "victim", "guess 5"));
  auto right = PostProof(*http_, flows[6], MakeProof(flows[6], "victim", "correct horse"));
  EXPECT_EQ(wrong.status, 429);
  EXPECT_EQ(right.status, 429);
  EXPECT_EQ(wrong.body, locked_start.body);
  EXPECT_EQ(right.body, locked_start.body);
  EXPECT_EQ(right.body.find("M2"), std::string::npos);
  // Every other pre-started flow too, right password or not.
  for (std::size_t i = 7; i < flows.size(); ++i) {
    auto r = PostProof(*http_, flows[i], MakeProof(flows[i], "victim", i % 2 ? "correct horse" : "nope"));
    EXPECT_EQ(r.status, 429) << "flow " << i;
    EXPECT_EQ(r.body, locked_start.body) << "flow " << i;
  }
  // Nothing changed for the account: no device, no reference, no key, and
  // the refused proofs were neither checked nor counted.
  const nlohmann::json after = AdminView("victim");
  EXPECT_EQ(after["failure_count"], 5);
  EXPECT_EQ(after["devices"], nlohmann::json::array());
  EXPECT_EQ(after["references"], nlohmann::json::array());
  EXPECT_EQ(after["has_user_key"], false);
  EXPECT_EQ(after["locked"], true);

  // The unknown id: locked alike, the same bytes.
  EXPECT_EQ(StartOn("ghost").body, locked_start.body);
  auto ghost = PostProof(*http_, ghost_flows[5], MakeProof(ghost_flows[5], "ghost", "x"));
  EXPECT_EQ(ghost.status, 429);
  EXPECT_EQ(ghost.body, locked_start.body);
}

TEST_P(SecurityLockoutTest, ConcurrentGuessesOnPreStartedFlowsAreAllCounted) {
  ASSERT_NO_FATAL_FAILURE(StartServer(16));
  ASSERT_EQ(CreateAccount(*http_, "spray", "correct horse", "modp/srp/2048").status, 201);
  const auto flows = PreStart("spray", 12);
  ASSERT_EQ(flows.size(), 12u);
  std::vector<Proof> proofs;
  std::vector<std::unique_ptr<TestHttp>> conns;
  for (const auto& f : flows) {
    proofs.push_back(MakeProof(f, "spray", "wrong " + f.flow_id));
    conns.push_back(NewHttp());
    ASSERT_EQ(conns.back()->Get("/healthz").status, 200);  // connected before the race
  }
  std::vector<HttpResult> answers(flows.size());
  std::latch go(static_cast<std::ptrdiff_t>(flows.size()));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < flows.size(); ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      answers[i] = PostProof(*conns[i], flows[i], proofs[i]);
    });
  }
  for (auto& t : threads) t.join();
  int evaluated = 0, locked = 0;
  std::string locked_body;
  for (const auto& a : answers) {
    if (a.status == 401 && a.reason == "auth.failed") ++evaluated;
    if (a.status == 429 && a.reason == "auth.locked_out") {
      ++locked;
      if (locked_body.empty()) locked_body = a.body;
      EXPECT_EQ(a.body, locked_body);
    }
  }
  // Exactly max_failures guesses were checked, however they raced; every
  // one of them is counted; the rest never reached the proof check.
  EXPECT_EQ(evaluated, 5);
  EXPECT_EQ(locked, 7);
  EXPECT_EQ(AdminView("spray")["failure_count"], 5);
  EXPECT_EQ(StartOn("spray").body, locked_body);
}

TEST_P(SecurityLockoutTest, ConcurrentProofsOnOneFlow) {
  ASSERT_NO_FATAL_FAILURE(StartServer(std::nullopt));  // the default cap
  ASSERT_EQ(CreateAccount(*http_, "racer", "correct horse", "modp/srp/2048").status, 201);
  constexpr int kThreads = 8;
  int failures = 0;
  for (int round = 0; round < 3; ++round) {  // three races (3 failures at most: no lockout)
    const auto flow = PreStart("racer", 1);
    ASSERT_EQ(flow.size(), 1u);
    std::vector<Proof> proofs;
    std::vector<std::unique_ptr<TestHttp>> conns;
    for (int i = 0; i < kThreads; ++i) {
      const bool right = i % 2 == 0;
      proofs.push_back(MakeProof(flow[0], "racer", right ? "correct horse" : "wrong " + std::to_string(i)));
      conns.push_back(NewHttp());
      ASSERT_EQ(conns.back()->Get("/healthz").status, 200);
    }
    std::vector<HttpResult> answers(kThreads);
    std::latch go(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        go.arrive_and_wait();
        answers[i] = PostProof(*conns[i], flow[0], proofs[i]);
      });
    }
    for (auto& t : threads) t.join();
    int winners = 0, winner = -1;
    std::vector<std::string> losing_right, losing_wrong;
    for (int i = 0; i < kThreads; ++i) {
      const auto& a = answers[i];
      if (a.status == 200 || a.status == 401) {
        ++winners;
        winner = i;
        continue;
      }
      EXPECT_EQ(a.status, 409) << a.body;
      EXPECT_EQ(a.reason, "flow.wrong_step");
      (i % 2 == 0 ? losing_right : losing_wrong).push_back(a.body);
    }
    ASSERT_EQ(winners, 1) << "round " << round;  // exactly one proof evaluated
    // The winner's answer follows from its own proof.
    EXPECT_EQ(answers[winner].status, winner % 2 == 0 ? 200 : 401);
    if (answers[winner].status == 401) ++failures;
    // Losing right and losing wrong proofs: one answer, the same bytes.
    ASSERT_FALSE(losing_right.empty());
    ASSERT_FALSE(losing_wrong.empty());
    for (const auto& b : losing_right) EXPECT_EQ(b, losing_right.front());
    for (const auto& b : losing_wrong) EXPECT_EQ(b, losing_right.front());
    // One evaluated proof, one failure at most in the counter.
    EXPECT_EQ(AdminView("racer")["failure_count"], failures) << "round " << round;
  }
}

TEST_P(SecurityLockoutTest, OpenFlowsAreCapped) {
  ASSERT_NO_FATAL_FAILURE(StartServer(std::nullopt));  // limits.max_open_flows_per_account: default 3
  ASSERT_EQ(CreateAccount(*http_, "held", "correct horse", "modp/srp/2048").status, 201);
  std::vector<HttpResult> known, unknown;
  for (int i = 0; i < 12; ++i) {
    known.push_back(StartOn("held"));
    unknown.push_back(StartOn("not-an-account"));
  }
  for (int i = 0; i < 12; ++i) {
    if (i < 3) {
      EXPECT_EQ(known[i].status, 200) << i;
      EXPECT_EQ(unknown[i].status, 200) << i;
      continue;
    }
    EXPECT_EQ(known[i].status, 429) << i;
    EXPECT_EQ(known[i].reason, "flow.too_many_open") << i;
    EXPECT_EQ(known[i].body, known[3].body);
    EXPECT_EQ(unknown[i].body, known[3].body) << i;  // an unknown id is capped alike
  }
  EXPECT_EQ(AdminView("held")["failure_count"], 0);  // a refused start is no failure
}

INSTANTIATE_TEST_SUITE_P(Backends, SecurityLockoutTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         storage::testing::BackendName);

}  // namespace
}  // namespace livegate::server::testing
