// 2x2 stride-2 max pooling layer. See max_pool_layer.h.
#include "vision/max_pool_layer.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/hal/intrin.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/dnn/layer.details.hpp>

namespace livegate::vision {
namespace {

class MaxPool2x2Layer final : public cv::dnn::Layer {
 public:
  explicit MaxPool2x2Layer(const cv::dnn::LayerParams& p) : cv::dnn::Layer(p) {}

  static cv::Ptr<cv::dnn::Layer> Create(cv::dnn::LayerParams& p) { return cv::makePtr<MaxPool2x2Layer>(p); }

  bool getMemoryShapes(const std::vector<cv::dnn::MatShape>& inputs, const int /*required_outputs*/,
                       std::vector<cv::dnn::MatShape>& outputs,
                       std::vector<cv::dnn::MatShape>& internals) const override {
    if (inputs.size() != 1 || inputs[0].size() != 4 || inputs[0][2] < 1 || inputs[0][3] < 1) {
      CV_Error(cv::Error::StsBadArg, "max_pool_2x2 " + name + ": expects one non-empty 4-D NCHW input");
    }
    const cv::dnn::MatShape& in = inputs[0];
    outputs.assign(1, cv::dnn::MatShape{in[0], in[1], (in[2] + 1) / 2, (in[3] + 1) / 2});
    internals.clear();
    return false;
  }

  void forward(cv::InputArrayOfArrays inputs_arr, cv::OutputArrayOfArrays outputs_arr,
               cv::OutputArrayOfArrays /*internals_arr*/) override {
    std::vector<cv::Mat> inputs, outputs;
    inputs_arr.getMatVector(inputs);
    outputs_arr.getMatVector(outputs);
    if (inputs.size() != 1 || outputs.size() != 1 || inputs[0].dims != 4 || inputs[0].type() != CV_32F ||
        !inputs[0].isContinuous() || !outputs[0].isContinuous()) {
      CV_Error(cv::Error::StsBadArg, "max_pool_2x2 " + name + ": needs one continuous 4-D CV_32F input");
    }
    const cv::Mat& x = inputs[0];
    cv::Mat& y = outputs[0];
    const int planes = x.size[0] * x.size[1], h = x.size[2], w = x.size[3];
    const int oh = (h + 1) / 2, ow = (w + 1) / 2;
    if (y.total() != static_cast<size_t>(planes) * oh * ow) {
      CV_Error(cv::Error::StsBadSize, "max_pool_2x2 " + name + ": output blob has an unexpected shape");
    }
    const int whole = w / 2;  // output columns whose window is inside the row
    for (int p = 0; p < planes; ++p) {
      const float* src = x.ptr<float>() + static_cast<size_t>(p) * h * w;
      float* dst = y.ptr<float>() + static_cast<size_t>(p) * oh * ow;
      for (int oy = 0; oy < oh; ++oy, dst += ow) {
        const float* a = src + static_cast<size_t>(2 * oy) * w;
        const float* b = 2 * oy + 1 < h ? a + w : a;  // odd height: the last window has one row
        int ox = 0;
#if CV_SIMD128
        for (; ox + 4 <= whole; ox += 4) {
          cv::v_float32x4 ae, ao, be, bo;
          cv::v_load_deinterleave(a + 2 * ox, ae, ao);
          cv::v_load_deinterleave(b + 2 * ox, be, bo);
          cv::v_store(dst + ox, cv::v_max(cv::v_max(ae, ao), cv::v_max(be, bo)));
        }
#endif
        for (; ox < whole; ++ox) {
          dst[ox] = std::max(std::max(a[2 * ox], a[2 * ox + 1]), std::max(b[2 * ox], b[2 * ox + 1]));
        }
        if (whole < ow) dst[whole] = std::max(a[2 * whole], b[2 * whole]);  // odd width
      }
    }
  }
};

}  // namespace

void RegisterMaxPool2x2Layer() {
  static std::once_flag once;
  std::call_once(once, [] { cv::dnn::LayerFactory::registerLayer(kMaxPool2x2LayerType, MaxPool2x2Layer::Create); });
}

}  // namespace livegate::vision
