// Direct convolution kernels. See conv_kernels.h.
#include "vision/conv_kernels.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core/hal/intrin.hpp>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LG_CONV_AVX2 1
#endif

namespace livegate::vision {
namespace {

// Columns of b multiplied while a block of them stays in L1 (32 KB): every
// 4-row group of the weights reuses it.
constexpr size_t kBlockBytes = 16 * 1024;

inline float Activate(float v, const ConvEpilogue& e, int row) {
  if (!e.slopes) return v;
  const float s = e.slopes[row];
  return std::max(v, 0.0f) + s * std::min(v, 0.0f);
}

inline float Finish(float acc, const ConvEpilogue& e, int row, size_t at) {
  float v = acc + (e.bias ? e.bias[row] : 0.0f);
  if (e.residual && row < e.residual_rows) v += e.residual[at];
  return Activate(v, e, row);
}

// Columns [n0, n1) of every row by dot products over k (also the AVX2 path's
// tail): the columns are copied out of b first so that the k axis is
// contiguous.
void GemmColumnsByDot(const float* w, const float* b, int m, int n0, int n1, int k, int ldb, float* dst, int ldc,
                      const ConvEpilogue& e, bool avx2);

void GemmPortable(const float* w, const float* b, int m, int n, int k, int ldb, float* dst, int ldc,
                  const ConvEpilogue& e) {
  std::vector<float> acc(static_cast<size_t>(n));
  for (int r = 0; r < m; ++r) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    const float* wr = w + static_cast<size_t>(r) * k;
    for (int kk = 0; kk < k; ++kk) {
      const float a = wr[kk];
      const float* br = b + static_cast<size_t>(kk) * ldb;
      for (int j = 0; j < n; ++j) acc[j] += a * br[j];
    }
    float* out = dst + static_cast<size_t>(r) * ldc;
    for (int j = 0; j < n; ++j) out[j] = Finish(acc[j], e, r, static_cast<size_t>(r) * ldc + j);
  }
}

void DepthwisePortable(const float* q, int qw, int sw, size_t phase_floats, const float* wc, float bias, int kh,
                       int kw, int sh, int oh, int ow, float* out) {
  for (int oy = 0; oy < oh; ++oy) {
    float* o = out + static_cast<size_t>(oy) * ow;
    for (int ox = 0; ox < ow; ++ox) o[ox] = bias;
    for (int ky = 0; ky < kh; ++ky) {
      for (int kx = 0; kx < kw; ++kx) {
        const float a = wc[ky * kw + kx];
        const float* row = q + (kx % sw) * phase_floats + static_cast<size_t>(oy * sh + ky) * qw + kx / sw;
        for (int ox = 0; ox < ow; ++ox) o[ox] += a * row[ox];
      }
    }
  }
}

#ifdef LG_CONV_AVX2
// LIVEGATE_CONV_KERNELS=portable forces the portable loops (so that the
// tests can check them on an AVX2 machine; tests/vision/CMakeLists.txt).
bool HaveAvx2() {
  static const bool have = [] {
    const char* force = std::getenv("LIVEGATE_CONV_KERNELS");
    if (force != nullptr && std::string(force) == "portable") return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return have;
}

__attribute__((target("avx2,fma"))) inline __m256 FinishVec(__m256 acc, const ConvEpilogue& e, int row,
                                                            size_t at) {
  if (e.bias) acc = _mm256_add_ps(acc, _mm256_set1_ps(e.bias[row]));
  if (e.residual && row < e.residual_rows) acc = _mm256_add_ps(acc, _mm256_loadu_ps(e.residual + at));
  if (e.slopes) {
    const __m256 zero = _mm256_setzero_ps();
    acc = _mm256_fmadd_ps(_mm256_set1_ps(e.slopes[row]), _mm256_min_ps(acc, zero), _mm256_max_ps(acc, zero));
  }
  return acc;
}

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Rows [r0, r0 + R) x 8V columns from n: R x V accumulators. Fully
// unrolled so that the accumulators live in registers (a rolled loop kept
// them on the stack: a store-forwarding chain per FMA). 4 x 3 = 12
// accumulators hide the FMA latency (2 pipes x 4-5 cycles).
template <int R, int V>
// `bp`: the tile's first column of b (column n of the output), its rows
// ldb floats apart (8V when packed).
__attribute__((target("avx2,fma"))) inline void Tile(const float* w, const float* bp, int ldb, int r0, int n, int k,
                                                     float* dst, int ldc, const ConvEpilogue& e) {
  __m256 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
  const float* wp = w + static_cast<size_t>(r0) * k;
  for (int kk = 0; kk < k; ++kk, bp += ldb) {
    __m256 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = _mm256_loadu_ps(bp + 8 * v);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(wp + static_cast<size_t>(r) * k + kk);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(a, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      const size_t at = static_cast<size_t>(r0 + r) * ldc + n + 8 * v;
      _mm256_storeu_ps(dst + at, FinishVec(acc[r][v], e, r0 + r, at));
    }
  }
}

// Rows [r0, r0 + R), every whole vector of columns [nb, ne), whose b
// columns PackColumns laid out at `packed`.
// Packed: b is PackColumns' panels of columns [nb, ne); else b itself (row
// stride ldb).
template <int R, bool Packed>
__attribute__((target("avx2,fma"))) inline void RowGroup(const float* w, const float* b, int ldb, int r, int nb,
                                                         int ne, int k, float* dst, int ldc, const ConvEpilogue& e) {
  auto cols = [&](int j) { return Packed ? b + static_cast<size_t>(j - nb) * k : b + j; };
  auto stride = [&](int width) { return Packed ? width : ldb; };
  int j = nb;
  for (; j + 24 <= ne; j += 24) Tile<R, 3>(w, cols(j), stride(24), r, j, k, dst, ldc, e);
  if (j + 16 <= ne) {
    Tile<R, 2>(w, cols(j), stride(16), r, j, k, dst, ldc, e);
    j += 16;
  }
  if (j + 8 <= ne) Tile<R, 1>(w, cols(j), stride(8), r, j, k, dst, ldc, e);
}

// Whether the k rows of a block of b, ldb floats apart, would compete for
// a few sets of the L1 cache (32 KB, 8 ways of 64 sets of 64 bytes here):
// then GemmAvx2 copies the block into contiguous panels first. Strides of a
// multiple of 1-4 KB (Iris's 32x32 and 16x16 maps read in place: ldb 1024,
// 256) put every row in 1-4 sets; the copy made FaceMesh's first layer,
// whose rows spread over 16 sets, ~10 % slower.
bool RowsConflictInL1(int ldb, int k) {
  constexpr int kLineFloats = 16, kSets = 64, kWaysUsed = 4;  // leave half the ways to the rest
  // A panel of 24 columns that would not fit in L1 anyway (k > 170: Iris's
  // 2x2 layers, k 256-512) is read from L2 whichever way it is laid out;
  // packing it only cost time there (5-13 %).
  if (static_cast<size_t>(k) * 24 * sizeof(float) > kBlockBytes) return false;
  if (ldb % kLineFloats != 0) return false;  // rows start at shifting offsets: spread over the sets
  const int sets = kSets / std::gcd(ldb / kLineFloats, kSets);
  return k > kWaysUsed * sets;
}

// Copies columns [nb, ne) of b (k rows, row stride ldb; ne - nb a multiple
// of 8) into panels of 24 columns (then 16 or 8) as RowGroup splits them,
// each k-major and contiguous. Reading b in place, its rows ldb apart, a
// tile's k rows fell into few L1 sets whenever ldb * 4 bytes was a multiple
// of 1-4 KB (Iris's 32x32 and 16x16 maps: ldb 1024 and 256), so they were
// evicted before the next group of weight rows reused them.
__attribute__((target("avx2,fma"))) void PackColumns(const float* b, int nb, int ne, int k, int ldb, float* packed) {
  for (int j = nb; j < ne;) {
    const int width = ne - j >= 24 ? 24 : ne - j >= 16 ? 16 : 8;
    const float* src = b + j;
    for (int kk = 0; kk < k; ++kk, src += ldb, packed += width) {
      for (int v = 0; v < width; v += 8) _mm256_storeu_ps(packed + v, _mm256_loadu_ps(src + v));
    }
    j += width;
  }
}

__attribute__((target("avx2,fma"))) void GemmAvx2(const float* w, const float* b, int m, int n, int k, int ldb,
                                                  float* dst, int ldc, const ConvEpilogue& e) {
  const int n8 = n / 8 * 8;
  const int block = std::max(24, static_cast<int>(kBlockBytes / (sizeof(float) * std::max(k, 1))) / 24 * 24);
  const bool pack = RowsConflictInL1(ldb, k);
  thread_local std::vector<float> packed;
  if (pack) packed.resize(static_cast<size_t>(std::min(block, n8)) * k);
  for (int nb = 0; nb < n8; nb += block) {
    const int ne = std::min(n8, nb + block);
    if (pack) {
      PackColumns(b, nb, ne, k, ldb, packed.data());
      int r = 0;
      for (; r + 4 <= m; r += 4) RowGroup<4, true>(w, packed.data(), 0, r, nb, ne, k, dst, ldc, e);
      for (; r < m; ++r) RowGroup<1, true>(w, packed.data(), 0, r, nb, ne, k, dst, ldc, e);
    } else {
      int r = 0;
      for (; r + 4 <= m; r += 4) RowGroup<4, false>(w, b, ldb, r, nb, ne, k, dst, ldc, e);
      for (; r < m; ++r) RowGroup<1, false>(w, b, ldb, r, nb, ne, k, dst, ldc, e);
    }
  }
  if (n8 < n) GemmColumnsByDot(w, b, m, n8, n, k, ldb, dst, ldc, e, true);
}

__attribute__((target("avx2,fma"))) float DotAvx2(const float* a, const float* b, int k) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= k; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= k; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < k; ++i) s += a[i] * b[i];
  return s;
}

