// tfjs graph -> cv::dnn::Net translator. See tfjs_to_dnn.h.
#include "vision/tfjs_to_dnn.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>

#include "vision/conv_kernels.h"
#include "vision/dnn_builder.h"

namespace livegate::vision {
namespace {

// Group-1 convolutions with at most this many multiply-adds per output
// (input channels x window) use the direct kernels (conv_kernels.h); larger
// ones OpenBLAS. FaceMesh and Iris stay below it (K <= 512).
constexpr int kDirectKernelsMaxK = 1024;

// What a convolution not yet added to the Net reads.
struct ConvOperands {
  DnnTensor x;
  cv::Mat w;
  std::vector<float> bias;
  int stride_h = 1, stride_w = 1;
  Pads2d pads;
};

// A group-1 convolution not yet added to the Net, so that its only
// consumer, a residual sum (and the Relu after it), can be folded into the
// GEMM layer: relu(conv(x) + bias + residual) in one pass instead of a
// convolution, an Eltwise sum and its pass over the tensor.
struct PendingConv : ConvOperands {
  std::optional<DnnTensor> residual;
  GemmConvExtras extras;  // depthwise stage folded in, kernel choice
};

// A depthwise convolution (multiplier 1, weights C x 1 x kh x kw) not yet
// added to the Net, so that the group-1 convolution reading it can run it as
// its first stage (one layer, the depthwise output never stored as a blob;
// issue 16).
struct PendingDepthwise : ConvOperands {};

// A Pad that only appends zero channels, not yet added to the Net, whose
// only consumer is a sum: when the other operand is a pending convolution,
// the unpadded tensor becomes that convolution's residual on its first
// channels (FaceMesh's and Iris's stride-2 blocks: MaxPool -> channel
// Pad -> AddV2), so the zeros are never written nor read (issue 16).
struct PendingChannelPad {
  DnnTensor x;                                // the unpadded tensor
  std::vector<std::pair<int, int>> pads;      // the Pad's, cv::dnn order, for building it after all
};

// A graph value: either a constant (weights) or a tensor inside the Net.
struct Value {
  Value() = default;
  Value(const TfjsTensor* c, DnnTensor tensor, int r, std::shared_ptr<const PendingConv> p = nullptr)
      : constant(c), t(std::move(tensor)), rank(r), pending(std::move(p)) {}

  bool unbuilt() const { return pending || pending_dw || pending_pad; }

  const TfjsTensor* constant = nullptr;
  DnnTensor t;   // dnn layout (NCHW for rank 4); t.layer is unset while pending
  int rank = 0;  // TF rank
  std::shared_ptr<const PendingConv> pending;  // set: t's layer is not built yet
  std::shared_ptr<const PendingDepthwise> pending_dw;  // likewise, a depthwise convolution
  std::shared_ptr<const PendingChannelPad> pending_pad;  // likewise, a channel zero-padding
};

std::vector<int> TfShape(const Value& v) {
  if (v.rank == 4) return {v.t.shape[0], v.t.shape[2], v.t.shape[3], v.t.shape[1]};
  return v.t.shape;
}

Status Unsupported(const TfjsNode& n, const std::string& why) {
  return Status::Unsupported("model.unsupported_op",
                             "op " + n.op + " (node " + n.name + ") is not supported: " + why);
}
Status Corrupt(const TfjsNode& n, const std::string& why) {
  return Status::BadInput("model.corrupt", "node " + n.name + " (" + n.op + "): " + why);
}

class Translator {
 public:
  Translator(const TfjsGraph& g, const std::vector<int>& input_nhwc)
      : graph_(g), builder_({input_nhwc[0], input_nhwc[3], input_nhwc[1], input_nhwc[2]}) {
    for (size_t i = 0; i < g.nodes.size(); ++i) index_[g.nodes[i].name] = i;
    for (const TfjsNode& n : g.nodes) {
      for (const std::string& input : n.inputs) {
        if (auto name = NodeName(input); name.ok()) consumers_[*name].push_back(&n);
      }
    }
  }

