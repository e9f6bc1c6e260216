// Public types of the server's judgement (X.1279 7.3.2-7.3.3, Appendix III):
// the challenge the server draws (R-SRV-ASJ-3, decision 11.1), the capture
// the client returns (decision 11.4), the per-frame observations the
// judgement extracts from it, and the two decisions it hands back: the
// anti-spoofing verdict (R-SRV-ASJ-1..4, R-ASD-1..6) and the quality report
// (R-SRV-QJ-1..5, measure names after ISO/IEC 29794-5).
//
// A spoof verdict or a quality refusal is a decision inside an OK Result,
// never an error. Every check carries a stable reason code (dotted, like a
// Status reason) that clients, logs and tests match on.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "vision/face_analyzer.h"

namespace livegate::judgement {

// ---------------------------------------------------------------- challenge

// The actions of decision 11.1. Directions are the USER's own: turn_left =
// the user turns their head to their left (vision yaw +, see HeadPose).
enum class Action { kBlink, kOpenMouth, kTurnLeft, kTurnRight, kNod };
constexpr int kActionCount = 5;
// "blink", "open_mouth", "turn_left", "turn_right", "nod".
std::string_view ActionName(Action action);
std::optional<Action> ParseAction(std::string_view name);

// ASD types of decision 11.1.
enum class AsdType { kPassive, kActions, kActionsLight };
// "passive", "actions", "actions+light".
std::string_view AsdTypeName(AsdType type);
std::optional<AsdType> ParseAsdType(std::string_view name);

// One requested action and the window (ms from the first captured frame) in
// which it must be seen.
struct ChallengeStep {
  Action action = Action::kBlink;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};

// One screen colour the client shows full-screen during [start_ms, end_ms).
struct ColourStep {
  std::uint8_t r = 0, g = 0, b = 0;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
};

struct Challenge {
  std::string id;                  // random 128-bit hex, drawn with the challenge
  std::string bound_nonce;         // session nonce the server binds it to (R-FLOW-X2); opaque here
  AsdType type = AsdType::kActions;
  std::vector<ChallengeStep> steps;   // in the order they must happen
  std::vector<ColourStep> colours;    // only for actions+light
  std::int64_t duration_ms = 0;       // capture length the client should record
  bool scripted = false;  // true: written by a test/evaluation to match a recording,
                          // accepted only when Policy::challenge.allow_scripted
};

// Random bytes from the caller (the server passes a CSPRNG; tests a fixed
// stream). Must fill the whole span.
using RandomSource = std::function<void(std::span<std::uint8_t>)>;

// ------------------------------------------------------------------ capture

// What the client sent (decision 11.4): face-region frames with capture
// timestamps (ms, client clock, any origin). The judgement never keeps them.
struct CaptureFrame {
  std::int64_t timestamp_ms = 0;
  cv::Mat bgr;  // 8-bit BGR, already decoded (vision/image_io.h)
};
struct Capture {
  std::vector<CaptureFrame> frames;
};

// ------------------------------------------------------------ observations

// What the judgement measured on one frame. Filled by ObserveCapture() from
// the FaceAnalyzer and image statistics; the decisions are pure functions of
// these (so they are unit-testable with synthetic sequences).
struct FrameObservation {
  int index = 0;                 // position in the capture
  std::int64_t timestamp_ms = 0; // as sent by the client
  bool decodable = true;         // false: empty / unusable image
  // A frame inside a blink window above the ~15 fps grid (capture_rate.h):
  // only the blink reads it; the other checks judge the grid frames they
  // were calibrated on. Its image measures are not taken.
  bool blink_extra = false;
  int image_width = 0, image_height = 0;