// Stores v at p, or only its first n lanes when n < 8 and `exact`.
__attribute__((target("avx2,fma"))) inline void StoreRowVector(float* p, __m256 v, int n, bool exact) {
  if (n >= 8 || !exact) {
    _mm256_storeu_ps(p, v);
  } else {
    alignas(32) float tail[8];
    _mm256_store_ps(tail, v);
    std::copy(tail, tail + n, p);
  }
}

// A row's last vector is stored whole (up to 7 floats past the row: into
// the next rows or channels, written after it) except where it would pass
// `writable` floats from `out` (the end of the caller's buffer): no masked
// store (slow on AMD) or copy through the stack for the 12-, 6- and 3-wide
// maps.
// DotAvx2(a, c + q * k, k) for q = 0..3 (four consecutive columns of k
// floats at c), each summed exactly as DotAvx2 does (same accumulators, same
// order: the same results bit for bit), sharing the loads of a: the
// dot-product path (maps under 8 pixels, a map's last 1-7 columns) was
// bound by its two loads per multiply-add.
__attribute__((target("avx2,fma"))) void Dot4Avx2(const float* a, const float* c, int k, float* out) {
  const float* b[4] = {c, c + k, c + 2 * static_cast<size_t>(k), c + 3 * static_cast<size_t>(k)};
  __m256 s0[4], s1[4];
  for (int q = 0; q < 4; ++q) s0[q] = s1[q] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m256 a0 = _mm256_loadu_ps(a + i), a1 = _mm256_loadu_ps(a + i + 8);
    for (int q = 0; q < 4; ++q) {
      s0[q] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b[q] + i), s0[q]);
      s1[q] = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b[q] + i + 8), s1[q]);
    }
  }
  for (; i + 8 <= k; i += 8) {
    const __m256 a0 = _mm256_loadu_ps(a + i);
    for (int q = 0; q < 4; ++q) s0[q] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b[q] + i), s0[q]);
  }
  for (int q = 0; q < 4; ++q) {
    float s = HorizontalSum(_mm256_add_ps(s0[q], s1[q]));
    for (int t = i; t < k; ++t) s += a[t] * b[q][t];
    out[q] = s;
  }
}

