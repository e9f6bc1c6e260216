// Internal helpers shared by the flow step files (not a module interface).
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crypto/kdf.h"
#include "judgement/policy.h"
#include "judgement/types.h"
#include "protocol/messages.h"
#include "server/decision_logic.h"
#include "server/http_server.h"
#include "server/service.h"
#include "storage/reference_store.h"
#include "storage/template_protection.h"

namespace livegate::server {

// Flow steps as stored in FlowState::step.
constexpr int kStepStarted = 2;    // SRP round 1 answered (R-FLOW-*-2)
constexpr int kStepChannel = 3;    // SRP confirmed; awaiting risk data (R-FLOW-*-3)
constexpr int kStepChallenge = 4;  // procedure + challenge issued (R-FLOW-*-4)
constexpr int kStepDone = 10;      // terminal (the row is deleted in the same transaction)
// Not clause-8 steps: the states of the one SRP proof a flow accepts.
// started -> verifying is a compare-and-set taken before the proof is
// checked, so exactly one proof per flow is evaluated, across threads and
// processes; a verifying flow counts as a failure in flight for the lockout.
constexpr int kStepVerifying = 20;  // one request took the flow; its proof is being checked
constexpr int kStepSpent = 21;      // the proof was refused (or the capture could not be judged);
                                    // the row stays until it expires so every later proof gets
                                    // the same answer as a concurrent one
// The same for the capture (the biometric credential): challenge -> judging
// before the face is judged, so one capture per challenge is judged and a
// judgement in progress counts for the lockout like a proof in flight.
constexpr int kStepJudging = 22;
// Steps of an open flow (the per-account cap counts these).
inline const std::vector<int>& OpenFlowSteps() {
  static const std::vector<int> steps = {kStepStarted, kStepVerifying, kStepChannel, kStepChallenge,
                                         kStepJudging};
  return steps;
}
// Credential checks in progress (counted as failures by the lockout until
// they end).
inline const std::vector<int>& InFlightSteps() {
  static const std::vector<int> steps = {kStepVerifying, kStepJudging};
  return steps;
}

struct Service::FlowContext {
  storage::FlowState row;
  nlohmann::json state;  // the sealed part of the row, opened
  protocol::FlowType type = protocol::FlowType::kRegistration;
};

namespace flows {

// The one answer to a locked account id, known or not, at every step that
// uses it (decision 11.9): a proof on a pre-started flow gets the same
// bytes as a start, and nothing tells whether the proof would have been right.
inline Status LockedOut() {
  return Status(StatusCode::kResourceExhausted, "auth.locked_out",
                "too many failed attempts; try again later");
}
// The one answer to every SRP proof the flow does not take: a second proof
// after the first was checked, or a concurrent one that lost the
// compare-and-set - whatever the proof and whatever the first one's outcome.
inline Status ProofNotAccepted() {
  return Status(StatusCode::kFailedPrecondition, "flow.wrong_step",
                "this flow is not waiting for the SRP proof");
}
inline Status CaptureNotAccepted() {
  return Status(StatusCode::kFailedPrecondition, "flow.wrong_step",
                "this flow is not waiting for a capture");
}
// The flow refusals of the API for the store's flow reasons.
inline Status FlowStatusFromStorage(const Status& st) {
  if (st.reason() == "storage.flow_not_found") {
    return Status::NotFound("flow.not_found", "no such flow (finished, expired or never started)");
  }
  if (st.reason() == "storage.flow_expired") {
    return Status(StatusCode::kExpired, "flow.expired", "the flow has expired; start again");
  }
  return st;
}
inline Status TooManyOpenFlows(int cap) {
  return Status(StatusCode::kResourceExhausted, "flow.too_many_open",
                "this account id already has " + std::to_string(cap) +
                    " flows open; finish one or wait until one expires");
}

class StepTimer {
 public:
  explicit StepTimer(std::atomic<std::uint64_t>& sink)
      : sink_(sink), t0_(std::chrono::steady_clock::now()) {}
  ~StepTimer() {
    sink_ += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::steady_clock::now() - t0_)
                                            .count());
  }

