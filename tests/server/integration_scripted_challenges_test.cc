// The scripted-challenge hook for external test clients (issue 5; the
// production path it stands in for is R-SRV-ASJ-3 / R-FLOW-*-4: a random
// challenge bound to the session nonce, R-FLOW-X2). Real HTTPS server
// in-process, SQLite and (with LIVEGATE_PG_URI) PostgreSQL:
//   - start refused unless the judgement policy allows scripted challenges;
//   - DIR/<account>.<flow>.json, then DIR/<account>.json, read at the step;
//   - no file: a random challenge as usual;
//   - a file of another ASD type than the decision logic chose: refused;
//   - a corrupt file: a clear, specific refusal naming the file;
//   - one registration end to end with a real video through the hook.
#include <fstream>

#include <gtest/gtest.h>

#include "server/config.h"
#include "server/scripted_challenges.h"
#include "server_harness.h"

namespace livegate::server::testing {
namespace {

using protocol::FlowType;

void WriteFile(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// A scripted challenge in the judgement's JSON form, as a test writes it.
std::string PassiveFile(std::int64_t duration_ms) {
  judgement::Challenge c;
  c.id = "file-id-is-replaced";
  c.type = judgement::AsdType::kPassive;
  c.duration_ms = duration_ms;
  c.scripted = true;
  return judgement::ChallengeToJson(c);
}

// ------------------------------------------------ start-up (no database)

TEST(ScriptedChallengeConfigTest, TestingSectionParsesAndResolvesRelativeDir) {
  const char* text = R"({"tls":{"generate":true},"database":{"uri":"sqlite:x.db"},
    "master_key":{"env":"K"},"policy_file":"p.json",
    "testing":{"scripted_challenges_dir":"scripts/challenges"}})";
  auto c = ParseServerConfig(text, "/srv/lg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->testing.scripted_challenges_dir, "/srv/lg/scripts/challenges");
  auto bad = ParseServerConfig(R"({"tls":{"generate":true},"database":{"uri":"sqlite:x.db"},
    "master_key":{"env":"K"},"policy_file":"p.json","testing":{"scripted_dir":"x"}})", "/srv/lg");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "config.unknown_key");
  EXPECT_NE(bad.status().message().find("testing.scripted_dir"), std::string::npos);
  // The shipped example never turns the hook on.
  auto example = LoadServerConfig(livegate::testing::SourceDir() / "config/server.example.json");
  ASSERT_TRUE(example.ok()) << example.status().ToString();
  EXPECT_TRUE(example->testing.scripted_challenges_dir.empty());
}

TEST(ScriptedChallengeConfigTest, StartRefusedUnlessJudgementPolicyAllowsScripted) {
  const auto dir = livegate::testing::MakeTempDir("lg_scripted_cfg");
  ServerConfig c;
  c.testing.scripted_challenges_dir = dir / "challenges";
  // No judgement policy file: the judgement's defaults refuse scripted.
  auto r = LoadJudgementPolicy(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "config.scripted_not_allowed");
  // A policy file without allow_scripted: refused too.
  c.judgement_policy_file = dir / "judgement.json";
  WriteFile(c.judgement_policy_file, R"({"challenge": {"num_actions": 2}})");
  r = LoadJudgementPolicy(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "config.scripted_not_allowed");
  // allow_scripted: true -> the server may start.
  WriteFile(c.judgement_policy_file, R"({"challenge": {"allow_scripted": true}})");
  r = LoadJudgementPolicy(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->challenge.allow_scripted);
  // Without the testing section the default policy is fine.
  ServerConfig plain;
  auto p = LoadJudgementPolicy(plain);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->challenge.allow_scripted);
  // A missing judgement policy file is an error, not silently the defaults.
  plain.judgement_policy_file = dir / "absent.json";
  auto missing = LoadJudgementPolicy(plain);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().reason(), "config.unreadable");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// ------------------------------------------------ the hook over HTTPS

class ScriptedChallengeTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    LG_REQUIRE_BACKEND(GetParam());
    dir_ = livegate::testing::MakeTempDir("lg_server_scripted");
    scripts_ = dir_ / "challenges";
    std::filesystem::create_directories(scripts_);
    db_ = std::make_unique<TestDatabase>(GetParam());
    auto keys = crypto::KeyManager::FromKeys(crypto::RandomBytes(32));
    ASSERT_TRUE(keys.ok());
    keys_.emplace(std::move(keys).value());
  }
  // passive = true: a clean new device stays in the low tier (passive);
  // otherwise the shipped policy puts it in medium (actions).
  void Start(bool passive, judgement::Policy jp = AllowScriptedJudgementPolicy(), AnalyzerPool* pool = nullptr) {
    TestServer::Options o;
    if (passive) o.policy.weights.new_device = 0;
    o.judgement_policy = std::move(jp);
    o.scripted_challenges_dir = scripts_;
    o.analyzers = pool;
    o.limits.max_frames = 40;
    o.limits.max_frame_bytes = 160 * 1024;
    o.limits.max_body_bytes = 8 << 20;
    server_ = std::make_unique<TestServer>(*db_, *keys_, clock_, o, dir_ / "tls");
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
  // Steps 1-4 of a registration; returns the procedure (or the refusal in *raw).
  std::optional<protocol::Procedure> ToChallenge(FlowClient& c, const std::string& account,
                                                 HttpResult* raw = nullptr) {
    EXPECT_EQ(c.Start(FlowType::kRegistration, account, "phone-" + account).status, 200);
    EXPECT_EQ(c.Verify(account, "pw").status, 200);
    return c.Risk(CleanRisk(), raw);
  }
  int ScriptedAudits(const std::string& account) {
    int n = 0;
    for (const auto& e : server_->audit().Recent()) {
      n += e.account_id == account && e.operation == "flow.registration.risk.scripted_challenge";
    }
    return n;
  }

  std::filesystem::path dir_, scripts_;
  std::unique_ptr<TestDatabase> db_;
  std::optional<crypto::KeyManager> keys_;
  TestClock clock_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<TestHttp> http_;
};

TEST_P(ScriptedChallengeTest, ServiceRefusesHookWithoutAllowScripted) {
  TestServer::Options o;
  o.scripted_challenges_dir = scripts_;  // judgement defaults: allow_scripted false
  o.expect_create_failure = "config.scripted_not_allowed";
  TestServer s(*db_, *keys_, clock_, o, dir_ / "tls");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.create_status().reason(), "config.scripted_not_allowed");
}

TEST_P(ScriptedChallengeTest, FlowFileThenAccountFileReadAtTheStep) {
  Start(/*passive=*/true);
  ASSERT_EQ(CreateAccount(*http_, "sc", "pw").status, 201);
  ASSERT_EQ(CreateAccount(*http_, "sc2", "pw").status, 201);
  WriteFile(scripts_ / "sc.registration.json", PassiveFile(7000));
  WriteFile(scripts_ / "sc.json", PassiveFile(5000));
  WriteFile(scripts_ / "sc2.json", PassiveFile(5000));
  WriteFile(scripts_ / "sc2.authentication.json", PassiveFile(9000));  // another flow: not used

  FlowClient a(*http_, clock_);
  auto p = ToChallenge(a, "sc");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->asd_type, "passive");
  EXPECT_EQ(p->challenge["duration_ms"], 7000);  // the flow's own file wins
  EXPECT_EQ(p->challenge["scripted"], true);
  EXPECT_EQ(p->challenge["type"], "passive");
  // Bound to this session like a drawn challenge (R-FLOW-X2); a fresh id.
  EXPECT_EQ(p->challenge["bound_nonce"], crypto::HexEncode(p->session_nonce));
  EXPECT_NE(p->challenge["id"], "file-id-is-replaced");
  EXPECT_EQ(p->challenge["id"].get<std::string>().size(), 32u);
  EXPECT_EQ(ScriptedAudits("sc"), 1);
  bool audited_file = false;
  for (const auto& e : server_->audit().Recent()) {
    if (e.operation != "flow.registration.risk.scripted_challenge") continue;
    for (const auto& r : e.reasons) {
      audited_file |= r == "scripted_file:account.flow";  // sc.registration.json matched
    }
  }
  EXPECT_TRUE(audited_file);

  FlowClient b(*http_, clock_);
  auto q = ToChallenge(b, "sc2");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->challenge["duration_ms"], 5000);  // <account>.json
  EXPECT_EQ(q->challenge["scripted"], true);

  // Rewritten between flows: the next flow reads the new file.
  WriteFile(scripts_ / "sc.registration.json", PassiveFile(6000));
  FlowClient c(*http_, clock_);
  auto r = ToChallenge(c, "sc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->challenge["duration_ms"], 6000);
  EXPECT_NE(r->challenge["id"], p->challenge["id"]);
  EXPECT_EQ(ScriptedAudits("sc"), 2);
}

