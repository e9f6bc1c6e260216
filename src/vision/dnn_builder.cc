// Programmatic cv::dnn::Net construction with shape tracking. See dnn_builder.h.
#include "vision/dnn_builder.h"

#include "vision/gemm_conv.h"
#include "vision/max_pool_layer.h"

#include <algorithm>
#include <optional>

namespace livegate::vision {
namespace {

cv::dnn::DictValue IntList(const std::vector<int>& v) {
  return cv::dnn::DictValue::arrayInt(v.data(), static_cast<int>(v.size()));
}

cv::Mat RowBlob(const std::vector<float>& v) {
  cv::Mat m(1, static_cast<int>(v.size()), CV_32F);
  std::copy(v.begin(), v.end(), m.ptr<float>());
  return m;
}

void SetPads(cv::dnn::LayerParams& p, Pads2d pads) {
  p.set("pad_t", pads.top);
  p.set("pad_b", pads.bottom);
  p.set("pad_l", pads.left);
  p.set("pad_r", pads.right);
}

}  // namespace

std::pair<int, int> TfSamePadding(int in, int kernel, int stride, int dilation) {
  if (stride < 1 || kernel < 1 || dilation < 1) return {0, 0};  // reported by the builder
  const int effective = (kernel - 1) * dilation + 1;
  const int out = (in + stride - 1) / stride;
  const int total = std::max((out - 1) * stride + effective - in, 0);
  return {total / 2, total - total / 2};
}

cv::Mat MakeBlob(const std::vector<int>& shape) {
  return cv::Mat(static_cast<int>(shape.size()), shape.data(), CV_32F, cv::Scalar(0));
}

DnnNetBuilder::DnnNetBuilder(std::vector<int> input_shape_nchw) {
  net_.setInputsNames({"input"});
  input_.layer = 0;
  input_.shape = std::move(input_shape_nchw);
  names_.push_back("input");
}

int DnnNetBuilder::Add(const std::string& type, cv::dnn::LayerParams& params,
                       const std::vector<DnnTensor>& inputs) {
  const std::string name = "l" + std::to_string(++counter_) + "_" + type;
  params.name = name;
  params.type = type;
  const int id = net_.addLayer(name, type, params);
  for (size_t i = 0; i < inputs.size(); ++i) {
    net_.connect(inputs[i].layer, 0, id, static_cast<int>(i));
  }
  if (static_cast<int>(names_.size()) <= id) names_.resize(id + 1);
  names_[id] = name;
  return id;
}

int DnnNetBuilder::WindowOut(int in, int pad_sum, int kernel, int stride, int dilation,
                             const char* what) {
  const int effective = (kernel - 1) * dilation + 1;
  if (stride < 1 || kernel < 1 || dilation < 1 || in + pad_sum < effective) {
    if (status_.ok()) {
      status_ = Status::BadInput("model.corrupt", std::string(what) + ": window " + std::to_string(kernel) +
                                                      " stride " + std::to_string(stride) +
                                                      " does not fit an input of " + std::to_string(in));
    }
    return 1;
  }
  return (in + pad_sum - effective) / stride + 1;
}

std::string DnnNetBuilder::NameOf(const DnnTensor& t) const { return names_.at(t.layer); }

cv::dnn::Net DnnNetBuilder::Release() { return std::move(net_); }

DnnTensor DnnNetBuilder::Conv(const DnnTensor& x_in, const cv::Mat& w, const std::vector<float>& bias,
                              int group, int stride_h, int stride_w, Pads2d pads, int dilation) {
  DnnTensor x = x_in;
  const int out_c = w.size[0], kh = w.size[2], kw = w.size[3];
  if (widen_narrow_depthwise_ && x.shape.size() == 4 && group > 1 && group == x.shape[1] &&
      out_c == group && w.size[1] == 1 && kh == 3 && kw == 3 && dilation == 1 &&
      x.shape[3] < kDepthwiseFastMinWidth && pads.left <= 1 && pads.top <= 1 &&
      stride_w >= pads.left && stride_h >= pads.top) {
    if (auto narrow = WidenedDepthwise(x, w, bias, stride_h, stride_w, pads)) return *narrow;
  }
  cv::dnn::LayerParams p;
  p.set("kernel_h", kh);
  p.set("kernel_w", kw);
  p.set("stride_h", stride_h);
  p.set("stride_w", stride_w);
  p.set("dilation_h", dilation);
  p.set("dilation_w", dilation);
  if (pads.top != pads.bottom || pads.left != pads.right) {
    // OpenCV 4.6 refuses explicit asymmetric pads, but its pad_mode "SAME"
    // splits the total exactly like TF (before = total / 2, rest after) and
    // the kernels read the missing border as zeros. That saves a zero-padded
    // copy of the input (a Padding layer) before every stride-2 convolution.
    const auto same_h = TfSamePadding(x.shape[2], kh, stride_h, dilation);
    const auto same_w = TfSamePadding(x.shape[3], kw, stride_w, dilation);
    if (same_h == std::pair{pads.top, pads.bottom} && same_w == std::pair{pads.left, pads.right}) {
      p.set("pad_mode", "SAME");
    } else {  // other asymmetric pads (EXPLICIT): pad with zeros, convolve unpadded
      x = Pad(x, {{0, 0}, {0, 0}, {pads.top, pads.bottom}, {pads.left, pads.right}});
      pads = Pads2d{};
      SetPads(p, pads);
    }
  } else {
    SetPads(p, pads);
  }
  p.set("num_output", out_c);
  p.set("group", group);
  p.set("bias_term", !bias.empty());
  p.blobs.push_back(w);
  if (!bias.empty()) p.blobs.push_back(RowBlob(bias));
  DnnTensor out;
  out.layer = Add("Convolution", p, {x});
  out.shape = {x.shape[0], out_c,
               WindowOut(x.shape[2], pads.top + pads.bottom, kh, stride_h, dilation, "convolution"),
               WindowOut(x.shape[3], pads.left + pads.right, kw, stride_w, dilation, "convolution")};
  return out;
}

DnnTensor DnnNetBuilder::GemmConv(const DnnTensor& x, const cv::Mat& w, const std::vector<float>& bias,
                                  int stride_h, int stride_w, Pads2d pads, bool relu,
                                  const DnnTensor* residual, const GemmConvExtras* extras) {
  const GemmConvExtras none;
  const GemmConvExtras& ex = extras ? *extras : none;
  const bool shaped = x.shape.size() == 4 && w.dims == 4 && w.type() == CV_32F;
  const int out_ch = shaped ? w.size[0] : 1;
  const bool dw = !ex.dw_weights.empty();
  const bool dw_shaped = !dw || (ex.dw_weights.dims == 4 && ex.dw_weights.type() == CV_32F && x.shape.size() == 4 &&
                                 ex.dw_weights.size[0] == x.shape[1] && ex.dw_weights.size[1] == 1 &&
                                 (ex.dw_bias.empty() || ex.dw_bias.size() == static_cast<size_t>(x.shape[1])));
  if (!shaped || !dw_shaped || w.size[1] != x.shape[1] ||
      (!bias.empty() && bias.size() != static_cast<size_t>(w.size[0])) ||
      (!ex.prelu_slopes.empty() && ex.prelu_slopes.size() != static_cast<size_t>(out_ch))) {
    if (status_.ok()) {
      status_ = Status::BadInput("model.corrupt", "gemm convolution: weights do not match a 4-D input of " +
                                                      std::to_string(x.shape.size() > 1 ? x.shape[1] : 0) +
                                                      " channels (or the bias, slopes or depthwise sizes differ)");
    }
    return {x.layer, {x.shape.empty() ? 1 : x.shape[0], out_ch, 1, 1}};
  }
  RegisterGemmConvLayer();  // before the net can instantiate the layer
  const int out_c = w.size[0], kh = w.size[2], kw = w.size[3];
  cv::dnn::LayerParams p;
  p.set("kernel_h", kh);
  p.set("kernel_w", kw);
  p.set("stride_h", stride_h);
  p.set("stride_w", stride_w);
  SetPads(p, pads);
  p.set("relu", relu);
  p.set("direct_kernels", ex.direct_kernels);
  p.blobs.push_back(w);
  auto add_blob = [&](const char* key, const cv::Mat& m) {
    p.set(key, static_cast<int>(p.blobs.size()));
    p.blobs.push_back(m);
  };
  if (!bias.empty()) add_blob("bias_blob", RowBlob(bias));
  if (!ex.prelu_slopes.empty()) add_blob("slopes_blob", RowBlob(ex.prelu_slopes));
  std::vector<int> conv_in = x.shape;
  if (dw) {
    const int dkh = ex.dw_weights.size[2], dkw = ex.dw_weights.size[3];
    add_blob("dw_weights_blob", ex.dw_weights);
    if (!ex.dw_bias.empty()) add_blob("dw_bias_blob", RowBlob(ex.dw_bias));
    p.set("dw_stride_h", ex.dw_stride_h);
    p.set("dw_stride_w", ex.dw_stride_w);
    p.set("dw_pad_t", ex.dw_pads.top);
    p.set("dw_pad_b", ex.dw_pads.bottom);
    p.set("dw_pad_l", ex.dw_pads.left);
    p.set("dw_pad_r", ex.dw_pads.right);
    conv_in[2] = WindowOut(x.shape[2], ex.dw_pads.top + ex.dw_pads.bottom, dkh, ex.dw_stride_h, 1, "depthwise");
    conv_in[3] = WindowOut(x.shape[3], ex.dw_pads.left + ex.dw_pads.right, dkw, ex.dw_stride_w, 1, "depthwise");
  }
  DnnTensor out;
  out.shape = {x.shape[0], out_c, WindowOut(conv_in[2], pads.top + pads.bottom, kh, stride_h, 1, "convolution"),
               WindowOut(conv_in[3], pads.left + pads.right, kw, stride_w, 1, "convolution")};
  if (status_.ok() && residual &&
      (residual->shape.size() != 4 || residual->shape[0] != out.shape[0] || residual->shape[1] < 1 ||
       residual->shape[1] > out_c || (!ex.residual_fewer_channels && residual->shape[1] != out_c) || residual->shape[2] != out.shape[2] || residual->shape[3] != out.shape[3])) {
    status_ = Status::BadInput("model.corrupt", "gemm convolution: the residual's shape differs from the output's");
  }
  const Pads2d& dp = ex.dw_pads;
  if (!status_.ok() || pads.top < 0 || pads.bottom < 0 || pads.left < 0 || pads.right < 0 ||
      (dw && (dp.top < 0 || dp.bottom < 0 || dp.left < 0 || dp.right < 0))) {
    // The layer's constructor would throw: keep the net unbuilt, the status says why.
    if (status_.ok()) status_ = Status::BadInput("model.corrupt", "gemm convolution: negative padding");
    out.layer = x.layer;
    return out;
  }
  out.layer = residual ? Add(kGemmConvLayerType, p, {x, *residual}) : Add(kGemmConvLayerType, p, {x});
  return out;
}

// OpenCV 4.6 (ParallelConv in convolution_layer.cpp) runs a 3x3 depthwise
// convolution through its vectorised kernel only when the input is at least
// 16 + 2 = 18 columns wide; narrower maps (FaceMesh 12/6/3, Iris 16/8/4/2,
// BlazeFace 16/8) take the per-group im2row path, ~10x slower per output
// (measured: 64 channels 16x16, 190 vs 23 us). So such an input gets zero
// columns on the right up to 18, is convolved, and the output is cropped
// back. The added columns stand exactly where the right padding's zeros
// were, and the kept outputs never read past them: same values, same order
// of the nine products.
std::optional<DnnTensor> DnnNetBuilder::WidenedDepthwise(const DnnTensor& x, const cv::Mat& w,
                                                         const std::vector<float>& bias,
                                                         int stride_h, int stride_w, Pads2d pads) {
  const int out_w = (x.shape[3] + pads.left + pads.right - 3) / stride_w + 1;
  if (x.shape[3] + pads.left + pads.right < 3) return std::nullopt;  // the caller reports it
  Pads2d wide = pads;
  if (pads.top == pads.bottom) {
    wide.right = pads.left;  // explicit symmetric pads; the zero columns are the right border
  } else {
    // Asymmetric rows use pad_mode SAME in Conv, which splits the columns'
    // padding from the widened width: usable only when it keeps the left pad.
    const auto same_w = TfSamePadding(kDepthwiseFastMinWidth, 3, stride_w, 1);
    if (same_w.first != pads.left) return std::nullopt;
    wide.right = same_w.second;
  }
  widen_narrow_depthwise_ = false;
  const DnnTensor padded = Pad(x, {{0, 0}, {0, 0}, {0, 0}, {0, kDepthwiseFastMinWidth - x.shape[3]}});
  const DnnTensor conv = Conv(padded, w, bias, x.shape[1], stride_h, stride_w, wide, 1);
  widen_narrow_depthwise_ = true;
  if (conv.shape[3] < out_w) return std::nullopt;  // cannot happen for pads <= 1; be safe
  return CropWidth(conv, out_w);
}

DnnTensor DnnNetBuilder::CropWidth(const DnnTensor& x, int width) {
  cv::dnn::LayerParams p;
  p.set("begin", IntList({0, 0, 0, 0}));
  p.set("size", IntList({-1, -1, -1, width}));
  DnnTensor out;
  out.layer = Add("Slice", p, {x});
  out.shape = x.shape;
  out.shape[3] = width;
  return out;
}

DnnTensor DnnNetBuilder::Activation(const DnnTensor& x, const std::string& type) {
  cv::dnn::LayerParams p;
  if (type == "ReLU6") {
    p.set("min_value", 0.0f);
    p.set("max_value", 6.0f);
  }
  return {Add(type, p, {x}), x.shape};
}

DnnTensor DnnNetBuilder::Clamp(const DnnTensor& x, float lo, float hi) {
  cv::dnn::LayerParams p;
  p.set("min_value", lo);
  p.set("max_value", hi);
  return {Add("ReLU6", p, {x}), x.shape};
}

DnnTensor DnnNetBuilder::PRelu(const DnnTensor& x, const std::vector<float>& alpha) {
  cv::dnn::LayerParams p;
  p.blobs.push_back(RowBlob(alpha));
  return {Add("PReLU", p, {x}), x.shape};
}

DnnTensor DnnNetBuilder::Eltwise(const DnnTensor& a, const DnnTensor& b, const std::string& op) {
  cv::dnn::LayerParams p;
  p.set("operation", op);
  return {Add("Eltwise", p, {a, b}), a.shape};
}

DnnTensor DnnNetBuilder::ScaleShift(const DnnTensor& x, const std::vector<float>& scale,
                                    const std::vector<float>& bias) {
  cv::dnn::LayerParams p;
  p.set("axis", 1);
  p.set("bias_term", !bias.empty());
  if (!scale.empty()) p.blobs.push_back(RowBlob(scale));
  if (!bias.empty()) p.blobs.push_back(RowBlob(bias));
  return {Add("Scale", p, {x}), x.shape};
}

DnnTensor DnnNetBuilder::Pool(const DnnTensor& x, const std::string& pool, int kh, int kw, int sh,
                              int sw, Pads2d pads) {
  cv::dnn::LayerParams p;
  p.set("pool", pool);
  p.set("kernel_h", kh);
  p.set("kernel_w", kw);
  p.set("stride_h", sh);
  p.set("stride_w", sw);
  SetPads(p, pads);
  p.set("ceil_mode", false);                 // TF floors
  p.set("ave_pool_padded_area", false);      // TF averages real pixels only
  DnnTensor out;
  out.layer = Add("Pooling", p, {x});
  out.shape = {x.shape[0], x.shape[1], WindowOut(x.shape[2], pads.top + pads.bottom, kh, sh, 1, "pooling"),
               WindowOut(x.shape[3], pads.left + pads.right, kw, sw, 1, "pooling")};
  return out;
}

DnnTensor DnnNetBuilder::MaxPool2x2(const DnnTensor& x) {
  RegisterMaxPool2x2Layer();
  if (x.shape.size() != 4) {
    if (status_.ok()) status_ = Status::BadInput("model.corrupt", "max pooling: expects a 4-D input");
    return x;
  }
  cv::dnn::LayerParams p;
  DnnTensor out;
  out.layer = Add(kMaxPool2x2LayerType, p, {x});
  out.shape = {x.shape[0], x.shape[1], (x.shape[2] + 1) / 2, (x.shape[3] + 1) / 2};
  return out;
}

DnnTensor DnnNetBuilder::GlobalAveragePool(const DnnTensor& x) {
  cv::dnn::LayerParams p;
  p.set("pool", "AVE");
  p.set("global_pooling", true);
  return {Add("Pooling", p, {x}), {x.shape[0], x.shape[1], 1, 1}};
}

DnnTensor DnnNetBuilder::Pad(const DnnTensor& x, const std::vector<std::pair<int, int>>& pads) {
  std::vector<int> flat;
  DnnTensor out;
  out.shape = x.shape;
  for (size_t d = 0; d < pads.size(); ++d) {
    flat.push_back(pads[d].first);
    flat.push_back(pads[d].second);
    out.shape[d] += pads[d].first + pads[d].second;
  }
  cv::dnn::LayerParams p;
  p.set("paddings", IntList(flat));
  p.set("type", "constant");
  p.set("value", 0.0f);
  out.layer = Add("Padding", p, {x});
  return out;
}

DnnTensor DnnNetBuilder::Concat(const std::vector<DnnTensor>& xs, int axis) {
  cv::dnn::LayerParams p;
  p.set("axis", axis);
  DnnTensor out;
  out.shape = xs.at(0).shape;
  out.shape[axis] = 0;
  for (const auto& t : xs) out.shape[axis] += t.shape[axis];
  out.layer = Add("Concat", p, xs);
  return out;
}

DnnTensor DnnNetBuilder::Permute(const DnnTensor& x, const std::vector<int>& order) {
  cv::dnn::LayerParams p;
  p.set("order", IntList(order));
  DnnTensor out;
  for (int o : order) out.shape.push_back(x.shape[o]);
  out.layer = Add("Permute", p, {x});
  return out;
}

DnnTensor DnnNetBuilder::Reshape(const DnnTensor& x, const std::vector<int>& shape) {
  cv::dnn::LayerParams p;
  p.set("dim", IntList(shape));
  return {Add("Reshape", p, {x}), shape};
}

DnnTensor DnnNetBuilder::InnerProduct(const DnnTensor& x, const cv::Mat& w,
                                      const std::vector<float>& bias) {
  cv::dnn::LayerParams p;
  p.set("num_output", w.rows);
  p.set("bias_term", !bias.empty());
  p.set("axis", 1);
  p.blobs.push_back(w);
  if (!bias.empty()) p.blobs.push_back(RowBlob(bias));
  return {Add("InnerProduct", p, {x}), {x.shape[0], w.rows}};
}

DnnTensor DnnNetBuilder::Softmax(const DnnTensor& x, int axis) {
  cv::dnn::LayerParams p;
  p.set("axis", axis);
  return {Add("Softmax", p, {x}), x.shape};
}

}  // namespace livegate::vision

