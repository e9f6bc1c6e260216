// The combination of the anti-spoofing checks (issue 13): the AND rule and
// the fused rule with hard vetoes (judgement/fusion.h), and the optional
// passive model's check. Pure functions of the checks and the policy,
// except ScorePassiveModel which runs the model.
#include "judgement/fusion.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "vision/passive_pad_model.h"

namespace livegate::judgement {
namespace {

bool Required(const CheckResult& c, const Policy& policy) {
  const auto& r = policy.combine.required;
  return std::find(r.begin(), r.end(), c.name) != r.end();
}

// The checks the fused rule considers: applicable required ones, and the
// passive model when it scored.
bool Considered(const CheckResult& c, const Policy& policy) {
  return c.applicable && (Required(c, policy) || c.name == kPassiveModelCheck);
}
// ... of which these give evidence (the gates only veto).
bool Gate(const CheckResult& c, const Policy& policy) {
  const auto& g = policy.combine.gates;
  return std::find(g.begin(), g.end(), c.name) != g.end();
}
bool Weighed(const CheckResult& c, const Policy& policy) { return Considered(c, policy) && !Gate(c, policy); }

float Weight(const CheckResult& c, const Policy& policy) {
  const auto it = policy.combine.fused_weights.find(c.name);
  return it == policy.combine.fused_weights.end() ? 1.0f : it->second;
}

float Median(std::vector<float> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

void CombineAllChecks(LivenessVerdict& v, const Policy& policy) {
  v.score = 1.0f;
  v.live = true;
  v.reason = "asd.live";
  for (const auto& c : v.checks) {
    if (!Required(c, policy) || !c.applicable) continue;
    v.score = std::min(v.score, c.score);
    if (!c.passed && v.live) {
      v.live = false;
      v.reason = c.reason;
    }
  }
  if (v.live && v.score < policy.combine.threshold) {
    v.live = false;
    v.reason = "asd.low_score";
  }
}

void CombineFused(LivenessVerdict& v, const Policy& policy) {
  const float threshold = policy.combine.threshold;
  const float below = std::nextafter(threshold, 0.0f);
  const float evidence = FusedEvidence(v.checks, policy);
  v.score = 1.0f / (1.0f + std::exp(-(evidence - policy.combine.fused_bias)));
  v.live = true;
  v.reason = "asd.live";
  for (const auto& c : v.checks) {
    if (!Considered(c, policy) || c.passed || !(IsHardVeto(c, policy) || Gate(c, policy))) continue;
    // A veto (or a gate that failed): refused whatever the other checks
    // say, scored below the threshold (the DET sweep never accepts it
    // before a live capture).
    v.live = false;
    v.reason = c.reason;
    v.score = std::min({v.score, c.score, below});
    return;
  }
  if (v.score >= threshold) return;
  v.live = false;
  // Name the check that pulled the score down most (clients match the
  // checks' reason codes), else the fused rule itself.
  const CheckResult* worst = nullptr;
  float worst_pull = 0;
  for (const auto& c : v.checks) {
    if (!Weighed(c, policy) || c.passed) continue;
    const float pull = Weight(c, policy) * CheckEvidence(c.score);
    if (!worst || pull < worst_pull) worst = &c, worst_pull = pull;
  }
  v.reason = worst ? worst->reason : "asd.low_score";
}

}  // namespace

float CheckEvidence(float score) {
  const float s = std::clamp(score, 1e-6f, 1.0f - 1e-6f);
  return std::clamp(std::log(s / (1.0f - s)), -kMaxEvidence, kMaxPassEvidence);
}

bool IsHardVeto(const CheckResult& check, const Policy& policy) {
  if (check.passed || !check.applicable) return false;
  for (const auto& prefix : policy.combine.vetoes) {
    if (!prefix.empty() && check.reason.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

float FusedEvidence(std::span<const CheckResult> checks, const Policy& policy) {
  float sum = 0;
  for (const auto& c : checks) {
    if (Weighed(c, policy)) sum += Weight(c, policy) * CheckEvidence(c.score);
  }
  return sum;
}

void CombineChecks(LivenessVerdict& verdict, const Policy& policy) {
  if (policy.combine.combination == "fused") {
    CombineFused(verdict, policy);
  } else {
    CombineAllChecks(verdict, policy);
  }
}

CheckResult CheckPassiveModel(std::span<const FrameObservation> observations, const Policy& policy) {
  CheckResult c;
  c.name = kPassiveModelCheck;
  std::vector<float> p;
  for (const auto& o : observations) {
    if (o.pad_live_score) p.push_back(*o.pad_live_score);
  }
  if (p.empty()) {
    c.applicable = false;
    c.passed = true;
    c.score = 1.0f;
    c.reason = "pad_model.off";
    return c;
  }
  // Median: one frame caught mid-motion blur does not decide.
  const float m = Median(p), t = policy.combine.pad_model_threshold;
  c.passed = m >= t;
  c.score = std::clamp(m < t ? 0.5f * m / t : 0.5f + 0.5f * (m - t) / (1.0f - t), 0.0f, 1.0f);
  c.reason = c.passed ? "pad_model.ok" : "pad_model.spoof";
  char buf[160];
  std::snprintf(buf, sizeof buf, "median live probability %.3f over %zu frames (threshold %.2f)", double(m), p.size(),
                double(t));
  c.detail = buf;
  return c;
}

std::vector<int> FramesForPassiveModel(std::span<const FrameObservation> observations, const QualityReport& quality,
                                       const Policy& policy) {
  const std::size_t want = std::size_t(std::max(1, policy.combine.pad_model_frames));
  std::vector<int> out;
  auto usable = [&](int i) { return i >= 0 && std::size_t(i) < observations.size() && observations[std::size_t(i)].has_face; };
  for (int i : quality.best_frames) {
    if (out.size() < want && usable(i) && std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
  }
  std::vector<int> faces;
  for (std::size_t i = 0; i < observations.size(); ++i) {
    if (observations[i].has_face) faces.push_back(int(i));
  }
  // Spread the rest evenly over the capture (a replay that is caught only
  // in part of it still weighs).
  const std::size_t rest = want - std::min(want, out.size());
  for (std::size_t k = 0; k < rest && !faces.empty(); ++k) {
    const std::size_t pos = rest == 1 ? faces.size() / 2 : k * (faces.size() - 1) / (rest - 1);
    const int i = faces[pos];
    if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status ScorePassiveModel(const Capture& capture, std::vector<FrameObservation>& observations,
                         const QualityReport& quality, vision::PassivePadModel& model, const Policy& policy) {
  for (int i : FramesForPassiveModel(observations, quality, policy)) {
    if (std::size_t(i) >= capture.frames.size()) continue;
    FrameObservation& o = observations[std::size_t(i)];
    LG_ASSIGN_OR_RETURN(float p, model.LiveProbability(capture.frames[std::size_t(i)].bgr, o.box));
    o.pad_live_score = p;
  }
  return Status::Ok();
}

}  // namespace livegate::judgement
