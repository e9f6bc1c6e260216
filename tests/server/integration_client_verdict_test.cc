// The client's liveness verdict is preliminary (R-SRV-ASJ-2, R-CLI-ASD-5,
// decision 11.10). Real HTTPS server in-process, SQLite and (with
// LIVEGATE_PG_URI) PostgreSQL, real video frames: a capture the client
// declares live, whose frames switch to another person half-way, is judged
// not live by the server; nothing is registered; the disagreement is in the
// audit record and raises the risk of the account's next session
// (risk.client_mismatch).
#include <algorithm>

#include <gtest/gtest.h>

#include "server_harness.h"

namespace livegate::server::testing {
namespace {

using protocol::FlowType;

constexpr const char* kPersonVideo = "2_face_video/sadtalker/sadtalker_WDA_AlexandriaOcasioCortez_000.mp4";
constexpr const char* kOtherVideo = "2_face_video/liveportrait/liveportrait_d9.mp4";

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

class ClientVerdictTest : public TwoServerTest {
 protected:
  void SetUp() override {
    LG_REQUIRE_BACKEND(GetParam());
    LG_REQUIRE_MODELS();
    LG_REQUIRE_TEST_DATA(kPersonVideo);
    LG_REQUIRE_TEST_DATA(kOtherVideo);
    pool_ = std::make_unique<AnalyzerPool>(1, vision::AnalyzerOptions{});
    TestServer::Options o;
    o.policy = TestPolicy();
    o.policy.weights.new_device = 0;  // a clean new device stays in the low (passive) tier
    o.judgement_policy = AllowScriptedJudgementPolicy();
    o.challenge_source = ScriptedChallengeOfDecidedType;  // the clips cannot follow random actions
    o.analyzers = pool_.get();
    o.limits.max_frames = 40;
    o.limits.max_frame_bytes = 160 * 1024;
    o.limits.max_body_bytes = 8 << 20;
    StartServers("lg_server_client_verdict", o);
  }

  std::unique_ptr<AnalyzerPool> pool_;  // outlives the servers (TearDown resets them first)
};

// R-SRV-ASJ-2: the client says live, the server's own judgement says not live, and the server decides.
TEST_P(ClientVerdictTest, DeclaredLiveButPersonSwappedIsRefusedAndRaisesRisk) {
  ASSERT_EQ(CreateAccount(*ha_, "cv", "pw").status, 201);
  FlowClient c(*ha_, clock_);
  ASSERT_EQ(c.Start(FlowType::kRegistration, "cv", "phone-cv").status, 200);
  ASSERT_EQ(c.Verify("cv", "pw").status, 200);
  auto proc = c.Risk(CleanRisk());
  ASSERT_TRUE(proc);
  EXPECT_EQ(proc->asd_type, "passive");
  EXPECT_FALSE(Contains(proc->reasons, "risk.client_mismatch"));

  // 1.6 s of one person, then 1.6 s of another, on one continuous clock.
  auto frames = FramesFromVideo(livegate::testing::TestDataDir() / kPersonVideo, 0, 40, 2);
  auto other = FramesFromVideo(livegate::testing::TestDataDir() / kOtherVideo, 0, 40, 2);
  ASSERT_EQ(frames.size(), 20u);
  ASSERT_EQ(other.size(), 20u);
  const std::int64_t offset = frames.back().timestamp_ms + 80;
  for (auto& f : other) {
    f.timestamp_ms += offset;
    frames.push_back(std::move(f));
  }
  protocol::CaptureSubmission sub;
  sub.challenge_id = proc->challenge["id"];
  sub.session_nonce = proc->session_nonce;
  sub.frames = std::move(frames);
  sub.client.live = true;  // the client's preliminary verdict
  sub.client.quality = 0.9;
  sub.client.best_frame = 0;
  sub.device_credential = MakeDeviceCredential("phone-cv", "secret");
  auto fr = c.Capture(sub);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->outcome, "refused");
  EXPECT_EQ(fr->reasons, std::vector<std::string>{"asd.not_live"});
  EXPECT_EQ(Snapshot(a_->store(), "cv"), (AccountSnapshot{0, 0, false}));

  // The audit record names the server's finding (R-ASD-3: the person changed)
  // and the disagreement with the client.
  int refusals = 0;
  for (const auto& e : a_->audit().Recent()) {
    if (e.operation != "flow.registration.capture") continue;
    ++refusals;
    EXPECT_EQ(e.outcome, "refused");
    EXPECT_EQ(e.reasons, (std::vector<std::string>{"asd.not_live", "continuity.identity_changed", "client.mismatch",
                                                "template.frames:3"}));
  }
  EXPECT_EQ(refusals, 1);

  // ... and it raises the risk of the next session (decision 11.10).
  FlowClient d(*ha_, clock_);
  ASSERT_EQ(d.Start(FlowType::kRegistration, "cv", "phone-cv").status, 200);
  ASSERT_EQ(d.Verify("cv", "pw").status, 200);
  auto next = d.Risk(CleanRisk());
  ASSERT_TRUE(next);
  EXPECT_TRUE(Contains(next->reasons, "risk.client_mismatch")) << ::testing::PrintToString(next->reasons);
}

INSTANTIATE_TEST_SUITE_P(Backends, ClientVerdictTest, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         storage::testing::BackendName);

}  // namespace
}  // namespace livegate::server::testing
