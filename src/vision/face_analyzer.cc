// The face analysis pipeline (issue 2): BlazeFace detection (front 128
// model first, back 256 model as the fallback) -> FaceMesh on an upright
// crop -> head pose, eye/mouth openness -> dlib-aligned chip -> 128-D
// descriptor; and the comparison decision (R-SRV-CMP-1). Every network
// runs once per face; crops are cut straight from the source image with one
// warpAffine each (no intermediate copies of the whole frame).
#include "vision/face_analyzer.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "vision/alignment.h"
#include "vision/blazeface_decode.h"
#include "vision/face_measures.h"
#include "vision/head_pose.h"
#include "vision/image_io.h"
#include "vision/iris_eyes.h"

namespace livegate::vision {
namespace {

// FaceMesh wants the face in a square about 1.5x the detector box
// (MediaPipe's detection-to-ROI scale), upright.
constexpr float kMeshCropScale = 1.5f;
// Tracking: a BlazeFace box is ~0.91x the mesh's upright extent and its
// centre sits ~0.04 box widths below the mesh's (measured on the 32 faces of
// the dlib examples and the _multi photos), so a box derived from a mesh
// gives FaceMesh the same framing as one from the detector.
constexpr float kBoxPerMeshExtent = 0.91f;
constexpr float kBoxCentreBelowMesh = 0.04f;

class FaceAnalyzerImpl final : public FaceAnalyzer {
 public:
  explicit FaceAnalyzerImpl(const AnalyzerOptions& options) : options_(options) {}

  Status Load() {
    const auto& dir = options_.model_dir;
    // A security product: a missing front model is a clear error at
    // Create (scripts/setup extracts it), not a silent back-only engine.
    if (options_.detector != DetectorChoice::kBackOnly) {
      LG_ASSIGN_OR_RETURN(front_, BlazeFaceFrontModel::Load(dir));
    }
    if (options_.detector != DetectorChoice::kFrontOnly) {
      LG_ASSIGN_OR_RETURN(detector_, BlazeFaceModel::Load(dir));
    }
    if (options_.compute_mesh) {
      LG_ASSIGN_OR_RETURN(mesh_, FaceMeshModel::Load(dir));
    }
    if (options_.compute_descriptor) {
      LG_ASSIGN_OR_RETURN(descriptor_, DescriptorModel::Load(dir));
    }
    if (options_.compute_iris && options_.compute_mesh) {
      LG_ASSIGN_OR_RETURN(iris_, IrisModel::Load(dir));
    }
    if (options_.compute_passive_pad) {
      LG_ASSIGN_OR_RETURN(antispoof_, AntispoofModel::Load(dir));
      LG_ASSIGN_OR_RETURN(liveness_, LivenessModel::Load(dir));
    }
    return Status::Ok();
  }

  const AnalyzerOptions& options() const override { return options_; }

  void ResetTracking() override {
    tracks_.clear();
    frames_since_detection_ = 0;
  }

  Result<std::vector<FaceAnalysis>> AnalyzeVideoFrame(const cv::Mat& input) override {
    return VideoFrame(input, /*regular=*/true);
  }

  Result<std::vector<FaceAnalysis>> AnalyzeVideoFrameBetween(const cv::Mat& input) override {
    return VideoFrame(input, /*regular=*/false);
  }

  Result<std::vector<FaceAnalysis>> VideoFrame(const cv::Mat& input, bool regular) {
    const bool detect = tracks_.empty() || !options_.compute_mesh ||
                        (regular && frames_since_detection_ + 1 >= std::max(1, options_.track_redetect_every));
    if (!detect) {
      if (input.empty()) return Status::InvalidArgument("image.empty", "empty image");
      cv::Mat converted;
      const cv::Mat* bgr = &input;
      if (input.type() != CV_8UC3) {
        LG_ASSIGN_OR_RETURN(converted, ToBgr8(input));
        bgr = &converted;
      }
      std::vector<FaceAnalysis> faces;
      bool lost = false;
      for (const FaceAnalysis& t : tracks_) {
        FaceAnalysis f;
        f.box = t.box;
        f.keypoints = t.keypoints;
        f.detector_score = t.detector_score;
        f.detected_by = t.detected_by;
        f.tracked = true;
        f.tiny = f.box.width < static_cast<float>(options_.min_face_pixels);
        if (f.tiny) {
          lost = true;
          break;
        }
        LG_RETURN_IF_ERROR(AnalyzeFace(*bgr, f));
        if (f.mesh_confidence < options_.track_min_mesh_confidence) {
          lost = true;
          break;
        }
        PlaceFromMesh(f);
        faces.push_back(std::move(f));
      }
      if (!lost) {
        LG_RETURN_IF_ERROR(DescribeChips(faces));
        if (regular) ++frames_since_detection_;
        SortLargestFirst(faces);
        UpdateTracks(faces);
        return faces;
      }
    }
    LG_ASSIGN_OR_RETURN(std::vector<FaceAnalysis> faces, Analyze(input));
    frames_since_detection_ = 0;
    UpdateTracks(faces);
    return faces;
  }

