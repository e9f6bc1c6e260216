// End-to-end (label e2e): the real livegate-server process (SQLite, and
// PostgreSQL when LIVEGATE_PG_URI is set) and the real `livegate` CLI
// processes, on real videos from the shared data, with the `actions`
// anti-spoofing tier (decision 11.1) and scripted challenges matching what
// each segment shows (see e2e_support.h): register a person (R-FLOW-REG),
// authenticate the same person from a non-overlapping segment of the clip
// (accepted, R-FLOW-AUT), a different person who passes liveness (refused by
// comparison), a phone replay of a registered person (refused), deregister
// (R-FLOW-DER, decision 11.11), authenticate again (refused).
//
// Segments and scripts were found with `livegate analyze` and checked
// against the real server (docs/CLI.md "Segments and scripts"):
// - liveportrait_d10 (a woman, 30 fps): mouth wide open at 0.13-0.43 s,
//   0.8-0.9 s, 1.7-1.8 s, 3.0-3.6 s and again at 10.5-12.5 s.
// - liveportrait_d3 (another woman): head turned to her left at 8.0-9.6 s,
//   mouth open (surprise) at 10.0-11.7 s.
// - zubair_real (15 fps): head turned to his right at 6.8-8.8 s.
// - zubair_fake_replay_phone: zubair's face on a phone screen held still
//   (frames 26-94), then the phone is rotated (6.3-6.7 s), which moves the
//   face on the screen as if the head turned to its right.
#include "e2e_support.h"
#include "livegate/default_policy.h"