__attribute__((target("avx2,fma"))) void DepthwiseAvx2(const float* q, int qw, int sw, size_t phase_floats,
                                                       const float* wc, float bias, int kh, int kw, int sh, int oh,
                                                       int ow, float* out, size_t writable) {
  const __m256 vbias = _mm256_set1_ps(bias);
  if (kh == 3 && kw == 3) {  // FaceMesh's and Iris's: the nine weights in registers
    const __m256 w0 = _mm256_broadcast_ss(wc), w1 = _mm256_broadcast_ss(wc + 1), w2 = _mm256_broadcast_ss(wc + 2);
    const __m256 w3 = _mm256_broadcast_ss(wc + 3), w4 = _mm256_broadcast_ss(wc + 4), w5 = _mm256_broadcast_ss(wc + 5);
    const __m256 w6 = _mm256_broadcast_ss(wc + 6), w7 = _mm256_broadcast_ss(wc + 7), w8 = _mm256_broadcast_ss(wc + 8);
    // Tap kx reads phase kx % sw at offset kx / sw.
    const size_t t1 = (1 % sw) * phase_floats + 1 / sw, t2 = (2 % sw) * phase_floats + 2 / sw;
    for (int oy = 0; oy < oh; ++oy) {
      const float* r0 = q + static_cast<size_t>(oy * sh) * qw;
      const float* r1 = r0 + qw;
      const float* r2 = r1 + qw;
      float* o = out + static_cast<size_t>(oy) * ow;
      for (int ox = 0; ox < ow; ox += 8) {
        __m256 a = _mm256_fmadd_ps(w0, _mm256_loadu_ps(r0 + ox), vbias);
        __m256 c = _mm256_mul_ps(w1, _mm256_loadu_ps(r0 + t1 + ox));
        a = _mm256_fmadd_ps(w2, _mm256_loadu_ps(r0 + t2 + ox), a);
        c = _mm256_fmadd_ps(w3, _mm256_loadu_ps(r1 + ox), c);
        a = _mm256_fmadd_ps(w4, _mm256_loadu_ps(r1 + t1 + ox), a);
        c = _mm256_fmadd_ps(w5, _mm256_loadu_ps(r1 + t2 + ox), c);
        a = _mm256_fmadd_ps(w6, _mm256_loadu_ps(r2 + ox), a);
        c = _mm256_fmadd_ps(w7, _mm256_loadu_ps(r2 + t1 + ox), c);
        a = _mm256_fmadd_ps(w8, _mm256_loadu_ps(r2 + t2 + ox), a);
        a = _mm256_add_ps(a, c);
        StoreRowVector(o + ox, a, ow - ox, static_cast<size_t>(oy) * ow + ox + 8 > writable);
      }
    }
    return;
  }
  for (int oy = 0; oy < oh; ++oy) {
    float* o = out + static_cast<size_t>(oy) * ow;
    for (int ox = 0; ox < ow; ox += 8) {
      __m256 acc = vbias;
      for (int ky = 0; ky < kh; ++ky) {
        for (int kx = 0; kx < kw; ++kx) {
          const float* row = q + (kx % sw) * phase_floats + static_cast<size_t>(oy * sh + ky) * qw + kx / sw;
          acc = _mm256_fmadd_ps(_mm256_broadcast_ss(wc + ky * kw + kx), _mm256_loadu_ps(row + ox), acc);
        }
      }
      StoreRowVector(o + ox, acc, ow - ox, static_cast<size_t>(oy) * ow + ox + 8 > writable);
    }
  }
}
#else
bool HaveAvx2() { return false; }
float DotAvx2(const float*, const float*, int) { return 0.0f; }
#endif

