// Pins the shipped default policy (config/policy.default.json, docs/POLICY.md):
// specific risk data -> specific score, tier, ASD type, challenge length and
// reason codes (R-SRV-DL-1..3, decisions 11.1, 11.3, 11.9, 11.10, 11.15).
#include "server/decision_logic.h"

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace livegate::server {
namespace {

using Reasons = std::vector<std::string>;

class DefaultPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = LoadPolicy(testing::SourceDir() / "config/policy.default.json");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    policy_ = *p;
  }
  // A known, up-to-date Android device that succeeded yesterday.
  static RiskData Clean() {
    RiskData r;
    r.known_device = true;
    r.platform = "android";
    r.os_version = "14";
    r.app_version = "1.0.0";
    r.seconds_since_last_success = 86400;
    return r;
  }
  Policy policy_;
};

TEST_F(DefaultPolicyTest, CleanKnownDeviceIsLowAndPassive) {
  const Decision d = Decide(policy_, Clean());
  EXPECT_EQ(d.score, 0);
  EXPECT_EQ(d.tier, RiskTier::kLow);
  EXPECT_EQ(d.settings.asd_type, AsdType::kPassive);
  EXPECT_EQ(d.settings.challenge_length, 0);
  EXPECT_EQ(d.biometric_type, "face");
  EXPECT_DOUBLE_EQ(d.settings.compare_threshold, 0.47);
  EXPECT_DOUBLE_EQ(d.settings.fmr_target, 1e-4);
  EXPECT_EQ(d.settings.max_recaptures, 3);
  EXPECT_EQ(d.reasons, (Reasons{"tier.low"}));
}

// R-SRV-DL-1/2: risk data -> tier -> the ASD type and challenge length the client is told.
TEST_F(DefaultPolicyTest, NewDeviceIsMediumWithTwoActions) {
  RiskData r = Clean();
  r.known_device = false;  // every registration (R-FLOW-REG-4)
  r.seconds_since_last_success.reset();
  const Decision d = Decide(policy_, r);
  EXPECT_EQ(d.score, 20);
  EXPECT_EQ(d.tier, RiskTier::kMedium);
  EXPECT_EQ(d.settings.asd_type, AsdType::kActions);
  EXPECT_EQ(d.settings.challenge_length, 2);
  EXPECT_EQ(d.settings.light_sequence_length, 0);
  EXPECT_EQ(d.reasons, (Reasons{"risk.new_device", "tier.medium"}));
}

TEST_F(DefaultPolicyTest, RootedNewDeviceIsHighWithLight) {  // R-SRV-DL-3
  RiskData r = Clean();
  r.known_device = false;
  r.integrity_flags = {"rooted"};
  const Decision d = Decide(policy_, r);
  EXPECT_EQ(d.score, 60);
  EXPECT_EQ(d.tier, RiskTier::kHigh);
  EXPECT_EQ(d.settings.asd_type, AsdType::kActionsLight);
  EXPECT_EQ(d.settings.challenge_length, 4);
  EXPECT_EQ(d.settings.light_sequence_length, 3);
  EXPECT_DOUBLE_EQ(d.settings.compare_threshold, 0.44);
  EXPECT_DOUBLE_EQ(d.settings.fmr_target, 1e-5);
  EXPECT_EQ(d.settings.max_recaptures, 2);
  EXPECT_EQ(d.reasons, (Reasons{"risk.new_device", "risk.integrity.rooted", "tier.high"}));
}

// R-SEC-CLI-1: an OS release below the policy minimum, as the client reports it, raises the risk.
TEST_F(DefaultPolicyTest, OutdatedOsAndNetworkChange) {
  RiskData r = Clean();
  r.os_version = "11.2";
  r.network_changed = true;
  const Decision d = Decide(policy_, r);
  EXPECT_EQ(d.score, 25);
  EXPECT_EQ(d.tier, RiskTier::kMedium);
  EXPECT_EQ(d.reasons, (Reasons{"risk.os_outdated", "risk.network_change", "tier.medium"}));
}

