// Metrics on small score sets whose every figure was computed by hand
// (ISO/IEC 19795-1 FMR/FNMR/EER, ISO/IEC 30107-3 APCER/BPCER/ACER).
#include "eval/metrics.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace livegate::eval {
namespace {

constexpr double kEps = 1e-12;

// Distances (lower = genuine). Hand-computed DET, accept iff d <= t:
//   t    1.0  0.9  0.8  0.7  0.6  0.5  0.4  0.3  0.1  -inf
//   FMR  1    .8   .6   .4   .4   .2   .2   0    0    0
//   FNMR 0    0    0    0    .25  .25  .5   .5   .75  1
ScoreSet DistanceSet() {
  ScoreSet s;
  s.positives = {0.1, 0.3, 0.5, 0.7};
  s.negatives = {0.4, 0.6, 0.8, 0.9, 1.0};
  s.polarity = Polarity::kLowerIsPositive;
  return s;
}

TEST(MetricsTest, DetCurveMatchesHandComputedStaircase) {
  auto det = ComputeDet(DistanceSet());
  ASSERT_TRUE(det.ok()) << det.status().message();
  const double t[] = {1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.1};
  const double far[] = {1, .8, .6, .4, .4, .2, .2, 0, 0, 0};
  const double frr[] = {0, 0, 0, 0, .25, .25, .5, .5, .75, 1};
  ASSERT_EQ(det->size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    if (i < 9) {
      EXPECT_DOUBLE_EQ((*det)[i].threshold, t[i]) << i;
    }
    EXPECT_NEAR((*det)[i].far, far[i], kEps) << i;
    EXPECT_NEAR((*det)[i].frr, frr[i], kEps) << i;
    EXPECT_EQ((*det)[i].positives, 4u);
    EXPECT_EQ((*det)[i].negatives, 5u);
  }
  EXPECT_EQ((*det)[9].threshold, -std::numeric_limits<double>::infinity());
}

TEST(MetricsTest, EerInterpolatesBetweenBracketingPoints) {
  // Crossing between t=0.6 (FMR .4, FNMR .25) and t=0.5 (FMR .2, FNMR .25):
  // lambda = 0.15 / 0.2 = 0.75 -> EER = 0.25, threshold 0.525.
  auto eer = ComputeEer(DistanceSet());
  ASSERT_TRUE(eer.ok());
  EXPECT_NEAR(eer->eer, 0.25, kEps);
  EXPECT_NEAR(eer->threshold, 0.525, kEps);
  EXPECT_DOUBLE_EQ(eer->below.threshold, 0.6);
  EXPECT_DOUBLE_EQ(eer->above.threshold, 0.5);
}

TEST(MetricsTest, HigherIsPositiveGivesSameRatesWithNegatedThresholds) {
  ScoreSet s = DistanceSet();
  for (auto& v : s.positives) v = -v;
  for (auto& v : s.negatives) v = -v;
  s.polarity = Polarity::kHigherIsPositive;
  auto eer = ComputeEer(s);
  ASSERT_TRUE(eer.ok());
  EXPECT_NEAR(eer->eer, 0.25, kEps);
  EXPECT_NEAR(eer->threshold, -0.525, kEps);
  auto p = AtThreshold(s, -0.6);
  ASSERT_TRUE(p.ok());
  EXPECT_NEAR(p->far, 0.4, kEps);
  EXPECT_NEAR(p->frr, 0.25, kEps);
}

TEST(MetricsTest, EerExactlyOnAPoint) {
  // t=.5: (1, 0); t=.4: (.5, 0); t=.3: (.5, .5) -> EER .5 at t=.3.
  ScoreSet s{{0.2, 0.4}, {0.3, 0.5}, Polarity::kLowerIsPositive};
  auto eer = ComputeEer(s);
  ASSERT_TRUE(eer.ok());
  EXPECT_NEAR(eer->eer, 0.5, kEps);
  EXPECT_DOUBLE_EQ(eer->threshold, 0.3);
}

TEST(MetricsTest, PerfectSeparationHasZeroEer) {
  ScoreSet s{{0.1, 0.2}, {0.8, 0.9}, Polarity::kLowerIsPositive};
  auto eer = ComputeEer(s);
  ASSERT_TRUE(eer.ok());
  EXPECT_EQ(eer->eer, 0.0);
  EXPECT_DOUBLE_EQ(eer->threshold, 0.2);
}

TEST(MetricsTest, FullTieGivesHalfEer) {
  ScoreSet s{{0.5}, {0.5}, Polarity::kLowerIsPositive};
  auto eer = ComputeEer(s);
  ASSERT_TRUE(eer.ok());
  EXPECT_NEAR(eer->eer, 0.5, kEps);
  EXPECT_DOUBLE_EQ(eer->threshold, 0.5);
}

TEST(MetricsTest, AtThresholdCountsInclusiveBoundary) {
  auto p = AtThreshold(DistanceSet(), 0.6);  // 0.6 impostor accepted (<=)
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->false_accepts, 2u);
  EXPECT_EQ(p->false_rejects, 1u);
  EXPECT_NEAR(p->far, 0.4, kEps);
  EXPECT_NEAR(p->frr, 0.25, kEps);
  EXPECT_TRUE(Accepts(Polarity::kLowerIsPositive, 0.6, 0.6));
  EXPECT_TRUE(Accepts(Polarity::kHigherIsPositive, 0.6, 0.6));
  EXPECT_FALSE(Accepts(Polarity::kLowerIsPositive, 0.61, 0.6));
}

