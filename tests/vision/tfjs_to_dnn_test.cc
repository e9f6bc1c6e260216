// The tfjs translator's folds (src/vision/tfjs_to_dnn.cc, issue 16 "cost
// per authentication") on a small hand-made graph shaped like FaceMesh's and
// Iris's stride-2 blocks: MaxPool -> channel Pad -> AddV2 with
// depthwise 3x3/2 -> 1x1 convolution -> Prelu. The network's output is
// checked against plain loops (double accumulators), and the layers it was
// built from: the channel Pad folds into the GEMM layer as a residual on the
// first channels, unless something else reads the padded tensor.
// CTest runs this program twice: on the AVX2 kernels and, with
// LIVEGATE_CONV_KERNELS=portable, on OpenBLAS + cv::dnn's depthwise layer.
#include "vision/tfjs_to_dnn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "vision/conv_kernels.h"

namespace livegate::vision {
namespace {

// Input NHWC 1 x 12 x 36 x 4 (36 columns: cv::dnn's depthwise path on the
// portable run widens narrower maps with Padding layers of its own).
constexpr int kH = 12, kW = 36, kC = 4, kOut = 8;

struct Block {
  TfjsGraph graph;
  std::vector<float> input;  // NHWC
  std::vector<float> dw;     // HWC1 (3 x 3 x C x 1)
  std::vector<float> pw;     // HWIO (1 x 1 x C x kOut)
  std::vector<float> bias, alpha;
};

TfjsNode Node(const std::string& name, const std::string& op, std::vector<std::string> inputs) {
  TfjsNode n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  return n;
}

TfjsTensor Floats(std::vector<int> shape, const std::vector<float>& v) {
  TfjsTensor t;
  t.shape = std::move(shape);
  t.f = v;
  return t;
}

// The block; with `pad_read_twice`, a second output (Relu of the padded
// tensor) also reads the Pad, so it must be built as a layer.
Block MakeBlock(bool pad_read_twice) {
  Block b;
  std::mt19937 rng(16);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto fill = [&](std::vector<float>& v, size_t n) {
    v.resize(n);
    for (float& x : v) x = u(rng);
  };
  fill(b.input, size_t{kH} * kW * kC);
  fill(b.dw, size_t{9} * kC);
  fill(b.pw, size_t{kC} * kOut);
  fill(b.bias, kOut);
  fill(b.alpha, kOut);
  TfjsGraph& g = b.graph;
  g.nodes.push_back(Node("input", "Placeholder", {}));
  g.nodes.push_back(Node("dw_w", "Const", {}));
  g.weights["dw_w"] = Floats({3, 3, kC, 1}, b.dw);
  TfjsNode pool = Node("pool", "MaxPool", {"input"});
  pool.int_lists["ksize"] = {1, 2, 2, 1};
  pool.int_lists["strides"] = {1, 2, 2, 1};
  pool.str_attrs["padding"] = "VALID";
  g.nodes.push_back(pool);
  TfjsNode dw = Node("dw", "DepthwiseConv2dNative", {"input", "dw_w"});
  dw.int_lists["strides"] = {1, 2, 2, 1};
  dw.str_attrs["padding"] = "SAME";
  g.nodes.push_back(dw);
  g.nodes.push_back(Node("pw_w", "Const", {}));
  g.weights["pw_w"] = Floats({1, 1, kC, kOut}, b.pw);
  g.nodes.push_back(Node("pw_b", "Const", {}));
  g.weights["pw_b"] = Floats({kOut}, b.bias);
  TfjsNode pw = Node("pw", "_FusedConv2D", {"dw", "pw_w", "pw_b"});
  pw.int_lists["strides"] = {1, 1, 1, 1};
  pw.str_attrs["padding"] = "VALID";
  pw.fused_ops = {"BiasAdd"};
  g.nodes.push_back(pw);
  g.nodes.push_back(Node("paddings", "Const", {}));
  TfjsTensor paddings;
  paddings.shape = {4, 2};
  paddings.i = {0, 0, 0, 0, 0, 0, 0, kOut - kC};
  g.weights["paddings"] = paddings;
  g.nodes.push_back(Node("pad", "Pad", {"pool", "paddings"}));
  g.nodes.push_back(Node("add", "AddV2", {"pad", "pw"}));
  g.nodes.push_back(Node("alpha", "Const", {}));
  g.weights["alpha"] = Floats({kOut}, b.alpha);
  g.nodes.push_back(Node("out", "Prelu", {"add", "alpha"}));
  if (pad_read_twice) g.nodes.push_back(Node("pad_relu", "Relu", {"pad"}));
  return b;
}

// Plain loops, NHWC out 1 x 6 x 18 x kOut, in double.
std::vector<double> Reference(const Block& b) {
  const int oh = kH / 2, ow = kW / 2;
  auto in = [&](int y, int x, int c) -> double {
    return y < 0 || y >= kH || x < 0 || x >= kW ? 0.0 : b.input[(static_cast<size_t>(y) * kW + x) * kC + c];
  };
  std::vector<double> out(static_cast<size_t>(oh) * ow * kOut);
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      std::vector<double> dw(kC), pool(kC);
      for (int c = 0; c < kC; ++c) {
        // TF SAME, stride 2, even size: no padding before, one after.
        for (int ky = 0; ky < 3; ++ky)
          for (int kx = 0; kx < 3; ++kx) dw[c] += b.dw[(ky * 3 + kx) * kC + c] * in(2 * y + ky, 2 * x + kx, c);
        pool[c] = std::max({in(2 * y, 2 * x, c), in(2 * y, 2 * x + 1, c), in(2 * y + 1, 2 * x, c),
                            in(2 * y + 1, 2 * x + 1, c)});
      }
      for (int o = 0; o < kOut; ++o) {
        double v = b.bias[o];
        for (int c = 0; c < kC; ++c) v += b.pw[c * kOut + o] * dw[c];
        if (o < kC) v += pool[o];  // the zero-padded shortcut
        out[(static_cast<size_t>(y) * ow + x) * kOut + o] = v > 0 ? v : v * b.alpha[o];
      }
    }
  return out;
}

int CountLayers(DnnRunner& r, const std::string& type) {
  int n = 0;
  for (const std::string& name : r.net().getLayerNames()) n += r.net().getLayer(name)->type == type ? 1 : 0;
  return n;
}

double WorstError(const std::vector<float>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  return worst;
}

cv::Mat NchwInput(const Block& b) {
  const int dims[4] = {1, kC, kH, kW};
  cv::Mat m(4, dims, CV_32F);
  for (int c = 0; c < kC; ++c)
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x)
        m.ptr<float>()[(static_cast<size_t>(c) * kH + y) * kW + x] = b.input[(static_cast<size_t>(y) * kW + x) * kC + c];
  return m;
}

