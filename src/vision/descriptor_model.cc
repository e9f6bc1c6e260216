// face-api's copy of dlib's ResNet-29 face descriptor (128-D), written as
// code because face-api ships only a weight manifest (issue 2; X.1279 server
// comparison function, R-SRV-CMP-1). Topology as face-api's FaceRecognitionNet runs it:
//   (rgb - [122.782, 117.001, 104.298]) / 255
//   conv 7x7/2 VALID (32) + ReLU -> max-pool 3/2 VALID
//   residual 32 x3 -> down 64, residual 64 x3 -> down 128, residual 128 x2
//   -> down 256, residual 256 x2 -> down 256 -> mean over H, W -> fc 256x128
// A conv layer is conv + bias, then a per-channel scale layer (x*w + b), which
// is folded into the conv weights here. A residual block: conv+ReLU,
// conv, + input, ReLU. A down block: conv 3x3/2 VALID + ReLU, conv; shortcut =
// 2x2/2 average pool of the input, zero-padded in channels (and the main path
// zero-padded at the bottom/right when the pool is one pixel larger).
// Every convolution runs on the im2col + OpenBLAS sgemm layer (gemm_conv.h),
// ReLU fused where a conv is followed by one: measured faster than cv::dnn's
// Convolution on each of the network's shapes (docs/MODELS.md). The int8
// experiment (LoadQuantized) keeps cv::dnn's Convolution, the only kind
// Net::quantize can convert.
#include <utility>

#include "vision/dnn_builder.h"
#include "vision/models.h"
#include "vision/tfjs_model.h"

namespace livegate::vision {
namespace {

class Network {
 public:
  Network(const TfjsWeights& w, bool gemm)
      : w_(w), gemm_(gemm), b_({1, 3, DescriptorModel::kInputSize, DescriptorModel::kInputSize}) {}

  // relu(conv(x) [+ residual]); the residual (same shape as the output) is
  // added inside the GEMM layer's bias pass.
  Result<DnnTensor> ConvLayer(const DnnTensor& x, const std::string& prefix, int stride, bool same,
                              bool relu, const DnnTensor* residual = nullptr) {
    LG_ASSIGN_OR_RETURN(const TfjsTensor* f, Get(prefix + "/conv/filters", 4));
    LG_ASSIGN_OR_RETURN(const TfjsTensor* bias, Get(prefix + "/conv/bias", 1));
    LG_ASSIGN_OR_RETURN(const TfjsTensor* sw, Get(prefix + "/scale/weights", 1));
    LG_ASSIGN_OR_RETURN(const TfjsTensor* sb, Get(prefix + "/scale/biases", 1));
    const int kh = f->shape[0], kw = f->shape[1], in_c = f->shape[2], out_c = f->shape[3];
    if (in_c != x.shape[1] || bias->f.size() != static_cast<size_t>(out_c) ||
        sw->f.size() != static_cast<size_t>(out_c) || sb->f.size() != static_cast<size_t>(out_c)) {
      return Status::BadInput("model.corrupt", "face recognition weights: shape mismatch at " + prefix);
    }
    cv::Mat wm = MakeBlob({out_c, in_c, kh, kw});
    float* wp = wm.ptr<float>();
    for (int y = 0; y < kh; ++y)
      for (int xx = 0; xx < kw; ++xx)
        for (int i = 0; i < in_c; ++i)
          for (int o = 0; o < out_c; ++o)
            wp[((o * in_c + i) * kh + y) * kw + xx] = f->f[((y * kw + xx) * in_c + i) * out_c + o] * sw->f[o];
    std::vector<float> b(out_c);
    for (int o = 0; o < out_c; ++o) b[o] = bias->f[o] * sw->f[o] + sb->f[o];
    Pads2d pads;
    if (same) {
      std::tie(pads.top, pads.bottom) = TfSamePadding(x.shape[2], kh, stride, 1);
      std::tie(pads.left, pads.right) = TfSamePadding(x.shape[3], kw, stride, 1);
    }
    if (gemm_) return b_.GemmConv(x, wm, b, stride, stride, pads, relu, residual);
    DnnTensor out = b_.Conv(x, wm, b, 1, stride, stride, pads);
    if (residual) out = b_.Eltwise(out, *residual, "sum");
    return relu ? b_.Activation(out, "ReLU") : out;
  }

  Result<DnnTensor> Residual(const DnnTensor& x, const std::string& prefix) {
    LG_ASSIGN_OR_RETURN(DnnTensor out, ConvLayer(x, prefix + "/conv1", 1, true, true));
    return ConvLayer(out, prefix + "/conv2", 1, true, true, &x);
  }

