// The combination of the anti-spoofing checks (issue 13, judgement/fusion.h;
// R-SRV-ASJ-1/4): the AND rule unchanged when no passive model is
// configured, the fused rule's hard vetoes, its monotonicity in every soft
// check, the passive model's check and the frames it scores.
#include <gtest/gtest.h>

#include "judgement/fusion.h"
#include "judgement/judgement.h"
#include "judgement/synthetic.h"

namespace livegate::judgement {
namespace {

using testing::MakeSequence;
using testing::SynthFrame;
using testing::ThreeStepChallenge;
using testing::ThreeStepUser;

CheckResult C(std::string name, bool passed, float score, std::string reason) {
  CheckResult c;
  c.name = std::move(name);
  c.passed = passed;
  c.score = score;
  c.reason = std::move(reason);
  return c;
}

// Every required check passing, confidently.
LivenessVerdict AllPass() {
  LivenessVerdict v;
  v.checks = {C("capture", true, 1, "capture.ok"),       C("actions", true, 1, "actions.ok"),
              C("face_angle", true, 1, "face_angle.ok"), C("geometry", true, 1, "geometry.parallax"),
              C("continuity", true, 1, "continuity.ok"), C("replay", true, 1, "replay.ok"),
              C("photo", true, 1, "photo.ok")};
  return v;
}
CheckResult& Get(LivenessVerdict& v, const std::string& name) {
  for (auto& c : v.checks) {
    if (c.name == name) return c;
  }
  v.checks.push_back(C(name, true, 1, name + ".ok"));
  return v.checks.back();
}
Policy Fused() {
  Policy p;
  p.combine.combination = "fused";
  return p;
}
LivenessVerdict Combined(LivenessVerdict v, const Policy& p) {
  CombineChecks(v, p);
  return v;
}

TEST(FusionTest, HardVetoesRefuseWhateverTheOtherChecksSay) {
  const Policy p = Fused();
  for (const auto& [name, reason] : std::vector<std::pair<std::string, std::string>>{
           {"actions", "actions.missing:blink"},
           {"continuity", "continuity.multiple_faces"},
           {"continuity", "continuity.slideshow"},
           {"continuity", "continuity.identity_changed"},
           {"replay", "replay.no_colour_response"}}) {
    LivenessVerdict v = AllPass();
    // Even a veto scored just below its threshold, with every other check
    // at its most confident.
    Get(v, name) = C(name, false, 0.49f, reason);
    const auto out = Combined(v, p);
    EXPECT_FALSE(out.live) << reason;
    EXPECT_EQ(out.reason, reason);
    EXPECT_LT(out.score, p.combine.threshold) << reason;
    EXPECT_TRUE(IsHardVeto(Get(v, name), p));
  }
  // A failed gate refuses whatever its reason.
  Policy no_vetoes = p;
  no_vetoes.combine.vetoes.clear();
  LivenessVerdict g = AllPass();
  Get(g, "actions") = C("actions", false, 0.4f, "actions.missing:nod");
  EXPECT_FALSE(Combined(g, no_vetoes).live);
  // A vetoing reason removed from the policy becomes soft evidence.
  Policy soft = p;
  soft.combine.vetoes = {"capture."};
  LivenessVerdict v = AllPass();
  Get(v, "replay") = C("replay", false, 0.49f, "replay.no_colour_response");
  EXPECT_TRUE(Combined(v, soft).live);
}

TEST(FusionTest, AMarginalSoftFailureIsOutweighedAClearOneIsNot) {
  LivenessVerdict v = AllPass();
  Get(v, "geometry") = C("geometry", false, 0.45f, "geometry.planar");
  // AND rule: refused by the one marginal check.
  const auto and_rule = Combined(v, Policy());
  EXPECT_FALSE(and_rule.live);
  EXPECT_EQ(and_rule.reason, "geometry.planar");
  // Fused: the other checks' evidence outweighs it.
  const auto fused = Combined(v, Fused());
  EXPECT_TRUE(fused.live);
  EXPECT_EQ(fused.reason, "asd.live");
  // Two clear failures: refused, named after the one that pulls hardest.
  Get(v, "geometry") = C("geometry", false, 0.02f, "geometry.planar");
  Get(v, "photo") = C("photo", false, 0.05f, "photo.planar_motion");
  Get(v, "replay") = C("replay", false, 0.1f, "replay.moire");
  const auto refused = Combined(v, Fused());
  EXPECT_FALSE(refused.live);
  EXPECT_EQ(refused.reason, "geometry.planar");
  EXPECT_LT(refused.score, 0.5f);
}

TEST(FusionTest, FusedScoreIsMonotonicInEverySoftCheck) {
  const Policy p = Fused();
  for (const std::string name : {"face_angle", "geometry", "continuity", "replay", "photo", "pad_model"}) {
    float last_score = -1;
    bool was_live = false;
    for (int k = 0; k <= 100; ++k) {
      LivenessVerdict v = AllPass();
      // A mixed background so the sweep crosses the decision.
      Get(v, "geometry") = C("geometry", false, 0.45f, "geometry.planar");
      Get(v, "photo") = C("photo", false, 0.4f, "photo.planar_motion");
      Get(v, "pad_model") = C("pad_model", false, 0.45f, "pad_model.spoof");
      const float s = k / 100.0f;
      Get(v, name) = C(name, s >= 0.5f, s, s >= 0.5f ? name + ".ok" : name + ".low");
      const auto out = Combined(v, p);
      EXPECT_GE(out.score, last_score) << name << " at " << s;
      EXPECT_FALSE(was_live && !out.live) << name << " at " << s << ": a higher score refused";
      last_score = out.score, was_live = out.live;
    }
    EXPECT_TRUE(was_live) << name << ": the sweep never reached live";
  }
}

TEST(FusionTest, EvidenceIsTheClampedLogitAndWeightsApply) {
  EXPECT_FLOAT_EQ(CheckEvidence(0.5f), 0.0f);
  EXPECT_FLOAT_EQ(CheckEvidence(1.0f), kMaxPassEvidence);
  EXPECT_FLOAT_EQ(CheckEvidence(0.0f), -kMaxEvidence);
  EXPECT_NEAR(CheckEvidence(0.25f), -std::log(3.0f), 1e-5f);
  EXPECT_NEAR(CheckEvidence(0.6f), std::log(1.5f), 1e-5f);
  LivenessVerdict v = AllPass();
  Get(v, "pad_model") = C("pad_model", false, 0.05f, "pad_model.spoof");
  Policy p = Fused();
  const float with_model = FusedEvidence(v.checks, p);
  p.combine.fused_weights["pad_model"] = 0;
  // The five soft checks at the pass cap; capture and actions are gates.
  EXPECT_FLOAT_EQ(FusedEvidence(v.checks, p), 5 * kMaxPassEvidence);  // the model weighs nothing
  EXPECT_FLOAT_EQ(with_model, 5 * kMaxPassEvidence + CheckEvidence(0.05f));
  EXPECT_LT(with_model, 0.0f);  // one clear spoof signal outweighs five quiet cues
  // Not required and not the model: not weighed (mask_cg by default).
  Get(v, "mask_cg") = C("mask_cg", false, 0.0f, "mask_cg.model_flagged");
  EXPECT_FLOAT_EQ(FusedEvidence(v.checks, p), 5 * kMaxPassEvidence);
}

// The slot off: the verdict is exactly the AND rule's as it was before
// issue 13 (reference: the loop JudgeLiveness had), with no extra check.
// 35 deg: the flat sequence's turn is measurable, so geometry refuses it.
SynthFrame BonaFide(std::int64_t t) { return ThreeStepUser(t, 35.0f); }
Challenge ThreeSteps() { return ThreeStepChallenge(); }
void ExpectOldAndRule(const LivenessVerdict& v, const Policy& p) {
  float score = 1;
  bool live = true;
  std::string reason = "asd.live";
  for (const auto& c : v.checks) {
    if (std::find(p.combine.required.begin(), p.combine.required.end(), c.name) == p.combine.required.end() ||
        !c.applicable)
      continue;
    score = std::min(score, c.score);
    if (!c.passed && live) live = false, reason = c.reason;
  }
  if (live && score < p.combine.threshold) live = false, reason = "asd.low_score";
  EXPECT_EQ(v.live, live);
  EXPECT_EQ(v.reason, reason);
  EXPECT_FLOAT_EQ(v.score, score);
  EXPECT_EQ(v.checks.size(), 8u);  // capture + the 6 checks + mask_cg
  EXPECT_EQ(v.Find("pad_model"), nullptr);
}

TEST(FusionTest, WithoutAModelTheVerdictIsTheAndRuleAsBefore) {
  const Policy p;
  ASSERT_EQ(p.combine.combination, "all_checks");  // the shipped default
  const auto bona = MakeSequence(8500, 15, false, BonaFide);
  const auto flat = MakeSequence(8500, 15, true, BonaFide);
  auto frozen = MakeSequence(8500, 15, true, [](std::int64_t) { return SynthFrame{}; });
  for (auto& o : frozen) o.frame_difference = o.index == 0 ? -1.0f : 0.02f;
  for (const std::vector<FrameObservation>* obs : {&bona, &flat, static_cast<const std::vector<FrameObservation>*>(&frozen)}) {
    const auto v = JudgeLiveness(ThreeSteps(), *obs, p);
    ExpectOldAndRule(v, p);
  }
  EXPECT_TRUE(JudgeLiveness(ThreeSteps(), bona, p).live);
  EXPECT_FALSE(JudgeLiveness(ThreeSteps(), flat, p).live);
}

TEST(FusionTest, ModelScoresMakeAPadModelCheckThatOnlyTheFusedRuleWeighsByDefault) {
  auto obs = MakeSequence(8500, 15, false, BonaFide);
  for (int i : {10, 60, 110}) obs[std::size_t(i)].pad_live_score = 0.02f;  // the model says spoof
  Policy p;
  auto v = JudgeLiveness(ThreeSteps(), obs, p);
  const CheckResult* pad = v.Find("pad_model");
  ASSERT_NE(pad, nullptr);
  EXPECT_TRUE(pad->applicable);
  EXPECT_FALSE(pad->passed);
  EXPECT_EQ(pad->reason, "pad_model.spoof");
  EXPECT_NEAR(pad->score, 0.5f * 0.02f / 0.5f, 1e-6f);  // 0.5 at pad_model_threshold
  EXPECT_TRUE(v.live);  // AND rule: not required
  p.combine.required.push_back("pad_model");
  v = JudgeLiveness(ThreeSteps(), obs, p);
  EXPECT_FALSE(v.live);
  EXPECT_EQ(v.reason, "pad_model.spoof");
  // Live probabilities above the threshold pass, scored above 0.5.
  for (int i : {10, 60, 110}) obs[std::size_t(i)].pad_live_score = 0.9f;
  const CheckResult ok = CheckPassiveModel(obs, Policy());
  EXPECT_TRUE(ok.passed);
  EXPECT_NEAR(ok.score, 0.9f, 1e-6f);
}

TEST(FusionTest, ThePassiveModelScoresTheBestFramesThenSpreadFrames) {
  auto obs = MakeSequence(2000, 15, false, [](std::int64_t) { return SynthFrame{}; });
  ASSERT_EQ(obs.size(), 31u);
  obs[5].has_face = false;
  QualityReport q;
  q.best_frames = {20, 5, 7};  // 5 has no face: skipped
  Policy p;
  EXPECT_EQ(FramesForPassiveModel(obs, q, p), (std::vector<int>{7, 16, 20}));  // 16: middle face frame
  p.combine.pad_model_frames = 2;
  EXPECT_EQ(FramesForPassiveModel(obs, q, p), (std::vector<int>{7, 20}));
  q.best_frames.clear();  // quality refused: spread over the capture
  p.combine.pad_model_frames = 3;
  EXPECT_EQ(FramesForPassiveModel(obs, q, p), (std::vector<int>{0, 15, 30}));
}

TEST(FusionTest, PolicyFieldsRoundTripAndBadValuesAreRefused) {
  Policy p = Fused();
  p.combine.fused_weights["geometry"] = 2.5f;
  p.combine.fused_bias = 0.75f;
  p.combine.vetoes = {"capture.", "actions."};
  auto back = PolicyFromJson(PolicyToJson(p));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->combine.combination, "fused");
  EXPECT_FLOAT_EQ(back->combine.fused_weights.at("geometry"), 2.5f);
  EXPECT_FLOAT_EQ(back->combine.fused_bias, 0.75f);
  EXPECT_EQ(back->combine.vetoes, (std::vector<std::string>{"capture.", "actions."}));
  for (const char* bad : {R"({"combine": {"combination": "or"}})", R"({"combine": {"fused_weights": {"telepathy": 1}}})",
                          R"({"combine": {"fused_weights": {"photo": -1}}})", R"({"combine": {"pad_model_threshold": 1}})",
                          R"({"combine": {"pad_model_frames": 0}})"}) {
    EXPECT_EQ(PolicyFromJson(bad).status().reason(), "policy.bad_value") << bad;
  }
}

}  // namespace
}  // namespace livegate::judgement
