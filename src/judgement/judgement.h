// The server's judgement entry points (X.1279 7.3.2 anti-spoofing judgement,
// 7.3.3 quality judgement, Appendix III server-side face ASD).
//
// Pure: no HTTP, no SQL, no files, no clock, no global randomness. The
// caller passes the policy, the random source and the face analyzer.
//
//   auto challenge = DrawChallenge(policy, AsdType::kActions, csprng);   // step 4
//   ... client captures ...
//   auto j = JudgeCapture(*challenge, capture, analyzer, policy);        // step 9
//   j->liveness.live, j->liveness.reason, j->quality.accepted, j->quality.best_frames
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "judgement/policy.h"
#include "judgement/types.h"
#include "livegate/status.h"
#include "vision/face_analyzer.h"

namespace livegate::judgement {

// ------------------------------------------------------------ challenge
// Draws a random challenge (R-SRV-ASJ-3, decision 11.1): policy.num_actions
// actions in random order with randomised windows; for actions+light also
// a random colour sequence. Reasons: challenge.bad_policy.
Result<Challenge> DrawChallenge(const Policy& policy, AsdType type, const RandomSource& random);

// Checks a challenge before judging against it. A scripted challenge is
// refused unless policy.challenge.allow_scripted (reason
// challenge.scripted_not_allowed); also challenge.bad_window,
// challenge.too_many_steps.
Status ValidateChallenge(const Challenge& challenge, const Policy& policy);

std::string ChallengeToJson(const Challenge& challenge);
// Reasons: challenge.bad_json, challenge.bad_action, challenge.bad_type,
// challenge.bad_window.
Result<Challenge> ChallengeFromJson(std::string_view json);

// ---------------------------------------------------------- observation
// Runs the analyzer and the image measures on every frame. Frames are not
// kept. Structural problems of the capture (too many frames, bad
// timestamps) are NOT errors here: JudgeLiveness reports them as the
// `capture` check. Errors: only analyzer failures (vision reasons).
Result<std::vector<FrameObservation>> ObserveCapture(const Capture& capture,
                                                     vision::FaceAnalyzer& analyzer,
                                                     const Policy& policy);

// -------------------------------------------------------------- judging
// Anti-spoofing judgement over observations (R-SRV-ASJ-1/2/4, R-ASD-1..6).
// Always returns a verdict; every check names its reason.
LivenessVerdict JudgeLiveness(const Challenge& challenge,
                              std::span<const FrameObservation> observations,
                              const Policy& policy);

// Quality judgement (R-SRV-QJ-1..3): per-frame ISO/IEC 29794-5-named
// measures, refusal naming the failed measures, best frames for comparison.
QualityReport JudgeQuality(std::span<const FrameObservation> observations,
                           const Policy& policy);

struct Judgement {
  std::vector<FrameObservation> observations;
  LivenessVerdict liveness;
  QualityReport quality;
};
// ValidateChallenge + capture-size guard + ObserveCapture + both judgements.
// A capture with more than policy.capture.max_frames frames is judged
// without analysing any frame (verdict reason capture.too_many_frames).
Result<Judgement> JudgeCapture(const Challenge& challenge, const Capture& capture,
                               vision::FaceAnalyzer& analyzer, const Policy& policy);

// Structural check of the capture timing (also the first check of
// JudgeLiveness): capture.ok, capture.no_frames, capture.too_few_frames,
// capture.too_many_frames, capture.too_long, capture.timestamps_duplicated,
// capture.timestamps_out_of_order, capture.timestamps_implausible.
CheckResult CheckCaptureTiming(std::span<const FrameObservation> observations,
                               const Policy& policy);

}  // namespace livegate::judgement