  // Resolves a graph tensor to its cv::dnn value, translating every node it
  // depends on first. Depth-first with an explicit stack on the heap: a
  // recursive walk needed a stack frame per graph level (several KiB each
  // under ASan: BlazeFace overflowed a 512 KiB thread stack, a 1,000-deep
  // chain the 8 MiB main stack).
  Result<Value> Resolve(const std::string& tensor_name) {
    LG_ASSIGN_OR_RETURN(std::string root, NodeName(tensor_name));
    if (auto it = values_.find(root); it != values_.end()) return it->second;
    struct Pending {
      size_t node;
      size_t next_input = 0;
    };
    std::vector<Pending> stack;
    LG_ASSIGN_OR_RETURN(size_t root_index, Enter(root));
    stack.push_back({root_index});
    while (!stack.empty()) {
      Pending& top = stack.back();
      const TfjsNode& n = graph_.nodes[top.node];
      if (top.next_input < n.inputs.size()) {
        LG_ASSIGN_OR_RETURN(std::string name, NodeName(n.inputs[top.next_input++]));
        if (values_.count(name) != 0) continue;
        LG_ASSIGN_OR_RETURN(size_t index, Enter(name));
        stack.push_back({index});  // `top` is not used after this
        continue;
      }
      std::vector<Value> in;
      in.reserve(n.inputs.size());
      const bool folds = FoldsPending(n);
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        Value& v = values_.at(NodeName(n.inputs[i]).value());
        // A sum folds one pending convolution (the first) and a pending
        // channel pad; anything else needs its inputs built.
        const bool keep = folds && (i == 0 || v.pending_pad || !values_.at(NodeName(n.inputs[0]).value()).pending);
        if (v.unbuilt() && !keep) Materialize(v, false);
        in.push_back(v);
      }
      visiting_.erase(n.name);
      Result<Value> v = Translate(n, in);
      if (!v.ok()) return v.status();
      values_[n.name] = *std::move(v);
      stack.pop_back();
    }
    Value& out = values_.at(root);
    if (out.unbuilt()) Materialize(out, false);
    return out;
  }

  DnnNetBuilder& builder() { return builder_; }

 private:
  Result<Value> Translate(const TfjsNode& n, const std::vector<Value>& in) {
    const std::string& op = n.op;
    if (op == "Placeholder") return Value{nullptr, builder_.Input(), 4};
    if (op == "Const") {
      auto w = graph_.weights.find(n.name);
      if (w == graph_.weights.end()) return Corrupt(n, "constant has no weights in the manifest");
      Value v;
      v.constant = &w->second;
      return v;
    }
    if (in.empty()) return Corrupt(n, "no inputs");
    const Value& x = in[0];
    if (op == "Identity" || op == "StopGradient") return x;
    if (x.constant) return Unsupported(n, "constant folding is not implemented");

    if (op == "Conv2D" || op == "_FusedConv2D" || op == "DepthwiseConv2dNative" ||
        op == "FusedDepthwiseConv2dNative") {
      return TranslateConv(n, in);
    }
    if (op == "MatMul" || op == "_FusedMatMul") return TranslateMatMul(n, in);
    if (op == "BiasAdd" || op == "Add" || op == "AddV2" || op == "Mul") return TranslateBinary(n, in);
    if (op == "Relu" && x.pending) {
      Value v = x;
      Materialize(v, true);
      return v;
    }
    if (op == "Prelu" && x.pending) {  // FoldsPending: into the convolution's output pass
      if (in.size() < 2) return Corrupt(n, "Prelu without alpha");
      LG_ASSIGN_OR_RETURN(std::vector<float> a, ChannelVector(n, in[1], Channels(x)));
      Value v = x;
      Materialize(v, false, &a);
      return v;
    }
    if (op == "Relu" || op == "Relu6" || op == "Sigmoid" || op == "Tanh") {
      static const std::map<std::string, std::string> kType = {
          {"Relu", "ReLU"}, {"Relu6", "ReLU6"}, {"Sigmoid", "Sigmoid"}, {"Tanh", "TanH"}};
      return Value{nullptr, builder_.Activation(x.t, kType.at(op)), x.rank};
    }
    if (op == "Prelu") return ApplyPrelu(n, x, in.size() > 1 ? &in[1] : nullptr);
    if (op == "MaxPool" || op == "AvgPool") return TranslatePool(n, x);
    if (op == "Pad") return TranslatePad(n, in);
    if (op == "ConcatV2") return TranslateConcat(n, in);
    if (op == "Reshape") return TranslateReshape(n, in);
    if (op == "Softmax") {
      const int axis = x.rank == 4 ? 1 : x.rank - 1;
      return Value{nullptr, builder_.Softmax(x.t, axis), x.rank};
    }
    if (op == "Mean") return TranslateMean(n, in);
    if (op == "Minimum" || op == "Maximum") return TranslateClip(n, in);
    return Unsupported(n, "no translation to cv::dnn");
  }

  // Channel count of a tensor (TF last axis), and whether per-channel
  // broadcasting maps to cv::dnn axis 1.
  static int Channels(const Value& v) { return v.rank >= 2 ? v.t.shape[1] : 0; }

  Result<std::vector<float>> ChannelVector(const TfjsNode& n, const Value& c, int channels) {
    if (!c.constant || c.constant->is_int()) return Corrupt(n, "expected a float constant");
    const auto& s = c.constant->shape;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      if (s[i] != 1) return Unsupported(n, "broadcast other than per channel");
    }
    if (c.constant->f.size() == 1) return std::vector<float>(channels, c.constant->f[0]);
    if (static_cast<int>(c.constant->f.size()) != channels) {
      return Corrupt(n, "per-channel constant of size " + std::to_string(c.constant->f.size()) +
                            " for " + std::to_string(channels) + " channels");
    }
    return c.constant->f;
  }

