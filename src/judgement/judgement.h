// The server's judgement entry points (X.1279 7.3.2 anti-spoofing judgement,
// 7.3.3 quality judgement, Appendix III server-side face ASD).
//
// Pure: no HTTP, no SQL, no files, no clock, no global randomness. The
// caller passes the policy, the random source, the face analyzer and
// (optionally) a FrameDescriber; both load their weights once, up front.
//
//   auto challenge = DrawChallenge(policy, AsdType::kActions, csprng);   // step 4
//   ... client captures ...
//   auto j = JudgeCapture(*challenge, capture, analyzer, policy, &describer);  // step 9
//   j->liveness.live, j->liveness.reason, j->quality.accepted, j->quality.best_frames
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "judgement/policy.h"
#include "judgement/types.h"
#include "livegate/status.h"
#include "vision/face_analyzer.h"

namespace livegate::vision {
class PassivePadModel;  // vision/passive_pad_model.h
}

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
// Runs the analyzer on the frames as one video (FaceAnalyzer::
// AnalyzeVideoFrame: the detector on the first frame, when the face is lost
// and every track_redetect_every frames; FaceMesh placed from the previous
// frame's mesh) and the image measures on every frame. Tracking is reset
// before and after. Frames are not kept. Descriptors are whatever the
// analyzer computes (none with compute_descriptor=false: see
// FrameDescriber). Structural problems of the capture (too many frames, bad
// timestamps) are NOT errors here: JudgeLiveness reports them as the
// `capture` check. Errors: only analyzer failures (vision reasons).
// Eye openness comes from the Iris eye contour when
// policy.action.eye_openness_from_iris (two 64x64 network runs per frame,
// ~6 ms), except when `challenge` is given, asks for actions and none is a
// blink: then nothing needs the closure depth and the mesh's lids are kept.
Result<std::vector<FrameObservation>> ObserveCapture(const Capture& capture,
                                                     vision::FaceAnalyzer& analyzer,
                                                     const Policy& policy,
                                                     const Challenge* challenge = nullptr);

// 128-D descriptors for the few frames that need one (the identity check of
// `continuity` and the best frames for comparison), computed from the dlib
// points the tracked mesh gave (FrameObservation::align_points): the same
// aligned chip and network as FaceAnalyzer with compute_descriptor. A
// descriptor costs about as much as three tracked FaceMesh frames, so a
// 30-frame capture is judged with ~6 of them instead of 30. Not thread-safe:
// one per thread, like the analyzer.
class FrameDescriber {
 public:
  // Reasons: vision's model.* (missing or unreadable weights).
  static Result<std::unique_ptr<FrameDescriber>> Create(
      const std::filesystem::path& model_dir = vision::DefaultModelDir());
  ~FrameDescriber();
  Result<vision::Descriptor> Describe(const cv::Mat& bgr, const std::array<cv::Point2f, 5>& align_points);
  // Several frames in one forward pass (DescriptorModel::RunBatch: each
  // layer runs over all chips while its weights are in cache; the same
  // values as Describe one by one). `bgrs[k]` with `align_points[k]`.
  Result<std::vector<vision::Descriptor>> DescribeBatch(
      const std::vector<const cv::Mat*>& bgrs, const std::vector<std::array<cv::Point2f, 5>>& align_points);