  Result<std::vector<FaceAnalysis>> Analyze(const cv::Mat& input) override {
    if (input.empty()) return Status::InvalidArgument("image.empty", "empty image");
    cv::Mat converted;
    const cv::Mat* bgr = &input;
    if (input.type() != CV_8UC3) {
      LG_ASSIGN_OR_RETURN(converted, ToBgr8(input));
      bgr = &converted;
    }

    LG_ASSIGN_OR_RETURN(std::vector<FaceAnalysis> faces, Detect(*bgr, 0));
    // A face that fills the frame (a tight crop such as the ORL set) has no
    // context around it and BlazeFace, trained on faces with margin, misses it
    // or finds only a sliver: retry once on the image padded with a grey
    // border, and keep that answer when it finds a face.
    if (options_.pad_retry_margin > 0 && (faces.empty() || AllTouchBorder(faces, *bgr) || LargestTiny(faces))) {
      const int margin = static_cast<int>(
          std::lround(options_.pad_retry_margin * std::max(bgr->cols, bgr->rows)));
      if (margin > 0) {
        cv::copyMakeBorder(*bgr, padded_, margin, margin, margin, margin, cv::BORDER_CONSTANT,
                           cv::Scalar::all(128));
        LG_ASSIGN_OR_RETURN(std::vector<FaceAnalysis> retry, Detect(padded_, static_cast<float>(margin)));
        if (!retry.empty() && (faces.empty() || !LargestTiny(retry))) faces = std::move(retry);
      }
    }
    SortLargestFirst(faces);
    if (options_.max_faces >= 0 && faces.size() > static_cast<size_t>(options_.max_faces)) {
      faces.resize(static_cast<size_t>(options_.max_faces));
    }
    for (auto& f : faces) {
      if (f.tiny) continue;
      LG_RETURN_IF_ERROR(AnalyzeFace(*bgr, f));
    }
    LG_RETURN_IF_ERROR(DescribeChips(faces));
    return faces;
  }

 private:
  // The detector(s) the options choose, on `bgr`; boxes and keypoints are
  // shifted by -`shift` (the border added around the caller's image) into
  // its coordinates.
  Result<std::vector<FaceAnalysis>> Detect(const cv::Mat& bgr, float shift) {
    switch (options_.detector) {
      case DetectorChoice::kBackOnly:
        return DetectWith(FaceDetectorModel::kBack, bgr, shift);
      case DetectorChoice::kFrontOnly:
        return DetectWith(FaceDetectorModel::kFront, bgr, shift);
      case DetectorChoice::kFrontThenBack:
        break;
    }
    LG_ASSIGN_OR_RETURN(std::vector<FaceAnalysis> faces, DetectWith(FaceDetectorModel::kFront, bgr, shift));
    float widest = 0;
    for (const auto& f : faces) widest = std::max(widest, f.box.width);
    if (!faces.empty() &&
        widest >= options_.front_min_face_fraction * static_cast<float>(std::max(bgr.cols, bgr.rows))) {
      return faces;
    }
    // No face, or a main face small enough that a face half its width may
    // be below the front model's reach: the back model's answer, plus any
    // front face it does not overlap (nothing found is dropped).
    LG_ASSIGN_OR_RETURN(std::vector<FaceAnalysis> back, DetectWith(FaceDetectorModel::kBack, bgr, shift));
    for (auto& f : faces) {
      const bool seen = std::any_of(back.begin(), back.end(),
                                    [&](const FaceAnalysis& b) { return IoU(b.box, f.box) > options_.nms_iou; });
      if (!seen) back.push_back(std::move(f));
    }
    return back;
  }