  int face_count = 0;            // faces the detector found (not tiny)
  float second_face_ratio = 0;   // width of the largest other face / the main face's (0: none)
  std::vector<cv::Rect2f> other_faces;  // boxes of the other (not tiny) faces: bystanders or not (NearFaceRatio)
  bool has_face = false;         // the main face exists (the one followed from frame to frame; at first the largest)
  bool has_mesh = false;         // mesh + pose + openness measured
  cv::Rect2f box;                // main face, image pixels
  float detector_score = 0;
  float mesh_confidence = 0;
  float box_outside_fraction = 0;  // part of the box outside the image (half a face)
  vision::HeadPose pose;
  float left_eye_openness = 0;
  float right_eye_openness = 0;
  // Eye openness read by the Iris on this frame (else the mesh's lids, put
  // on the Iris scale by the cascade, or the mesh's own scale).
  bool eyes_by_iris = false;
  float mouth_openness = 0;
  float inter_eye_distance = 0;  // px
  // A fixed subset of mesh points (2D, image px) used for geometry and
  // motion checks; empty when !has_mesh.
  std::vector<cv::Point2f> landmarks;
  // dlib's 5 alignment points from the mesh (valid when has_mesh): a
  // descriptor can be computed later for the few frames that need one.
  std::array<cv::Point2f, 5> align_points{};
  // Present only on the frames the identity check and the comparison use
  // (JudgeCapture describes those alone; see FramesToDescribe).
  std::optional<vision::Descriptor> descriptor;
  std::optional<float> antispoof_score;  // weak (models.md)
  std::optional<float> liveness_score;   // weak
  // The optional passive PAD model's live probability (judgement/fusion.h
  // ScorePassiveModel): only on the few frames it scores, only when the
  // server config names a model.
  std::optional<float> pad_live_score;

  // Image measures over the face region (ISO/IEC 29794-5 style, raw units).
  float sharpness = 0;          // variance of the Laplacian on a 128-px face crop
  float mean_luma = 0;          // 0..255
  float underexposed = 0;       // fraction of face pixels <= 15
  float overexposed = 0;        // fraction of face pixels >= 245
  float illumination_uniformity = 0;  // 1 - |left-right|/(left+right) luma, 0..1
  float blockiness = 0;         // 8x8 block-edge energy ratio (JPEG), ~1 = none
  float face_r = 0, face_g = 0, face_b = 0;  // mean colour of the face centre
  float bg_r = 0, bg_g = 0, bg_b = 0;        // mean colour around the face
  float moire = 0;              // high-frequency spectral peak ratio on the face
  float border = 0;             // straight long edges framing the face, 0..1; -1 = not measured on this frame
  // Issue 13: where those edges are, per side (left, right, top, bottom):
  // the image x (left/right) or y (top/bottom) of the edge nearest the face,
  // in pixels; -1 = no edge on that side (or not measured).
  std::array<float, 4> border_edge = {-1, -1, -1, -1};
  float glare = 0;              // fraction of saturated specular blobs on the face
  // Mean absolute grey difference to the previous frame (face region),
  // 0..255; -1 for the first frame.
  float frame_difference = -1;
};

// ---------------------------------------------------------------- verdicts

// One anti-spoofing check. score in [0,1], 1 = surely bona fide.
struct CheckResult {
  std::string name;     // actions, face_angle, geometry, continuity, replay, photo, mask_cg
  bool applicable = true;   // false: not run for this challenge/capture (no effect)
  bool passed = false;
  float score = 0;
  std::string reason;   // e.g. "actions.ok", "actions.missing:blink", "continuity.identity_changed"
  std::string detail;   // human-readable figures behind the reason
};

struct LivenessVerdict {
  bool live = false;
  float score = 0;         // combined, 0..1 (the DET curve sweeps this)
  std::string reason;      // first failing check's reason, or "asd.live"
  std::vector<CheckResult> checks;
  const CheckResult* Find(std::string_view name) const;
};

// One ISO/IEC 29794-5-named measure on one frame.
struct QualityMeasure {
  std::string name;     // e.g. "inter_eye_distance", "sharpness", "head_pose_yaw"
  float value = 0;
  bool passed = false;
};
struct FrameQuality {
  int index = 0;
  bool passed = false;
  float score = 0;      // 0..100, unified (mean of normalised measures)
  std::vector<QualityMeasure> measures;
};
struct QualityReport {
  bool accepted = false;      // R-SRV-QJ-3 (true) / R-SRV-QJ-2 (false: capture again)
  std::string reason;         // "quality.ok" or "quality.failed" / "quality.no_face" / ...
  std::vector<std::string> failed_measures;  // measures that failed on every usable frame
  std::vector<int> best_frames;              // indices for comparison, best first
  std::vector<FrameQuality> frames;
};

}  // namespace livegate::judgement
