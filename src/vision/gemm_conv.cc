// im2col + OpenBLAS sgemm convolution layer for cv::dnn. See gemm_conv.h.
#include "vision/gemm_conv.h"

#include <cblas.h>

#include "vision/conv_kernels.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/hal/intrin.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/dnn/layer.details.hpp>

namespace livegate::vision {
namespace {

// The columns are built and multiplied a band of output rows at a time, so
// that a band's columns (K x band) can stay in the 1 MB L2 cache between
// im2col writing them and sgemm reading them. On the descriptor this made no
// measurable difference; it is kept because it bounds the scratch buffer.
constexpr size_t kColumnBlockBytes = size_t{512} * 1024;

// OpenBLAS 0.3.21 multiplies without packing its operands (its "small
// matrix" kernels) when M * N * K <= 1e6, on its AVX-512 cores only
// (SkylakeX, Cooperlake, Sapphire Rapids; the others' permit function
// returns 0). There, tiles of at most kTileCols columns and kTileMacs
// multiply-adds ran 16-55 % faster than one sgemm on each of the
// descriptor's shapes (e.g. M=32 K=288 N=1225: 257 -> 201 us; M=256
// K=2304 N=9: 246 -> 123 us; docs/MODELS.md). Elsewhere: one sgemm call.
constexpr int kTileCols = 64;
constexpr size_t kTileMacs = 600000;
// Below this many output pixels an image's columns are multiplied
// transposed ([pixels x K], sgemm NoTrans x Trans): the small-matrix
// kernel was 1.4x faster that way at 9 pixels.
constexpr int kTransposedBelowPixels = 16;
// With the direct kernels, columns of more than kColumnBlockBytes go in
// bands of this size, multiplied right after im2col wrote them (FaceMesh's
// first layer, 27 x 96 floats a row: ~7 % faster than in 512 KB bands;
// 16-512 KB tried); smaller ones stay whole (Iris's 2x2/2 layer on 16x16
// was ~8 % slower in two 128 KB bands than whole, 256 KB).
constexpr size_t kDirectColumnBlockBytes = size_t{128} * 1024;
// The depthwise stage before a 1x1 convolution runs a band of rows at a time
// whose output fits in this (L1 is 32 KB, L2 512 KB on the EPYC measured;
// 16-128 KB and whole maps tried on FaceMesh: 64 and 128 KB were best, the
// whole 96x96 maps ~15 % slower; 128 KB left the 24x24 stride-2 block whole).
constexpr size_t kDepthwiseBandBytes = size_t{128} * 1024;
// With several OpenCV threads, im2col is split over input channels from this
// many column floats (256 KB) up, so that small layers skip the thread
// hand-off (a round figure, not tuned).
constexpr size_t kParallelIm2ColFloats = size_t{64} * 1024;

bool UseSmallTiles() {
  static const bool use = [] {
    const std::string core = cv::toLowerCase(openblas_get_corename());
    return core == "skylakex" || core == "cooperlake" || core == "sapphirerapids";
  }();
  return use;
}

class GemmConvLayer final : public cv::dnn::Layer {
 public:
  explicit GemmConvLayer(const cv::dnn::LayerParams& p) : cv::dnn::Layer(p) {
    kh_ = p.get<int>("kernel_h");
    kw_ = p.get<int>("kernel_w");
    sh_ = p.get<int>("stride_h", 1);
    sw_ = p.get<int>("stride_w", 1);
    pt_ = p.get<int>("pad_t", 0);
    pb_ = p.get<int>("pad_b", 0);
    pl_ = p.get<int>("pad_l", 0);
    pr_ = p.get<int>("pad_r", 0);
    relu_ = p.get<bool>("relu", false);
    if (blobs.empty() || blobs[0].dims != 4 || blobs[0].type() != CV_32F) {
      CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": weights must be a 4-D CV_32F OIHW blob");
    }
    const cv::Mat& w = blobs[0];
    out_c_ = w.size[0];
    in_c_ = w.size[1];
    if (w.size[2] != kh_ || w.size[3] != kw_) {
      CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": kernel size differs from the weights' shape");
    }
    if (kh_ < 1 || kw_ < 1 || sh_ < 1 || sw_ < 1 || pt_ < 0 || pb_ < 0 || pl_ < 0 || pr_ < 0) {
      CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": kernel and stride must be >= 1, pads >= 0");
    }
    k_ = in_c_ * kh_ * kw_;
    // OIHW flattened is already the row-major [O x C*kh*kw] matrix sgemm
    // takes as A, rows in the order im2col writes the columns' rows.
    weights_.assign(w.ptr<float>(), w.ptr<float>() + static_cast<size_t>(out_c_) * k_);
    // Optional blobs by index (-1: absent), as DnnNetBuilder::GemmConv sets
    // them: a fixed position would mistake the slopes or the depthwise
    // weights for the bias of a convolution without one.
    bias_ = PerChannel(p.get<int>("bias_blob", -1), out_c_, "bias");
    slopes_ = PerChannel(p.get<int>("slopes_blob", -1), out_c_, "prelu slopes");
    if (relu_ && slopes_.empty()) slopes_.assign(static_cast<size_t>(out_c_), 0.0f);  // ReLU = PReLU with 0
    // The direct kernels only where they are vectorised; elsewhere OpenBLAS
    // (the depthwise stage then runs the portable loop).
    direct_kernels_ = p.get<bool>("direct_kernels", false) && ConvKernelsVectorised();
    const int dw_blob = p.get<int>("dw_weights_blob", -1);
    if (dw_blob >= 0) {
      if (dw_blob >= static_cast<int>(blobs.size()) || blobs[dw_blob].dims != 4 ||
          blobs[dw_blob].type() != CV_32F || blobs[dw_blob].size[0] != in_c_ || blobs[dw_blob].size[1] != 1) {
        CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": depthwise weights must be C x 1 x kh x kw");
      }
      const cv::Mat& d = blobs[dw_blob];
      dw_ = true;
      dkh_ = d.size[2];
      dkw_ = d.size[3];
      dsh_ = p.get<int>("dw_stride_h", 1);
      dsw_ = p.get<int>("dw_stride_w", 1);
      dpt_ = p.get<int>("dw_pad_t", 0);
      dpb_ = p.get<int>("dw_pad_b", 0);
      dpl_ = p.get<int>("dw_pad_l", 0);
      dpr_ = p.get<int>("dw_pad_r", 0);
      if (dsh_ < 1 || dsw_ < 1 || dpt_ < 0 || dpb_ < 0 || dpl_ < 0 || dpr_ < 0) {
        CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": depthwise stride must be >= 1, pads >= 0");
      }
      dw_weights_.assign(d.ptr<float>(), d.ptr<float>() + d.total());
      dw_bias_ = PerChannel(p.get<int>("dw_bias_blob", -1), in_c_, "depthwise bias");
    }
    direct_ = kh_ == 1 && kw_ == 1 && sh_ == 1 && sw_ == 1 && pt_ + pb_ + pl_ + pr_ == 0;
  }

  static cv::Ptr<cv::dnn::Layer> Create(cv::dnn::LayerParams& p) { return cv::makePtr<GemmConvLayer>(p); }

  bool getMemoryShapes(const std::vector<cv::dnn::MatShape>& inputs, const int /*required_outputs*/,
                       std::vector<cv::dnn::MatShape>& outputs,
                       std::vector<cv::dnn::MatShape>& internals) const override {
    if (inputs.size() != 1 && inputs.size() != 2) {
      CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": expects an input and an optional residual");
    }
    const cv::dnn::MatShape& in = inputs[0];
    if (in.size() != 4) {
      CV_Error(cv::Error::StsBadSize, cv::format("gemm_conv %s: input must be 4-D NCHW, got %d-D", name.c_str(),
                                                 static_cast<int>(in.size())));
    }
    if (in[1] != in_c_) {
      CV_Error(cv::Error::StsBadSize, cv::format("gemm_conv %s: input has %d channels, the weights expect %d",
                                                 name.c_str(), in[1], in_c_));
    }
    if (dw_ && (in[2] + dpt_ + dpb_ < dkh_ || in[3] + dpl_ + dpr_ < dkw_)) {
      CV_Error(cv::Error::StsBadSize, cv::format("gemm_conv %s: input %dx%d is smaller than the %dx%d depthwise window",
                                                 name.c_str(), in[2], in[3], dkh_, dkw_));
    }
    const int h = ConvInH(in[2]), w = ConvInW(in[3]);
    if (in[0] < 1 || h + pt_ + pb_ < kh_ || w + pl_ + pr_ < kw_) {
      CV_Error(cv::Error::StsBadSize,
               cv::format("gemm_conv %s: input %dx%dx%dx%d is smaller than the %dx%d window", name.c_str(), in[0],
                          in[1], h, w, kh_, kw_));
    }
    const int oh = OutH(h), ow = OutW(w);
    outputs.assign(1, cv::dnn::MatShape{in[0], out_c_, oh, ow});
    if (inputs.size() == 2) {
      // The residual may have fewer channels than the output (a residual
      // zero-padded on channels): they are added to the first channels.
      const cv::dnn::MatShape& r = inputs[1];
      if (r.size() != 4 || r[0] != in[0] || r[1] < 1 || r[1] > out_c_ || r[2] != oh || r[3] != ow) {
        CV_Error(cv::Error::StsBadSize, "gemm_conv " + name + ": the residual's shape differs from the output's");
      }
    }
    internals.clear();
    if (!direct_) internals.push_back(cv::dnn::MatShape{1, ColumnBufferSize(oh, ow)});
    if (dw_) {
      internals.push_back(cv::dnn::MatShape{1, DepthwiseOutFloats(h, w)});
      internals.push_back(cv::dnn::MatShape{
          1, static_cast<int>(DepthwiseScratchFloats(dkh_, dkw_, dsh_, dsw_, h, w))});
    }
    return false;  // never in place: the output is written while the input is read
  }

  void forward(cv::InputArrayOfArrays inputs_arr, cv::OutputArrayOfArrays outputs_arr,
               cv::OutputArrayOfArrays internals_arr) override {
    std::vector<cv::Mat> inputs, outputs, internals;
    inputs_arr.getMatVector(inputs);
    outputs_arr.getMatVector(outputs);
    internals_arr.getMatVector(internals);
    if (inputs.empty() || inputs.size() > 2 || outputs.size() != 1 || inputs[0].dims != 4 ||
        inputs[0].type() != CV_32F || inputs[0].size[1] != in_c_ || !inputs[0].isContinuous() ||
        !outputs[0].isContinuous()) {
      CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": needs one continuous 4-D CV_32F input of " +
                                         std::to_string(in_c_) + " channels (CPU target only)");
    }
    const cv::Mat& x = inputs[0];
    cv::Mat& y = outputs[0];
    const int n = x.size[0], in_h = x.size[2], in_w = x.size[3];
    const int h = ConvInH(in_h), w = ConvInW(in_w);
    const int oh = OutH(h), ow = OutW(w);
    if (y.dims != 4 || y.size[0] != n || y.size[1] != out_c_ || y.size[2] != oh || y.size[3] != ow) {
      CV_Error(cv::Error::StsBadSize, "gemm_conv " + name + ": output blob has an unexpected shape");
    }
    const size_t out_plane = static_cast<size_t>(oh) * ow;
    const float* residual = nullptr;
    int residual_rows = 0;
    if (inputs.size() == 2) {
      const cv::Mat& r = inputs[1];
      if (r.type() != CV_32F || !r.isContinuous() || r.dims != 4 || r.size[0] != n || r.size[1] > out_c_ ||
          r.total() != static_cast<size_t>(n) * r.size[1] * out_plane || r.data == y.data) {
        CV_Error(cv::Error::StsBadSize, "gemm_conv " + name + ": the residual must be a separate blob of the output's size");
      }
      residual = r.ptr<float>();
      residual_rows = r.size[1];
    }
    const size_t x_image = static_cast<size_t>(in_c_) * in_h * in_w;
    const int band = BandRows(oh, ow);
    size_t next_internal = 0;
    float* cols = nullptr;
    if (!direct_) {
      if (internals.size() <= next_internal ||
          internals[next_internal].total() < static_cast<size_t>(ColumnBufferSize(oh, ow))) {
        CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": missing column buffer");
      }
      cols = internals[next_internal++].ptr<float>();
    }
    float* dw_out = nullptr;
    float* dw_scratch = nullptr;
    if (dw_) {
      if (internals.size() < next_internal + 2 ||
          internals[next_internal].total() < static_cast<size_t>(DepthwiseOutFloats(h, w)) ||
          internals[next_internal + 1].total() < DepthwiseScratchFloats(dkh_, dkw_, dsh_, dsw_, h, w)) {
        CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": missing depthwise buffers");
      }
      dw_out = internals[next_internal].ptr<float>();
      dw_scratch = internals[next_internal + 1].ptr<float>();
    }
    for (int i = 0; i < n; ++i) {
      const float* src = x.ptr<float>() + i * x_image;
      float* dst = y.ptr<float>() + i * out_c_ * out_plane;
      const float* res = residual ? residual + i * residual_rows * out_plane : nullptr;  // laid out as dst
      if (dw_ && direct_) {
        // Depthwise stage and 1x1 convolution a band of rows at a time: the
        // band's depthwise output is multiplied while it is still in L1/L2,
        // and the residual (the block's input, just read by the depthwise
        // stage) too. Whole-map stages spilled to L3 at 96x96 (3 x 576 KB).
        const int band_rows = DepthwiseBandRows(h, w);
        for (int oy0 = 0; oy0 < h; oy0 += band_rows) {
          const int rows = std::min(band_rows, h - oy0);
          DepthwiseRows(src, in_c_, in_h, in_w, dw_weights_.data(), dw_bias_.empty() ? nullptr : dw_bias_.data(),
                        dkh_, dkw_, dsh_, dsw_, dpt_, dpl_, h, w, oy0, oy0 + rows, dw_out, dw_scratch);
          const size_t at = static_cast<size_t>(oy0) * w;
          Multiply(dw_out, false, rows * w, rows * w, dst + at, static_cast<int>(out_plane), res ? res + at : nullptr,
                   residual_rows);
        }
        continue;
      }
      if (dw_) {
        Depthwise(src, in_c_, in_h, in_w, dw_weights_.data(), dw_bias_.empty() ? nullptr : dw_bias_.data(), dkh_,
                  dkw_, dsh_, dsw_, dpt_, dpl_, h, w, dw_out, dw_scratch);
        src = dw_out;
      }
      if (direct_) {  // a 1x1 stride-1 unpadded input already is the column matrix
        Multiply(src, false, static_cast<int>(out_plane), static_cast<int>(out_plane), dst,
                 static_cast<int>(out_plane), res, residual_rows);
        continue;
      }
      if (Transposed(oh, ow)) {  // a few pixels: one band, then [pixels x K]
        const int pixels = static_cast<int>(out_plane);
        Im2Col(src, h, w, 0, oh, ow, cols);
        float* rows_t = cols + static_cast<size_t>(k_) * pixels;
        for (int k = 0; k < k_; ++k)
          for (int p = 0; p < pixels; ++p) rows_t[static_cast<size_t>(p) * k_ + k] = cols[static_cast<size_t>(k) * pixels + p];
        Multiply(rows_t, true, pixels, k_, dst, pixels, res, residual_rows);
        continue;
      }
      for (int oy0 = 0; oy0 < oh; oy0 += band) {
        const int rows = std::min(band, oh - oy0);
        Im2Col(src, h, w, oy0, rows, ow, cols);
        const size_t at = static_cast<size_t>(oy0) * ow;
        Multiply(cols, false, rows * ow, rows * ow, dst + at, static_cast<int>(out_plane), res ? res + at : nullptr,
                 residual_rows);
      }
    }
  }

 private:
  // One float per channel from blobs[index], or empty when index < 0.
  std::vector<float> PerChannel(int index, int channels, const char* what) const {
    if (index < 0) return {};
    if (index >= static_cast<int>(blobs.size()) || blobs[index].total() != static_cast<size_t>(channels) ||
        blobs[index].type() != CV_32F) {
      CV_Error(cv::Error::StsBadArg, "gemm_conv " + name + ": " + what + " must hold one float per channel");
    }
    return std::vector<float>(blobs[index].ptr<float>(), blobs[index].ptr<float>() + channels);
  }

  // The convolution's input size: the layer input's, or after the depthwise stage.
  int ConvInH(int h) const { return dw_ ? (h + dpt_ + dpb_ - dkh_) / dsh_ + 1 : h; }
  int ConvInW(int w) const { return dw_ ? (w + dpl_ + dpr_ - dkw_) / dsw_ + 1 : w; }
  int OutH(int h) const { return (h + pt_ + pb_ - kh_) / sh_ + 1; }
  int OutW(int w) const { return (w + pl_ + pr_ - kw_) / sw_ + 1; }

  // Rows of the depthwise stage's output (h x w, before a 1x1 convolution)
  // per band: as many as keep the band within kDepthwiseBandBytes, rounded
  // so that a band's columns are a multiple of 8 (a band's last columns
  // would take SmallGemm's dot-product tail, whose sums round differently).
  int DepthwiseBandRows(int h, int w) const {
    return RowsWithin(kDepthwiseBandBytes, static_cast<size_t>(in_c_) * w * sizeof(float), h, w);
  }

  // Floats of the depthwise stage's output buffer: a band of it with a 1x1
  // convolution after it, else the whole map.
  int DepthwiseOutFloats(int h, int w) const {
    return in_c_ * (direct_ ? DepthwiseBandRows(h, w) : h) * w;
  }

  // A few output pixels on the small-matrix kernels: multiply [pixels x K].
  bool Transposed(int oh, int ow) const {
    return !direct_kernels_ && UseSmallTiles() && oh * ow < kTransposedBelowPixels;
  }

  // Floats of scratch: a band's columns, or the columns and their transpose.
  int ColumnBufferSize(int oh, int ow) const {
    if (Transposed(oh, ow)) return 2 * k_ * oh * ow;
    return k_ * BandRows(oh, ow) * ow;
  }

  // Output rows per band: as many as keep K x (rows * ow) floats within
  // kColumnBlockBytes (kDirectColumnBlockBytes for larger ones with the
  // direct kernels), at least one.
  int BandRows(int oh, int ow) const {
    const size_t row_bytes = static_cast<size_t>(k_) * ow * sizeof(float);
    if (direct_kernels_ && row_bytes * oh > kColumnBlockBytes) {
      return RowsWithin(kDirectColumnBlockBytes, row_bytes, oh, ow);
    }
    return std::clamp(static_cast<int>(kColumnBlockBytes / std::max<size_t>(row_bytes, 1)), 1, oh);
  }

  // As many rows of row_bytes as fit in `budget` (at least one), in steps
  // that keep a band's columns (rows * ow) a multiple of 8 where possible:
  // a band's last columns would take SmallGemm's dot-product tail, whose
  // sums round differently from its tiles'.
  // The bands are evened out (24 rows in at most 21: 12 + 12, not 21 + 3).
  static int RowsWithin(size_t budget, size_t row_bytes, int oh, int ow) {
    const int most = std::max(1, static_cast<int>(budget / std::max<size_t>(row_bytes, 1)));
    const int bands = (oh + most - 1) / most;
    const int step = 8 / std::gcd(ow, 8);
    const int rows = ((oh + bands - 1) / bands + step - 1) / step * step;  // even share, rounded up to the step
    return std::clamp(rows, 1, oh);
  }

  // Columns of output rows [oy0, oy0 + rows): row (c, ky, kx) holds, for each
  // output pixel, the input pixel that weight multiplies (0 in the padding).
  void Im2Col(const float* src, int h, int w, int oy0, int rows, int ow, float* cols) const {
    const size_t band = static_cast<size_t>(rows) * ow;
    const int threads = std::max(1, cv::getNumThreads());
    auto channels = [&](const cv::Range& r) { Im2ColChannels(src, h, w, oy0, rows, ow, r.start, r.end, cols); };
    // Channels write disjoint rows of the columns; split only when worth a hand-off.
    if (threads > 1 && in_c_ > 1 && static_cast<size_t>(k_) * band >= kParallelIm2ColFloats) {
      cv::parallel_for_(cv::Range(0, in_c_), channels, threads);
    } else {
      channels(cv::Range(0, in_c_));
    }
  }

  // Im2Col for input channels [c0, c1).
  void Im2ColChannels(const float* src, int h, int w, int oy0, int rows, int ow, int c0, int c1,
                      float* cols) const {
    const size_t band = static_cast<size_t>(rows) * ow;
    cols += static_cast<size_t>(c0) * kh_ * kw_ * band;
    for (int c = c0; c < c1; ++c) {
      const float* plane = src + static_cast<size_t>(c) * h * w;
      for (int ky = 0; ky < kh_; ++ky) {
        for (int kx = 0; kx < kw_; ++kx, cols += band) {
          // Output columns [lo, hi) read inside the input row; the rest is padding.
          const int first = kx - pl_;  // input column of output column 0
          int lo = first >= 0 ? 0 : (-first + sw_ - 1) / sw_;
          int hi = w - 1 - first >= 0 ? (w - 1 - first) / sw_ + 1 : 0;
          hi = std::min(hi, ow);
          lo = std::min(lo, hi);
          float* out = cols;
          for (int r = 0; r < rows; ++r, out += ow) {
            const int iy = (oy0 + r) * sh_ - pt_ + ky;
            if (iy < 0 || iy >= h) {
              std::fill(out, out + ow, 0.0f);
              continue;
            }
            const float* in = plane + static_cast<size_t>(iy) * w;  // first + ox * sw_ >= 0 for ox >= lo
            std::fill(out, out + lo, 0.0f);
            if (sw_ == 1) {
              CopyRow(in + first + lo, hi - lo, out + lo);
            } else if (sw_ == 2) {
              GatherEvenShort(in + first, lo, hi, w - first, out);
            } else {
              for (int ox = lo; ox < hi; ++ox) out[ox] = in[first + ox * sw_];
            }
            std::fill(out + hi, out + ow, 0.0f);
          }
        }
      }
    }
  }

  // dst[O x ncols] (row stride ldc) = weights[O x K] * B, B = b[K x ncols]
  // or, when b_transposed, b[ncols x K] transposed (row stride ldb); then
  // bias, the residual `res` (laid out as dst; may be null) and ReLU in one
  // pass while the band is still in cache.
  void Multiply(const float* b, bool b_transposed, int ncols, int ldb, float* dst, int ldc, const float* res,
                int res_rows) const {
    if (direct_kernels_ && !b_transposed) {
      // conv_kernels.h: no packing, no zeroing pass, the epilogue on the
      // registers. One thread: these networks are small (see gemm_conv.h).
      ConvEpilogue e;
      e.bias = bias_.empty() ? nullptr : bias_.data();
      e.residual = res;
      e.residual_rows = res_rows;
      e.slopes = slopes_.empty() ? nullptr : slopes_.data();
      SmallGemm(weights_.data(), b, out_c_, ncols, k_, ldb, dst, ldc, e);
      return;
    }
    const CBLAS_TRANSPOSE tb = b_transposed ? CblasTrans : CblasNoTrans;
    const int threads = std::max(1, cv::getNumThreads());
    int mb = out_c_, nb = ncols;
    if (UseSmallTiles()) {
      nb = std::min(ncols, kTileCols);
      mb = 1;
      while (mb * 2 <= out_c_ && static_cast<size_t>(mb) * 2 * nb * k_ <= kTileMacs) mb *= 2;
    } else if (threads > 1) {
      mb = (out_c_ + threads - 1) / threads;  // one block of weight rows per thread
    }
    const int n_tiles = (ncols + nb - 1) / nb;
    const int tiles = ((out_c_ + mb - 1) / mb) * n_tiles;
    // Tiles are independent (disjoint output blocks): with cv::setNumThreads
    // above 1 they are spread over OpenCV's threads like any cv::dnn layer's
    // work; each thread calls the single-threaded OpenBLAS.
    auto run = [&](const cv::Range& r) {
      for (int t = r.start; t < r.end; ++t) {
        const int m0 = (t / n_tiles) * mb, n0 = (t % n_tiles) * nb;
        const int m = std::min(mb, out_c_ - m0), n = std::min(nb, ncols - n0);
        const float* bt = b_transposed ? b + static_cast<size_t>(n0) * ldb : b + n0;
        const size_t at = static_cast<size_t>(m0) * ldc + n0;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, m, n, k_, 1.0f, weights_.data() + static_cast<size_t>(m0) * k_,
                    k_, bt, ldb, 0.0f, dst + at, ldc);
        Epilogue(dst + at, res, ldc, res_rows, m0, m, n0, n);
      }
    };
    if (threads > 1 && tiles > 1) {
      cv::parallel_for_(cv::Range(0, tiles), run, threads);
    } else {
      run(cv::Range(0, tiles));
    }
  }

  // Rows [o0, o0 + m) x n columns from column n0 of an output tile (row
  // stride ldc; dst points at the tile): bias, residual (laid out as the
  // whole output, its first res_rows channels; may be null), ReLU / PReLU.
  void Epilogue(float* dst, const float* res, int ldc, int res_rows, int o0, int m, int n0, int n) const {
    if (bias_.empty() && slopes_.empty() && !res) return;
    for (int i = 0; i < m; ++i) {
      float* row = dst + static_cast<size_t>(i) * ldc;
      const float* rrow = res && o0 + i < res_rows ? res + static_cast<size_t>(o0 + i) * ldc + n0 : nullptr;
      const bool act = !slopes_.empty();
      const float slope = act ? slopes_[static_cast<size_t>(o0 + i)] : 0.0f;
      const float add = bias_.empty() ? 0.0f : bias_[static_cast<size_t>(o0 + i)];
      int j = 0;
      // Explicit SIMD: g++ -O2 compiled the scalar max() as a compare and a
      // branch, mispredicted on half the outputs (it took 60 % of the 7x7
      // layer's time).
#if CV_SIMD
      const cv::v_float32 vadd = cv::vx_setall_f32(add), zero = cv::vx_setzero_f32();
      const cv::v_float32 vslope = cv::vx_setall_f32(slope);
      for (; j + cv::v_float32::nlanes <= n; j += cv::v_float32::nlanes) {
        cv::v_float32 v = cv::vx_load(row + j) + vadd;
        if (rrow) v = v + cv::vx_load(rrow + j);  // (conv + bias) + residual, as cv::dnn's Eltwise
        if (act) v = cv::v_max(v, zero) + cv::v_min(v, zero) * vslope;  // ReLU: slope 0
        cv::v_store(row + j, v);
      }
#endif
      for (; j < n; ++j) {
        const float v = rrow ? (row[j] + add) + rrow[j] : row[j] + add;
        row[j] = act ? std::max(v, 0.0f) + std::min(v, 0.0f) * slope : v;
      }
    }
  }

  // A row of the columns is short (the map's width, 35 floats at most in the
  // descriptor): inline SIMD instead of a memcpy call per row, which took 16 %
  // of a 3x3 layer's time.
  static void CopyRow(const float* in, int n, float* out) {
    int i = 0;
#if CV_SIMD
    for (; i + cv::v_float32::nlanes <= n; i += cv::v_float32::nlanes) cv::v_store(out + i, cv::vx_load(in + i));
#endif
    for (; i < n; ++i) out[i] = in[i];
  }

  // out[ox] = in[2 * ox] for ox in [lo, hi); `readable` elements of `in` may
  // be read (the input row's end). Long rows go to conv_kernels.h's
  // GatherEven (8 wide with AVX2); short ones stay inline (a call per row
  // cost more than it saved on the small maps).
  static void GatherEvenShort(const float* in, int lo, int hi, int readable, float* out) {
    if (hi - lo >= 32) {
      GatherEven(in, lo, hi, readable, out);
      return;
    }
    int ox = lo;
#if CV_SIMD
    constexpr int kLanes = cv::v_float32::nlanes;
    for (; ox + kLanes <= hi && 2 * (ox + kLanes) <= readable; ox += kLanes) {
      cv::v_float32 even, odd;
      cv::v_load_deinterleave(in + 2 * ox, even, odd);
      cv::v_store(out + ox, even);
    }
#endif
    for (; ox < hi; ++ox) out[ox] = in[2 * ox];
  }

  int kh_ = 1, kw_ = 1, sh_ = 1, sw_ = 1, pt_ = 0, pb_ = 0, pl_ = 0, pr_ = 0;
  int in_c_ = 0, out_c_ = 0, k_ = 0;
  bool relu_ = false;
  bool direct_ = false;
  bool direct_kernels_ = false;  // conv_kernels.h instead of OpenBLAS
  std::vector<float> slopes_;    // PReLU per output channel (ReLU: zeros), or empty
  // Optional depthwise stage before the convolution (a depthwise 3x3 and
  // the 1x1 after it as one layer).
  bool dw_ = false;
  int dkh_ = 1, dkw_ = 1, dsh_ = 1, dsw_ = 1, dpt_ = 0, dpb_ = 0, dpl_ = 0, dpr_ = 0;
  std::vector<float> dw_weights_;  // C x kh x kw
  std::vector<float> dw_bias_;     // C, or empty
  std::vector<float> weights_;  // [O x C*kh*kw], row-major
  std::vector<float> bias_;     // O floats, or empty
};

}  // namespace

void RegisterGemmConvLayer() {
  static std::once_flag once;
  std::call_once(once, [] {
    // One thread: see gemm_conv.h (one analyzer per server worker thread).
    openblas_set_num_threads(1);
    cv::dnn::LayerFactory::registerLayer(kGemmConvLayerType, GemmConvLayer::Create);
  });
}

}  // namespace livegate::vision