  Result<DnnTensor> ResidualDown(const DnnTensor& x, const std::string& prefix) {
    LG_ASSIGN_OR_RETURN(DnnTensor out, ConvLayer(x, prefix + "/conv1", 2, false, true));
    DnnTensor pooled = b_.Pool(x, "AVE", 2, 2, 2, 2, Pads2d{});
    // conv2 (3x3 SAME, stride 1) keeps conv1's map size: when the pool has
    // that size too, the shortcut is added inside conv2.
    if (pooled.shape[2] == out.shape[2] && pooled.shape[3] == out.shape[3]) {
      LG_ASSIGN_OR_RETURN(const TfjsTensor* f2, Get(prefix + "/conv2/conv/filters", 4));
      const int dc = f2->shape[3] - pooled.shape[1];
      if (dc < 0) return Status::BadInput("model.corrupt", "descriptor: shortcut wider than the main path at " + prefix);
      if (dc > 0) pooled = b_.Pad(pooled, {{0, 0}, {0, dc}, {0, 0}, {0, 0}});
      return ConvLayer(out, prefix + "/conv2", 1, true, true, &pooled);
    }
    LG_ASSIGN_OR_RETURN(out, ConvLayer(out, prefix + "/conv2", 1, true, false));
    const int dh = pooled.shape[2] - out.shape[2], dw = pooled.shape[3] - out.shape[3];
    if (dh < 0 || dw < 0) return Status::Internal("model.corrupt", "descriptor: shortcut smaller than main path");
    if (dh > 0 || dw > 0) out = b_.Pad(out, {{0, 0}, {0, 0}, {0, dh}, {0, dw}});
    const int dc = out.shape[1] - pooled.shape[1];
    if (dc > 0) pooled = b_.Pad(pooled, {{0, 0}, {0, dc}, {0, 0}, {0, 0}});
    return b_.Activation(b_.Eltwise(out, pooled, "sum"), "ReLU");
  }

  Result<DnnTensor> Build() {
    DnnTensor x = b_.Input();
    LG_ASSIGN_OR_RETURN(x, ConvLayer(x, "conv32_down", 2, false, true));
    x = b_.Pool(x, "MAX", 3, 3, 2, 2, Pads2d{});
    for (const char* block : {"conv32_1", "conv32_2", "conv32_3"}) {
      LG_ASSIGN_OR_RETURN(x, Residual(x, block));
    }
    LG_ASSIGN_OR_RETURN(x, ResidualDown(x, "conv64_down"));
    for (const char* block : {"conv64_1", "conv64_2", "conv64_3"}) {
      LG_ASSIGN_OR_RETURN(x, Residual(x, block));
    }
    LG_ASSIGN_OR_RETURN(x, ResidualDown(x, "conv128_down"));
    for (const char* block : {"conv128_1", "conv128_2"}) {
      LG_ASSIGN_OR_RETURN(x, Residual(x, block));
    }
    LG_ASSIGN_OR_RETURN(x, ResidualDown(x, "conv256_down"));
    for (const char* block : {"conv256_1", "conv256_2"}) {
      LG_ASSIGN_OR_RETURN(x, Residual(x, block));
    }
    LG_ASSIGN_OR_RETURN(x, ResidualDown(x, "conv256_down_out"));
    x = b_.GlobalAveragePool(x);
    LG_ASSIGN_OR_RETURN(const TfjsTensor* fc, Get("fc", 2));
    if (fc->shape[0] != x.shape[1] || fc->shape[1] != 128) {
      return Status::BadInput("model.corrupt", "face recognition weights: fc is not 256x128");
    }
    cv::Mat wt(fc->shape[1], fc->shape[0], CV_32F);  // [in, out] -> [out, in]
    for (int r = 0; r < wt.rows; ++r)
      for (int c = 0; c < wt.cols; ++c) wt.at<float>(r, c) = fc->f[c * wt.rows + r];
    return b_.InnerProduct(x, wt, {});
  }

  DnnNetBuilder& builder() { return b_; }

 private:
  Result<const TfjsTensor*> Get(const std::string& name, size_t rank) {
    auto it = w_.find(name);
    if (it == w_.end() || it->second.shape.size() != rank || it->second.is_int()) {
      return Status::BadInput("model.corrupt", "face recognition weights: missing or malformed " + name);
    }
    return &it->second;
  }

  const TfjsWeights& w_;
  bool gemm_;  // GemmConv layers (else cv::dnn Convolution + ReLU)
  DnnNetBuilder b_;
};

// face-api's input normalisation: (rgb - mean) / 255.
const cv::Scalar kMean{122.782, 117.001, 104.298};

// Several 150x150 RGB chips as one N x 3 x 150 x 150 blob, normalised as
// Run() does. Errors: model.bad_input (a chip of the wrong size).
Result<cv::Mat> ChipsToBlob(const std::vector<cv::Mat>& rgb150s) {
  const int n = static_cast<int>(rgb150s.size());
  cv::Mat batch = MakeBlob({n, 3, DescriptorModel::kInputSize, DescriptorModel::kInputSize});
  const size_t per = size_t{3} * DescriptorModel::kInputSize * DescriptorModel::kInputSize;
  for (int i = 0; i < n; ++i) {
    LG_ASSIGN_OR_RETURN(cv::Mat blob,
                        RgbToBlob(rgb150s[static_cast<size_t>(i)], DescriptorModel::kInputSize, kMean, 255.0));
    std::copy(blob.ptr<float>(), blob.ptr<float>() + per, batch.ptr<float>() + i * per);
  }
  return batch;
}

class DescriptorDnn final : public DescriptorModel {
 public:

  DescriptorDnn(cv::dnn::Net net, std::string output) : net_(std::move(net)), output_(std::move(output)) {}

  Result<Descriptor> Run(const cv::Mat& rgb150) override {
    LG_ASSIGN_OR_RETURN(cv::Mat blob, RgbToBlob(rgb150, kInputSize, kMean, 255.0));
    return Forward(blob);
  }

  Result<std::vector<Descriptor>> RunBatch(const std::vector<cv::Mat>& rgb150s) override {
    if (rgb150s.size() <= 1) return DescriptorModel::RunBatch(rgb150s);
    LG_ASSIGN_OR_RETURN(cv::Mat batch, ChipsToBlob(rgb150s));
    return ForwardBatch(batch, static_cast<int>(rgb150s.size()));
  }

  Result<Descriptor> Forward(const cv::Mat& blob) {
    LG_ASSIGN_OR_RETURN(std::vector<Descriptor> one, ForwardBatch(blob, 1));
    return one.front();
  }

  // `blob`: n x 3 x 150 x 150, normalised.
  Result<std::vector<Descriptor>> ForwardBatch(const cv::Mat& blob, int n) {
    cv::Mat out;
    try {
      net_.setInput(blob, "input");
      out = net_.forward(output_);
    } catch (const cv::Exception& e) {
      return Status::Internal("model.inference_failed", std::string("descriptor forward failed: ") + e.what());
    }
    if (out.total() != 128 * static_cast<size_t>(n) || out.type() != CV_32F) {
      return Status::Internal("model.inference_failed", "descriptor output is not 128 floats a chip");
    }
    std::vector<Descriptor> ds(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) std::copy(out.ptr<float>() + 128 * i, out.ptr<float>() + 128 * (i + 1), ds[i].begin());
    return ds;
  }

 private:
  cv::dnn::Net net_;
  std::string output_;
};

// The float network, ready to run, and the name of its output layer.
// gemm: convolutions on the OpenBLAS layer; false for Net::quantize.
Result<std::pair<cv::dnn::Net, std::string>> BuildFloatNet(const std::filesystem::path& model_dir, bool gemm) {
  LG_ASSIGN_OR_RETURN(TfjsWeights weights,
                      LoadTfjsWeights(model_dir / "face_recognition_model-weights_manifest.json"));
  try {
    Network network(weights, gemm);
    LG_ASSIGN_OR_RETURN(DnnTensor out, network.Build());
    LG_RETURN_IF_ERROR(network.builder().status());
    std::string name = network.builder().NameOf(out);
    cv::dnn::Net net = network.builder().Release();
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return std::make_pair(std::move(net), std::move(name));
  } catch (const cv::Exception& e) {
    return Status::BadInput("model.corrupt", std::string("cv::dnn rejected the descriptor network: ") + e.what());
  }
}

Result<std::unique_ptr<DescriptorModel>> WarmedUp(cv::dnn::Net net, std::string output) {
  auto model = std::make_unique<DescriptorDnn>(std::move(net), std::move(output));
  auto warm = model->Forward(MakeBlob({1, 3, DescriptorModel::kInputSize, DescriptorModel::kInputSize}));
  if (!warm.ok()) return Status::BadInput("model.corrupt", "descriptor network does not run: " + warm.status().message());
  return std::unique_ptr<DescriptorModel>(std::move(model));
}

}  // namespace

Result<std::unique_ptr<DescriptorModel>> DescriptorModel::Load(const std::filesystem::path& model_dir) {
  LG_ASSIGN_OR_RETURN(auto built, BuildFloatNet(model_dir, /*gemm=*/true));
  return WarmedUp(std::move(built.first), std::move(built.second));
}

Result<std::unique_ptr<DescriptorModel>> DescriptorModel::LoadQuantized(
    const std::filesystem::path& model_dir, const std::vector<cv::Mat>& calibration_rgb150) {
  if (calibration_rgb150.empty()) {
    return Status::InvalidArgument("model.bad_input", "int8 calibration needs at least one face chip");
  }
  LG_ASSIGN_OR_RETURN(auto built, BuildFloatNet(model_dir, /*gemm=*/false));
  // cv::dnn takes calibration data as one blob per network input: N chips in
  // one N x 3 x 150 x 150 batch, normalised exactly as Run() does.
  LG_ASSIGN_OR_RETURN(cv::Mat batch, ChipsToBlob(calibration_rgb150));
  try {
    cv::dnn::Net quantized = built.first.quantize(std::vector<cv::Mat>{batch}, CV_32F, CV_32F);
    quantized.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    quantized.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    // The quantised net renames nothing, but its last layer dequantises the
    // output: read whatever it reports as its output.
    const std::vector<std::string> outs = quantized.getUnconnectedOutLayersNames();
    if (outs.size() != 1) return Status::Internal("model.quantize_failed", "quantised descriptor has no single output");
    return WarmedUp(std::move(quantized), outs[0]);
  } catch (const cv::Exception& e) {
    return Status::Internal("model.quantize_failed", std::string("cv::dnn::Net::quantize failed: ") + e.what());
  }
}

}  // namespace livegate::vision