void GemmColumnsByDot(const float* w, const float* b, int m, int n0, int n1, int k, int ldb, float* dst, int ldc,
                      const ConvEpilogue& e, bool avx2) {
  thread_local std::vector<float> cols;
  cols.resize(static_cast<size_t>(n1 - n0) * k);
  for (int kk = 0; kk < k; ++kk)
    for (int j = n0; j < n1; ++j) cols[static_cast<size_t>(j - n0) * k + kk] = b[static_cast<size_t>(kk) * ldb + j];
  for (int r = 0; r < m; ++r) {
    const float* wr = w + static_cast<size_t>(r) * k;
    int j = n0;
#ifdef LG_CONV_AVX2
    // Four columns at a time share the loads of the weight row.
    for (; avx2 && j + 4 <= n1; j += 4) {
      float s[4];
      Dot4Avx2(wr, cols.data() + static_cast<size_t>(j - n0) * k, k, s);
      for (int q = 0; q < 4; ++q) {
        const size_t at = static_cast<size_t>(r) * ldc + j + q;
        dst[at] = Finish(s[q], e, r, at);
      }
    }
#endif
    for (; j < n1; ++j) {
      const float* c = cols.data() + static_cast<size_t>(j - n0) * k;
      float s = 0.0f;
      if (avx2) {
        s = DotAvx2(wr, c, k);
      } else {
        for (int kk = 0; kk < k; ++kk) s += wr[kk] * c[kk];
      }
      const size_t at = static_cast<size_t>(r) * ldc + j;
      dst[at] = Finish(s, e, r, at);
    }
  }
}

