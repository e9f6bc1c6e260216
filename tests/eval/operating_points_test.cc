// Operating points from a false-match target (issue 14; X.1279 section 11
// item 2: the comparison threshold is set for FMR <= 1e-4 and justified by
// evaluation runs recorded in the repository).
//
// 1. The bound: Clopper-Pearson one-sided upper bounds against known values.
// 2. The pin: the default policy's tier thresholds equal the written rule of
//    docs/EVALUATION.md ("Operating points") applied to the committed scores
//    of the `livegate eval verify` run on the development sources
//    (eval/reference/identity_operating_point_scores.json). Editing a
//    threshold in config/policy.default.json, or committing new scores
//    without re-deriving the thresholds, fails here.
#include <cmath>
#include <fstream>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "livegate/default_policy.h"
#include "support/test_data.h"

namespace livegate::eval {
namespace {

TEST(ClopperPearsonTest, KnownValues) {
  // Zero errors: 1 - alpha^(1/n), "rule of three" (~3/n at 95 %).
  EXPECT_NEAR(ClopperPearsonUpper(0, 1000, 0.95), 1 - std::pow(0.05, 1e-3), 1e-12);
  EXPECT_NEAR(ClopperPearsonUpper(0, 100000, 0.95) * 100000, 2.9957, 1e-3);
  // 1 of 10: the textbook exact interval (90 % two-sided) is (0.0051, 0.3942).
  EXPECT_NEAR(ClopperPearsonUpper(1, 10, 0.95), 0.3942, 1e-4);
  // 1 of 100 at 95 % one-sided: 0.0466 (solves (1-p)^100 + 100p(1-p)^99 = 0.05).
  EXPECT_NEAR(ClopperPearsonUpper(1, 100, 0.95), 0.0466, 1e-4);
  EXPECT_DOUBLE_EQ(ClopperPearsonUpper(5, 5, 0.95), 1.0);
  EXPECT_EQ(ImpostorsNeeded(1e-4, 0.95), 29956u);
  EXPECT_EQ(ImpostorsNeeded(1e-5, 0.95), 299572u);
}

TEST(FmrTargetTest, BoundedPointAndUnsupportedTarget) {
  ScoreSet s;
  s.polarity = Polarity::kLowerIsPositive;
  for (int i = 1; i <= 100; ++i) s.negatives.push_back(i);
  s.positives = {0.5, 1.5, 2.5};
  // 5 %: one false match of 100 bounds the FMR at 4.66 % (<= 5 %), two at
  // 6.2 %: the point accepts distances <= 1.5.
  auto five = AtFmrTargetWithBound(s, 0.05);
  ASSERT_TRUE(five.ok());
  EXPECT_TRUE(five->supported);
  EXPECT_DOUBLE_EQ(five->point.threshold, 1.5);
  EXPECT_EQ(five->point.false_accepts, 1u);
  EXPECT_EQ(five->point.false_rejects, 1u);
  EXPECT_NEAR(five->fmr_upper_bound, 0.0466, 1e-4);
  // The empirical-only point would accept up to FMR = 5 % (5 false matches).
  EXPECT_EQ(five->empirical.false_accepts, 5u);
  // 1 %: 100 pairs cannot show it (0 errors bound it at 2.95 %): the point is
  // the last one with no false match, flagged.
  auto one = AtFmrTargetWithBound(s, 0.01);
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->supported);
  EXPECT_DOUBLE_EQ(one->point.threshold, 0.5);
  EXPECT_EQ(one->point.false_accepts, 0u);
  EXPECT_NEAR(one->fmr_upper_bound, 1 - std::pow(0.05, 0.01), 1e-12);
  EXPECT_EQ(one->impostors_needed, 299u);
  ASSERT_TRUE(one->tail_model_threshold.has_value());  // 100 impostors: the fit is made
  EXPECT_FALSE(AtFmrTargetWithBound(s, 0).ok());
  EXPECT_FALSE(AtFmrTargetWithBound(s, 0.01, 1.0).ok());
}

nlohmann::json ReadJson(const std::filesystem::path& p) {
  std::ifstream in(p);
  EXPECT_TRUE(in.good()) << p;
  return nlohmann::json::parse(in);
}

// The rule (docs/EVALUATION.md, "Operating points"): each tier's
// compare_threshold is the pooled operating point for its fmr_target -
// bounded at 95 % when the impostor count supports the target, else the
// strictest point with no false match - rounded DOWN to 0.01.
TEST(DefaultPolicyPinTest, TierThresholdsFollowTheRuleOnTheCommittedScores) {
  const auto ref = ReadJson(testing::SourceDir() / "eval/reference/identity_operating_point_scores.json");
  const auto policy = ReadJson(testing::SourceDir() / "config/policy.default.json");
  ScoreSet s;
  s.polarity = Polarity::kLowerIsPositive;
  s.positives = ref.at("genuine").get<std::vector<double>>();
  s.negatives = ref.at("lowest_impostors").get<std::vector<double>>();
  const std::size_t tail = s.negatives.size();
  const std::size_t impostors = ref.at("impostor_count").get<std::size_t>();
  ASSERT_EQ(s.positives.size(), ref.at("genuine_count").get<std::size_t>());
  ASSERT_GE(impostors, tail);
  // Impostor distances above the committed tail cannot move a strict point;
  // stand them in at a distance beyond every genuine one.
  s.negatives.resize(impostors, 4.0);
  const double confidence = ref.at("confidence").get<double>();
  for (const char* tier : {"low", "medium", "high"}) {
    SCOPED_TRACE(tier);
    const auto& t = policy.at("tiers").at(tier);
    const double target = t.at("fmr_target").get<double>();
    auto p = AtFmrTargetWithBound(s, target, confidence);
    ASSERT_TRUE(p.ok());
    ASSERT_LT(p->point.false_accepts, tail) << "the point lies beyond the committed impostor tail";
    const double expected = std::floor(p->point.threshold * 100 + 1e-9) / 100;
    EXPECT_NEAR(t.at("compare_threshold").get<double>(), expected, 1e-9)
        << "pooled point " << p->point.threshold << " (FNMR " << p->point.frr << ", bound "
        << p->fmr_upper_bound << ", supported " << p->supported << ")";
  }
}

// The server's fused thresholds (issue 14, multi-frame templates): the same
// rule applied to the fused segment-pair scores of `livegate eval video`
// (eval/reference/identity_video_scores.json): live_compare_threshold from
// the capture_spread rule (live-enrolled template vs live probe template),
// batch_compare_threshold from photo_vs_capture (one image vs a live probe
// template).
TEST(DefaultPolicyPinTest, FusedThresholdsFollowTheRuleOnTheCommittedVideoScores) {
  const auto ref = ReadJson(testing::SourceDir() / "eval/reference/identity_video_scores.json");
  const auto policy = ReadJson(testing::SourceDir() / "config/policy.default.json");
  const double confidence = ref.at("confidence").get<double>();
  for (const auto& [rule, key] : {std::pair<std::string, std::string>{"capture_spread", "live_compare_threshold"},
                                  {"photo_vs_capture", "batch_compare_threshold"}}) {
    SCOPED_TRACE(rule);
    const auto& r = ref.at("rules").at(rule);
    ScoreSet s;
    s.polarity = Polarity::kLowerIsPositive;
    s.positives = r.at("genuine").get<std::vector<double>>();
    s.negatives = r.at("lowest_impostors").get<std::vector<double>>();
    const std::size_t tail = s.negatives.size();
    ASSERT_EQ(s.positives.size(), r.at("genuine_count").get<std::size_t>());
    ASSERT_GE(s.positives.size(), 100u) << "too few genuine segment pairs to set a threshold";
    s.negatives.resize(r.at("impostor_count").get<std::size_t>(), 4.0);
    for (const char* tier : {"low", "medium", "high"}) {
      SCOPED_TRACE(tier);
      const auto& t = policy.at("tiers").at(tier);
      auto p = AtFmrTargetWithBound(s, t.at("fmr_target").get<double>(), confidence);
      ASSERT_TRUE(p.ok());
      ASSERT_LT(p->point.false_accepts, tail);
      const double expected = std::floor(p->point.threshold * 100 + 1e-9) / 100;
      EXPECT_NEAR(t.at(key).get<double>(), expected, 1e-9)
          << key << ": fused point " << p->point.threshold << " (FNMR " << p->point.frr << ", bound "
          << p->fmr_upper_bound << ", supported " << p->supported << ")";
      // A fused template pulls impostors together: its threshold is never
      // more lenient than the single-image one of the same tier.
      EXPECT_LE(t.at(key).get<double>(), t.at("compare_threshold").get<double>());
    }
  }
}

// One default everywhere: the generated header the CLI tools and vision use
// holds the same values as the file the server loads (a stale build fails).
TEST(DefaultPolicyPinTest, GeneratedHeaderMatchesThePolicyFile) {
  const auto policy = ReadJson(testing::SourceDir() / "config/policy.default.json");
  for (const auto& tier : default_policy::kTiers) {
    SCOPED_TRACE(tier.name);
    const auto& t = policy.at("tiers").at(tier.name);
    EXPECT_DOUBLE_EQ(tier.compare_threshold, t.at("compare_threshold").get<double>());
    EXPECT_DOUBLE_EQ(tier.fmr_target, t.at("fmr_target").get<double>());
    EXPECT_DOUBLE_EQ(tier.live_compare_threshold, t.at("live_compare_threshold").get<double>());
    EXPECT_DOUBLE_EQ(tier.batch_compare_threshold, t.at("batch_compare_threshold").get<double>());
  }
  EXPECT_DOUBLE_EQ(default_policy::kCompareThreshold,
                   policy.at("tiers").at("medium").at("compare_threshold").get<double>());
}

}  // namespace
}  // namespace livegate::eval
