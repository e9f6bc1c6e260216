// The im2col + OpenBLAS convolution layer (src/vision/gemm_conv.h), with its
// direct kernels (conv_kernels.h, issue 16), against
// cv::dnn's own Convolution layer on random data, and its errors. Issue 2
// (descriptor speed); the descriptor is the comparison function's input
// (X.1279 R-SRV-CMP-1).
#include "vision/gemm_conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "vision/conv_kernels.h"
#include "vision/dnn_builder.h"

extern "C" char* openblas_get_corename(void);  // OpenBLAS, libopenblas-dev

namespace livegate::vision {
namespace {

struct Case {
  std::string name;
  int n, c, h, w, out_c, kh, kw, stride_h, stride_w;
  Pads2d pads;
  bool bias;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

cv::Mat Random(const std::vector<int>& shape, std::mt19937& rng) {
  cv::Mat m = MakeBlob(shape);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (size_t i = 0; i < m.total(); ++i) m.ptr<float>()[i] = u(rng);
  return m;
}

cv::Mat Forward(DnnNetBuilder& b, const DnnTensor& out, const cv::Mat& input) {
  EXPECT_TRUE(b.status().ok()) << b.status().message();
  const std::string name = b.NameOf(out);
  cv::dnn::Net net = b.Release();
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  net.setInput(input, "input");
  return net.forward(name).clone();
}

// max |gemm - reference| / max |reference| over the whole output.
double RelativeError(const cv::Mat& gemm, const cv::Mat& ref) {
  return cv::norm(gemm, ref, cv::NORM_INF) / cv::norm(ref, cv::NORM_INF);
}

class GemmConvVsDnn : public ::testing::TestWithParam<std::tuple<Case, bool, bool>> {};

// `direct`: the conv_kernels.h kernels instead of OpenBLAS (issue 16).
TEST_P(GemmConvVsDnn, EqualsCvDnnConvolution) {
  const auto& [k, relu, direct] = GetParam();
  GemmConvExtras extras;
  extras.direct_kernels = direct;
  std::mt19937 rng(1234);
  const cv::Mat input = Random({k.n, k.c, k.h, k.w}, rng);
  const cv::Mat weights = Random({k.out_c, k.c, k.kh, k.kw}, rng);
  std::vector<float> bias;
  if (k.bias) {
    const cv::Mat b = Random({1, 1, 1, k.out_c}, rng);
    bias.assign(b.ptr<float>(), b.ptr<float>() + k.out_c);
  }

  DnnNetBuilder ref_builder({k.n, k.c, k.h, k.w});
  DnnTensor ref_out = ref_builder.Conv(ref_builder.Input(), weights, bias, 1, k.stride_h, k.stride_w, k.pads);
  if (relu) ref_out = ref_builder.Activation(ref_out, "ReLU");
  DnnNetBuilder gemm_builder({k.n, k.c, k.h, k.w});
  const DnnTensor gemm_out =
      gemm_builder.GemmConv(gemm_builder.Input(), weights, bias, k.stride_h, k.stride_w, k.pads, relu, nullptr, &extras);
  ASSERT_EQ(gemm_out.shape, ref_out.shape);

  const cv::Mat ref = Forward(ref_builder, ref_out, input);
  const cv::Mat got = Forward(gemm_builder, gemm_out, input);
  ASSERT_EQ(got.dims, 4);
  for (int d = 0; d < 4; ++d) EXPECT_EQ(got.size[d], gemm_out.shape[static_cast<size_t>(d)]) << "dim " << d;
  ASSERT_EQ(got.total(), ref.total());
  EXPECT_LE(RelativeError(got, ref), 1e-5);
  if (relu) {
    double lo = 0;
    cv::minMaxLoc(got.reshape(1, 1), &lo);
    EXPECT_EQ(lo, 0.0);  // random data: some outputs are clamped
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GemmConvVsDnn,
    ::testing::Combine(
        ::testing::Values(
            // The descriptor's first layer shape (smaller input): 7x7/2 VALID.
            Case{"k7s2_valid", 1, 3, 45, 45, 32, 7, 7, 2, 2, {}, true},
            Case{"k3s1_same", 1, 16, 17, 17, 24, 3, 3, 1, 1, {1, 1, 1, 1}, true},
            Case{"k3s2_valid", 1, 8, 21, 20, 16, 3, 3, 2, 2, {}, true},
            Case{"k1s1", 1, 32, 9, 11, 16, 1, 1, 1, 1, {}, true},
            Case{"k1s2", 1, 12, 9, 10, 8, 1, 1, 2, 2, {}, true},
            // TF SAME on an even input: one pad after only.
            Case{"k3s2_tf_same", 1, 8, 16, 16, 12, 3, 3, 2, 2, {0, 1, 0, 1}, true},
            // Asymmetric pads that are not TF SAME (cv::dnn needs a Padding layer).
            Case{"k3s1_asym", 1, 6, 10, 13, 10, 3, 3, 1, 1, {2, 0, 1, 3}, true},
            Case{"k5x3_s1x2_asym", 1, 5, 12, 15, 7, 5, 3, 1, 2, {0, 2, 2, 1}, true},
            Case{"batch2_k3s1_same", 2, 16, 12, 12, 20, 3, 3, 1, 1, {1, 1, 1, 1}, true},
            Case{"batch2_k1s1", 2, 24, 7, 7, 8, 1, 1, 1, 1, {}, true},
            Case{"no_bias_k3s1", 1, 4, 9, 9, 6, 3, 3, 1, 1, {1, 1, 1, 1}, false},
            // Large enough for several row bands (columns over 512 KB).
            Case{"bands_k3s1_same", 1, 32, 37, 37, 32, 3, 3, 1, 1, {1, 1, 1, 1}, true},
            // Under 16 output pixels (the transposed multiply), as the
            // descriptor's 256-channel stage: 3x3 SAME, 3x3/2 to one pixel.
            Case{"small_k3s1_same", 1, 40, 3, 3, 37, 3, 3, 1, 1, {1, 1, 1, 1}, true},
            Case{"small_k3s2_to_1px", 1, 40, 3, 3, 37, 3, 3, 2, 2, {}, true},
            Case{"batch2_small_k3s1", 2, 24, 3, 4, 19, 3, 3, 1, 1, {1, 1, 1, 1}, true},
            // FaceMesh / Iris shapes (issue 16): wide 1x1, 2x2/2, one-pixel head.
            Case{"facemesh_k1_96", 1, 16, 96, 96, 16, 1, 1, 1, 1, {}, true},
            Case{"facemesh_k3s2_first", 1, 3, 32, 32, 16, 3, 3, 2, 2, {0, 1, 0, 1}, true},
            Case{"iris_k2s2", 1, 128, 8, 8, 64, 2, 2, 2, 2, {}, true},
            Case{"head_k3_to_1px", 1, 32, 3, 3, 203, 3, 3, 1, 1, {}, true},
            Case{"k1_odd_width", 1, 20, 5, 13, 13, 1, 1, 1, 1, {}, true}),
        ::testing::Bool(), ::testing::Bool()),
    [](const auto& info) {
      return std::get<0>(info.param).name + (std::get<1>(info.param) ? "_relu" : "_linear") +
             (std::get<2>(info.param) ? "_direct" : "_blas");
    });

// One GEMM layer with a depthwise stage, a PReLU and a residual with fewer
// channels than the output (FaceMesh's and Iris's blocks, issue 16) equals
// cv::dnn's depthwise Convolution -> GEMM layer -> Padding of the residual's
// channels -> Eltwise sum -> PReLU, on both kernels.
TEST(GemmConv, DepthwiseStagePreluAndNarrowResidualEqualCvDnn) {
  struct Dw {
    std::string name;
    int c, h, w, out_c, res_c, kh, kw, sh, sw;
    Pads2d pads;
    bool dw_bias;
  };
  const Dw cases[] = {
      {"s1_same", 16, 20, 20, 32, 16, 3, 3, 1, 1, {1, 1, 1, 1}, false},
      {"s2_tf_same", 16, 12, 12, 32, 16, 3, 3, 2, 2, {0, 1, 0, 1}, false},
      {"narrow_s1", 24, 3, 3, 24, 24, 3, 3, 1, 1, {1, 1, 1, 1}, true},
      {"s2_odd", 8, 9, 7, 12, 5, 3, 3, 2, 2, {1, 1, 1, 1}, true},
      {"k5_s1", 6, 11, 10, 6, 6, 5, 5, 1, 1, {2, 2, 2, 2}, true},
      // Several depthwise bands (gemm_conv.cc kDepthwiseBandBytes, 128 KB):
      // 16 x 40 floats a row -> at most 51 rows a band: 3 bands of 40;
      // stride 2, 16 x 20 -> 2 bands of 60; 64 x 12 -> at most 42, evened
      // out and rounded to an even row count: 34, 34, 32.
      {"s1_bands", 16, 120, 40, 16, 16, 3, 3, 1, 1, {1, 1, 1, 1}, true},
      {"s2_bands", 16, 240, 40, 32, 16, 3, 3, 2, 2, {0, 1, 0, 1}, false},
      {"s1_bands_w12", 64, 100, 12, 64, 64, 3, 3, 1, 1, {1, 1, 1, 1}, false},
  };
  for (const Dw& k : cases) {
    for (const bool direct : {false, true}) {
      SCOPED_TRACE(k.name + (direct ? " direct" : " blas"));
      std::mt19937 rng(7);
      const cv::Mat input = Random({1, k.c, k.h, k.w}, rng);
      const cv::Mat dw_w = Random({k.c, 1, k.kh, k.kw}, rng);
      const cv::Mat pw_w = Random({k.out_c, k.c, 1, 1}, rng);
      const cv::Mat res_w = Random({k.res_c, k.c, k.kh, k.kw}, rng);
      std::vector<float> dw_bias, bias(static_cast<size_t>(k.out_c)), slopes(static_cast<size_t>(k.out_c));
      for (int i = 0; i < k.out_c; ++i) {
        bias[static_cast<size_t>(i)] = 0.01f * static_cast<float>(i % 7) - 0.03f;
        slopes[static_cast<size_t>(i)] = 0.05f * static_cast<float>(i % 5);
      }
      if (k.dw_bias) dw_bias.assign(static_cast<size_t>(k.c), 0.2f);

      DnnNetBuilder ref_b({1, k.c, k.h, k.w});
      const DnnTensor ref_res = ref_b.Conv(ref_b.Input(), res_w, {}, 1, k.sh, k.sw, k.pads);
      DnnTensor ref_out = ref_b.Conv(ref_b.Input(), dw_w, dw_bias, k.c, k.sh, k.sw, k.pads);
      ref_out = ref_b.Conv(ref_out, pw_w, bias, 1, 1, 1, Pads2d{});
      const DnnTensor padded = ref_b.Pad(ref_res, {{0, 0}, {0, k.out_c - k.res_c}, {0, 0}, {0, 0}});
      ref_out = ref_b.PRelu(ref_b.Eltwise(ref_out, padded, "sum"), slopes);

      DnnNetBuilder b({1, k.c, k.h, k.w});
      const DnnTensor res = b.GemmConv(b.Input(), res_w, {}, k.sh, k.sw, k.pads, false);
      GemmConvExtras ex;
      ex.direct_kernels = direct;
      ex.prelu_slopes = slopes;
      ex.dw_weights = dw_w;
      ex.dw_bias = dw_bias;
      ex.dw_stride_h = k.sh;
      ex.dw_stride_w = k.sw;
      ex.dw_pads = k.pads;
      ex.residual_fewer_channels = true;
      const DnnTensor out = b.GemmConv(b.Input(), pw_w, bias, 1, 1, Pads2d{}, false, &res, &ex);
      ASSERT_EQ(out.shape, ref_out.shape);
      const cv::Mat ref = Forward(ref_b, ref_out, input);
      const cv::Mat got = Forward(b, out, input);
      ASSERT_EQ(got.total(), ref.total());
      EXPECT_LE(RelativeError(got, ref), 1e-5);
    }
  }
}

// relu(conv(x) + bias + residual) in one layer equals cv::dnn's Convolution
// -> Eltwise sum -> ReLU, on the im2col, 1x1 (no im2col), transposed (under
// 16 pixels) and batch paths.
// tests/vision/CMakeLists.txt runs this program a second time with
// OPENBLAS_CORETYPE=Nehalem, so that the layer's other branch (one sgemm
// call, no small-matrix tiles: gemm_conv.cc UseSmallTiles) is tested on
// this AVX-512 machine too. That run is only worth something if OpenBLAS
// obeyed: check it.
TEST(GemmConv, ForcedOpenBlasCoreIsInEffect) {
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  if (forced == nullptr || *forced == '\0') GTEST_SKIP() << "OPENBLAS_CORETYPE not set (the normal run)";
  std::string want = forced, got = openblas_get_corename();
  for (auto* s : {&want, &got}) {
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(got, want);
}

TEST(GemmConv, ResidualEqualsConvolutionPlusEltwise) {
  const Case cases[] = {
      Case{"k3s1_same", 1, 16, 17, 17, 16, 3, 3, 1, 1, {1, 1, 1, 1}, true},
      Case{"k1s1", 1, 24, 16, 16, 24, 1, 1, 1, 1, {}, true},
      Case{"k3s2_tf_same", 1, 8, 16, 16, 12, 3, 3, 2, 2, {0, 1, 0, 1}, true},
      Case{"small_k3s1", 1, 32, 3, 3, 32, 3, 3, 1, 1, {1, 1, 1, 1}, true},
      Case{"batch2_k3s1", 2, 8, 10, 9, 8, 3, 3, 1, 1, {1, 1, 1, 1}, false},
  };
  for (const Case& k : cases) {
    for (const bool relu : {false, true}) {
      SCOPED_TRACE(k.name + (relu ? " relu" : " linear"));
      std::mt19937 rng(99);
      const cv::Mat input = Random({k.n, k.c, k.h, k.w}, rng);
      const cv::Mat weights = Random({k.out_c, k.c, k.kh, k.kw}, rng);
      std::vector<float> bias;
      if (k.bias) bias.assign(static_cast<size_t>(k.out_c), 0.25f);

      DnnNetBuilder ref_builder({k.n, k.c, k.h, k.w});
      // The residual: another convolution of the input, so that it is a
      // tensor of the network like a real shortcut.
      const cv::Mat w_res = Random({k.out_c, k.c, k.kh, k.kw}, rng);
      DnnTensor ref_res = ref_builder.Conv(ref_builder.Input(), w_res, {}, 1, k.stride_h, k.stride_w, k.pads);
      DnnTensor ref_out = ref_builder.Conv(ref_builder.Input(), weights, bias, 1, k.stride_h, k.stride_w, k.pads);
      ref_out = ref_builder.Eltwise(ref_out, ref_res, "sum");
      if (relu) ref_out = ref_builder.Activation(ref_out, "ReLU");

      DnnNetBuilder gemm_builder({k.n, k.c, k.h, k.w});
      const DnnTensor res =
          gemm_builder.GemmConv(gemm_builder.Input(), w_res, {}, k.stride_h, k.stride_w, k.pads, false);
      const DnnTensor gemm_out =
          gemm_builder.GemmConv(gemm_builder.Input(), weights, bias, k.stride_h, k.stride_w, k.pads, relu, &res);
      ASSERT_EQ(gemm_out.shape, ref_out.shape);
      const cv::Mat ref = Forward(ref_builder, ref_out, input);
      const cv::Mat got = Forward(gemm_builder, gemm_out, input);
      ASSERT_EQ(got.total(), ref.total());
      EXPECT_LE(RelativeError(got, ref), 1e-5);
    }
  }
}

// The tiles and im2col channels are spread over OpenCV's threads: one and
// two threads give the same output (each element is one dot product either
// way), and both equal cv::dnn's.
TEST(GemmConv, OneAndTwoThreadsAgree) {
  std::mt19937 rng(5);
  const cv::Mat input = Random({1, 32, 35, 35}, rng);
  const cv::Mat weights = Random({32, 32, 3, 3}, rng);
  const std::vector<float> bias(32, 0.1f);
  const int saved = cv::getNumThreads();
  std::vector<cv::Mat> outs;
  for (const int threads : {1, 2}) {
    cv::setNumThreads(threads);
    DnnNetBuilder b({1, 32, 35, 35});
    const DnnTensor out = b.GemmConv(b.Input(), weights, bias, 1, 1, Pads2d{1, 1, 1, 1}, true);
    outs.push_back(Forward(b, out, input));
  }
  DnnNetBuilder ref_builder({1, 32, 35, 35});
  const DnnTensor ref_out = ref_builder.Activation(
      ref_builder.Conv(ref_builder.Input(), weights, bias, 1, 1, 1, Pads2d{1, 1, 1, 1}), "ReLU");
  const cv::Mat ref = Forward(ref_builder, ref_out, input);
  cv::setNumThreads(saved);
  EXPECT_LE(RelativeError(outs[0], outs[1]), 1e-6);
  EXPECT_LE(RelativeError(outs[1], ref), 1e-5);
}

TEST(GemmConv, BuilderRejectsResidualOfWrongShape) {
  std::mt19937 rng(12);
  DnnNetBuilder b({1, 3, 8, 8});
  const DnnTensor input = b.Input();  // 3 channels, the output has 4
  b.GemmConv(input, Random({4, 3, 3, 3}, rng), {}, 1, 1, Pads2d{1, 1, 1, 1}, true, &input);
  EXPECT_EQ(b.status().reason(), "model.corrupt");
}

// An independent check of the arithmetic: a 2x2 box filter of ones over
// 0..8 in a 3x3 image, bias 0.5, with one padding column on the right.
TEST(GemmConv, BoxFilterByHand) {
  DnnNetBuilder b({1, 1, 3, 3});
  cv::Mat w = MakeBlob({1, 1, 2, 2});
  w.setTo(1.0f);
  const DnnTensor out = b.GemmConv(b.Input(), w, {0.5f}, 1, 1, Pads2d{0, 0, 0, 1}, false);
  ASSERT_EQ(out.shape, (std::vector<int>{1, 1, 2, 3}));
  cv::Mat in = MakeBlob({1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) in.ptr<float>()[i] = static_cast<float>(i);
  const cv::Mat got = Forward(b, out, in);
  // rows (0 1 2 / 3 4 5 / 6 7 8): 0+1+3+4, 1+2+4+5, 2+5 (padding), then the next row.
  const std::vector<float> expected = {8.5f, 12.5f, 7.5f, 20.5f, 24.5f, 13.5f};
  ASSERT_EQ(got.total(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(got.ptr<float>()[i], expected[i]) << i;
}

TEST(GemmConv, WrongChannelCountAtRunTimeThrowsClearError) {
  std::mt19937 rng(7);
  DnnNetBuilder b({1, 3, 8, 8});
  const DnnTensor out = b.GemmConv(b.Input(), Random({4, 3, 3, 3}, rng), {}, 1, 1, Pads2d{1, 1, 1, 1}, true);
  ASSERT_TRUE(b.status().ok());
  const std::string name = b.NameOf(out);
  cv::dnn::Net net = b.Release();
  net.setInput(Random({1, 5, 8, 8}, rng), "input");
  try {
    net.forward(name);
    FAIL() << "a 5-channel input was accepted by 3-channel weights";
  } catch (const cv::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("input has 5 channels, the weights expect 3"), std::string::npos)
        << e.what();
  }
}

TEST(GemmConv, InputSmallerThanWindowAtRunTimeThrowsClearError) {
  std::mt19937 rng(8);
  DnnNetBuilder b({1, 2, 8, 8});
  const DnnTensor out = b.GemmConv(b.Input(), Random({4, 2, 7, 7}, rng), {}, 2, 2, Pads2d{}, false);
  ASSERT_TRUE(b.status().ok());
  const std::string name = b.NameOf(out);
  cv::dnn::Net net = b.Release();
  net.setInput(Random({1, 2, 5, 9}, rng), "input");
  try {
    net.forward(name);
    FAIL() << "a 5-row input was accepted by a 7x7 window";
  } catch (const cv::Exception& e) {
    EXPECT_NE(std::string(e.what()).find("smaller than the 7x7 window"), std::string::npos) << e.what();
  }
}

TEST(GemmConv, BuilderRejectsChannelMismatch) {
  std::mt19937 rng(9);
  DnnNetBuilder b({1, 3, 8, 8});
  b.GemmConv(b.Input(), Random({4, 2, 3, 3}, rng), {}, 1, 1, Pads2d{}, false);
  EXPECT_FALSE(b.status().ok());
  EXPECT_EQ(b.status().reason(), "model.corrupt");
}

TEST(GemmConv, BuilderRejectsWindowLargerThanInput) {
  std::mt19937 rng(10);
  DnnNetBuilder b({1, 3, 4, 4});
  b.GemmConv(b.Input(), Random({4, 3, 7, 7}, rng), {}, 1, 1, Pads2d{}, false);
  EXPECT_FALSE(b.status().ok());
  EXPECT_EQ(b.status().reason(), "model.corrupt");
}

TEST(GemmConv, BuilderRejectsBiasOfWrongSize) {
  std::mt19937 rng(11);
  DnnNetBuilder b({1, 3, 8, 8});
  b.GemmConv(b.Input(), Random({4, 3, 3, 3}, rng), {1.0f, 2.0f}, 1, 1, Pads2d{}, false);
  EXPECT_EQ(b.status().reason(), "model.corrupt");
}

}  // namespace
}  // namespace livegate::vision

namespace livegate::vision {
namespace {

// The 2x2/2 max pooling layer (max_pool_layer.h, issue 16) against cv::dnn's
// Pooling: even sizes (VALID = SAME), odd sizes with TF's SAME padding (one
// after), a width under 8 (no SIMD block) and a batch of 2.
TEST(MaxPool2x2, EqualsCvDnnPooling) {
  const std::vector<std::vector<int>> shapes = {
      {1, 16, 96, 96}, {1, 3, 7, 9}, {2, 5, 6, 3}, {1, 4, 1, 1}, {1, 2, 13, 20}};
  for (const auto& s : shapes) {
    SCOPED_TRACE(std::to_string(s[1]) + "x" + std::to_string(s[2]) + "x" + std::to_string(s[3]));
    std::mt19937 rng(3);
    const cv::Mat input = Random(s, rng);
    DnnNetBuilder ref_b(s);
    const Pads2d same{0, s[2] % 2, 0, s[3] % 2};
    const DnnTensor ref_out = ref_b.Pool(ref_b.Input(), "MAX", 2, 2, 2, 2, same);
    DnnNetBuilder b(s);
    const DnnTensor out = b.MaxPool2x2(b.Input());
    ASSERT_EQ(out.shape, ref_out.shape);
    const cv::Mat ref = Forward(ref_b, ref_out, input);
    const cv::Mat got = Forward(b, out, input);
    ASSERT_EQ(got.total(), ref.total());
    EXPECT_EQ(cv::norm(got, ref, cv::NORM_INF), 0.0);  // a max picks one input: exact
  }
}

}  // namespace
}  // namespace livegate::vision

namespace livegate::vision {
namespace {

// The kernels of conv_kernels.h called directly against plain loops, with
// every epilogue part (bias, a residual on the first rows, PReLU slopes).
// Run twice by CTest: on the AVX2 code and, with
// LIVEGATE_CONV_KERNELS=portable, on the portable loops.
TEST(ConvKernels, SmallGemmEqualsPlainLoops) {
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  // ldb 0: n + 3. Under 8 columns (and a map's last 1-7): dot products,
  // four columns at a time. The ones with ldb a multiple of 1-4 KB and a long k take
  // the AVX2 kernel's packed panels (Iris's 32x32 and 16x16 maps: b rows
  // 1024 and 256 floats apart), one with every panel width (24, 16, 8)
  // and a dot-product tail.
  for (const auto& [m, n, k, ldb_or_0] : std::vector<std::tuple<int, int, int, int>>{
           {16, 9216 / 16, 16, 0}, {13, 37, 29, 0}, {5, 7, 3, 0}, {128, 9, 128, 0}, {7, 1, 300, 0}, {4, 24, 1, 0},
           {32, 1024, 64, 1024}, {9, 256, 128, 256}, {6, 571, 40, 1024}, {5, 60, 33, 1024},
           // Under 8 columns: dot products, four columns at a time (Iris's 2x2 maps).
           {64, 4, 128, 0}, {6, 5, 40, 0}, {3, 7, 35, 0}}) {
    SCOPED_TRACE(std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " ldb " +
                 std::to_string(ldb_or_0));
    const int ldb = ldb_or_0 > 0 ? ldb_or_0 : n + 3, ldc = n + 5;
    std::vector<float> w(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * ldb), bias(m), slopes(m),
        res(static_cast<size_t>(m) * ldc), dst(static_cast<size_t>(m) * ldc, 7.0f);
    for (auto* v : {&w, &b, &bias, &slopes, &res})
      for (float& x : *v) x = u(rng);
    ConvEpilogue e;
    e.bias = bias.data();
    e.residual = res.data();
    e.residual_rows = m / 2;
    e.slopes = slopes.data();
    SmallGemm(w.data(), b.data(), m, n, k, ldb, dst.data(), ldc, e);
    double worst = 0;
    for (int r = 0; r < m; ++r) {
      for (int j = 0; j < n; ++j) {
        double acc = 0;
        for (int kk = 0; kk < k; ++kk) acc += double(w[r * k + kk]) * b[kk * ldb + j];
        acc += bias[r];
        if (r < m / 2) acc += res[r * ldc + j];
        const double want = acc > 0 ? acc : acc * slopes[r];
        worst = std::max(worst, std::abs(want - dst[r * ldc + j]));
      }
      for (int j = n; j < ldc; ++j) ASSERT_EQ(dst[r * ldc + j], 7.0f) << "wrote past the row";
    }
    EXPECT_LE(worst, 1e-4);
  }
}

// The stride-2 gather of im2col and of the depthwise padding: exactly the
// even floats, nothing read past `readable` (the input row's end: the
// vector loops stop short of it), nothing written outside [lo, hi).
TEST(ConvKernels, GatherEvenCopiesTheEvenFloatsOnly) {
  for (const auto& [lo, hi, readable] : std::vector<std::tuple<int, int, int>>{
           {0, 48, 96}, {0, 48, 95}, {1, 20, 40}, {3, 11, 21}, {0, 5, 9}, {0, 0, 0}, {2, 33, 66}}) {
    SCOPED_TRACE(std::to_string(lo) + ".." + std::to_string(hi) + " readable " + std::to_string(readable));
    // The row's end is the end of an allocation of exactly `readable`
    // floats: a read past it is a heap overflow under ASan / valgrind.
    std::vector<float> in(static_cast<size_t>(readable));
    for (int i = 0; i < readable; ++i) in[static_cast<size_t>(i)] = static_cast<float>(i) * 0.5f + 1.0f;
    std::vector<float> out(static_cast<size_t>(hi) + 8, -1.0f);
    GatherEven(in.data(), lo, hi, readable, out.data());
    for (int j = 0; j < static_cast<int>(out.size()); ++j) {
      const float want = j >= lo && j < hi ? static_cast<float>(2 * j) * 0.5f + 1.0f : -1.0f;
      ASSERT_EQ(out[static_cast<size_t>(j)], want) << "at " << j;
    }
  }
}

TEST(ConvKernels, DepthwiseEqualsPlainLoops) {
  std::mt19937 rng(22);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  struct G {
    int c, h, w, kh, kw, sh, sw, pt, pb, pl, pr;
  };
  for (const G& g : {G{3, 17, 19, 3, 3, 2, 2, 0, 1, 0, 1}, G{5, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1},
                     G{2, 9, 30, 5, 5, 1, 2, 2, 2, 2, 2}, G{4, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1}, G{1, 6, 5, 2, 2, 2, 2, 0, 0, 0, 0}}) {
    SCOPED_TRACE(std::to_string(g.c) + "x" + std::to_string(g.h) + "x" + std::to_string(g.w));
    const int oh = (g.h + g.pt + g.pb - g.kh) / g.sh + 1, ow = (g.w + g.pl + g.pr - g.kw) / g.sw + 1;
    std::vector<float> in(static_cast<size_t>(g.c) * g.h * g.w), dw(static_cast<size_t>(g.c) * g.kh * g.kw),
        dwb(g.c);
    for (auto* v : {&in, &dw, &dwb})
      for (float& x : *v) x = u(rng);
    auto at = [&](int c, int y, int x) -> double {
      return y < 0 || y >= g.h || x < 0 || x >= g.w ? 0.0 : in[(static_cast<size_t>(c) * g.h + y) * g.w + x];
    };
    std::vector<float> scratch(static_cast<size_t>(g.c) * DepthwiseScratchFloats(g.kh, g.kw, g.sh, g.sw, oh, ow));
    std::vector<float> out(static_cast<size_t>(g.c) * oh * ow);
    Depthwise(in.data(), g.c, g.h, g.w, dw.data(), dwb.data(), g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, oh, ow, out.data(),
              scratch.data());
    double worst = 0;
    for (int c = 0; c < g.c; ++c)
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x) {
          double acc = dwb[c];
          for (int ky = 0; ky < g.kh; ++ky)
            for (int kx = 0; kx < g.kw; ++kx)
              acc += dw[(c * g.kh + ky) * g.kw + kx] * at(c, y * g.sh - g.pt + ky, x * g.sw - g.pl + kx);
          worst = std::max(worst, std::abs(acc - out[(static_cast<size_t>(c) * oh + y) * ow + x]));
        }
    EXPECT_LE(worst, 1e-5) << "depthwise";

    // A band of rows at a time (the GEMM layer's depthwise stage, issue 16):
    // the same floats bit for bit, nothing written past the band's buffer.
    for (const int band : {1, 2, 3, 5}) {
      std::vector<float> banded(static_cast<size_t>(g.c) * band * ow + 16, -99.0f);
      for (int oy0 = 0; oy0 < oh; oy0 += band) {
        const int rows = std::min(band, oh - oy0);
        std::fill(banded.begin(), banded.end(), -99.0f);
        DepthwiseRows(in.data(), g.c, g.h, g.w, dw.data(), dwb.data(), g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, oh, ow, oy0,
                      oy0 + rows, banded.data(), scratch.data());
        for (int c = 0; c < g.c; ++c)
          for (int y = 0; y < rows; ++y)
            for (int x = 0; x < ow; ++x)
              ASSERT_EQ(banded[(static_cast<size_t>(c) * rows + y) * ow + x],
                        out[(static_cast<size_t>(c) * oh + oy0 + y) * ow + x])
                  << "band " << band << " row " << oy0 + y << " channel " << c;
        for (size_t i = static_cast<size_t>(g.c) * rows * ow; i < banded.size(); ++i)
          ASSERT_EQ(banded[i], -99.0f) << "band " << band << " wrote past its output at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace livegate::vision
