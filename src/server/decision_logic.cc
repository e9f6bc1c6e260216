#include "server/decision_logic.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "server/strict_json.h"

namespace livegate::server {

std::string_view RiskTierName(RiskTier tier) {
  switch (tier) {
    case RiskTier::kLow: return "low";
    case RiskTier::kMedium: return "medium";
    case RiskTier::kHigh: return "high";
  }
  return "unknown";
}

std::string_view AsdTypeName(AsdType type) {
  switch (type) {
    case AsdType::kPassive: return "passive";
    case AsdType::kActions: return "actions";
    case AsdType::kActionsLight: return "actions+light";
  }
  return "unknown";
}

std::optional<AsdType> ParseAsdType(std::string_view name) {
  if (name == "passive") return AsdType::kPassive;
  if (name == "actions") return AsdType::kActions;
  if (name == "actions+light") return AsdType::kActionsLight;
  return std::nullopt;
}

int CompareVersions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) -> long {
    if (s.empty()) return 0;
    auto dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    long v = 0;
    for (char c : part) {
      if (c < '0' || c > '9') return 0;
      v = v * 10 + (c - '0');
      if (v > 1000000000) return v;
    }
    return v;
  };
  while (!a.empty() || !b.empty()) {
    const long x = next(a), y = next(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

namespace {

Status ParseTier(const nlohmann::json& j, const std::string& path, TierSettings& t) {
  StrictObject x(j, path, "policy");
  std::string asd;
  x.Require("asd_type");
  x.String("asd_type", asd, false);
  x.Int("challenge_length", t.challenge_length, 0, 10);
  x.Int("light_sequence_length", t.light_sequence_length, 0, 10);
  // X.1279 section 11 item 2: no tier may aim above 1 false match in 10,000.
  x.Double("fmr_target", t.fmr_target, 1e-9, 1e-4);
  x.Double("compare_threshold", t.compare_threshold, 0.0, 4.0);
  x.Double("live_compare_threshold", t.live_compare_threshold, 0.0, 4.0);
  x.Double("batch_compare_threshold", t.batch_compare_threshold, 0.0, 4.0);
  x.Double("min_quality", t.min_quality, 0.0, 1.0);
  x.Double("min_liveness", t.min_liveness, 0.0, 1.0);
  x.Int("max_recaptures", t.max_recaptures, 0, 20);
  LG_RETURN_IF_ERROR(x.Finish());
  auto type = ParseAsdType(asd);
  if (!type) {
    return Status(StatusCode::kInvalidArgument, "policy.bad_value",
                  path + ".asd_type must be passive, actions or actions+light");
  }
  t.asd_type = *type;
  if (t.asd_type == AsdType::kPassive && (t.challenge_length != 0 || t.light_sequence_length != 0)) {
    return Status(StatusCode::kInvalidArgument, "policy.bad_value",
                  path + ": a passive tier has no challenge (challenge_length and "
                         "light_sequence_length must be 0)");
  }
  if (t.asd_type != AsdType::kPassive && t.challenge_length < 1) {
    return Status(StatusCode::kInvalidArgument, "policy.bad_value",
                  path + ": an actions tier needs challenge_length >= 1");
  }
  if ((t.asd_type == AsdType::kActionsLight) != (t.light_sequence_length > 0)) {
    return Status(StatusCode::kInvalidArgument, "policy.bad_value",
                  path + ": light_sequence_length > 0 exactly when asd_type is actions+light");
  }
  return Status::Ok();
}

}  // namespace

Result<Policy> ParsePolicy(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded()) return Status::BadInput("policy.bad_json", "the policy file is not valid JSON");
  Policy p;
  StrictObject root(j, "", "policy");
  root.Require("version");
  root.Int("version", p.version, 1, 1);
  root.String("biometric_type", p.biometric_type, false);
  std::string ignored;
  root.String("description", ignored);
  LG_RETURN_IF_ERROR(root.status());
  if (p.biometric_type != "face") {
    return Status::Unsupported("policy.bad_value", "biometric_type: only \"face\" is supported");
  }

  if (const auto* o = root.Child("score", true)) {
    StrictObject x(*o, "score", "policy");
    auto& w = p.weights;
    x.Int("new_device", w.new_device, 0, 1000);
    x.Int("unknown_platform", w.unknown_platform, 0, 1000);
    x.Int("os_outdated", w.os_outdated, 0, 1000);
    x.Int("app_outdated", w.app_outdated, 0, 1000);
    x.Int("unknown_integrity_flag", w.unknown_integrity_flag, 0, 1000);
    x.Int("per_recent_failure", w.per_recent_failure, 0, 1000);
    x.Int("max_failure_points", w.max_failure_points, 0, 1000);
    x.Int("stale_success", w.stale_success, 0, 1000);
    int stale_days = static_cast<int>(w.stale_after_seconds / 86400);
    x.Int("stale_after_days", stale_days, 1, 3650);
    w.stale_after_seconds = static_cast<std::int64_t>(stale_days) * 86400;
    x.Int("never_succeeded", w.never_succeeded, 0, 1000);
    x.Int("network_change", w.network_change, 0, 1000);
    x.Int("client_mismatch", w.client_mismatch, 0, 1000);
    x.String("min_app_version", p.min_app_version, false);
    if (const auto* os = x.Child("min_os_version", false)) {
      for (const auto& [k, v] : os->items()) {
        if (!v.is_string()) {
          return Status::BadInput("policy.bad_type", "score.min_os_version." + k + " must be a string");
        }
        p.min_os_version[k] = v.get<std::string>();
      }
    }
    if (const auto* fl = x.Child("integrity_flags", false)) {
      for (const auto& [k, v] : fl->items()) {
        if (!v.is_number_integer() || v.get<int>() < 0 || v.get<int>() > 1000) {
          return Status(StatusCode::kInvalidArgument, "policy.out_of_range",
                        "score.integrity_flags." + k + " must be an integer in [0, 1000]");
        }
        p.integrity_flags[k] = v.get<int>();
      }
    }
    LG_RETURN_IF_ERROR(x.Finish());
  }
  LG_RETURN_IF_ERROR(root.status());

  if (const auto* o = root.Child("tiers", true)) {
    StrictObject x(*o, "tiers", "policy");
    x.Require("medium_from");
    x.Require("high_from");
    x.Int("medium_from", p.medium_from, 1, 100000);
    x.Int("high_from", p.high_from, 1, 100000);
    const auto* low = x.Child("low", true);
    const auto* med = x.Child("medium", true);
    const auto* high = x.Child("high", true);
    LG_RETURN_IF_ERROR(x.Finish());
    LG_RETURN_IF_ERROR(ParseTier(*low, "tiers.low", p.low));
    LG_RETURN_IF_ERROR(ParseTier(*med, "tiers.medium", p.medium));
    LG_RETURN_IF_ERROR(ParseTier(*high, "tiers.high", p.high));
    if (p.medium_from >= p.high_from) {
      return Status(StatusCode::kInvalidArgument, "policy.bad_value",
                    "tiers.medium_from must be below tiers.high_from");
    }
    // R-SRV-DL-3: a high-risk user always gets an active challenge. The
    // passive tier's decision is weaker (docs/ANTISPOOFING.md, "Passive
    // tier": it accepts motion a deepfake video shows and has no challenge
    // a recording cannot follow), so a medium-risk user gets one as well.
    if (p.high.asd_type == AsdType::kPassive) {
      return Status(StatusCode::kInvalidArgument, "policy.bad_value",
                    "tiers.high.asd_type must not be passive (R-SRV-DL-3)");
    }
    if (p.medium.asd_type == AsdType::kPassive) {
      return Status(StatusCode::kInvalidArgument, "policy.bad_value",
                    "tiers.medium.asd_type must not be passive: the passive decision is the weaker one, "
                    "only for the low risk tier (docs/ANTISPOOFING.md, R-SRV-DL-3)");
    }
  }
  LG_RETURN_IF_ERROR(root.status());

  if (const auto* o = root.Child("lockout", true)) {
    StrictObject x(*o, "lockout", "policy");
    x.Int("max_failures", p.lockout.max_failures, 1, 1000);
    x.Int("window_seconds", p.lockout.window_seconds, 1, 86400 * 30);
    x.Int("lockout_seconds", p.lockout.lockout_seconds, 1, 86400 * 30);
    LG_RETURN_IF_ERROR(x.Finish());
  }
  LG_RETURN_IF_ERROR(root.Finish());
  return p;
}

Result<Policy> LoadPolicy(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::BadInput("policy.unreadable", "cannot read policy file " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = ParsePolicy(ss.str());
  if (!r.ok()) {
    return Status(r.status().code(), r.status().reason(), file.string() + ": " + r.status().message());
  }
  return r;
}

Decision Decide(const Policy& policy, const RiskData& risk) {
  Decision d;
  const auto& w = policy.weights;
  auto add = [&](int points, std::string reason) {
    if (points <= 0) return;
    d.score += points;
    d.reasons.push_back(std::move(reason));
  };
  if (!risk.known_device) add(w.new_device, "risk.new_device");
  auto os_min = policy.min_os_version.find(risk.platform);
  if (os_min == policy.min_os_version.end()) {
    add(w.unknown_platform, "risk.unknown_platform");
  } else if (risk.os_version.empty() || CompareVersions(risk.os_version, os_min->second) < 0) {
    add(w.os_outdated, "risk.os_outdated");
  }
  if (risk.app_version.empty() || CompareVersions(risk.app_version, policy.min_app_version) < 0) {
    add(w.app_outdated, "risk.app_outdated");
  }
  // Flags are scored once each, in sorted order, so the reasons are stable.
  std::vector<std::string> flags = risk.integrity_flags;
  std::sort(flags.begin(), flags.end());
  flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
  for (const auto& f : flags) {
    auto it = policy.integrity_flags.find(f);
    if (it != policy.integrity_flags.end()) {
      add(it->second, "risk.integrity." + f);
    } else {
      add(w.unknown_integrity_flag, "risk.integrity.unknown");
    }
  }
  if (risk.recent_failures > 0) {
    add(std::min(w.max_failure_points, risk.recent_failures * w.per_recent_failure),
        "risk.recent_failures");
  }
  if (!risk.seconds_since_last_success) {
    add(w.never_succeeded, "risk.no_prior_success");
  } else if (*risk.seconds_since_last_success > w.stale_after_seconds) {
    add(w.stale_success, "risk.stale_success");
  }
  if (risk.network_changed) add(w.network_change, "risk.network_change");
  if (risk.client_mismatches > 0) add(w.client_mismatch, "risk.client_mismatch");

  if (d.score >= policy.high_from) {
    d.tier = RiskTier::kHigh;
    d.settings = policy.high;
  } else if (d.score >= policy.medium_from) {
    d.tier = RiskTier::kMedium;
    d.settings = policy.medium;
  } else {
    d.tier = RiskTier::kLow;
    d.settings = policy.low;
  }
  d.reasons.push_back("tier." + std::string(RiskTierName(d.tier)));
  d.biometric_type = policy.biometric_type;
  return d;
}

}  // namespace livegate::server