TEST_P(ScriptedChallengeTest, NoFileMeansARandomChallenge) {
  Start(/*passive=*/false);  // medium tier: a drawn actions challenge has random content
  ASSERT_EQ(CreateAccount(*http_, "rnd", "pw").status, 201);
  WriteFile(scripts_ / "someone-else.json", PassiveFile(5000));
  FlowClient a(*http_, clock_), b(*http_, clock_);
  auto p = ToChallenge(a, "rnd");
  auto q = ToChallenge(b, "rnd");
  ASSERT_TRUE(p && q);
  EXPECT_EQ(p->asd_type, "actions");
  EXPECT_FALSE(p->challenge.contains("scripted"));
  EXPECT_EQ(p->challenge["steps"].size(), 2u);  // the medium tier's challenge_length
  EXPECT_NE(p->challenge["id"], q->challenge["id"]);
  EXPECT_EQ(ScriptedAudits("rnd"), 0);
}

TEST_P(ScriptedChallengeTest, ActionsFileInTheActionsTier) {
  Start(/*passive=*/false);
  ASSERT_EQ(CreateAccount(*http_, "act", "pw").status, 201);
  WriteFile(scripts_ / "act.registration.json",
            R"({"id":"x","type":"actions","duration_ms":6000,"scripted":true,"steps":[
                {"action":"blink","start_ms":500,"end_ms":3000},
                {"action":"turn_left","start_ms":3000,"end_ms":5500}]})");
  FlowClient a(*http_, clock_);
  auto p = ToChallenge(a, "act");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->asd_type, "actions");
  ASSERT_EQ(p->challenge["steps"].size(), 2u);
  EXPECT_EQ(p->challenge["steps"][0]["action"], "blink");
  EXPECT_EQ(p->challenge["steps"][1]["action"], "turn_left");
  EXPECT_EQ(p->challenge["steps"][1]["end_ms"], 5500);
  EXPECT_EQ(ScriptedAudits("act"), 1);
}

TEST_P(ScriptedChallengeTest, TypeMismatchIsRefusedAndNothingWritten) {
  Start(/*passive=*/true);  // the decision logic chooses passive ...
  ASSERT_EQ(CreateAccount(*http_, "mm", "pw").status, 201);
  WriteFile(scripts_ / "mm.json",  // ... the file says actions
            R"({"type":"actions","duration_ms":4000,"scripted":true,"steps":[
                {"action":"nod","start_ms":0,"end_ms":3000}]})");
  FlowClient a(*http_, clock_);
  HttpResult raw;
  auto p = ToChallenge(a, "mm", &raw);
  EXPECT_FALSE(p);
  EXPECT_EQ(raw.status, 409);
  EXPECT_EQ(raw.reason, "challenge.scripted_type_mismatch");
  EXPECT_NE(raw.body.find("passive"), std::string::npos) << raw.body;
  auto row = server_->store().GetFlow(a.start().flow_id);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->step, 3);  // still waiting for risk data: no challenge issued
  EXPECT_TRUE(row->challenge_json.empty());
  EXPECT_EQ(ScriptedAudits("mm"), 0);
}