  Result<Value> ApplyPrelu(const TfjsNode& n, const Value& x, const Value* alpha) {
    if (!alpha) return Corrupt(n, "Prelu without alpha");
    LG_ASSIGN_OR_RETURN(std::vector<float> a, ChannelVector(n, *alpha, Channels(x)));
    return Value{nullptr, builder_.PRelu(x.t, a), x.rank};
  }

  // Fused activations after BiasAdd (_FusedConv2D / _FusedMatMul).
  Result<Value> ApplyFused(const TfjsNode& n, Value v, const std::vector<Value>& in) {
    for (size_t i = 1; i < n.fused_ops.size(); ++i) {
      const std::string& f = n.fused_ops[i];
      if (f == "Relu") v.t = builder_.Activation(v.t, "ReLU");
      else if (f == "Relu6") v.t = builder_.Activation(v.t, "ReLU6");
      else if (f == "Sigmoid") v.t = builder_.Activation(v.t, "Sigmoid");
      else if (f == "Prelu") {
        LG_ASSIGN_OR_RETURN(v, ApplyPrelu(n, v, in.size() > 3 ? &in[3] : nullptr));
      } else {
        return Unsupported(n, "fused op " + f);
      }
    }
    return v;
  }

  Result<std::vector<float>> FusedBias(const TfjsNode& n, const std::vector<Value>& in, int channels) {
    const bool fused = n.op[0] == '_' || n.op.rfind("Fused", 0) == 0;
    if (!fused) return std::vector<float>{};
    if (n.fused_ops.empty() || n.fused_ops[0] != "BiasAdd") {
      return Unsupported(n, "fused ops must start with BiasAdd");
    }
    if (in.size() < 3) return Corrupt(n, "fused BiasAdd without bias");
    return ChannelVector(n, in[2], channels);
  }

  Result<Pads2d> SpatialPads(const TfjsNode& n, int in_h, int in_w, int kh, int kw, int sh, int sw,
                             int dil) {
    auto pad = n.str_attrs.find("padding");
    const std::string mode = pad == n.str_attrs.end() ? "VALID" : pad->second;
    Pads2d p;
    if (mode == "SAME") {
      std::tie(p.top, p.bottom) = TfSamePadding(in_h, kh, sh, dil);
      std::tie(p.left, p.right) = TfSamePadding(in_w, kw, sw, dil);
    } else if (mode == "EXPLICIT") {
      auto e = n.int_lists.find("explicit_paddings");
      if (e == n.int_lists.end() || e->second.size() != 8) return Corrupt(n, "bad explicit_paddings");
      p = {static_cast<int>(e->second[2]), static_cast<int>(e->second[3]),
           static_cast<int>(e->second[4]), static_cast<int>(e->second[5])};
    } else if (mode != "VALID") {
      return Unsupported(n, "padding " + mode);
    }
    return p;
  }

  Result<std::pair<int, int>> Strides(const TfjsNode& n, const std::string& key) {
    auto s = n.int_lists.find(key);
    if (s == n.int_lists.end()) return std::pair<int, int>{1, 1};
    if (s->second.size() != 4 || s->second[0] != 1 || s->second[3] != 1) {
      return Unsupported(n, key + " over batch or channels");
    }
    for (int i : {1, 2}) {
      if (s->second[i] < 1 || s->second[i] > 4096) return Corrupt(n, key + " out of range");
    }
    return std::pair<int, int>{static_cast<int>(s->second[1]), static_cast<int>(s->second[2])};
  }

  Status CheckNhwc(const TfjsNode& n, const Value& x) {
    auto f = n.str_attrs.find("data_format");
    if (f != n.str_attrs.end() && f->second != "NHWC") return Unsupported(n, "data_format " + f->second);
    if (x.rank != 4) return Corrupt(n, "expects a 4-D input");
    return Status::Ok();
  }

