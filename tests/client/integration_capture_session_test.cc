// R-CLI-ENV-1, R-CLI-ASD-1..5, R-CLI-QD-1/2 on a real webcam clip: the
// guided capture follows a challenge and detects the actions the clip shows.
// zubair_real.webm (15 fps, 960x540): neutral until ~6.5 s, the head turns
// to the user's right around 7.0-8.8 s (yaw -46..-51 deg) and to the left
// around 9.2-9.8 s (yaw +27..+61 deg) - measured with `livegate analyze`.
#include "client/capture_session.h"

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace livegate::client {
namespace {

const char* kClip = "3_presentation_attack/zubaircrackscode/zubair_real.webm";

judgement::Challenge TurnChallenge() {
  judgement::Challenge c;
  c.id = "test";
  c.type = judgement::AsdType::kActions;
  c.steps = {{judgement::Action::kTurnRight, 6500, 8800}, {judgement::Action::kTurnLeft, 8800, 10000}};
  c.duration_ms = 10200;
  c.scripted = true;
  return c;
}

class CaptureSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(testing::ModelDir() / "blazeface.json")) return;
    vision::AnalyzerOptions ao;
    ao.model_dir = testing::ModelDir();
    ao.compute_descriptor = false;
    auto a = vision::FaceAnalyzer::Create(ao);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    analyzer_ = std::move(a).value();
  }
  Result<CaptureOutcome> Run(const judgement::Challenge& c, std::vector<CaptureEvent>* events) {
    CaptureOptions o;
    o.path = testing::TestDataDir() / kClip;
    auto source = FrameSource::Open(o);
    if (!source.ok()) return source.status();
    return RunCaptureSession(**source, *analyzer_, c, {}, [events](const CaptureEvent& e) { events->push_back(e); });
  }
  std::unique_ptr<vision::FaceAnalyzer> analyzer_;
};

// R-CLI-CAP-2, R-FLOW-REG-5, R-FLOW-AUT-5, R-FLOW-DER-5: captured frames go through local ASD and quality; prompts follow the challenge.
TEST_F(CaptureSessionTest, FollowsTheChallengeAndDetectsTheTurns) {
  LG_REQUIRE_MODELS();
  LG_REQUIRE_TEST_DATA(kClip);
  std::vector<CaptureEvent> events;
  auto out = Run(TurnChallenge(), &events);
  ASSERT_TRUE(out.ok()) << out.status().ToString() << " face luma "
                        << (events.empty() ? -1 : events.back().environment.face_brightness) << " background "
                        << (events.empty() ? -1 : events.back().environment.background_brightness);
  // ~16 analysed frames a second over 10.95 s, all with the face.
  EXPECT_GE(out->frames.size(), 140u);
  EXPECT_LE(out->frames.size(), 170u);
  ASSERT_EQ(out->preliminary.detected.size(), 2u) << out->preliminary.reason;
  EXPECT_EQ(out->preliminary.detected[0].rfind("turn_right@", 0), 0u);
  EXPECT_EQ(out->preliminary.detected[1].rfind("turn_left@", 0), 0u);
  EXPECT_GE(out->preliminary.best_frame_index, 0);

  // The prompts followed the challenge: lead-in, then step 1, then step 2, then done.
  bool saw_lead_in = false, saw_step1 = false, saw_step2 = false;
  for (const auto& e : events) {
    if (e.kind != CaptureEvent::Kind::kCapturing) continue;
    if (e.elapsed_ms < 6000) saw_lead_in |= e.progress.current_step == -1;
    if (e.progress.current_action == "turn_right") saw_step1 = true;
    if (e.progress.current_action == "turn_left") {
      saw_step2 = true;
      EXPECT_EQ(e.progress.steps_done, 1);
    }
  }
  EXPECT_TRUE(saw_lead_in);
  EXPECT_TRUE(saw_step1);
  EXPECT_TRUE(saw_step2);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, CaptureEvent::Kind::kDone);
  EXPECT_EQ(events.back().progress.steps_done, 2);
}

TEST_F(CaptureSessionTest, AnActionTheClipDoesNotShowIsMissing) {
  LG_REQUIRE_MODELS();
  LG_REQUIRE_TEST_DATA(kClip);
  auto c = TurnChallenge();
  c.steps = {{judgement::Action::kOpenMouth, 1000, 3500}};
  c.duration_ms = 4000;
  std::vector<CaptureEvent> events;
  auto out = Run(c, &events);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_FALSE(out->preliminary.live);
  EXPECT_EQ(out->preliminary.reason, "actions.missing:open_mouth");
  EXPECT_TRUE(out->preliminary.detected.empty());
}

TEST_F(CaptureSessionTest, FileWhoseFirstFramesFailTheConditionsIsRefusedWithAdvice) {
  LG_REQUIRE_MODELS();
  LG_REQUIRE_TEST_DATA(kClip);
  CaptureSessionOptions so;
  so.environment.min_face_width = 0.5;  // this clip's face is ~18% of the width
  CaptureOptions o;
  o.path = testing::TestDataDir() / kClip;
  auto source = FrameSource::Open(o);
  ASSERT_TRUE(source.ok());
  std::vector<std::string> advice_codes;
  auto out = RunCaptureSession(**source, *analyzer_, TurnChallenge(), so, [&](const CaptureEvent& e) {
    for (const auto& i : e.environment.issues) advice_codes.push_back(i.code);
  });
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().reason(), "env.conditions_not_met");
  EXPECT_NE(out.status().message().find("move closer"), std::string::npos) << out.status().message();
  EXPECT_NE(std::find(advice_codes.begin(), advice_codes.end(), "env.too_far"), advice_codes.end());
}

}  // namespace
}  // namespace livegate::client