TEST_P(ScriptedChallengeTest, CorruptFileGivesAClearError) {
  Start(/*passive=*/true);
  ASSERT_EQ(CreateAccount(*http_, "bad", "pw").status, 201);
  ASSERT_EQ(CreateAccount(*http_, "bad2", "pw").status, 201);
  WriteFile(scripts_ / "bad.registration.json", "{\"type\": \"passive\", ");
  FlowClient a(*http_, clock_);
  HttpResult raw;
  EXPECT_FALSE(ToChallenge(a, "bad", &raw));
  EXPECT_EQ(raw.status, 409);
  EXPECT_EQ(raw.reason, "challenge.scripted_bad_file");
  EXPECT_NE(raw.body.find("bad.registration.json"), std::string::npos) << raw.body;
  EXPECT_NE(raw.body.find("challenge.bad_json"), std::string::npos) << raw.body;
  // Well-formed JSON, unknown action: the judgement's reason is named.
  WriteFile(scripts_ / "bad2.json",
            R"({"type":"passive","duration_ms":4000,"steps":[{"action":"dance","start_ms":0,"end_ms":9}]})");
  FlowClient b(*http_, clock_);
  EXPECT_FALSE(ToChallenge(b, "bad2", &raw));
  EXPECT_EQ(raw.reason, "challenge.scripted_bad_file");
  EXPECT_NE(raw.body.find("challenge.bad_action"), std::string::npos) << raw.body;
}

// One registration end to end through the hook: the judgement accepts the
// scripted challenge (its policy allows it) and the reference is stored.
TEST_P(ScriptedChallengeTest, RegistrationWithARealVideoThroughTheHook) {
  constexpr const char* kVideo = "2_face_video/sadtalker/sadtalker_WDA_AlexandriaOcasioCortez_000.mp4";
  LG_REQUIRE_MODELS();
  LG_REQUIRE_TEST_DATA(kVideo);
  AnalyzerPool pool(1, vision::AnalyzerOptions{});
  Start(/*passive=*/true, AllowScriptedJudgementPolicy(), &pool);  // every required check, replay included
  ASSERT_EQ(CreateAccount(*http_, "e2e", "pw").status, 201);
  WriteFile(scripts_ / "e2e.registration.json", PassiveFile(8000));
  FlowClient a(*http_, clock_);
  auto p = ToChallenge(a, "e2e");
  ASSERT_TRUE(p);
  protocol::CaptureSubmission sub;
  sub.challenge_id = p->challenge["id"];
  sub.session_nonce = p->session_nonce;
  sub.frames = FramesFromVideo(livegate::testing::TestDataDir() / kVideo, 0, 80, 2);
  sub.client.live = true;
  sub.client.quality = 0.8;
  sub.device_credential = MakeDeviceCredential("phone-e2e", "secret");
  auto fr = a.Capture(sub);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->outcome, "registered") << ::testing::PrintToString(fr->reasons);
  EXPECT_EQ(Snapshot(server_->store(), "e2e"), (AccountSnapshot{1, 1, true}));

  // Authentication with the device credential; the flow name picks the file.
  WriteFile(scripts_ / "e2e.authentication.json", PassiveFile(4000));
  FlowClient b(*http_, clock_);
  ASSERT_EQ(b.Start(FlowType::kAuthentication, "e2e", "phone-e2e").status, 200);
  ASSERT_EQ(b.Verify("phone-e2e", "secret").status, 200);
  auto q = b.Risk(CleanRisk());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->challenge["duration_ms"], 4000);
  protocol::CaptureSubmission auth;
  auth.challenge_id = q->challenge["id"];
  auth.session_nonce = q->session_nonce;
  auth.frames = FramesFromVideo(livegate::testing::TestDataDir() / kVideo, 160, 200, 1);
  auth.client.live = true;
  auth.client.quality = 0.8;
  auto ar = b.Capture(auth);
  ASSERT_TRUE(ar);
  EXPECT_EQ(ar->outcome, "authenticated") << ::testing::PrintToString(ar->reasons);
  int auth_scripted = 0;
  for (const auto& e : server_->audit().Recent()) {
    auth_scripted += e.operation == "flow.authentication.risk.scripted_challenge";
  }
  EXPECT_EQ(auth_scripted, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, ScriptedChallengeTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         storage::testing::BackendName);

}  // namespace
}  // namespace livegate::server::testing