  Result<Value> TranslateConv(const TfjsNode& n, const std::vector<Value>& in_values) {
    std::vector<Value> in = in_values;
    Value& x = in[0];
    LG_RETURN_IF_ERROR(CheckNhwc(n, x));
    if (in.size() < 2 || !in[1].constant || in[1].constant->shape.size() != 4 || in[1].constant->is_int()) {
      return Corrupt(n, "filter must be a 4-D float constant");
    }
    const TfjsTensor& f = *in[1].constant;
    const int kh = f.shape[0], kw = f.shape[1], fin = f.shape[2], fout = f.shape[3];
    const bool depthwise = n.op.find("Depthwise") != std::string::npos;
    const int in_c = x.t.shape[1];
    if (fin != in_c) return Corrupt(n, "filter depth does not match input channels");
    const int out_c = depthwise ? fin * fout : fout;
    cv::Mat w = MakeBlob({out_c, depthwise ? 1 : in_c, kh, kw});
    float* wp = w.ptr<float>();
    for (int y = 0; y < kh; ++y)
      for (int xx = 0; xx < kw; ++xx)
        for (int i = 0; i < fin; ++i)
          for (int o = 0; o < fout; ++o) {
            const float val = f.f[((y * kw + xx) * fin + i) * fout + o];
            if (depthwise) wp[((i * fout + o) * kh + y) * kw + xx] = val;  // out = i*mult+o
            else wp[((o * in_c + i) * kh + y) * kw + xx] = val;
          }
    LG_ASSIGN_OR_RETURN(auto strides, Strides(n, "strides"));
    LG_ASSIGN_OR_RETURN(auto dil, Strides(n, "dilations"));
    if (dil.first != dil.second) return Unsupported(n, "unequal dilations");
    LG_ASSIGN_OR_RETURN(Pads2d pads, SpatialPads(n, x.t.shape[2], x.t.shape[3], kh, kw,
                                                 strides.first, strides.second, dil.first));
    LG_ASSIGN_OR_RETURN(std::vector<float> bias, FusedBias(n, in, out_c));
    const bool gemm = !depthwise && dil.first == 1;
    // The output shape of a convolution left unbuilt (pending) on an input of `s`.
    auto unbuilt_out_shape = [&](const std::vector<int>& s) {
      return std::vector<int>{s[0], out_c, WindowOut(s[2], pads.top + pads.bottom, kh, strides.first),
                              WindowOut(s[3], pads.left + pads.right, kw, strides.second)};
    };
    if (x.pending_dw && !gemm) Materialize(x, false);
    if (depthwise && fout == 1 && dil.first == 1 && n.fused_ops.size() <= 1 && ConvKernelsVectorised() &&
        SoleConsumerIs(n.name, {"Conv2D", "_FusedConv2D"})) {
      // Left for the convolution that reads it (FoldsPending). Only with the
      // vectorised kernels: elsewhere cv::dnn's depthwise kernel is faster
      // than the portable loop.
      auto p = std::make_shared<PendingDepthwise>(
          PendingDepthwise{{x.t, w, bias, strides.first, strides.second, pads}});
      Value v{nullptr, DnnTensor{-1, unbuilt_out_shape(x.t.shape)}, 4};
      v.pending_dw = std::move(p);
      return v;
    }
    if (gemm) {
      // Group-1 convolutions run on the GEMM convolution layer (gemm_conv.h):
      // 1.4-2.4x faster than cv::dnn's on BlazeFace back's shapes
      // (docs/MODELS.md), with the direct kernels of conv_kernels.h for the
      // small products of these networks (issue 16). A fused Relu or Prelu
      // right after BiasAdd is folded in, and so is a depthwise convolution
      // feeding it.
      GemmConvExtras extras;
      extras.direct_kernels = fin * kh * kw <= kDirectKernelsMaxK;
      if (x.pending_dw) {
        const PendingDepthwise& d = *x.pending_dw;
        extras.dw_weights = d.w;
        extras.dw_bias = d.bias;
        extras.dw_stride_h = d.stride_h;
        extras.dw_stride_w = d.stride_w;
        extras.dw_pads = d.pads;
        x.t = d.x;
      }
      const bool relu = n.fused_ops.size() == 2 && n.fused_ops[0] == "BiasAdd" && n.fused_ops[1] == "Relu";
      const bool prelu = n.fused_ops.size() == 2 && n.fused_ops[0] == "BiasAdd" && n.fused_ops[1] == "Prelu";
      if (prelu) {
        if (in.size() < 4) return Corrupt(n, "fused Prelu without alpha");
        LG_ASSIGN_OR_RETURN(extras.prelu_slopes, ChannelVector(n, in[3], out_c));
      }
      const bool plain = n.fused_ops.empty() || (n.fused_ops.size() == 1 && n.fused_ops[0] == "BiasAdd");
      if (plain && SoleConsumerIs(n.name, {"Add", "AddV2", "Relu", "Prelu"})) {
        auto p = std::make_shared<PendingConv>(
            PendingConv{{x.t, w, bias, strides.first, strides.second, pads}, std::nullopt, extras});
        // From this convolution's input (x.t is the depthwise stage's input when one is folded in).
        Value v{nullptr, DnnTensor{-1, unbuilt_out_shape(in_values[0].t.shape)}, 4, std::move(p)};
        return v;
      }
      Value v{nullptr, builder_.GemmConv(x.t, w, bias, strides.first, strides.second, pads, relu, nullptr, &extras), 4};
      return relu || prelu ? v : ApplyFused(n, v, in);
    }
    Value v{nullptr,
            builder_.Conv(x.t, w, bias, depthwise ? in_c : 1, strides.first, strides.second, pads,
                          dil.first),
            4};
    return ApplyFused(n, v, in);
  }