  // One pass of one model.
  Result<std::vector<FaceAnalysis>> DetectWith(FaceDetectorModel model, const cv::Mat& bgr, float shift) {
    const bool front = model == FaceDetectorModel::kFront;
    const int side = front ? BlazeFaceFrontModel::kInputSize : BlazeFaceModel::kInputSize;
    cv::Mat& input = front ? det_front_input_ : det_input_;
    const Letterbox lb = LetterboxRgb(bgr, side, input);
    BlazeFaceOutput raw;
    if (front) {
      LG_ASSIGN_OR_RETURN(raw, front_->Run(input));
    } else {
      LG_ASSIGN_OR_RETURN(raw, detector_->Run(input));
    }
    std::vector<BlazeFaceDetection> dets =
        DecodeBlazeFace(raw.logits, raw.regressors,
                        front ? options_.min_front_detector_score : options_.min_detector_score, options_.nms_iou, side);
    const cv::Point2f d0(shift, shift);
    std::vector<FaceAnalysis> faces;
    faces.reserve(dets.size());
    for (const auto& d : dets) {
      FaceAnalysis f;
      f.box = lb.ToImage(d.box);
      f.box.x -= shift;
      f.box.y -= shift;
      f.detector_score = d.score;
      f.detected_by = model;
      for (int k = 0; k < 6; ++k) f.keypoints[k] = lb.ToImage(d.keypoints[k]) - d0;
      f.tiny = f.box.width < static_cast<float>(options_.min_face_pixels);
      faces.push_back(std::move(f));
    }
    return faces;
  }

  static bool LargestTiny(const std::vector<FaceAnalysis>& faces) {
    const auto it = std::max_element(faces.begin(), faces.end(), [](const FaceAnalysis& a, const FaceAnalysis& b) {
      return a.box.area() < b.box.area();
    });
    return it != faces.end() && it->tiny;
  }

  // True when every box reaches (within 1 px) or crosses an image edge.
  static bool AllTouchBorder(const std::vector<FaceAnalysis>& faces, const cv::Mat& img) {
    return std::all_of(faces.begin(), faces.end(), [&](const FaceAnalysis& f) {
      return f.box.x <= 1 || f.box.y <= 1 || f.box.x + f.box.width >= img.cols - 1 ||
             f.box.y + f.box.height >= img.rows - 1;
    });
  }

  static void SortLargestFirst(std::vector<FaceAnalysis>& faces) {
    std::stable_sort(faces.begin(), faces.end(),
                     [](const FaceAnalysis& a, const FaceAnalysis& b) { return a.box.area() > b.box.area(); });
  }

  // Keeps what the next frame needs (box, keypoints, score) of every face
  // whose mesh is trustworthy.
  void UpdateTracks(const std::vector<FaceAnalysis>& faces) {
    tracks_.clear();
    for (const auto& f : faces) {
      if (f.tiny || f.mesh.size() < static_cast<size_t>(mesh_index::kCount) ||
          f.mesh_confidence < options_.track_min_mesh_confidence) {
        continue;
      }
      FaceAnalysis t;
      t.box = f.box;
      t.keypoints = f.keypoints;
      t.detector_score = f.detector_score;
      t.detected_by = f.detected_by;
      tracks_.push_back(std::move(t));
    }
  }

  // A detector-like box and keypoints from this frame's mesh.
  static void PlaceFromMesh(FaceAnalysis& f) {
    using namespace mesh_index;
    const auto& m = f.mesh;
    const cv::Point2f re = RightEyeCentre(m), le = LeftEyeCentre(m);
    const float a = std::atan2(le.y - re.y, le.x - re.x);
    const float c = std::cos(a), s = std::sin(a);
    // Extent in the face's upright frame.
    float u0 = 1e30f, u1 = -1e30f, v0 = 1e30f, v1 = -1e30f;
    for (const auto& p : m) {
      const float u = c * p.x + s * p.y, v = -s * p.x + c * p.y;
      u0 = std::min(u0, u), u1 = std::max(u1, u), v0 = std::min(v0, v), v1 = std::max(v1, v);
    }
    const float side = kBoxPerMeshExtent * std::max(u1 - u0, v1 - v0);
    const float uc = (u0 + u1) / 2, vc = (v0 + v1) / 2 + kBoxCentreBelowMesh * side;
    const cv::Point2f centre(c * uc - s * vc, s * uc + c * vc);
    f.box = {centre.x - side / 2, centre.y - side / 2, side, side};
    auto pt = [&](int i) { return cv::Point2f(m[i].x, m[i].y); };
    f.keypoints = {re, le, pt(kNoseTip), (pt(kInnerLipUpper) + pt(kInnerLipLower)) * 0.5f, pt(234), pt(454)};
  }

