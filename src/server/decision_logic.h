// Decision logic (X.1279 7.3.5; R-SRV-DL-1..3, R-FLOW-REG-4, R-FLOW-AUT-4,
// decisions 11.1-11.3, 11.9, 11.10, 11.15).
//
// Risk data -> documented additive score -> tier (low / medium / high) ->
// the procedure the client must follow: biometric type, anti-spoofing type
// (passive / actions / actions+light), challenge length, thresholds,
// re-capture limit. Every point added to the score carries a reason code;
// the codes go back to the client and into the audit log. A pure function of
// (policy, risk data): no I/O, no clock - the flow supplies both.
// The default policy is config/policy.default.json, documented in
// docs/POLICY.md and pinned by tests/server/decision_logic_test.cc.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "livegate/default_policy.h"
#include "livegate/status.h"

namespace livegate::server {

enum class RiskTier { kLow, kMedium, kHigh };
std::string_view RiskTierName(RiskTier tier);

// Decision 11.1.
enum class AsdType { kPassive, kActions, kActionsLight };
std::string_view AsdTypeName(AsdType type);  // "passive", "actions", "actions+light"
std::optional<AsdType> ParseAsdType(std::string_view name);

// What one tier demands. Thresholds are consumed by the judgement module.
struct TierSettings {
  AsdType asd_type = AsdType::kPassive;
  int challenge_length = 0;       // actions to perform (0 for passive)
  int light_sequence_length = 0;  // screen colours (actions+light only)
  // Set by the rule of docs/EVALUATION.md "Operating points" from the
  // evaluation report at fmr_target (X.1279 s.11 item 2: at most 1e-4).
  double fmr_target = 1e-4;       // false-match rate the threshold is set for
  double compare_threshold = default_policy::kCompareThreshold;  // max descriptor distance for a match (one image each side)
  // The server compares a live probe's fused template (mean descriptor of
  // several frames, src/server/capture_judge.h) - distances distributed
  // differently from single images, so fused thresholds of their own
  // (issue 14; set from `livegate eval video` by the same rule):
  double live_compare_threshold = default_policy::kMedium.live_compare_threshold;    // live-enrolled reference
  double batch_compare_threshold = default_policy::kMedium.batch_compare_threshold;  // batch-imported (photo) reference
  double min_quality = 0.5;       // quality score at or above -> comparison (R-SRV-QJ-3)
  double min_liveness = 0.5;      // server anti-spoofing score to pass
  int max_recaptures = 3;         // re-captures allowed per challenge (11.9)
};

// Each score component: points added and the reason code emitted.
struct ScoreWeights {
  int new_device = 20;            // risk.new_device
  int unknown_platform = 15;      // risk.unknown_platform
  int os_outdated = 15;           // risk.os_outdated
  int app_outdated = 15;          // risk.app_outdated
  int unknown_integrity_flag = 20;// risk.integrity.unknown
  int per_recent_failure = 10;    // risk.recent_failures
  int max_failure_points = 40;
  int stale_success = 10;         // risk.stale_success
  std::int64_t stale_after_seconds = 30ll * 24 * 3600;
  int never_succeeded = 0;        // risk.no_prior_success
  int network_change = 10;        // risk.network_change
  int client_mismatch = 30;       // risk.client_mismatch (11.10)
};

struct Lockout {
  int max_failures = 5;           // failures within the window -> locked
  int window_seconds = 900;
  int lockout_seconds = 900;
};

struct Policy {
  int version = 1;
  std::string biometric_type = "face";
  ScoreWeights weights;
  std::map<std::string, std::string> min_os_version;  // platform -> minimum "x.y"
  std::string min_app_version = "0";
  std::map<std::string, int> integrity_flags;          // flag -> points
  int medium_from = 20;           // score >= medium_from -> medium
  int high_from = 50;             // score >= high_from -> high
  TierSettings low, medium, high;
  Lockout lockout;
};

// Reasons: policy.unreadable, policy.bad_json, policy.unknown_key,
// policy.bad_type, policy.missing, policy.out_of_range, policy.bad_value.
Result<Policy> ParsePolicy(std::string_view json_text);
Result<Policy> LoadPolicy(const std::filesystem::path& file);

// Decision 11.3. Fields the server knows (known_device, recent_failures,
// seconds_since_last_success, client_mismatches) are filled by the flow from
// the database, never taken from the client.
struct RiskData {
  bool known_device = false;
  std::string platform;            // "android", "ios", "linux", "windows", "macos", "web"
  std::string os_version;          // dotted numbers
  std::string app_version;         // dotted numbers
  std::vector<std::string> integrity_flags;  // e.g. "rooted", "emulator", "no_trusted_environment"
  int recent_failures = 0;         // within the lockout window
  std::optional<std::int64_t> seconds_since_last_success;  // none = never succeeded
  bool network_changed = false;
  int client_mismatches = 0;       // past client-vs-server verdict disagreements
};

struct Decision {
  int score = 0;
  RiskTier tier = RiskTier::kLow;
  std::string biometric_type;
  TierSettings settings;
  std::vector<std::string> reasons;  // sorted by emission order, e.g. "risk.new_device", "tier.medium"
};

// R-SRV-DL-1/2/3. Deterministic.
Decision Decide(const Policy& policy, const RiskData& risk);

// -1 / 0 / +1; non-numeric parts compare as 0. "12.1" vs "12" -> +1.
int CompareVersions(std::string_view a, std::string_view b);

}  // namespace livegate::server
