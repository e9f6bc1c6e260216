// Face analysis: the one engine every server judgement stands on.
// Image in (cv::Mat BGR, already decoded and EXIF-oriented - see image_io.h),
// per-face measurements out. Pure computation: no files, no network.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "livegate/default_policy.h"
#include "livegate/status.h"
#include "vision/models.h"

namespace livegate::vision {

// Which BlazeFace runs (docs/VISION.md, "Detector"). The front model
// (MediaPipe's short-range 128x128, ~1/3 of the back model's cost) finds
// faces at least ~0.12 of the image's longer side; the back model (256x256)
// down to ~0.06.
enum class DetectorChoice {
  kFrontThenBack,  // front; the back model too when the front finds no face, or
                   // only faces narrower than front_min_face_fraction (union kept)
  kBackOnly,       // the back model alone (the engine before the front model)
  kFrontOnly,      // the front model alone: faces below ~0.12 of the frame are missed
};
// "front_then_back", "back_only", "front_only".
const char* DetectorChoiceName(DetectorChoice choice);
std::optional<DetectorChoice> ParseDetectorChoice(std::string_view name);

// The model that found a face.
enum class FaceDetectorModel { kFront, kBack };

struct AnalyzerOptions {
  std::filesystem::path model_dir = DefaultModelDir();
  DetectorChoice detector = DetectorChoice::kFrontThenBack;
  // kFrontThenBack: when the front model's largest face is narrower than
  // this fraction of the image's longer side, the back model runs as well.
  // 0.24 = twice the front model's measured floor (0.12): every face at
  // least half the main face's width - the size the judgement counts as a
  // second face (second_face_ratio 0.5) - is then within the front model's
  // range; smaller mains get the back model's reach. 0 = fallback only when
  // the front model finds nothing.
  float front_min_face_fraction = 0.24f;
  float min_detector_score = 0.6f;    // back BlazeFace sigmoid threshold (0.6: 42 of 43 dlib example faces, no false positive)
  // The front model's own threshold: on the shared data's and johns' faces
  // it scored >= 0.7 on 624 of 630 (the rest go to the back model), and a
  // dog's face in dlib's dogs.jpg scored 0.61 (a false face at 0.6).
  float min_front_detector_score = 0.7f;
  float nms_iou = 0.3f;               // non-maximum suppression overlap
  int min_face_pixels = 40;           // faces smaller than this (box width, px) are "tiny"
  int max_faces = 4;                  // analyse at most this many (largest first)
  // When the detector finds nothing, or only faces touching the image edge,
  // retry once on the image padded with a grey border of this fraction of
  // its longer side (faces that fill the frame, e.g. 92x112 ORL crops);
  // 0 turns the retry off.
  float pad_retry_margin = 0.35f;
  bool compute_mesh = true;           // FaceMesh + pose + eye/mouth measures
  bool compute_descriptor = true;     // aligned chip + 128-D descriptor
  // MediaPipe Iris eye openness per face (needs compute_mesh): the mesh
  // eyelids do not close (a shut eye reads ~0.55 of open), the Iris contour
  // does. Two 64x64 Iris runs a face.
  bool compute_iris = false;
  bool compute_passive_pad = false;   // antispoof + liveness weak signals
  // AnalyzeVideoFrame only: run the detector at least every N frames (new
  // faces), and whenever a tracked face's mesh confidence drops below the
  // threshold (face lost).
  int track_redetect_every = 10;
  float track_min_mesh_confidence = 0.5f;
};

struct HeadPose {
  float yaw_deg = 0;    // + = face turned to its own left (camera sees right cheek)
  float pitch_deg = 0;  // + = chin up
  float roll_deg = 0;   // + = head tilted clockwise in the image
};

struct FaceAnalysis {
  cv::Rect2f box;                       // image pixels
  float detector_score = 0;             // 0..1
  FaceDetectorModel detected_by = FaceDetectorModel::kBack;  // tracked faces: the last detection's
  std::array<cv::Point2f, 6> keypoints; // BlazeFace: r-eye, l-eye, nose, mouth, r-ear, l-ear
  bool tiny = false;                    // box narrower than min_face_pixels: no mesh/descriptor
  bool tracked = false;                 // AnalyzeVideoFrame: placed from the previous frame's mesh,
                                        // no detector run (box/keypoints then derived from the mesh,
                                        // detector_score is the last detection's)