namespace livegate::client::e2e {
namespace {

const char* kD10 = "2_face_video/liveportrait/liveportrait_d10.mp4";
const char* kD3 = "2_face_video/liveportrait/liveportrait_d3.mp4";
const char* kReal = "3_presentation_attack/zubaircrackscode/zubair_real.webm";
const char* kReplay = "3_presentation_attack/zubaircrackscode/zubair_fake_replay_phone.webm";

// d10 frames 0-120 (0-4 s): open mouth; windows from the first frame.
const std::vector<Step> kD10First = {{"open_mouth", 500, 3500}};
// d10 frames 300-450 (10-15 s): no frame shared with the registration.
const std::vector<Step> kD10Later = {{"open_mouth", 1000, 4000}};
// d3 frames 200-353 (6.7-11.8 s): turn left, then open mouth.
const std::vector<Step> kD3TurnMouth = {{"turn_left", 1000, 3000}, {"open_mouth", 3000, 5000}};

using E2eFlows = E2eTest;

// The distance the server wrote to the audit trail ("compare.distance:<d>"),
// or a negative value when absent.
double AuditDistance(const std::vector<std::string>& reasons) {
  for (const auto& r : reasons) {
    if (r.rfind("compare.distance:", 0) == 0) return std::stod(r.substr(17));
  }
  return -1;
}

TEST_P(E2eFlows, RegisterAuthenticateRefuseOthersDeregister) {
  LG_REQUIRE_MODELS();
  LG_REQUIRE_TEST_DATA(kD10);
  LG_REQUIRE_TEST_DATA(kD3);
  Server server;
  ASSERT_TRUE(server.Start(dir_, Database()).ok()) << ReadFile(dir_ / "server.out");
  const std::string account = "d10-" + Hex(4), password = "pw-" + Hex(8);
  auto created = server.CreateAccount(account, password);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;

  // R-CLI-CAP-3: the real CLI sends its sealed capture and the server judges it (asd.live below).
  // R-FLOW-REG-1..12 under an action challenge: registered; the device
  // credential is stored locally.
  server.Script(account, "registration", ScriptJson(kD10First, 3900));
  auto reg = Cli(server, "register", account, kD10, 0, 120, "device", password);
  ASSERT_EQ(reg.exit_code, 0) << reg.json.dump() << "\n" << reg.err;
  EXPECT_EQ(reg.json["outcome"], "registered");
  EXPECT_EQ(reg.json["tier"], "medium");
  EXPECT_EQ(reg.json["asd_type"], "actions");
  EXPECT_EQ(reg.json["challenge"], nlohmann::json::array({"open_mouth"}));
  // Issue 14: the reference enrolled is the capture's multi-frame template,
  // the mean descriptor of 3 frames spread over the capture (one fused,
  // protected template - keyed transform + encryption - per reference).
  EXPECT_EQ(server.LastCaptureReasons(account), (std::vector<std::string>{"asd.live", "template.frames:3"}));
  EXPECT_NE(reg.err.find("[scripted challenge]"), std::string::npos) << reg.err;

  // R-FLOW-AUT-1..11: the same person, a segment that shares no frame with the
  // registration's, following its own challenge: accepted.
  server.Script(account, "authentication", ScriptJson(kD10Later, 4900));
  auto same = Cli(server, "authenticate", account, kD10, 300, 450, "device");
  EXPECT_EQ(same.exit_code, 0) << same.json.dump() << "\n" << same.err;
  EXPECT_EQ(same.json["outcome"], "authenticated");
  EXPECT_EQ(same.json["asd_type"], "actions");
  const auto same_reasons = server.LastCaptureReasons(account);
  EXPECT_TRUE(Contains(same_reasons, "asd.live"));
  // The probe is fused too (3 frames), compared in the protected domain with
  // the live reference at the fused live threshold of the tier, not the
  // single-image one (docs/EVALUATION.md "Multi-frame templates").
  EXPECT_TRUE(Contains(same_reasons, "template.frames:3")) << nlohmann::json(same_reasons).dump();
  const double live_threshold = default_policy::kMedium.live_compare_threshold;
  EXPECT_TRUE(Contains(same_reasons, "compare.threshold:live:" + std::to_string(live_threshold)))
      << nlohmann::json(same_reasons).dump();
  EXPECT_LE(AuditDistance(same_reasons), live_threshold) << nlohmann::json(same_reasons).dump();

  // A different person on the registered device, who performs the
  // challenge and passes liveness: refused by the comparison (R-SRV-CMP-1, R-FLOW-AUT-9).
  server.Script(account, "authentication", ScriptJson(kD3TurnMouth, 5000));
  auto other = Cli(server, "authenticate", account, kD3, 200, 353, "device");
  EXPECT_EQ(other.exit_code, 1) << other.json.dump() << "\n" << other.err;
  EXPECT_EQ(other.json["outcome"], "refused");
  EXPECT_EQ(other.json["reasons"], nlohmann::json::array({"biometric.not_verified"})) << other.json.dump();
  const auto other_reasons = server.LastCaptureReasons(account);
  EXPECT_TRUE(Contains(other_reasons, "asd.live")) << nlohmann::json(other_reasons).dump();
  EXPECT_TRUE(Contains(other_reasons, "biometric.not_verified"));
  EXPECT_TRUE(Contains(other_reasons, "template.frames:3")) << nlohmann::json(other_reasons).dump();
  EXPECT_GT(AuditDistance(other_reasons), live_threshold) << nlohmann::json(other_reasons).dump();

  // Keep a copy of the device state to try the old credential afterwards.
  std::filesystem::copy(dir_ / "device", dir_ / "device-copy", std::filesystem::copy_options::recursive);

  // R-FLOW-DER-1..12 (opt-out, decision 11.11): deregistered after a fresh
  // capture under its own challenge, compared with the reference (a segment
  // other than the registration's); the local credential is removed.
  server.Script(account, "deregistration", ScriptJson(kD10Later, 4900));
  auto der = Cli(server, "deregister", account, kD10, 300, 450, "device", password);
  ASSERT_EQ(der.exit_code, 0) << der.json.dump() << "\n" << der.err;
  EXPECT_EQ(der.json["outcome"], "deregistered");
  EXPECT_EQ(der.json["asd_type"], "actions");

  auto gone = Cli(server, "authenticate", account, kD10, 300, 450, "device");
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_EQ(gone.json["reasons"][0], "secret.not_found") << gone.json.dump();

  // The old device credential is unknown to the server now: auth.failed.
  auto unknown = Cli(server, "authenticate", account, kD10, 300, 450, "device-copy");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.json.dump() << "\n" << unknown.err;
  EXPECT_EQ(unknown.json["outcome"], "refused");
  EXPECT_EQ(unknown.json["reasons"][0], "auth.failed") << unknown.json.dump();
}

// The phone replay of the registered person, under an action challenge
// scripted to what the replay shows (the phone's rotation at 6.3-6.7 s, an
// apparent turn to the face's right): refused. Under the passive tier this
// replay was ACCEPTED (known gap of the previous version); the action
// challenge is what stops it. The server's judgement does not find the
// turn on the face crops (actions.missing:turn_right); the client's own
// preliminary check sees the rotation but flags implausible angular speed.
// R-SRV-ASJ-1, R-ASD-4: a replayed video of the registered person is judged not live.
TEST_P(E2eFlows, PhoneReplayOfTheRegisteredPersonIsRefused) {
  LG_REQUIRE_MODELS();
  LG_REQUIRE_TEST_DATA(kReal);
  LG_REQUIRE_TEST_DATA(kReplay);
  Server server;
  ASSERT_TRUE(server.Start(dir_, Database()).ok()) << ReadFile(dir_ / "server.out");
  const std::string account = "zubair-" + Hex(4), password = "pw-" + Hex(8);
  ASSERT_EQ(server.CreateAccount(account, password).exit_code, 0);
  // zubair_real frames 60-133 (4.0-8.9 s): turns his head to his right.
  server.Script(account, "registration", ScriptJson({{"turn_right", 2000, 4700}}, 4800));
  auto reg = Cli(server, "register", account, kReal, 60, 133, "device", password);
  ASSERT_EQ(reg.exit_code, 0) << reg.json.dump() << "\n" << reg.err;
  EXPECT_EQ(reg.json["outcome"], "registered");

  // Frames 26-104 (1.7-6.9 s): the live author has left the picture; the
  // turn window covers the phone's rotation.
  server.Script(account, "authentication", ScriptJson({{"turn_right", 3800, 5100}}, 5200));
  auto replay = Cli(server, "authenticate", account, kReplay, 26, 104, "device");
  EXPECT_EQ(replay.exit_code, 1) << replay.json.dump() << "\n" << replay.err;
  EXPECT_EQ(replay.json["outcome"], "refused");
  EXPECT_EQ(replay.json["asd_type"], "actions");
  EXPECT_EQ(replay.json["reasons"], nlohmann::json::array({"asd.not_live"})) << replay.json.dump();
  const auto reasons = server.LastCaptureReasons(account);
  EXPECT_TRUE(Contains(reasons, "actions.missing:turn_right")) << nlohmann::json(reasons).dump();
}

// Issue 15: with the shipped decision policy a new device lands in the high
// tier (actions+light), whose screen colours the CLI cannot show. The CLI
// stops before capturing and names the client that can (the browser page);
// nothing is registered.
TEST_P(E2eFlows, ShippedPolicyTellsTheCliToUseTheBrowser) {
  LG_REQUIRE_MODELS();
  LG_REQUIRE_TEST_DATA(kD10);
  Server server;
  ServerSetup setup;
  setup.shipped_policy = true;
  ASSERT_TRUE(server.Start(dir_, Database(), setup).ok()) << ReadFile(dir_ / "server.out");
  const std::string account = "light-" + Hex(4), password = "pw-" + Hex(8);
  ASSERT_EQ(server.CreateAccount(account, password).exit_code, 0);
  auto reg = Cli(server, "register", account, kD10, 0, 120, "device", password);
  EXPECT_EQ(reg.exit_code, 1) << reg.json.dump() << "\n" << reg.err;
  EXPECT_EQ(reg.json["outcome"], "refused");
  EXPECT_EQ(reg.json["tier"], "high");
  EXPECT_EQ(reg.json["asd_type"], "actions+light");
  EXPECT_EQ(reg.json["reasons"], nlohmann::json::array({"client.light_unsupported"})) << reg.json.dump();
  EXPECT_NE(reg.json.value("message", "").find(server.url() + "/app/"), std::string::npos) << reg.json.dump();
  // No capture was sent: the server judged nothing and registered nothing.
  EXPECT_TRUE(server.LastCaptureReasons(account).empty());
  // ... and this device holds no credential afterwards.
  auto after = Cli(server, "authenticate", account, kD10, 300, 450, "device");
  EXPECT_EQ(after.exit_code, 1) << after.json.dump() << "\n" << after.err;
  EXPECT_EQ(after.json["reasons"], nlohmann::json::array({"secret.not_found"})) << after.json.dump();
}

// Issue 13: the example config as shipped carries a blink challenge at the
// camera's rate. liveportrait_d6 (30 fps) shuts both eyes at source frame
// 208 (integration_iris_eye_test): from frame 180 that is t = 0.93 s, a
// closure of a few 30 fps frames. The CLI sends every frame of the blink
// window (capture rate rule, judgement/capture_rate.h) and ~15 fps
// elsewhere; the server, limited as config/server.example.json ships,
// accepts the package and sees the blink.
TEST_P(E2eFlows, ShippedExampleConfigCarriesABlinkAtTheCameraRate) {
  LG_REQUIRE_MODELS();
  const char* kD6 = "2_face_video/liveportrait/liveportrait_d6.mp4";
  LG_REQUIRE_TEST_DATA(kD6);
  Server server;
  ServerSetup setup;
  setup.shipped_example_config = true;
  ASSERT_TRUE(server.Start(dir_, Database(), setup).ok()) << ReadFile(dir_ / "server.out");
  const std::string account = "d6-" + Hex(4), password = "pw-" + Hex(8);
  auto created = server.CreateAccount(account, password);
  ASSERT_EQ(created.exit_code, 0) << created.out << created.err;
  // Frames 180-300 (4 s): blink window 0.4-2.4 s (+0.75 s slack), 3 s challenge.
  server.Script(account, "registration", ScriptJson({{"blink", 400, 2400}}, 3000));
  auto reg = Cli(server, "register", account, kD6, 180, 300, "device", password);
  ASSERT_EQ(reg.exit_code, 0) << reg.json.dump() << "\n" << reg.err;
  EXPECT_EQ(reg.json["outcome"], "registered");
  EXPECT_EQ(reg.json["challenge"], nlohmann::json::array({"blink"}));
  // The server sees the blink; the CLI's local preliminary check does not
  // (it reads the mesh's eyelids, which never close: docs/ANTISPOOFING.md),
  // which the audit records as client.mismatch (decision 11.10).
  EXPECT_EQ(server.LastCaptureReasons(account),
            (std::vector<std::string>{"asd.live", "client.mismatch", "template.frames:3"}));
  // 3.75 s recorded: the 2.75 s blink window at 30 fps (~82 frames) and
  // ~1 s at 15 fps (~15): far more than 15 fps throughout (~57 frames).
  const int sent = reg.json["frames_sent"].get<int>();
  EXPECT_GE(sent, 85) << reg.json.dump();
  EXPECT_LE(sent, 110) << reg.json.dump();
}

INSTANTIATE_TEST_SUITE_P(Backends, E2eFlows, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace livegate::client::e2e
