// Optional slot for a learned passive presentation-attack (PAD) model of
// the MiniFASNet family (issue 13): an ONNX network that looks at a square
// crop of the face WITH its surroundings and returns a softmax whose
// `live_index` entry is the probability of a bona fide face.
//
// The product ships no such model (the ones measured here may not be
// shipped: docs/MODELS.md) and works without one. An operator who has a
// model it may use names the file and its SHA-256 in the server config; the
// file is read once, checked against the pin BEFORE cv::dnn parses it (a
// changed or corrupted file is refused, never run: R-SRV-SM-1), and every
// analyzer slot builds its own network from those verified bytes.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "livegate/status.h"
#include "vision/models.h"  // ModelSha256Hex

namespace livegate::vision {

struct PassivePadOptions {
  std::filesystem::path file;   // the ONNX file
  std::string sha256;           // its SHA-256, 64 hex digits (required)
  int input_size = 128;         // square network input, pixels
  float crop_scale = 1.5f;      // crop side = crop_scale x the face box's larger side
  int live_index = 0;           // softmax entry of the bona fide class
};

// The square crop around `box` (centred on it, side crop_scale x its larger
// side), in image coordinates: it may extend beyond the image.
cv::Rect2f PassivePadCropRect(const cv::Rect2f& box, float crop_scale);
// That crop of `bgr` resized to size x size (BGR, CV_8UC3); where it leaves
// the image the pixels are black (the models were trained that way).
cv::Mat PassivePadCrop(const cv::Mat& bgr, const cv::Rect2f& box, float crop_scale, int size);

// The verified file bytes, shared by every network built from them.
struct PassivePadWeights {
  PassivePadOptions options;
  std::vector<unsigned char> onnx;
};

// Reads options.file and checks its SHA-256 against options.sha256.
// Reasons: model.bad_pin (the pin is not 64 hex digits), model.missing_file,
// model.pin_mismatch (the file's hash differs: the message gives both),
// model.bad_config (input_size, crop_scale or live_index out of range).
Result<std::shared_ptr<const PassivePadWeights>> ReadPinnedPassivePad(const PassivePadOptions& options);

// One network (not thread-safe: one per analyzer slot).
class PassivePadModel {
 public:
  // Builds the network from verified bytes and runs it once on a black
  // input to check the output: at least live_index + 1 entries.
  // Reasons: model.corrupt (cv::dnn cannot read or run it),
  // model.bad_output (too few outputs).
  static Result<std::unique_ptr<PassivePadModel>> Create(std::shared_ptr<const PassivePadWeights> weights);
  ~PassivePadModel();

  // Probability (0..1) that the face in `box` of the BGR frame is bona fide.
  // The output is used as a softmax when it is one (entries in [0,1]
  // summing to 1), else a softmax is applied to it (a model exported
  // without its last layer). Reasons: model.bad_input, model.inference_failed.
  Result<float> LiveProbability(const cv::Mat& bgr, const cv::Rect2f& box);
  const PassivePadOptions& options() const;

 private:
  PassivePadModel();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livegate::vision
