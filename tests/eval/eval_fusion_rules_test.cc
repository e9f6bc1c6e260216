// Multi-frame fusion rules of `livegate eval video` (issue 14) on
// hand-made descriptors: each rule's distance computed by hand.
#include <cmath>

#include <gtest/gtest.h>

#include "eval/video_runner.h"

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

TEST(FusionRulesTest, OneFrameSegmentsAgreeOnEveryRule) {
  VideoSegment a, b;
  a.frames = {Frame(0.2f, 0.1f, 0)};
  b.frames = {Frame(0.5f, 0.5f, 0)};
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
