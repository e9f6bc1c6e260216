// Passive PAD model slot (issue 13; docs/ANTISPOOFING.md "Passive model
// slot"). The crop follows the MiniFASNet family's training geometry: a
// square of crop_scale x the face box's larger side, centred on the box,
// black outside the image, resized to input_size, RGB / 255, NCHW.
#include "vision/passive_pad_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

namespace livegate::vision {

cv::Rect2f PassivePadCropRect(const cv::Rect2f& box, float crop_scale) {
  const float side = crop_scale * std::max(box.width, box.height);
  const float cx = box.x + 0.5f * box.width, cy = box.y + 0.5f * box.height;
  return {cx - 0.5f * side, cy - 0.5f * side, side, side};
}

cv::Mat PassivePadCrop(const cv::Mat& bgr, const cv::Rect2f& box, float crop_scale, int size) {
  const cv::Rect2f r = PassivePadCropRect(box, crop_scale);
  cv::Mat out(size, size, CV_8UC3, cv::Scalar(0, 0, 0));
  if (bgr.empty() || r.width <= 0) return out;
  // Affine map crop -> output; pixels outside the image stay black
  // (BORDER_CONSTANT 0), the padding the models were trained with.
  const double s = double(size) / double(r.width);
  cv::Matx23d m(s, 0, -double(r.x) * s, 0, s, -double(r.y) * s);
  cv::warpAffine(bgr, out, m, cv::Size(size, size), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0));
  return out;
}


Result<std::shared_ptr<const PassivePadWeights>> ReadPinnedPassivePad(const PassivePadOptions& options) {
  std::string pin = options.sha256;
  std::transform(pin.begin(), pin.end(), pin.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (pin.size() != 64 || !std::all_of(pin.begin(), pin.end(), [](char c) { return std::isxdigit((unsigned char)c); })) {
    return Status::InvalidArgument("model.bad_pin", "passive PAD model: sha256 must be 64 hex digits (the pin of " +
                                                        options.file.string() + ")");
  }
  if (options.input_size < 16 || options.input_size > 1024 || !(options.crop_scale >= 1.0f && options.crop_scale <= 4.0f) ||
      options.live_index < 0 || options.live_index > 15) {
    return Status::InvalidArgument("model.bad_config",
                                   "passive PAD model: input_size 16..1024, crop_scale 1..4, live_index 0..15");
  }
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    return Status::NotFound("model.missing_file", "passive PAD model: cannot read " + options.file.string());
  }
  auto w = std::make_shared<PassivePadWeights>();
  w->options = options;
  w->options.sha256 = pin;
  w->onnx.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  const std::string got = ModelSha256Hex(w->onnx);
  if (got != pin) {
    return Status::InvalidArgument("model.pin_mismatch", "passive PAD model " + options.file.string() +
                                                             " has SHA-256 " + got + ", the config pins " + pin +
                                                             ": refused (a changed model is never run)");
  }
  return std::shared_ptr<const PassivePadWeights>(std::move(w));
}

struct PassivePadModel::Impl {
  std::shared_ptr<const PassivePadWeights> weights;
  cv::dnn::Net net;
  cv::Mat blob;

  Result<std::vector<float>> Forward() {
    cv::Mat out;
    try {
      net.setInput(blob);
      out = net.forward();
    } catch (const cv::Exception& e) {
      return Status::Internal("model.inference_failed", std::string("passive PAD model: forward failed: ") + e.what());
    }
    if (out.empty() || out.depth() != CV_32F) return Status::Internal("model.inference_failed", "passive PAD model: no float output");
    out = out.reshape(1, 1);
    return std::vector<float>(out.begin<float>(), out.end<float>());
  }
  void Fill(const cv::Mat& bgr_crop) {
    // NCHW, RGB / 255.
    const int n = weights->options.input_size;
    float* r = blob.ptr<float>(0, 0), *g = blob.ptr<float>(0, 1), *b = blob.ptr<float>(0, 2);
    for (int y = 0; y < n; ++y) {
      const unsigned char* p = bgr_crop.ptr<unsigned char>(y);
      for (int x = 0; x < n; ++x, p += 3) {
        *b++ = p[0] / 255.0f;
        *g++ = p[1] / 255.0f;
        *r++ = p[2] / 255.0f;
      }
    }
  }
};

PassivePadModel::PassivePadModel() : impl_(std::make_unique<Impl>()) {}
PassivePadModel::~PassivePadModel() = default;
const PassivePadOptions& PassivePadModel::options() const { return impl_->weights->options; }

Result<std::unique_ptr<PassivePadModel>> PassivePadModel::Create(std::shared_ptr<const PassivePadWeights> weights) {
  if (!weights) return Status::InvalidArgument("model.bad_config", "passive PAD model: no weights");
  std::unique_ptr<PassivePadModel> m(new PassivePadModel());
  m->impl_->weights = weights;
  try {
    m->impl_->net = cv::dnn::readNetFromONNX(reinterpret_cast<const char*>(weights->onnx.data()), weights->onnx.size());
  } catch (const cv::Exception& e) {
    return Status::Internal("model.corrupt", "passive PAD model " + weights->options.file.string() +
                                                 ": cv::dnn cannot read it: " + e.what());
  }
  if (m->impl_->net.empty()) {
    return Status::Internal("model.corrupt", "passive PAD model " + weights->options.file.string() + ": empty network");
  }
  const int n = weights->options.input_size;
  const int dims[4] = {1, 3, n, n};
  m->impl_->blob.create(4, dims, CV_32F);
  m->impl_->blob.setTo(0);
  auto probe = m->impl_->Forward();
  if (!probe.ok()) return Status::Internal("model.corrupt", probe.status().message());
  if (int(probe->size()) <= weights->options.live_index || probe->size() < 2) {
    return Status::Internal("model.bad_output", "passive PAD model: " + std::to_string(probe->size()) +
                                                    " outputs, live_index " +
                                                    std::to_string(weights->options.live_index) + " needs more");
  }
  return m;
}

Result<float> PassivePadModel::LiveProbability(const cv::Mat& bgr, const cv::Rect2f& box) {
  const PassivePadOptions& o = impl_->weights->options;
  if (bgr.empty() || bgr.type() != CV_8UC3 || !(box.width > 1 && box.height > 1)) {
    return Status::InvalidArgument("model.bad_input", "passive PAD model: needs an 8-bit BGR frame and a face box");
  }
  impl_->Fill(PassivePadCrop(bgr, box, o.crop_scale, o.input_size));
  LG_ASSIGN_OR_RETURN(std::vector<float> out, impl_->Forward());
  if (int(out.size()) <= o.live_index) return Status::Internal("model.inference_failed", "passive PAD model: short output");
  float sum = 0;
  bool probabilities = true;
  for (float v : out) {
    sum += v;
    probabilities &= v >= -1e-4f && v <= 1.0f + 1e-4f;
  }
  if (!probabilities || std::abs(sum - 1.0f) > 1e-3f) {
    const float mx = *std::max_element(out.begin(), out.end());
    sum = 0;
    for (float& v : out) sum += (v = std::exp(v - mx));
    for (float& v : out) v /= sum;
  }
  return std::clamp(out[std::size_t(o.live_index)], 0.0f, 1.0f);
}

}  // namespace livegate::vision