int RoundUp8(int v) { return (v + 7) / 8 * 8; }

// out[0, n) = in[0, n): inline SIMD instead of a memcpy call per row (the
// rows are 2-96 floats; the calls were ~3 % of FaceMesh + Iris).
void CopyFloats(const float* in, int n, float* out) {
  int i = 0;
#if CV_SIMD128
  for (; i + 4 <= n; i += 4) cv::v_store(out + i, cv::v_load(in + i));
#endif
  for (; i < n; ++i) out[i] = in[i];
}

// out[j] = in[2 * j] for j in [lo, hi); `readable` floats of `in` may be
// read. SIMD: a scalar strided copy was ~9 % of FaceMesh (its stride-2
// layers' padded inputs). 8 wide where AVX2 is and the row is long enough
// (32 outputs) to pay for the call (FaceMesh's and Iris's first layers);
// inline for the short rows of the small maps (a call per row made
// FaceMesh's stride-2 blocks 10-30 % slower).
#ifdef LG_CONV_AVX2
__attribute__((target("avx2,fma"))) int GatherEvenAvx2(const float* in, int lo, int hi, int readable, float* out);
#endif
inline void GatherEvenRow(const float* in, int lo, int hi, int readable, float* out) {
  int j = lo;
#ifdef LG_CONV_AVX2
  if (hi - lo >= 32 && HaveAvx2()) j = GatherEvenAvx2(in, lo, hi, readable, out);
#endif
#if CV_SIMD128
  for (; j + 4 <= hi && 2 * (j + 4) <= readable; j += 4) {
    cv::v_float32x4 even, odd;
    cv::v_load_deinterleave(in + 2 * j, even, odd);
    cv::v_store(out + j, even);
  }
#endif
  for (; j < hi; ++j) out[j] = in[2 * j];
}

#ifdef LG_CONV_AVX2
// GatherEvenRow's 8-wide loop: [lo, the returned index) done.
__attribute__((target("avx2,fma"))) int GatherEvenAvx2(const float* in, int lo, int hi, int readable, float* out) {
  int j = lo;
  for (; j + 8 <= hi && 2 * (j + 8) <= readable; j += 8) {
    const __m256 a = _mm256_loadu_ps(in + 2 * j), b = _mm256_loadu_ps(in + 2 * j + 8);
    // Even lanes of a and b per 128-bit half (a0 a2 b0 b2 | a4 a6 b4 b6), then the halves' quarters in order.
    const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    _mm256_storeu_ps(out + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0))));
  }
  return j;
}
#endif

}  // namespace

void GatherEven(const float* in, int lo, int hi, int readable, float* out) {
  GatherEvenRow(in, lo, hi, readable, out);
}

bool ConvKernelsVectorised() { return HaveAvx2(); }

void SmallGemm(const float* w, const float* b, int m, int n, int k, int ldb, float* dst, int ldc,
               const ConvEpilogue& e) {
  if (m <= 0 || n <= 0) return;
  if (HaveAvx2()) {
#ifdef LG_CONV_AVX2
    GemmAvx2(w, b, m, n, k, ldb, dst, ldc, e);
    return;
#endif
  }
  if (n < 8) {
    GemmColumnsByDot(w, b, m, 0, n, k, ldb, dst, ldc, e, false);
  } else {
    GemmPortable(w, b, m, n, k, ldb, dst, ldc, e);
  }
}