  // Present when compute_mesh and the face is not tiny.
  std::vector<cv::Point3f> mesh;        // 468 points, image pixels (z relative, same scale as x)
  float mesh_confidence = 0;            // FaceMesh face-presence, 0..1
  HeadPose pose;
  float left_eye_openness = 0;          // eye aspect ratio (lid gap / eye width), ~0.25-0.35 open, <0.1 closed
  float right_eye_openness = 0;
  float mouth_openness = 0;             // inner-lip gap / mouth width, ~0 closed
  float inter_eye_distance = 0;         // pixels, between eye centres

  // Present when compute_descriptor and the face is not tiny.
  cv::Mat chip;                         // 150x150 BGR aligned chip
  std::optional<Descriptor> descriptor;

  // {right, left} eye openness from MediaPipe Iris, same units as the mesh
  // measures (compute_iris; empty when the eye corners are degenerate).
  std::optional<std::array<float, 2>> iris_eye_openness;
  std::optional<float> antispoof_score; // weak signal (compute_passive_pad)
  std::optional<float> liveness_score;  // weak signal (compute_passive_pad)
};

class FaceAnalyzer {
 public:
  static Result<std::unique_ptr<FaceAnalyzer>> Create(const AnalyzerOptions& options = {});
  virtual ~FaceAnalyzer() = default;
  // All faces found, largest first. An image with no face is an OK result
  // with an empty vector (a decision, not an error). Not thread-safe: one
  // analyzer per thread.
  virtual Result<std::vector<FaceAnalysis>> Analyze(const cv::Mat& bgr) = 0;
  virtual const AnalyzerOptions& options() const = 0;
  // Consecutive frames of one video: like Analyze, but each face's FaceMesh
  // crop is placed from its mesh in the previous frame (MediaPipe's
  // tracking), so the detector (about half the cost of a frame) runs only on
  // the first frame, when a face is lost, and every track_redetect_every
  // frames. Call ResetTracking() before another video.
  virtual Result<std::vector<FaceAnalysis>> AnalyzeVideoFrame(const cv::Mat& bgr) { return Analyze(bgr); }
  // A frame between the video's regular frames (the judgement's blink-only
  // frames, judgement/capture_rate.h): tracked like AnalyzeVideoFrame, but
  // it does not count toward track_redetect_every, so the detector keeps
  // the cadence of the regular frames (issue 16: a 30 fps blink window
  // does not run the detector twice as often). The detector still runs
  // here when there is no track or the face is lost.
  virtual Result<std::vector<FaceAnalysis>> AnalyzeVideoFrameBetween(const cv::Mat& bgr) {
    return AnalyzeVideoFrame(bgr);
  }
  virtual void ResetTracking() {}
};

// Comparison (R-SRV-CMP-1): Euclidean distance between descriptors and the
// same/different decision at a threshold. The default is the default policy's
// (medium tier, generated from config/policy.default.json: one default
// everywhere, issue 14); dlib's own reference threshold is 0.6.
struct Comparison {
  float distance = 0;
  bool same = false;
};
constexpr float kDefaultCompareThreshold = static_cast<float>(default_policy::kCompareThreshold);
constexpr float kDlibReferenceThreshold = 0.6f;
float DescriptorDistance(const Descriptor& a, const Descriptor& b);
Comparison CompareDescriptors(const Descriptor& a, const Descriptor& b,
                              float threshold = kDefaultCompareThreshold);

}  // namespace livegate::vision
