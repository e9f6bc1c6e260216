// Face analysis: the one engine every server judgement stands on.
// Image in (cv::Mat BGR, already decoded and EXIF-oriented - see image_io.h),
// per-face measurements out. Pure computation: no files, no network.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>

#include "livegate/status.h"
#include "vision/models.h"

namespace livegate::vision {

struct AnalyzerOptions {
  std::filesystem::path model_dir = DefaultModelDir();
  float min_detector_score = 0.6f;    // BlazeFace sigmoid threshold (0.6: 42 of 43 dlib example faces, no false positive)
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
  virtual void ResetTracking() {}
};

// Comparison (R-SRV-CMP-1): Euclidean distance between descriptors and the
// same/different decision at a threshold (dlib's 0.6 by default; the policy
// file sets the operating threshold).
struct Comparison {
  float distance = 0;
  bool same = false;
};
constexpr float kDefaultCompareThreshold = 0.6f;
float DescriptorDistance(const Descriptor& a, const Descriptor& b);
Comparison CompareDescriptors(const Descriptor& a, const Descriptor& b,
                              float threshold = kDefaultCompareThreshold);

}  // namespace livegate::vision