namespace livegate::vision {

Result<cv::Mat> RgbToBlob(const cv::Mat& rgb, int size, const cv::Scalar& mean, double divisor,
                          double offset) {
  if (rgb.empty() || rgb.type() != CV_8UC3 || rgb.rows != size || rgb.cols != size) {
    return Status::InvalidArgument(
        "model.bad_input", "expected a " + std::to_string(size) + "x" + std::to_string(size) +
                               " RGB CV_8UC3 image, got " + std::to_string(rgb.cols) + "x" +
                               std::to_string(rgb.rows) + " type " + std::to_string(rgb.type()));
  }
  const int dims[4] = {1, 3, size, size};
  cv::Mat blob(4, dims, CV_32F);  // every element is written below: no zero fill
  float* dst = blob.ptr<float>();
  const size_t plane = static_cast<size_t>(size) * size;
  // A pixel has 256 values: the same float32 expression, evaluated once per
  // value and channel into a table, gives bit-identical inputs at the cost of
  // a lookup instead of a subtraction and a division per element.
  const float d = static_cast<float>(divisor), o = static_cast<float>(offset);
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    const float m = static_cast<float>(mean[c]);
    for (int v = 0; v < 256; ++v) table[c][v] = (v - m) / d + o;
  }
  float* r = dst;
  float* g = dst + plane;
  float* b = dst + 2 * plane;
  for (int y = 0; y < size; ++y) {
    const uint8_t* row = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < size; ++x, row += 3) {
      *r++ = table[0][row[0]];
      *g++ = table[1][row[1]];
      *b++ = table[2][row[2]];
    }
  }
  return blob;
}

}  // namespace livegate::vision