  // Everything of one face but its descriptor: compute_descriptor leaves
  // the aligned chip for DescribeChips.
  // The descriptors of every face with a chip, as one batch: each layer
  // passes over all chips while its weights are in cache (8.0 -> 7.3 ms a
  // chip for group photos; one chip is one plain run; same values).
  Status DescribeChips(std::vector<FaceAnalysis>& faces) {
    std::vector<cv::Mat> chips_rgb;
    std::vector<FaceAnalysis*> waiting;
    for (FaceAnalysis& f : faces) {
      if (f.chip.empty() || f.descriptor) continue;
      cv::Mat rgb;
      cv::cvtColor(f.chip, rgb, cv::COLOR_BGR2RGB);
      chips_rgb.push_back(std::move(rgb));
      waiting.push_back(&f);
    }
    if (chips_rgb.empty()) return Status::Ok();
    LG_ASSIGN_OR_RETURN(std::vector<Descriptor> ds, descriptor_->RunBatch(chips_rgb));
    if (ds.size() != waiting.size()) {
      return Status::Internal("model.inference_failed", "descriptor batch returned the wrong count");
    }
    for (size_t i = 0; i < waiting.size(); ++i) waiting[i]->descriptor = ds[i];
    return Status::Ok();
  }

  Status AnalyzeFace(const cv::Mat& bgr, FaceAnalysis& f) {
    // Upright: the BlazeFace eye keypoints give the roll.
    const cv::Point2f eyes = f.keypoints[1] - f.keypoints[0];
    const float roll = std::atan2(eyes.y, eyes.x);
    const cv::Point2f centre(f.box.x + f.box.width / 2, f.box.y + f.box.height / 2);
    const float extent = std::max(f.box.width, f.box.height);

    if (options_.compute_mesh) {
      const int side = FaceMeshModel::kInputSize;
      const CropTransform t = MakeRotatedCrop(centre, extent * kMeshCropScale, roll, side);
      WarpCrop(bgr, t, side, crop_);
      cv::cvtColor(crop_, crop_rgb_, cv::COLOR_BGR2RGB);
      LG_ASSIGN_OR_RETURN(FaceMeshOutput m, mesh_->Run(crop_rgb_));
      f.mesh.resize(m.points.size());
      for (size_t i = 0; i < m.points.size(); ++i) {
        const cv::Point2f p = t.ToImage({m.points[i].x, m.points[i].y});
        f.mesh[i] = {p.x, p.y, static_cast<float>(m.points[i].z * t.scale)};
      }
      f.mesh_confidence = m.confidence;
      if (f.mesh.size() >= static_cast<size_t>(mesh_index::kCount)) {
        f.pose = EstimateHeadPose(f.mesh, bgr.size());
        f.right_eye_openness = RightEyeOpenness(f.mesh);
        f.left_eye_openness = LeftEyeOpenness(f.mesh);
        f.mouth_openness = MouthOpenness(f.mesh);
        const cv::Point2f d = LeftEyeCentre(f.mesh) - RightEyeCentre(f.mesh);
        f.inter_eye_distance = std::hypot(d.x, d.y);
      }
    } else {
      f.inter_eye_distance = std::hypot(eyes.x, eyes.y);
    }

    if (iris_ && f.mesh.size() >= static_cast<size_t>(mesh_index::kCount)) {
      auto eyes_open = IrisEyeOpenness(bgr, f.mesh, *iris_);
      if (eyes_open.ok()) {
        f.iris_eye_openness = *eyes_open;
      } else if (eyes_open.status().reason() != "vision.no_mesh") {
        return eyes_open.status();  // the network failed: an error, not a measure
      }
    }

    if (options_.compute_descriptor) {
      // dlib's 5 points from the mesh when we have it; else from BlazeFace
      // keypoints (eye centres +- a quarter of the eye spacing; nose base
      // just below the nose tip), which is coarser.
      std::array<cv::Point2f, 5> pts;
      if (f.mesh.size() >= static_cast<size_t>(mesh_index::kCount)) {
        pts = DlibFivePoints(f.mesh);
      } else {
        const cv::Point2f r = f.keypoints[0], l = f.keypoints[1], half = (l - r) * 0.22f;
        const cv::Point2f down(-eyes.y, eyes.x);
        pts = {l + half, l - half, r - half, r + half, f.keypoints[2] + down * 0.12f};
      }
      const int side = DescriptorModel::kInputSize;
      const CropTransform t = DlibChipTransform(pts, side, 0.25);
      WarpCrop(bgr, t, side, f.chip);
    }

    if (options_.compute_passive_pad) {
      // The passive models see the upright detector box, as human crops it.
      for (const int side : {AntispoofModel::kInputSize, LivenessModel::kInputSize}) {
        const CropTransform t = MakeRotatedCrop(centre, extent, roll, side);
        WarpCrop(bgr, t, side, crop_);
        cv::cvtColor(crop_, crop_rgb_, cv::COLOR_BGR2RGB);
        if (side == AntispoofModel::kInputSize) {
          LG_ASSIGN_OR_RETURN(float s, antispoof_->Run(crop_rgb_));
          f.antispoof_score = s;
        } else {
          LG_ASSIGN_OR_RETURN(float s, liveness_->Run(crop_rgb_));
          f.liveness_score = s;
        }
      }
    }
    return Status::Ok();
  }

