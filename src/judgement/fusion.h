// How the anti-spoofing checks make one verdict (issue 13;
// docs/ANTISPOOFING.md "Fused verdict" and "Passive model slot").
//
// combine.combination = "all_checks": every required check must pass (the
// AND rule; its false rejections add up over seven checks).
// combine.combination = "fused": a failed check whose reason is a hard veto
// (combine.vetoes: evidence that is unambiguous - a requested action not
// seen, a second face, a slideshow or a change of person, no answer to the
// light challenge) refuses the capture; every other required check that is
// not a pure gate (combine.gates: capture, actions) and the optional
// passive model give evidence e = logit(score) clamped to -3..+0.5 (0 at
// the check's own threshold: a cue that fired clearly counts up to six
// times as much as one that did not fire), and the verdict is live when
// the weighted evidence sum is >= combine.fused_bias.
#pragma once

#include <span>
#include <vector>

#include "judgement/policy.h"
#include "judgement/types.h"
#include "livegate/status.h"

namespace livegate::vision {
class PassivePadModel;
}

namespace livegate::judgement {

inline constexpr const char* kPassiveModelCheck = "pad_model";
// Evidence caps: a failing check down to -3 (score 0.047), a passing one up
// to +0.5 (score 0.62): "my cue did not fire" is weak evidence of a live
// face, "my cue fired" strong evidence of an attack, so one clear failure
// is not outvoted by checks that merely saw nothing.
inline constexpr float kMaxEvidence = 3.0f;
inline constexpr float kMaxPassEvidence = 0.5f;

// The pad_model check: median live probability over the frames the model
// scored, 0.5 at combine.pad_model_threshold. Not applicable (reason
// pad_model.off) when no frame has a score (no model configured).
CheckResult CheckPassiveModel(std::span<const FrameObservation> observations, const Policy& policy);

// A failed check whose reason starts with one of combine.vetoes.
bool IsHardVeto(const CheckResult& check, const Policy& policy);

// A check's evidence: logit(score), clamped to -kMaxEvidence..kMaxPassEvidence.
float CheckEvidence(float score);

// The weighted evidence sum of the checks the fused rule weighs: the
// applicable required checks that are not combine.gates, plus pad_model
// when applicable, each with its combine.fused_weights weight (1 when not
// named). 0 when none.
float FusedEvidence(std::span<const CheckResult> checks, const Policy& policy);

// Sets verdict.live / score / reason from verdict.checks according to
// combine.combination. all_checks: unchanged from before issue 13.
void CombineChecks(LivenessVerdict& verdict, const Policy& policy);

// The frames the passive model scores: the quality's best frames (the ones
// sent to comparison: the attack has to fool the model on the frames that
// are matched) then, up to combine.pad_model_frames, face frames spread
// evenly over the capture. Sorted, unique.
std::vector<int> FramesForPassiveModel(std::span<const FrameObservation> observations, const QualityReport& quality,
                                       const Policy& policy);

// Scores those frames with `model` into FrameObservation::pad_live_score.
// Errors: the model's (model.*).
Status ScorePassiveModel(const Capture& capture, std::vector<FrameObservation>& observations,
                         const QualityReport& quality, vision::PassivePadModel& model, const Policy& policy);

}  // namespace livegate::judgement