  Result<Value> TranslateMatMul(const TfjsNode& n, const std::vector<Value>& in) {
    const Value& x = in[0];
    if (x.rank != 2) return Unsupported(n, "MatMul on a rank-" + std::to_string(x.rank) + " input");
    if (in.size() < 2 || !in[1].constant || in[1].constant->shape.size() != 2) {
      return Unsupported(n, "MatMul with a non-constant right operand");
    }
    auto flag = [&](const char* k) {
      auto it = n.bool_attrs.find(k);
      return it != n.bool_attrs.end() && it->second;
    };
    if (flag("transpose_a")) return Unsupported(n, "transpose_a");
    const TfjsTensor& w = *in[1].constant;
    const bool tb = flag("transpose_b");
    const int k = tb ? w.shape[1] : w.shape[0], m = tb ? w.shape[0] : w.shape[1];
    if (k != x.t.shape[1]) return Corrupt(n, "MatMul inner dimensions differ");
    cv::Mat wt(m, k, CV_32F);
    for (int r = 0; r < m; ++r)
      for (int c = 0; c < k; ++c) wt.at<float>(r, c) = tb ? w.f[r * k + c] : w.f[c * m + r];
    LG_ASSIGN_OR_RETURN(std::vector<float> bias, FusedBias(n, in, m));
    Value v{nullptr, builder_.InnerProduct(x.t, wt, bias), 2};
    return ApplyFused(n, v, in);
  }

  Result<Value> TranslateBinary(const TfjsNode& n, const std::vector<Value>& in) {
    if (in.size() != 2) return Corrupt(n, "expects two inputs");
    const bool mul = n.op == "Mul";
    if (!in[0].constant && !in[1].constant) {
      if (in[0].t.shape != in[1].t.shape) return Unsupported(n, "broadcast between two tensors");
      if (!mul && (in[0].pending || in[1].pending)) {  // FoldsPending: one of them, without a residual yet
        const Value& conv = in[0].pending ? in[0] : in[1];
        const Value& other = in[0].pending ? in[1] : in[0];
        auto fused = std::make_shared<PendingConv>(*conv.pending);
        if (other.pending_pad) {  // added to the first channels only
          fused->residual = other.pending_pad->x;
          fused->extras.residual_fewer_channels = true;
        } else {
          fused->residual = other.t;
        }
        Value v = conv;
        v.pending = std::move(fused);
        // Stays pending only for a Relu or Prelu that is its sole consumer.
        if (!SoleConsumerIs(n.name, {"Relu", "Prelu"})) Materialize(v, false);
        return v;
      }
      return Value{nullptr, builder_.Eltwise(in[0].t, in[1].t, mul ? "prod" : "sum"), in[0].rank};
    }
    const Value& x = in[0].constant ? in[1] : in[0];
    const Value& c = in[0].constant ? in[0] : in[1];
    if (x.rank != 4 && x.rank != 2) return Unsupported(n, "per-channel op on rank " + std::to_string(x.rank));
    LG_ASSIGN_OR_RETURN(std::vector<float> vec, ChannelVector(n, c, Channels(x)));
    return Value{nullptr,
                 mul ? builder_.ScaleShift(x.t, vec, {}) : builder_.ScaleShift(x.t, {}, vec), x.rank};
  }

  Result<Value> TranslatePool(const TfjsNode& n, const Value& x) {
    LG_RETURN_IF_ERROR(CheckNhwc(n, x));
    LG_ASSIGN_OR_RETURN(auto k, Strides(n, "ksize"));
    LG_ASSIGN_OR_RETURN(auto s, Strides(n, "strides"));
    LG_ASSIGN_OR_RETURN(Pads2d pads,
                        SpatialPads(n, x.t.shape[2], x.t.shape[3], k.first, k.second, s.first, s.second, 1));
    // 2x2/2 max pooling (FaceMesh's and Iris's shortcuts) on our own layer:
    // its windows are TF's when there is no padding before and at most the
    // one after an odd edge (SAME), or none at all (issue 16).
    const bool odd_valid = (x.t.shape[2] % 2 == 1 && pads.bottom == 0) || (x.t.shape[3] % 2 == 1 && pads.right == 0);
    if (n.op == "MaxPool" && k == std::pair{2, 2} && s == std::pair{2, 2} && pads.top == 0 && pads.left == 0 &&
        pads.bottom <= 1 && pads.right <= 1 && !odd_valid) {
      return Value{nullptr, builder_.MaxPool2x2(x.t), 4};
    }
    return Value{nullptr,
                 builder_.Pool(x.t, n.op == "MaxPool" ? "MAX" : "AVE", k.first, k.second, s.first,
                               s.second, pads),
                 4};
  }