 private:
  std::atomic<std::uint64_t>& sink_;
  std::chrono::steady_clock::time_point t0_;
};

inline std::string B64(const crypto::Bytes& b) { return crypto::Base64UrlEncode(b); }
inline crypto::Bytes UnB64(const nlohmann::json& j) {
  auto r = crypto::Base64UrlDecode(j.get<std::string>());
  return r.ok() ? *r : crypto::Bytes{};
}

// The network label used for "network change" risk: the IPv4 /24 or the
// IPv6 /48 prefix of the peer address.
inline std::string NetworkLabel(const std::string& addr) {
  if (addr.find(':') != std::string::npos) {
    int colons = 0;
    for (std::size_t i = 0; i < addr.size(); ++i) {
      if (addr[i] == ':' && ++colons == 3) return addr.substr(0, i);
    }
    return addr;
  }
  auto pos = addr.rfind('.');
  return pos == std::string::npos ? addr : addr.substr(0, pos);
}

inline judgement::AsdType ToJudgementAsd(AsdType t) {
  switch (t) {
    case AsdType::kPassive: return judgement::AsdType::kPassive;
    case AsdType::kActions: return judgement::AsdType::kActions;
    case AsdType::kActionsLight: return judgement::AsdType::kActionsLight;
  }
  return judgement::AsdType::kActions;
}

inline nlohmann::json SettingsJson(const TierSettings& s) {
  return nlohmann::json{{"asd_type", AsdTypeName(s.asd_type)},
                        {"challenge_length", s.challenge_length},
                        {"light_sequence_length", s.light_sequence_length},
                        {"compare_threshold", s.compare_threshold},
                        {"live_compare_threshold", s.live_compare_threshold},
                        {"batch_compare_threshold", s.batch_compare_threshold},
                        {"min_quality", s.min_quality},
                        {"min_liveness", s.min_liveness},
                        {"max_recaptures", s.max_recaptures}};
}

inline TierSettings SettingsFromJson(const nlohmann::json& j) {
  TierSettings s;
  s.asd_type = ParseAsdType(j.at("asd_type").get<std::string>()).value_or(AsdType::kActions);
  s.challenge_length = j.at("challenge_length").get<int>();
  s.light_sequence_length = j.at("light_sequence_length").get<int>();
  s.compare_threshold = j.at("compare_threshold").get<double>();
  // Flows opened before the fused thresholds existed carry none: the
  // stricter of the defaults then applies.
  s.live_compare_threshold = j.value("live_compare_threshold", default_policy::kHigh.live_compare_threshold);
  s.batch_compare_threshold = j.value("batch_compare_threshold", default_policy::kHigh.batch_compare_threshold);
  s.min_quality = j.at("min_quality").get<double>();
  s.min_liveness = j.at("min_liveness").get<double>();
  s.max_recaptures = j.at("max_recaptures").get<int>();
  return s;
}

// The judgement policy for one tier: the tier sets the challenge length,
// the colour sequence and the liveness bar (decision 11.2).
inline judgement::Policy TierJudgementPolicy(judgement::Policy base, const TierSettings& s) {
  if (s.challenge_length > 0) base.challenge.num_actions = s.challenge_length;
  base.challenge.num_colours = s.light_sequence_length;
  base.combine.threshold = static_cast<float>(s.min_liveness);
  return base;
}

inline float Distance(const storage::Template& a, const storage::Template& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    s += d * d;
  }
  return static_cast<float>(std::sqrt(s));
}

inline ApiResponse SealedResponse(const crypto::Bytes& wire) {
  ApiResponse r;
  r.status = 200;
  r.content_type = "application/octet-stream";
  r.body.assign(wire.begin(), wire.end());
  return r;
}

inline std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace flows
}  // namespace livegate::server
