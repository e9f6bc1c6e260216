// Builds a cv::dnn::Net layer by layer (Net::addLayer/connect), tracking the
// shape of every tensor so that TF's "SAME" padding (possibly asymmetric) can
// be resolved at build time. Tensors are in cv::dnn layout: 4-D tensors are
// NCHW, weights OIHW. Used by the tfjs graph translator (tfjs_to_dnn.cc) and
// by the hand-written dlib ResNet-29 (descriptor_model.cc). Issue 2.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/dnn.hpp>

#include "livegate/status.h"

namespace livegate::vision {

struct DnnTensor {
  int layer = 0;           // 0 = the network input
  std::vector<int> shape;  // cv::dnn layout (NCHW for 4-D)
};

struct Pads2d {
  int top = 0, bottom = 0, left = 0, right = 0;
};

// TF padding for one spatial axis: "SAME" -> (before, after), "VALID" -> 0s.
std::pair<int, int> TfSamePadding(int in, int kernel, int stride, int dilation);

// Optional parts of DnnNetBuilder::GemmConv (gemm_conv.h).
struct GemmConvExtras {
  std::vector<float> prelu_slopes;  // one per output channel; empty: none (or the `relu` flag)
  bool direct_kernels = false;      // conv_kernels.h (small networks) instead of OpenBLAS sgemm
  cv::Mat dw_weights;               // C x 1 x kh x kw (CV_32F), empty: no depthwise stage
  std::vector<float> dw_bias;       // C or empty
  int dw_stride_h = 1, dw_stride_w = 1;
  Pads2d dw_pads;
  // The residual may have fewer channels than the output: it is added to the
  // first ones (a residual zero-padded on channels, without the copy).
  bool residual_fewer_channels = false;
};

class DnnNetBuilder {
 public:
  explicit DnnNetBuilder(std::vector<int> input_shape_nchw);

  DnnTensor Input() const { return input_; }

  // Weights OIHW (CV_32F, 4-D), bias of size O or empty; group = channels for
  // depthwise.
  DnnTensor Conv(const DnnTensor& x, const cv::Mat& weights_oihw, const std::vector<float>& bias,
                 int group, int stride_h, int stride_w, Pads2d pads, int dilation = 1);
  // Dense (group 1) convolution run by the im2col + OpenBLAS sgemm layer
  // (gemm_conv.h): explicit pads (asymmetric allowed, no padding copy),
  // optional bias, ReLU fused when `relu`, and optionally a `residual` of
  // the output's shape added before the ReLU. Weights OIHW (CV_32F, 4-D)
  // whose input channels must equal x's; otherwise, when the window does not
  // fit or the residual's shape differs, status() becomes model.corrupt.
  // `extras` (may be null): a PReLU instead of the ReLU, the conv_kernels.h
  // kernels instead of OpenBLAS, a depthwise convolution run on x first (its
  // output feeds this convolution, never stored in the Net), and a residual
  // with fewer channels than the output (added to the first channels: a
  // residual zero-padded on channels).
  DnnTensor GemmConv(const DnnTensor& x, const cv::Mat& weights_oihw, const std::vector<float>& bias,
                     int stride_h, int stride_w, Pads2d pads, bool relu,
                     const DnnTensor* residual = nullptr, const GemmConvExtras* extras = nullptr);
  // type: "ReLU", "ReLU6", "Sigmoid", "TanH".
  DnnTensor Activation(const DnnTensor& x, const std::string& type);
  // min(max(x, lo), hi) element-wise.
  DnnTensor Clamp(const DnnTensor& x, float lo, float hi);
  DnnTensor PRelu(const DnnTensor& x, const std::vector<float>& alpha);
  // op: "sum" or "prod"; shapes must be equal.
  DnnTensor Eltwise(const DnnTensor& a, const DnnTensor& b, const std::string& op);
  // Per-channel (axis 1) x * scale + bias; either may be empty.
  DnnTensor ScaleShift(const DnnTensor& x, const std::vector<float>& scale,
                       const std::vector<float>& bias);
  // pool: "MAX" or "AVE" (padding excluded from averages, like TF).
  DnnTensor Pool(const DnnTensor& x, const std::string& pool, int kh, int kw, int sh, int sw,
                 Pads2d pads);
  // 2x2 stride-2 max pooling (max_pool_layer.h), output ceil(H/2) x
  // ceil(W/2): TF MaxPool 2x2/2 SAME, or VALID on even sizes.
  DnnTensor MaxPool2x2(const DnnTensor& x);
  DnnTensor GlobalAveragePool(const DnnTensor& x);
  // Zero padding, one (before, after) pair per dimension of x.
  DnnTensor Pad(const DnnTensor& x, const std::vector<std::pair<int, int>>& pads);
  DnnTensor Concat(const std::vector<DnnTensor>& xs, int axis);
  DnnTensor Permute(const DnnTensor& x, const std::vector<int>& order);
  DnnTensor Reshape(const DnnTensor& x, const std::vector<int>& shape);
  // x: [N, K] (or anything flattened from axis 1); weights [out, K].
  DnnTensor InnerProduct(const DnnTensor& x, const cv::Mat& weights_out_in,
                         const std::vector<float>& bias);
  DnnTensor Softmax(const DnnTensor& x, int axis);

  // First geometry error met while building (stride < 1, a window larger than
  // its padded input): model.corrupt. The tensors returned after an error
  // keep a placeholder shape; callers check status() before running.
  const Status& status() const { return status_; }

  // Layer name of a tensor, for Net::forward.
  std::string NameOf(const DnnTensor& t) const;
  cv::dnn::Net& net() { return net_; }
  // Moves the network out (the builder is unusable afterwards).
  cv::dnn::Net Release();

 private:
  int Add(const std::string& type, cv::dnn::LayerParams& params,
          const std::vector<DnnTensor>& inputs);

  cv::dnn::Net net_;
  DnnTensor input_;
  std::vector<std::string> names_;  // by layer id
  int counter_ = 0;
  Status status_;
  // A 3x3 depthwise convolution on an input narrower than
  // kDepthwiseFastMinWidth, computed on a zero-widened copy and cropped (see
  // the .cc); nullopt when the padding does not allow it.
  std::optional<DnnTensor> WidenedDepthwise(const DnnTensor& x, const cv::Mat& w,
                                            const std::vector<float>& bias, int stride_h,
                                            int stride_w, Pads2d pads);
  DnnTensor CropWidth(const DnnTensor& x, int width);
  static constexpr int kDepthwiseFastMinWidth = 18;
  bool widen_narrow_depthwise_ = true;
  // Output size of a sliding window, or 1 after recording an error.
  int WindowOut(int in, int pad_sum, int kernel, int stride, int dilation, const char* what);
};

// 4-D cv::Mat (CV_32F) of the given shape, zero-filled.
cv::Mat MakeBlob(const std::vector<int>& shape);

}  // namespace livegate::vision

namespace livegate::vision {

// Checks that `rgb` is a size x size CV_8UC3 image and turns it into a
// 1x3xHxW CV_32F blob of (pixel - mean[c]) / divisor + offset, in float32 and
// in that order, as tfjs computes the models' input normalisation.
// Errors: model.bad_input.
Result<cv::Mat> RgbToBlob(const cv::Mat& rgb, int size, const cv::Scalar& mean, double divisor,
                          double offset = 0);

}  // namespace livegate::vision