  Result<std::vector<int32_t>> IntConst(const TfjsNode& n, const std::vector<Value>& in, size_t i) {
    if (in.size() <= i || !in[i].constant || !in[i].constant->is_int()) {
      return Unsupported(n, "input " + std::to_string(i) + " must be an int32 constant");
    }
    return in[i].constant->i;
  }

  Result<Value> TranslatePad(const TfjsNode& n, const std::vector<Value>& in) {
    const Value& x = in[0];
    LG_ASSIGN_OR_RETURN(std::vector<int32_t> p, IntConst(n, in, 1));
    if (static_cast<int>(p.size()) != 2 * x.rank) return Corrupt(n, "paddings do not match the rank");
    for (int32_t v : p)
      if (v < 0 || v > 4096) return Corrupt(n, "padding out of range");
    std::vector<std::pair<int, int>> pads;
    if (x.rank == 4) {
      for (int tf_axis : {0, 3, 1, 2}) pads.emplace_back(p[2 * tf_axis], p[2 * tf_axis + 1]);
    } else {
      for (int a = 0; a < x.rank; ++a) pads.emplace_back(p[2 * a], p[2 * a + 1]);
    }
    const bool channels_after_only = x.rank == 4 && pads[1].first == 0 && pads[1].second > 0 &&
                                     pads[0] == std::pair{0, 0} && pads[2] == std::pair{0, 0} &&
                                     pads[3] == std::pair{0, 0};
    if (channels_after_only && !x.unbuilt() && SoleConsumerIs(n.name, {"Add", "AddV2"})) {
      // Left for the sum (FoldsPending); built as a Pad if it cannot fold.
      Value v{nullptr, DnnTensor{-1, {x.t.shape[0], x.t.shape[1] + pads[1].second, x.t.shape[2], x.t.shape[3]}}, 4};
      v.pending_pad = std::make_shared<PendingChannelPad>(PendingChannelPad{x.t, pads});
      return v;
    }
    return Value{nullptr, builder_.Pad(x.t, pads), x.rank};
  }

  Result<Value> TranslateConcat(const TfjsNode& n, const std::vector<Value>& in) {
    if (in.size() < 2) return Corrupt(n, "ConcatV2 without inputs");
    LG_ASSIGN_OR_RETURN(std::vector<int32_t> ax, IntConst(n, in, in.size() - 1));
    if (ax.size() != 1) return Corrupt(n, "axis must be a scalar");
    const int rank = in[0].rank;
    int axis = ax[0] < 0 ? ax[0] + rank : ax[0];
    if (axis < 0 || axis >= rank) return Corrupt(n, "axis out of range");
    if (rank == 4) axis = std::vector<int>{0, 2, 3, 1}[axis];
    std::vector<DnnTensor> xs;
    for (size_t i = 0; i + 1 < in.size(); ++i) {
      if (in[i].constant || in[i].rank != rank) return Unsupported(n, "concat of constants or mixed ranks");
      xs.push_back(in[i].t);
    }
    return Value{nullptr, builder_.Concat(xs, axis), rank};
  }

