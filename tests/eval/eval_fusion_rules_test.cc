// Multi-frame fusion rules of `livegate eval video` (issue 14) on
// hand-made descriptors: each rule's distance computed by hand.
#include <cmath>

#include <gtest/gtest.h>

#include "eval/video_runner.h"
#include "judgement/judgement.h"

namespace livegate::eval {
namespace {

VideoFrameRecord Frame(float x, float y, float yaw) {
  VideoFrameRecord f;
  f.descriptor[0] = x;
  f.descriptor[1] = y;
  f.yaw_deg = yaw;
  return f;
}

TEST(FusionRulesTest, EachRuleByHand) {
  VideoSegment a, b;
  a.frames = {Frame(0, 0, 30), Frame(1, 0, 2)};   // mean (0.5, 0); most frontal (1, 0)
  b.frames = {Frame(0, 3, 0), Frame(1, 1, 20)};   // mean (0.5, 2); most frontal (0, 3)
  // single: first frames (0,0) vs (0,3).
  EXPECT_NEAR(FusedDistance(FusionRule::kSingle, a, b), 3.0, 1e-6);
  // mean: (0.5,0) vs (0.5,2).
  EXPECT_NEAR(FusedDistance(FusionRule::kMean, a, b), 2.0, 1e-6);
  // best (most frontal): (1,0) vs (0,3) = sqrt(10).
  EXPECT_NEAR(FusedDistance(FusionRule::kBest, a, b), std::sqrt(10.0), 1e-6);
  // frame pairs: (0,0)-(0,3)=3, (0,0)-(1,1)=1.414, (1,0)-(0,3)=3.162, (1,0)-(1,1)=1.
  EXPECT_NEAR(FusedDistance(FusionRule::kMin, a, b), 1.0, 1e-6);
  EXPECT_NEAR(FusedDistance(FusionRule::kMedian, a, b), 0.5 * (std::sqrt(2.0) + 3.0), 1e-6);
  EXPECT_STREQ(FusionRuleName(FusionRule::kMedian), "median");
}

CaptureTemplate Template(float x, float y, int frames) {
  CaptureTemplate t;
  t.descriptor[0] = x;
  t.descriptor[1] = y;
  t.frames = frames;
  return t;
}

// The server's rules compare the segments' capture templates; the photo
// rule takes the first frame of `a` against `b`'s live template.
TEST(FusionRulesTest, CaptureRulesCompareTheServerTemplates) {
  VideoSegment a, b;
  a.frames = {Frame(0, 0, 0), Frame(9, 9, 0)};
  b.frames = {Frame(5, 5, 0)};
  a.capture = Template(1, 0, 3);
  b.capture = Template(1, 2, 3);
  a.capture_spread = Template(0, 1, 3);
  b.capture_spread = Template(3, 5, 3);
  EXPECT_NEAR(FusedDistance(FusionRule::kCapture, a, b), 2.0, 1e-6);
  EXPECT_NEAR(FusedDistance(FusionRule::kCaptureSpread, a, b), 5.0, 1e-6);
  EXPECT_NEAR(FusedDistance(FusionRule::kPhotoVsCapture, a, b), std::sqrt(5.0), 1e-6);  // (0,0) vs (1,2)
}

// judgement::ComparisonFrames, the frames the server averages: the first,
// middle and last in time of the frames passing quality.
TEST(FusionRulesTest, ComparisonFramesAreSpreadOverThePassingFrames) {
  judgement::QualityReport q;
  for (int i = 0; i < 9; ++i) {
    judgement::FrameQuality f;
    f.index = i;
    f.passed = i != 4 && i != 8;  // passing: 0 1 2 3 5 6 7
    f.score = 90 - i;
    q.frames.push_back(f);
  }
  judgement::Policy p;
  EXPECT_EQ(judgement::ComparisonFrames(q, p), (std::vector<int>{0, 3, 7}));
  p.quality.best_frames = 1;
  EXPECT_EQ(judgement::ComparisonFrames(q, p), (std::vector<int>{0}));
  p.quality.best_frames = 3;
  for (auto& f : q.frames) f.passed = f.index == 6;
  EXPECT_EQ(judgement::ComparisonFrames(q, p), (std::vector<int>{6}));
  for (auto& f : q.frames) f.passed = false;
  EXPECT_TRUE(judgement::ComparisonFrames(q, p).empty());
}

TEST(FusionRulesTest, OneFrameSegmentsAgreeOnEveryRule) {
  VideoSegment a, b;
  a.frames = {Frame(0.2f, 0.1f, 0)};
  b.frames = {Frame(0.5f, 0.5f, 0)};
  a.capture = a.capture_spread = Template(0.2f, 0.1f, 1);
  b.capture = b.capture_spread = Template(0.5f, 0.5f, 1);
  for (FusionRule r : kFusionRules) EXPECT_NEAR(FusedDistance(r, a, b), 0.5, 1e-6) << FusionRuleName(r);
}

TEST(FusionRulesTest, NoClipsIsBadInput) {
  VideoOptions o;
  auto r = RunVideoEval(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "eval.no_clips");
}

}  // namespace
}  // namespace livegate::eval