namespace {

// The padded input of each channel, split by column phase (column ix of the
// padded row goes to phase ix % sw, position ix / sw): then every tap reads
// consecutive floats whatever the stride. Channel c's phase p starts at
// scratch + (c * sw + p) * phase_floats.
struct PaddedInput {
  int rows = 0, qw = 0;
  size_t phase_floats = 0;
};

// `clear`: zero the scratch first (else it must hold this geometry's
// padding zeros already, from an earlier call).
PaddedInput PadInput(const float* in, int channels, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl,
                     int oh, int ow, float* scratch, bool clear = true) {
  PaddedInput g;
  g.rows = (oh - 1) * sh + kh;
  g.qw = RoundUp8(ow) + (kw - 1) / sw;
  g.phase_floats = static_cast<size_t>(g.rows) * g.qw;
  // Which part holds input: rows [y0, y1) and, per phase, positions
  // [lo, hi). The rest is padding: cleared once, never written below.
  const int y0 = std::clamp(pt, 0, g.rows), y1 = std::clamp(pt + h, y0, g.rows);
  if (clear) std::memset(scratch, 0, sizeof(float) * g.phase_floats * sw * channels);
  for (int p = 0; p < sw; ++p) {
    const int first = p - pl;  // input column of position 0
    int lo = first >= 0 ? 0 : (-first + sw - 1) / sw;
    int hi = w - 1 - first >= 0 ? (w - 1 - first) / sw + 1 : 0;
    hi = std::min(hi, g.qw);
    lo = std::min(lo, hi);
    for (int c = 0; c < channels; ++c) {
      const float* plane = in + static_cast<size_t>(c) * h * w;
      float* q = scratch + (static_cast<size_t>(c) * sw + p) * g.phase_floats + static_cast<size_t>(y0) * g.qw;
      for (int y = y0; y < y1; ++y, q += g.qw) {
        const float* src = plane + static_cast<size_t>(y - pt) * w;  // q[j] = src[j * sw + first]
        if (sw == 1) {
          CopyFloats(src + first + lo, hi - lo, q + lo);
        } else if (sw == 2) {
          GatherEvenRow(src + first, lo, hi, w - first, q);
        } else {
          for (int j = lo; j < hi; ++j) q[j] = src[first + j * sw];
        }
      }
    }
  }
  return g;
}

}  // namespace

size_t DepthwiseScratchFloats(int kh, int kw, int sh, int sw, int oh, int ow) {
  const int rows = (oh - 1) * sh + kh;
  const int qw = RoundUp8(ow) + (kw - 1) / sw;
  return static_cast<size_t>(rows) * qw * sw;
}

void Depthwise(const float* in, int channels, int h, int w, const float* weights, const float* bias, int kh,
               int kw, int sh, int sw, int pt, int pl, int oh, int ow, float* out, float* scratch) {
  DepthwiseRows(in, channels, h, w, weights, bias, kh, kw, sh, sw, pt, pl, oh, ow, 0, oh, out, scratch);
}

void DepthwiseRows(const float* in, int channels, int h, int w, const float* weights, const float* bias, int kh,
                   int kw, int sh, int sw, int pt, int pl, int oh, int ow, int oy0, int oy1, float* out,
                   float* scratch) {
  oy0 = std::max(oy0, 0);
  oy1 = std::min(oy1, oh);
  const int rows = oy1 - oy0;
  if (rows <= 0 || channels <= 0) return;
  const size_t plane = static_cast<size_t>(h) * w, out_plane = static_cast<size_t>(rows) * ow;
  const bool avx2 = HaveAvx2();
  // The input rows the band reads, [iy0, iy1), of which [first, last) exist:
  // the band is padded as a convolution of its own with `sub_pt` zero rows on top.
  const int iy0 = oy0 * sh - pt, iy1 = (oy1 - 1) * sh - pt + kh;
  const int first = std::clamp(iy0, 0, h), last = std::clamp(iy1, first, h);
  const int sub_pt = first - iy0;
  for (int c = 0; c < channels; ++c) {
    // One channel at a time: its padded copy stays in L1/L2.
    const PaddedInput g = PadInput(in + c * plane + static_cast<size_t>(first) * w, 1, last - first, w, kh, kw, sh,
                                   sw, sub_pt, pl, rows, ow, scratch, c == 0);
    const float* wc = weights + static_cast<size_t>(c) * kh * kw;
    const float b = bias ? bias[c] : 0.0f;
    float* o = out + c * out_plane;
#ifdef LG_CONV_AVX2
    if (avx2) {
      DepthwiseAvx2(scratch, g.qw, sw, g.phase_floats, wc, b, kh, kw, sh, rows, ow, o, (channels - c) * out_plane);
      continue;
    }
#endif
    (void)avx2;
    DepthwisePortable(scratch, g.qw, sw, g.phase_floats, wc, b, kh, kw, sh, rows, ow, o);
  }
}

}  // namespace livegate::vision