TEST(TfjsToDnn, ChannelPadFoldsIntoTheResidualOfTheBlocksConvolution) {
  Block b = MakeBlock(false);
  auto runner = BuildDnnFromTfjs(b.graph, {1, kH, kW, kC}, {"out"});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  EXPECT_EQ(CountLayers(*runner, "Padding"), 0) << "the channel pad should be folded";
  EXPECT_EQ(CountLayers(*runner, "Eltwise"), 0) << "the sum should be folded";
  EXPECT_EQ(CountLayers(*runner, "PReLU"), 0) << "the PReLU should be folded";
  EXPECT_EQ(CountLayers(*runner, "LivegateGemmConv"), 1);
  auto out = runner->Run(NchwInput(b));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_LE(WorstError((*out)[0], Reference(b)), 1e-5);
}

TEST(TfjsToDnn, ChannelPadReadTwiceIsBuiltAsAPaddingLayer) {
  Block b = MakeBlock(true);
  auto runner = BuildDnnFromTfjs(b.graph, {1, kH, kW, kC}, {"out", "pad_relu"});
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  EXPECT_EQ(CountLayers(*runner, "Padding"), 1);
  auto out = runner->Run(NchwInput(b));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_LE(WorstError((*out)[0], Reference(b)), 1e-5);
  // The second output: relu(pool) on the first channels, zeros after.
  const std::vector<float>& padded = (*out)[1];
  ASSERT_EQ(padded.size(), static_cast<size_t>(kH / 2) * (kW / 2) * kOut);
  for (size_t p = 0; p < padded.size() / kOut; ++p) {
    for (int o = kC; o < kOut; ++o) ASSERT_EQ(padded[p * kOut + o], 0.0f) << "pixel " << p << " channel " << o;
    for (int o = 0; o < kC; ++o) ASSERT_GE(padded[p * kOut + o], 0.0f);
  }
}

}  // namespace
}  // namespace livegate::vision
