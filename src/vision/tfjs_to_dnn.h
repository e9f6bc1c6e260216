// Translates a tfjs graph model (tfjs_model.h) into a runnable cv::dnn::Net
// (issue 2): unfuses _FusedConv2D / _FusedMatMul (BiasAdd, Relu, Relu6,
// Prelu), converts NHWC/HWIO to NCHW/OIHW, resolves TF "SAME" padding
// (asymmetric when needed) from the known input shape. Ops outside the list
// below fail with Status reason "model.unsupported_op":
//   Placeholder Const Identity Conv2D _FusedConv2D DepthwiseConv2dNative
//   FusedDepthwiseConv2dNative BiasAdd Add AddV2 Mul Relu Relu6 Sigmoid Tanh
//   Prelu MaxPool AvgPool Pad ConcatV2 Reshape MatMul _FusedMatMul Softmax
//   Mean (over H and W) Minimum Maximum (against a scalar constant).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/dnn.hpp>

#include "livegate/status.h"
#include "vision/tfjs_model.h"

namespace livegate::vision {

// A built network plus how to read its outputs back in TF layout.
class DnnRunner {
 public:
  DnnRunner() = default;
  DnnRunner(cv::dnn::Net net, std::vector<std::string> output_layers,
            std::vector<std::vector<int>> output_tf_shapes, std::vector<bool> output_nchw);

  // `input` is an NCHW CV_32F blob. Each output comes back flattened in TF
  // (row-major, NHWC for 4-D) order, in the order they were requested.
  Result<std::vector<std::vector<float>>> Run(const cv::Mat& input);

  const std::vector<std::vector<int>>& output_shapes() const { return output_tf_shapes_; }
  // For profiling (Net::getPerfProfile) and tools.
  cv::dnn::Net& net() { return net_; }

 private:
  cv::dnn::Net net_;
  std::vector<std::string> output_layers_;
  std::vector<std::vector<int>> output_tf_shapes_;
  std::vector<bool> output_nchw_;
};

// input_nhwc: the Placeholder's shape with the batch fixed (e.g. {1,256,256,3}).
// outputs: graph tensor names to return ("Identity", "Identity_1:0", ...).
Result<DnnRunner> BuildDnnFromTfjs(const TfjsGraph& graph, const std::vector<int>& input_nhwc,
                                   const std::vector<std::string>& outputs);

// LoadTfjsGraph + BuildDnnFromTfjs + one warm-up run on zeros, so that a
// network cv::dnn cannot run fails at load time, not at the first frame.
Result<DnnRunner> LoadTfjsDnn(const std::filesystem::path& model_json,
                              const std::vector<int>& input_nhwc,
                              const std::vector<std::string>& outputs);

}  // namespace livegate::vision