TEST(MetricsTest, FrrAtFarTargetIsTheMostLenientPointWithinTarget) {
  auto p20 = AtFarTarget(DistanceSet(), 0.2);
  ASSERT_TRUE(p20.ok());
  EXPECT_DOUBLE_EQ(p20->threshold, 0.5);
  EXPECT_NEAR(p20->frr, 0.25, kEps);
  // FMR = 1 % cannot be resolved with 5 impostors: the point has FMR = 0.
  auto p1 = AtFarTarget(DistanceSet(), 0.01);
  ASSERT_TRUE(p1.ok());
  EXPECT_DOUBLE_EQ(p1->threshold, 0.3);
  EXPECT_EQ(p1->far, 0.0);
  EXPECT_NEAR(p1->frr, 0.5, kEps);
  // The strictest point with FNMR <= .25 is t=.5 (FMR .2).
  auto q = AtFrrTarget(DistanceSet(), 0.25);
  ASSERT_TRUE(q.ok());
  EXPECT_DOUBLE_EQ(q->threshold, 0.5);
  EXPECT_NEAR(q->far, 0.2, kEps);
}

TEST(MetricsTest, SummaryCollectsAllFigures) {
  auto s = SummariseVerification(DistanceSet(), 0.6);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->genuine, 4u);
  EXPECT_EQ(s->impostor, 5u);
  EXPECT_NEAR(s->eer.eer, 0.25, kEps);
  EXPECT_NEAR(s->at_fmr_1pct.frr, 0.5, kEps);
  EXPECT_NEAR(s->at_fmr_0_1pct.frr, 0.5, kEps);
  EXPECT_DOUBLE_EQ(s->at_fmr_0_01pct.threshold, 0.3);
  EXPECT_EQ(s->at_threshold.false_accepts, 2u);
}

TEST(MetricsTest, BadInputsHaveSpecificReasons) {
  ScoreSet no_pos{{}, {1.0}, Polarity::kLowerIsPositive};
  EXPECT_EQ(ComputeEer(no_pos).status().reason(), "eval.no_positives");
  ScoreSet no_neg{{1.0}, {}, Polarity::kLowerIsPositive};
  EXPECT_EQ(ComputeDet(no_neg).status().reason(), "eval.no_negatives");
  ScoreSet nan{{std::nan("")}, {1.0}, Polarity::kLowerIsPositive};
  EXPECT_EQ(AtThreshold(nan, 0.5).status().reason(), "eval.non_finite_score");
  EXPECT_EQ(AtFarTarget(DistanceSet(), 1.5).status().reason(), "eval.bad_target");
  EXPECT_EQ(AtFrrTarget(DistanceSet(), -0.1).status().reason(), "eval.bad_target");
}

// PAD (higher = bona fide), threshold 0.65, accept iff score >= 0.65:
//   bona fide .9 .8 .3 .7 -> .3 rejected: BPCER 1/4
//   print .1 .6 .2 -> none accepted: APCER 0
//   replay .75 .5 -> .75 accepted: APCER 1/2 (the maximum)
//   pooled 1/5; ACER = (1/2 + 1/4) / 2 = 0.375
PadScores Pad() {
  PadScores p;
  p.bona_fide = {0.9, 0.8, 0.3, 0.7};
  p.attacks["print"] = {0.1, 0.6, 0.2};
  p.attacks["replay"] = {0.75, 0.5};
  return p;
}

TEST(PadMetricsTest, Iso30107ErrorRatesAtThreshold) {
  auto r = PadErrorsAt(Pad(), 0.65);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->bpcer, 0.25, kEps);
  EXPECT_EQ(r->bona_fide_rejected, 1u);
  EXPECT_NEAR(r->apcer.at("print"), 0.0, kEps);
  EXPECT_NEAR(r->apcer.at("replay"), 0.5, kEps);
  EXPECT_EQ(r->attacks.at("print"), 3u);
  EXPECT_EQ(r->attacks_accepted.at("replay"), 1u);
  EXPECT_NEAR(r->apcer_max, 0.5, kEps);
  EXPECT_EQ(r->apcer_max_type, "replay");
  EXPECT_NEAR(r->apcer_pooled, 0.2, kEps);
  EXPECT_NEAR(r->acer, 0.375, kEps);
}

TEST(PadMetricsTest, ScoreSetPerTypeFeedsTheDet) {
  auto replay = PadScoreSet(Pad(), "replay");
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->negatives.size(), 2u);
  EXPECT_EQ(replay->polarity, Polarity::kHigherIsPositive);
  // Bona fide {.3 .7 .8 .9} vs replay {.5 .75}, accept >= t:
  //   t .3: (1, 0)  .5: (1, .25)  .7: (.5, .25)  .75: (.5, .5) -> EER .5 at .75
  auto eer = ComputeEer(*replay);
  ASSERT_TRUE(eer.ok());
  EXPECT_NEAR(eer->eer, 0.5, kEps);
  EXPECT_DOUBLE_EQ(eer->threshold, 0.75);
  auto pooled = PadScoreSet(Pad());
  ASSERT_TRUE(pooled.ok());
  EXPECT_EQ(pooled->negatives.size(), 5u);
  EXPECT_EQ(PadScoreSet(Pad(), "mask").status().reason(), "eval.unknown_attack_type");
  PadScores none;
  none.bona_fide = {0.5};
  EXPECT_EQ(PadErrorsAt(none, 0.5).status().reason(), "eval.no_negatives");
}

TEST(ProbitTest, KnownQuantiles) {
  EXPECT_NEAR(Probit(0.5), 0.0, 1e-12);
  EXPECT_NEAR(Probit(0.975), 1.959963984540054, 1e-9);
  EXPECT_NEAR(Probit(0.01), -2.326347874040841, 1e-9);
  EXPECT_NEAR(Probit(0.001), -3.090232306167813, 1e-9);
  EXPECT_TRUE(std::isfinite(Probit(0.0)));
}

}  // namespace
}  // namespace livegate::eval