  AnalyzerOptions options_;
  std::unique_ptr<BlazeFaceFrontModel> front_;
  std::unique_ptr<BlazeFaceModel> detector_;  // the back model
  std::unique_ptr<FaceMeshModel> mesh_;
  std::unique_ptr<DescriptorModel> descriptor_;
  std::unique_ptr<IrisModel> iris_;  // compute_iris
  std::unique_ptr<AntispoofModel> antispoof_;
  std::unique_ptr<LivenessModel> liveness_;
  // Scratch buffers reused between calls (one analyzer per thread).
  cv::Mat det_input_, det_front_input_, padded_, crop_, crop_rgb_;
  // AnalyzeVideoFrame state.
  std::vector<FaceAnalysis> tracks_;
  int frames_since_detection_ = 0;
};

}  // namespace

Result<std::unique_ptr<FaceAnalyzer>> FaceAnalyzer::Create(const AnalyzerOptions& options) {
  if (!(options.min_detector_score > 0 && options.min_detector_score < 1)) {
    return Status::InvalidArgument("analyzer.bad_option", "min_detector_score must be in (0, 1)");
  }
  if (!(options.min_front_detector_score > 0 && options.min_front_detector_score < 1)) {
    return Status::InvalidArgument("analyzer.bad_option", "min_front_detector_score must be in (0, 1)");
  }
  if (!(options.front_min_face_fraction >= 0 && options.front_min_face_fraction <= 1)) {
    return Status::InvalidArgument("analyzer.bad_option", "front_min_face_fraction must be in [0, 1]");
  }
  auto impl = std::make_unique<FaceAnalyzerImpl>(options);
  LG_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<FaceAnalyzer>(std::move(impl));
}

const char* DetectorChoiceName(DetectorChoice choice) {
  switch (choice) {
    case DetectorChoice::kFrontThenBack: return "front_then_back";
    case DetectorChoice::kBackOnly: return "back_only";
    case DetectorChoice::kFrontOnly: return "front_only";
  }
  return "front_then_back";
}

std::optional<DetectorChoice> ParseDetectorChoice(std::string_view name) {
  for (const DetectorChoice c : {DetectorChoice::kFrontThenBack, DetectorChoice::kBackOnly, DetectorChoice::kFrontOnly}) {
    if (name == DetectorChoiceName(c)) return c;
  }
  return std::nullopt;
}

float DescriptorDistance(const Descriptor& a, const Descriptor& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return static_cast<float>(std::sqrt(sum));
}

Comparison CompareDescriptors(const Descriptor& a, const Descriptor& b, float threshold) {
  Comparison c;
  c.distance = DescriptorDistance(a, b);
  c.same = c.distance < threshold;  // dlib: "same person" below 0.6
  return c;
}

}  // namespace livegate::vision