 private:
  FrameDescriber();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The frames that get a descriptor: policy.continuity.identity_samples
// near-frontal mesh frames evenly spread over the capture, plus the
// ComparisonFrames (so the frames averaged into the template are also the
// ones proven to be the same person, and the server describes none twice:
// issue 16). Sorted, unique.
// The frames whose descriptors are averaged into the capture's template
// for comparison (issue 14): up to policy.quality.best_frames frames spread
// over the capture - the first, middle and last in time of the frames
// passing every quality measure (diverse frames; measured against the top
// quality scores in docs/EVALUATION.md). Empty when none passes.
std::vector<int> ComparisonFrames(const QualityReport& quality, const Policy& policy);

std::vector<int> FramesToDescribe(std::span<const FrameObservation> observations,
                                  const QualityReport& quality, const Policy& policy);

// -------------------------------------------------------- display report
// What an actions+light client says it drew full-screen (the capture's
// "display", docs/API.md): at t_ms, on the frames' clock, the screen turned
// to a colour (lit) or back to none (!lit).
struct DisplayChange {
  std::int64_t t_ms = 0;
  bool lit = false;
  std::uint8_t r = 0, g = 0, b = 0;
};

struct DisplayAlignment {
  // The challenge with its colour windows moved to the times the client
  // drew them (relative to the first frame, like every window): the light
  // check (CheckReplay) then expects on each frame the colour that was on
  // screen, not the nominal one. Steps and everything else unchanged.
  Challenge drawn;
  std::int64_t max_offset_ms = 0;  // largest |drawn - challenge| over the reported changes
  bool reported = false;           // false: no colour sequence and no report (drawn = challenge)
};

// Checks a display report against the challenge's colour sequence and
// aligns the sequence on it. The sequence's changes are each colour's start
// and, when the next colour does not follow at once, its end ("none").
// `frame_times_ms`: the capture's frame timestamps in order (client clock;
// the first is the origin, as for the judgement). Tolerance:
// policy.replay.display_tolerance_ms. Refusals (BadInput), in this order:
//   display.missing          a colour sequence and no report;
//   display.unexpected       a report for a challenge without colours;
//   display.frames_outside_sequence  a frame later than the challenge's
//                            duration + tolerance (no sequence covers it);
//   display.too_many_changes more changes than the sequence has;
//   display.colour_mismatch  change k is not the sequence's k-th change;
//   display.outside_capture  a change before the first frame or after the
//                            last one by more than the tolerance;
//   display.timing_mismatch  change k drawn more than the tolerance away
//                            from the sequence's time for it;
//   display.incomplete       a change of the sequence missing although
//                            frames were taken after its time + tolerance.
Result<DisplayAlignment> AlignDisplay(const Challenge& challenge,
                                      const std::optional<std::vector<DisplayChange>>& display,
                                      std::span<const std::int64_t> frame_times_ms,
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

// Failure to acquire (ISO/IEC 30107-3 non-response): no frame has a face
// mesh with an inter-eye distance of at least policy.quality.
// min_inter_eye_distance, so no check can be judged on the face. The
// server refuses such a capture on quality (R-SRV-QJ-2, the client captures
// again); the evaluation reports it per type apart from APCER/BPCER.
bool FailedToAcquire(std::span<const FrameObservation> observations, const Policy& policy);

struct Judgement {
  std::vector<FrameObservation> observations;
  LivenessVerdict liveness;
  QualityReport quality;
};
// ValidateChallenge + capture-size guard + ObserveCapture + quality +
// descriptors on FramesToDescribe (by `describer` when given, else kept from
// an analyzer that computes them; other frames' descriptors are dropped so
// both ways judge the same frames) + liveness.
// Fast server path (decision in docs/ANTISPOOFING.md): an analyzer with
// compute_descriptor=false plus a describer. A capture with more than
// policy.capture.max_frames frames is judged without analysing any frame
// (verdict reason capture.too_many_frames).
// `pad_model` (optional, from the server config): the passive PAD model
// scores a few frames (FramesForPassiveModel) and the verdict gets a
// pad_model check (judgement/fusion.h); nullptr = no model, the verdict is
// the same as without the slot.
Result<Judgement> JudgeCapture(const Challenge& challenge, const Capture& capture,
                               vision::FaceAnalyzer& analyzer, const Policy& policy,
                               FrameDescriber* describer = nullptr,
                               vision::PassivePadModel* pad_model = nullptr);

// Structural check of the capture timing (also the first check of
// JudgeLiveness): capture.ok, capture.no_frames, capture.too_few_frames,
// capture.too_many_frames, capture.too_long, capture.timestamps_duplicated,
// capture.timestamps_out_of_order, capture.timestamps_implausible.
CheckResult CheckCaptureTiming(std::span<const FrameObservation> observations,
                               const Policy& policy);

}  // namespace livegate::judgement