  Result<Value> TranslateReshape(const TfjsNode& n, const std::vector<Value>& in) {
    const Value& x = in[0];
    LG_ASSIGN_OR_RETURN(std::vector<int32_t> target, IntConst(n, in, 1));
    const std::vector<int> src = TfShape(x);
    const int64_t total = std::accumulate(src.begin(), src.end(), int64_t{1}, std::multiplies<>());
    std::vector<int> shape(target.begin(), target.end());
    int64_t known = 1;
    int unknown = -1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == -1) {
        if (unknown >= 0) return Corrupt(n, "two -1 in shape");
        unknown = static_cast<int>(i);
      } else if (shape[i] <= 0) {
        return Unsupported(n, "zero or negative dimension in shape");
      } else {
        known *= shape[i];
      }
    }
    if (unknown >= 0) shape[unknown] = static_cast<int>(total / known);
    if (std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>()) != total) {
      return Corrupt(n, "reshape changes the element count");
    }
    DnnTensor t = x.t;
    if (x.rank == 4) t = builder_.Permute(t, {0, 2, 3, 1});  // TF order before flattening
    t = builder_.Reshape(t, shape);
    if (shape.size() == 4) t = builder_.Permute(t, {0, 3, 1, 2});
    return Value{nullptr, t, static_cast<int>(shape.size())};
  }

  // Minimum/Maximum against a scalar constant (Keras' ReLU6 is
  // Relu -> Minimum(6) -> Maximum(0)): a clamp on one side.
  Result<Value> TranslateClip(const TfjsNode& n, const std::vector<Value>& in) {
    if (in.size() != 2 || in[0].constant || !in[1].constant || in[1].constant->is_int() ||
        in[1].constant->f.size() != 1) {
      return Unsupported(n, "only tensor vs scalar float constant");
    }
    const float c = in[1].constant->f[0];
    const float lo = n.op == "Maximum" ? c : -std::numeric_limits<float>::max();
    const float hi = n.op == "Minimum" ? c : std::numeric_limits<float>::max();
    return Value{nullptr, builder_.Clamp(in[0].t, lo, hi), in[0].rank};
  }

  Result<Value> TranslateMean(const TfjsNode& n, const std::vector<Value>& in) {
    const Value& x = in[0];
    LG_ASSIGN_OR_RETURN(std::vector<int32_t> axes, IntConst(n, in, 1));
    if (x.rank != 4 || axes.size() != 2 || !((axes[0] == 1 && axes[1] == 2) || (axes[0] == 2 && axes[1] == 1))) {
      return Unsupported(n, "Mean other than over H and W of a 4-D tensor");
    }
    auto kd = n.bool_attrs.find("keep_dims");
    DnnTensor t = builder_.GlobalAveragePool(x.t);
    if (kd != n.bool_attrs.end() && kd->second) return Value{nullptr, t, 4};
    return Value{nullptr, builder_.Reshape(t, {t.shape[0], t.shape[1]}), 2};
  }

  // "name" or "name:0" -> node name; other outputs of multi-output ops are
  // not used by the supported models.
  static Result<std::string> NodeName(const std::string& tensor_name) {
    std::string node_name = tensor_name;
    if (auto colon = node_name.rfind(':'); colon != std::string::npos) {
      if (node_name.substr(colon + 1) != "0") {
        return Status::Unsupported("model.unsupported_op", "multi-output tensor " + tensor_name);
      }
      node_name.resize(colon);
    }
    return node_name;
  }

  // Marks a node as being resolved: its index, or the error when it does not
  // exist or is already on the path (a cycle).
  Result<size_t> Enter(const std::string& node_name) {
    auto it = index_.find(node_name);
    if (it == index_.end()) {
      return Status::BadInput("model.corrupt", "graph refers to unknown node " + node_name);
    }
    if (!visiting_.insert(node_name).second) {
      return Status::BadInput("model.corrupt", "graph has a cycle through " + node_name);
    }
    return it->second;
  }

  // Adds a pending convolution to the Net (with its residual, ReLU when
  // `relu`); v then is an ordinary tensor.
  // A pending depthwise convolution becomes cv::dnn's grouped convolution.
  void Materialize(Value& v, bool relu, const std::vector<float>* prelu_slopes = nullptr) {
    if (v.pending_pad) {
      v.t = builder_.Pad(v.pending_pad->x, v.pending_pad->pads);
      v.pending_pad.reset();
      return;
    }
    if (v.pending_dw) {
      const PendingDepthwise& d = *v.pending_dw;
      v.t = builder_.Conv(d.x, d.w, d.bias, d.x.shape[1], d.stride_h, d.stride_w, d.pads, 1);
      v.pending_dw.reset();
      return;
    }
    const PendingConv& p = *v.pending;
    GemmConvExtras extras = p.extras;
    if (prelu_slopes) extras.prelu_slopes = *prelu_slopes;
    v.t = builder_.GemmConv(p.x, p.w, p.bias, p.stride_h, p.stride_w, p.pads, relu,
                            p.residual ? &*p.residual : nullptr, &extras);
    v.pending.reset();
  }

  // Whether node n can take a pending input as it is: a sum of two tensors
  // whose pending operand has no residual yet, or a Relu.
  bool FoldsPending(const TfjsNode& n) const {
    if (n.op == "Relu") return n.inputs.size() == 1 && PendingConvInput(n);
    if (n.op == "Prelu") return n.inputs.size() == 2 && PendingConvInput(n);
    if (n.op == "Conv2D" || n.op == "_FusedConv2D") {  // a pending depthwise input
      const Value* x = n.inputs.empty() ? nullptr : Find(n.inputs[0]);
      return x && x->pending_dw;
    }
    if ((n.op != "Add" && n.op != "AddV2") || n.inputs.size() != 2) return false;
    const Value* a = Find(n.inputs[0]);
    const Value* b = Find(n.inputs[1]);
    if (!a || !b || a->constant || b->constant) return false;
    const Value* p = a->pending ? a : b;
    return p->pending && !p->pending->residual;
  }

  // Input 0 is a pending group-1 convolution.
  bool PendingConvInput(const TfjsNode& n) const {
    const Value* x = Find(n.inputs[0]);
    return x && x->pending;
  }

  const Value* Find(const std::string& tensor) const {
    auto name = NodeName(tensor);
    if (!name.ok()) return nullptr;
    auto it = values_.find(*name);
    return it == values_.end() ? nullptr : &it->second;
  }

  // The node's output feeds exactly one input of one node, of one of these ops.
  bool SoleConsumerIs(const std::string& node, std::initializer_list<const char*> ops) const {
    auto it = consumers_.find(node);
    if (it == consumers_.end() || it->second.size() != 1) return false;
    const std::string& op = it->second[0]->op;
    return std::any_of(ops.begin(), ops.end(), [&](const char* o) { return op == o; });
  }

  static int WindowOut(int in, int pad_sum, int kernel, int stride) {
    return in + pad_sum >= kernel && stride >= 1 ? (in + pad_sum - kernel) / stride + 1 : 1;
  }

  const TfjsGraph& graph_;
  DnnNetBuilder builder_;
  std::map<std::string, std::vector<const TfjsNode*>> consumers_;  // node -> nodes reading it
  std::set<std::string> visiting_;
  std::map<std::string, size_t> index_;
  std::map<std::string, Value> values_;
};

}  // namespace