TEST_F(DefaultPolicyTest, NoTrustedEnvironmentRaisesTier) {  // decision 11.15, compensates R-SEC-CLI-5 (not met)
  RiskData r = Clean();
  r.integrity_flags = {"no_trusted_environment"};
  const Decision d = Decide(policy_, r);
  EXPECT_EQ(d.score, 30);
  EXPECT_EQ(d.tier, RiskTier::kMedium);
  EXPECT_EQ(d.reasons, (Reasons{"risk.integrity.no_trusted_environment", "tier.medium"}));
}

TEST_F(DefaultPolicyTest, FailuresAreCappedAndMismatchAdds) {  // 11.9, 11.10, R-SRV-ASJ-2 (client verdict -> risk only)
  RiskData r = Clean();
  r.recent_failures = 2;
  EXPECT_EQ(Decide(policy_, r).score, 20);
  r.recent_failures = 9;
  EXPECT_EQ(Decide(policy_, r).score, 40);  // capped at max_failure_points
  EXPECT_EQ(Decide(policy_, r).tier, RiskTier::kMedium);
  r.client_mismatches = 1;
  const Decision d = Decide(policy_, r);
  EXPECT_EQ(d.score, 70);
  EXPECT_EQ(d.tier, RiskTier::kHigh);
  EXPECT_EQ(d.reasons, (Reasons{"risk.recent_failures", "risk.client_mismatch", "tier.high"}));
}

TEST_F(DefaultPolicyTest, UnknownPlatformFlagAndOldApp) {
  RiskData r = Clean();
  r.platform = "symbian";
  r.app_version = "0.0.9";
  r.integrity_flags = {"weird_flag", "weird_flag"};  // counted once
  const Decision d = Decide(policy_, r);
  EXPECT_EQ(d.score, 15 + 15 + 20);
  EXPECT_EQ(d.tier, RiskTier::kHigh);
  EXPECT_EQ(d.reasons, (Reasons{"risk.unknown_platform", "risk.app_outdated",
                                "risk.integrity.unknown", "tier.high"}));
}

TEST_F(DefaultPolicyTest, StaleSuccess) {
  RiskData r = Clean();
  r.seconds_since_last_success = 40ll * 86400;
  const Decision d = Decide(policy_, r);
  EXPECT_EQ(d.score, 10);
  EXPECT_EQ(d.tier, RiskTier::kLow);
  EXPECT_EQ(d.reasons, (Reasons{"risk.stale_success", "tier.low"}));
}

TEST_F(DefaultPolicyTest, LockoutDefaults) {
  EXPECT_EQ(policy_.lockout.max_failures, 5);
  EXPECT_EQ(policy_.lockout.window_seconds, 900);
  EXPECT_EQ(policy_.lockout.lockout_seconds, 900);
}

TEST(PolicyParseTest, HighTierMustNotBePassive) {
  const char* json = R"({"version":1,"score":{},"tiers":{"medium_from":10,"high_from":20,
    "low":{"asd_type":"passive"},"medium":{"asd_type":"actions","challenge_length":1},
    "high":{"asd_type":"passive"}},"lockout":{}})";
  auto p = ParsePolicy(json);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "policy.bad_value");
  EXPECT_NE(p.status().message().find("R-SRV-DL-3"), std::string::npos);
}

// Issue 13: the passive decision is the weaker one (a still real face is
// refused, half the deepfake videos tried pass): never for medium risk.
TEST(PolicyParseTest, MediumTierMustNotBePassive) {
  const char* json = R"({"version":1,"score":{},"tiers":{"medium_from":10,"high_from":20,
    "low":{"asd_type":"passive"},"medium":{"asd_type":"passive"},
    "high":{"asd_type":"actions","challenge_length":2}},"lockout":{}})";
  auto p = ParsePolicy(json);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "policy.bad_value");
  EXPECT_NE(p.status().message().find("tiers.medium.asd_type must not be passive"), std::string::npos);
  // The same file with an active medium tier loads.
  auto ok = ParsePolicy(R"({"version":1,"score":{},"tiers":{"medium_from":10,"high_from":20,
    "low":{"asd_type":"passive"},"medium":{"asd_type":"actions","challenge_length":1},
    "high":{"asd_type":"actions","challenge_length":2}},"lockout":{}})");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->medium.asd_type, AsdType::kActions);
}

