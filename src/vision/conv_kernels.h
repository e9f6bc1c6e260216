// Direct convolution kernels for the small MobileNet-style networks
// (FaceMesh 192, Iris 64, BlazeFace, ...; issue 16 "cost per
// authentication"): a pointwise/im2col GEMM with the bias, a residual sum
// and ReLU/PReLU applied on the registers before the single store, and a
// depthwise convolution of any window, stride and (asymmetric) padding.
// Used by the GEMM convolution layer (gemm_conv.h) where OpenBLAS's packing
// and its separate zeroing of the output (sgemm_beta) cost more than the
// multiply-adds: on FaceMesh's 1x1 layers (K = 16..128 channels) the
// kernels and copies of OpenBLAS's large path spent ~45 % of their time
// outside the multiply kernel (perf, docs/PERFORMANCE.md).
//
// x86-64 with AVX2 + FMA (checked at run time) takes 8-wide vector code;
// anything else a portable loop with the same results up to float rounding
// (forced with the environment variable LIVEGATE_CONV_KERNELS=portable).
#pragma once

#include <cstddef>

namespace livegate::vision {

// Whether the kernels below run vectorised (AVX2 + FMA, not forced off).
// Their portable loops are correct but several times slower than OpenBLAS:
// the GEMM layer uses the kernels only when this is true.
bool ConvKernelsVectorised();

// What is applied to each output before it is stored:
// v = acc + bias[o] (+ residual), then v = max(v, 0) + slope[o] * min(v, 0)
// when `slopes` is set (ReLU: all slopes 0; PReLU: per channel).
struct ConvEpilogue {
  const float* bias = nullptr;      // one per output channel, or null
  const float* residual = nullptr;  // laid out as the output (row stride ldc), or null
  int residual_rows = 0;            // output channels [0, residual_rows) get the residual (zero-padded channels beyond)
  const float* slopes = nullptr;    // one per output channel, or null (no activation)
};

// dst[M x N] (row stride ldc) = epilogue(w[M x K] (row-major, row stride K)
// * b[K x N] (row stride ldb)).
void SmallGemm(const float* w, const float* b, int m, int n, int k, int ldb, float* dst, int ldc,
               const ConvEpilogue& e);

// Depthwise convolution of one image, NCHW, channel multiplier 1:
// out[c][oy][ox] = bias[c] + sum w[c][ky][kx] * in[c][oy*sh - pt + ky][ox*sw - pl + kx]
// (zero outside the input). `scratch` holds DepthwiseScratchFloats floats.
void Depthwise(const float* in, int channels, int h, int w, const float* weights, const float* bias, int kh,
               int kw, int sh, int sw, int pt, int pl, int oh, int ow, float* out, float* scratch);

// The same, output rows [oy0, oy1) of every channel only (oh: the whole
// output's height), stored at out + c * (oy1 - oy0) * ow: the GEMM layer
// runs its depthwise stage a band of rows at a time, so that the band is
// still in L1/L2 when the 1x1 convolution reads it (issue 16). Results are
// those of Depthwise bit for bit.
void DepthwiseRows(const float* in, int channels, int h, int w, const float* weights, const float* bias, int kh,
                   int kw, int sh, int sw, int pt, int pl, int oh, int ow, int oy0, int oy1, float* out,
                   float* scratch);
size_t DepthwiseScratchFloats(int kh, int kw, int sh, int sw, int oh, int ow);

// out[j] = in[2 * j] for j in [lo, hi), reading at most `readable` floats
// of `in` (the input row's end): the stride-2 gather of the depthwise
// padding and of the GEMM layer's im2col, 8 wide with AVX2.
void GatherEven(const float* in, int lo, int hi, int readable, float* out);

}  // namespace livegate::vision