DnnRunner::DnnRunner(cv::dnn::Net net, std::vector<std::string> output_layers,
                     std::vector<std::vector<int>> output_tf_shapes, std::vector<bool> output_nchw)
    : net_(std::move(net)),
      output_layers_(std::move(output_layers)),
      output_tf_shapes_(std::move(output_tf_shapes)),
      output_nchw_(std::move(output_nchw)) {}

Result<std::vector<std::vector<float>>> DnnRunner::Run(const cv::Mat& input) {
  std::vector<cv::Mat> outs;
  try {
    net_.setInput(input, "input");
    net_.forward(outs, output_layers_);
  } catch (const cv::Exception& e) {
    return Status::Internal("model.inference_failed", std::string("cv::dnn forward failed: ") + e.what());
  }
  if (outs.size() != output_layers_.size()) {
    return Status::Internal("model.inference_failed", "cv::dnn returned a wrong number of outputs");
  }
  std::vector<std::vector<float>> result;
  for (size_t i = 0; i < outs.size(); ++i) {
    const cv::Mat& m = outs[i];
    const auto& s = output_tf_shapes_[i];
    const size_t total = std::accumulate(s.begin(), s.end(), size_t{1}, std::multiplies<>());
    if (m.total() != total || m.type() != CV_32F || !m.isContinuous()) {
      return Status::Internal("model.inference_failed", "unexpected output blob for " + output_layers_[i]);
    }
    const float* p = m.ptr<float>();
    std::vector<float> v(total);
    if (output_nchw_[i]) {  // NCHW -> NHWC
      const int n = s[0], h = s[1], w = s[2], c = s[3];
      for (int b = 0; b < n; ++b)
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch)
              v[((b * h + y) * w + x) * c + ch] = p[((b * c + ch) * h + y) * w + x];
    } else {
      std::copy(p, p + total, v.begin());
    }
    result.push_back(std::move(v));
  }
  return result;
}

Result<DnnRunner> BuildDnnFromTfjs(const TfjsGraph& graph, const std::vector<int>& input_nhwc,
                                   const std::vector<std::string>& outputs) {
  if (input_nhwc.size() != 4) {
    return Status::InvalidArgument("model.bad_input_shape", "input shape must be NHWC");
  }
  try {
    Translator tr(graph, input_nhwc);
    std::vector<std::string> layers;
    std::vector<std::vector<int>> shapes;
    std::vector<bool> nchw;
    for (const auto& name : outputs) {
      LG_ASSIGN_OR_RETURN(Value v, tr.Resolve(name));
      if (v.constant || v.t.layer == 0) {
        return Status::BadInput("model.corrupt", "output " + name + " is not computed by the graph");
      }
      layers.push_back(tr.builder().NameOf(v.t));
      shapes.push_back(TfShape(v));
      nchw.push_back(v.rank == 4);
    }
    LG_RETURN_IF_ERROR(tr.builder().status());
    cv::dnn::Net net = tr.builder().Release();
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return DnnRunner(std::move(net), std::move(layers), std::move(shapes), std::move(nchw));
  } catch (const cv::Exception& e) {
    return Status::BadInput("model.corrupt", std::string("cv::dnn rejected the network: ") + e.what());
  }
}

Result<DnnRunner> LoadTfjsDnn(const std::filesystem::path& model_json,
                              const std::vector<int>& input_nhwc,
                              const std::vector<std::string>& outputs) {
  LG_ASSIGN_OR_RETURN(TfjsGraph graph, LoadTfjsGraph(model_json));
  LG_ASSIGN_OR_RETURN(DnnRunner runner, BuildDnnFromTfjs(graph, input_nhwc, outputs));
  const std::vector<int> nchw = {input_nhwc[0], input_nhwc[3], input_nhwc[1], input_nhwc[2]};
  auto warm = runner.Run(MakeBlob(nchw));
  if (!warm.ok()) {
    return Status::BadInput("model.corrupt", model_json.string() + ": the network does not run: " +
                                                 warm.status().message());
  }
  return runner;
}

}  // namespace livegate::vision