TEST(PolicyParseTest, UnknownKeyAndBadTier) {
  auto p = ParsePolicy(R"({"version":1,"scroe":{}})");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "policy.missing");  // "score" is checked first
  p = ParsePolicy(R"({"version":1,"score":{"new_devic":3},"tiers":{},"lockout":{}})");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "policy.unknown_key");
  EXPECT_NE(p.status().message().find("score.new_devic"), std::string::npos);
  p = ParsePolicy(R"({"version":1,"score":{},"tiers":{"medium_from":10,"high_from":20,
    "low":{"asd_type":"passive"},"medium":{"asd_type":"actions","challenge_length":0},
    "high":{"asd_type":"actions","challenge_length":2}},"lockout":{}})");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "policy.bad_value");
  EXPECT_NE(p.status().message().find("tiers.medium"), std::string::npos);
}

// Issue 14 / X.1279 section 11 item 2: each tier names the false-match rate its
// threshold is set for, never above 1 in 10,000.
TEST(PolicyParseTest, FmrTargetIsReadAndBoundedBy1e4) {
  const char* ok = R"({"version":1,"score":{},"tiers":{"medium_from":10,"high_from":20,
    "low":{"asd_type":"passive","fmr_target":1e-4},"medium":{"asd_type":"actions","challenge_length":1},
    "high":{"asd_type":"actions","challenge_length":2,"fmr_target":1e-6}},"lockout":{}})";
  auto p = ParsePolicy(ok);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_DOUBLE_EQ(p->low.fmr_target, 1e-4);
  EXPECT_DOUBLE_EQ(p->medium.fmr_target, 1e-4);  // default when absent
  EXPECT_DOUBLE_EQ(p->high.fmr_target, 1e-6);
  p = ParsePolicy(R"({"version":1,"score":{},"tiers":{"medium_from":10,"high_from":20,
    "low":{"asd_type":"passive","fmr_target":1e-3},"medium":{"asd_type":"actions","challenge_length":1},
    "high":{"asd_type":"actions","challenge_length":2}},"lockout":{}})");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "policy.out_of_range");
}

// Issue 14: the server's fused thresholds (live-enrolled / batch-imported
// reference vs a live multi-frame probe) are read per tier and bounded.
TEST(PolicyParseTest, FusedThresholdsAreReadPerTier) {
  auto p = ParsePolicy(R"({"version":1,"score":{},"tiers":{"medium_from":10,"high_from":20,
    "low":{"asd_type":"passive","live_compare_threshold":0.41,"batch_compare_threshold":0.43},
    "medium":{"asd_type":"actions","challenge_length":1},
    "high":{"asd_type":"actions","challenge_length":2,"live_compare_threshold":0.39}},"lockout":{}})");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_DOUBLE_EQ(p->low.live_compare_threshold, 0.41);
  EXPECT_DOUBLE_EQ(p->low.batch_compare_threshold, 0.43);
  EXPECT_DOUBLE_EQ(p->high.live_compare_threshold, 0.39);
  EXPECT_DOUBLE_EQ(p->medium.live_compare_threshold, default_policy::kMedium.live_compare_threshold);  // default
  p = ParsePolicy(R"({"version":1,"score":{},"tiers":{"medium_from":10,"high_from":20,
    "low":{"asd_type":"passive","live_compare_threshold":-0.1},"medium":{"asd_type":"actions","challenge_length":1},
    "high":{"asd_type":"actions","challenge_length":2}},"lockout":{}})");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "policy.out_of_range");
}

// The shipped file carries the fused thresholds the pin test derives
// (tests/eval/operating_points_test.cc), and they are stricter than the
// single-image ones.
TEST_F(DefaultPolicyTest, ShippedFusedThresholdsAreLoaded) {
  for (const auto* t : {&policy_.low, &policy_.medium, &policy_.high}) {
    EXPECT_DOUBLE_EQ(t->live_compare_threshold, 0.42);
    EXPECT_DOUBLE_EQ(t->batch_compare_threshold, 0.42);
    EXPECT_LT(t->live_compare_threshold, t->compare_threshold);
  }
}

TEST(VersionTest, CompareVersions) {
  EXPECT_EQ(CompareVersions("12.1", "12"), 1);
  EXPECT_EQ(CompareVersions("12", "12.0"), 0);
  EXPECT_EQ(CompareVersions("9.9", "10"), -1);
  EXPECT_EQ(CompareVersions("", "0"), 0);
}

}  // namespace
}  // namespace livegate::server
