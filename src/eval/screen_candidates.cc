// Candidate screen-recapture cues (see screen_candidates.h).
#include "eval/screen_candidates.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "judgement/measures.h"

namespace livegate::eval {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

cv::Rect Clamp(const cv::Rect2f& r, const cv::Size& size) {
  cv::Rect i(cvFloor(r.x), cvFloor(r.y), cvCeil(r.width), cvCeil(r.height));
  return i & cv::Rect(0, 0, size.width, size.height);
}

// Percentile (0..1) of an 8-bit single-channel image, by histogram.
float Percentile8(const cv::Mat& m, double p) {
  int hist[256] = {0};
  for (int y = 0; y < m.rows; ++y) {
    const std::uint8_t* row = m.ptr<std::uint8_t>(y);
    for (int x = 0; x < m.cols; ++x) ++hist[row[x]];
  }
  const double target = p * double(m.total());
  double acc = 0;
  for (int v = 0; v < 256; ++v) {
    acc += hist[v];
    if (acc >= target) return float(v);
  }
  return 255.0f;
}

// Normalised radius of bin (y, x) of a side x side spectrum (1 = Nyquist).
float Radius(int y, int x, int side) {
  const int h = side / 2;
  const int fy = y < h ? y : y - side, fx = x < h ? x : x - side;
  return std::sqrt(float(fx * fx + fy * fy)) / float(h);
}

// Largest square patch (side a multiple of 8, <= max_side) centred in r.
cv::Rect CentredSquare(const cv::Rect& r, int max_side) {
  const int side = std::min({max_side, r.width / 8 * 8, r.height / 8 * 8});
  if (side < 32) return {};
  return {r.x + (r.width - side) / 2, r.y + (r.height - side) / 2, side, side};
}

}  // namespace

const std::array<std::string, kScreenCandidates>& ScreenCandidateNames() {
  static const std::array<std::string, kScreenCandidates> k = {
      "-chroma",       "skin_hue",  "-chroma_spread", "black_level", "-contrast",  "-hf_falloff",
      "chroma_noise",  "banding",   "moire_half",     "moire_128",   "-rb_balance", "dup_frames",
      "luma_flicker",  "centre_flicker", "frame_flicker",
      "native_dup",    "native_blend", "native_flicker"};
  return k;
}

const std::array<std::string, kScreenCandidates>& ScreenCandidateMeaning() {
  static const std::array<std::string, kScreenCandidates> k = {
      "minus the mean chroma of the face centre (CIELAB C*, 8-bit Lab units): washed-out screens",
      "hue angle of the face centre's mean (a*, b*), degrees: skin ~40-70, a green/yellow cast is higher",
      "minus the spread of (a*, b*) over the face centre: a display's reduced gamut",
      "2nd percentile of luma around the face (1.8 x box): a display's raised black level",
      "minus the 2nd-98th percentile luma range over the face: a display's compressed contrast",
      "minus the log energy ratio of [0.5,1] to [0.1,0.25] Nyquist on a native 64-px face patch: recapture blur",
      "high-pass (Laplacian) RMS of Cr,Cb over that of Y on the native face patch: sub-pixel colour noise",
      "share of empty luma levels between the face's 5th and 95th percentiles: quantisation/banding",
      "moire peak measure on the face at half resolution (other grid beat scale)",
      "moire peak measure on a native 128-px face patch (finer beat frequencies)",
      "minus (R - B) / (R + B) of the face centre mean: skin is red-heavy, a cast lowers it",
      "share of consecutive kept frames whose face region is unchanged (< 0.5 grey levels): frame-rate mismatch",
      "RMS of the second difference of the mean face luma over its mean: refresh flicker / exposure beat",
      "the same on the face centre (cheeks, nose: FrameObservation face colour), less moved by the box and background",
      "the same on the whole frame's mean luma: a display/camera beat dims the whole recaptured image, face motion hardly",
      "at the source (capture) rate: share of frames identical to the previous one (mean |diff| < 0.5 grey levels)",
      "at the source rate: share of frames within 20 % of the mean of their neighbours while those differ by >= 3 grey levels (crude: smooth motion also interpolates)",
      "at the source rate: RMS of the second difference of the whole-frame mean luma over its mean"};
  return k;
}

std::array<float, kFrameCandidates> MeasureScreenCandidates(const cv::Mat& bgr, const cv::Rect2f& box,
                                                            bool with_surround) {
  std::array<float, kFrameCandidates> v;
  v.fill(kNaN);
  const cv::Rect face = Clamp(box, bgr.size());
  if (face.width < 16 || face.height < 16) return v;

  // Colour of the face centre (cheeks, nose, mouth; no hair or background).
  const cv::Rect2f c(box.x + box.width * 0.25f, box.y + box.height * 0.3f, box.width * 0.5f, box.height * 0.45f);
  const cv::Rect ci = Clamp(c, bgr.size());
  if (ci.area() >= 16) {
    cv::Mat small, lab;
    const double s = std::min(1.0, 64.0 / std::max(ci.width, ci.height));
    cv::resize(bgr(ci), small, cv::Size(), s, s, cv::INTER_AREA);
    cv::cvtColor(small, lab, cv::COLOR_BGR2Lab);
    cv::Scalar mu, sd;
    cv::meanStdDev(lab, mu, sd);
    const double a = mu[1] - 128.0, b = mu[2] - 128.0;
    v[0] = -float(std::sqrt(a * a + b * b));
    v[1] = float(std::atan2(b, a) * 180.0 / CV_PI);
    v[2] = -float(std::sqrt(sd[1] * sd[1] + sd[2] * sd[2]));
    const cv::Scalar m = cv::mean(bgr(ci));
    v[10] = (m[2] + m[0]) > 1 ? -float((m[2] - m[0]) / (m[2] + m[0])) : kNaN;
  }

  cv::Mat grey;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  if (with_surround) {
    const cv::Rect2f around(box.x - box.width * 0.4f, box.y - box.height * 0.4f, box.width * 1.8f, box.height * 1.8f);
    const cv::Rect ai = Clamp(around, bgr.size());
    if (ai.area() > face.area()) v[3] = Percentile8(grey(ai), 0.02);
  } else {
    v[3] = Percentile8(grey(face), 0.02);
  }
  {
    const cv::Mat fg = grey(face);
    const float p2 = Percentile8(fg, 0.02), p98 = Percentile8(fg, 0.98);
    v[4] = -(p98 - p2);
    // Banding: empty levels between p5 and p95.
    int hist[256] = {0};
    for (int y = 0; y < fg.rows; ++y) {
      const std::uint8_t* row = fg.ptr<std::uint8_t>(y);
      for (int x = 0; x < fg.cols; ++x) ++hist[row[x]];
    }
    const int lo = int(Percentile8(fg, 0.05)), hi = int(Percentile8(fg, 0.95));
    if (hi - lo >= 8) {
      int empty = 0;
      for (int k = lo; k <= hi; ++k) empty += hist[k] == 0;
      v[7] = float(empty) / float(hi - lo + 1);
    }
  }

  // Native-resolution 64-px patch: spectrum falloff and colour vs luma noise.
  const cv::Rect p64 = CentredSquare(face, 64);
  if (p64.area() > 0) {
    const cv::Mat mag = judgement::PatchMagnitudeSpectrum(grey(p64));
    double hi = 0, mid = 0;
    for (int y = 0; y < mag.rows; ++y) {
      for (int x = 0; x < mag.cols; ++x) {
        const float r = Radius(y, x, mag.cols);
        const double e = double(mag.at<float>(y, x)) * mag.at<float>(y, x);
        if (r >= 0.5f && r <= 1.0f) hi += e;
        else if (r >= 0.1f && r <= 0.25f) mid += e;
      }
    }
    v[5] = mid > 0 ? -float(std::log10((hi + 1e-6) / mid)) : kNaN;
    cv::Mat ycc, lap;
    cv::cvtColor(bgr(p64), ycc, cv::COLOR_BGR2YCrCb);
    std::vector<cv::Mat> ch;
    cv::split(ycc, ch);
    double rms[3];
    for (int k = 0; k < 3; ++k) {
      cv::Laplacian(ch[std::size_t(k)], lap, CV_32F, 1);
      cv::Scalar mu, sd;
      cv::meanStdDev(lap, mu, sd);
      rms[k] = sd[0];
    }
    v[6] = rms[0] > 1e-3 ? float(0.5 * (rms[1] + rms[2]) / rms[0]) : kNaN;
  }
  // Moire at half resolution and on a larger native patch.
  {
    cv::Mat half;
    cv::resize(grey(face), half, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    const cv::Rect ph = CentredSquare(cv::Rect(0, 0, half.cols, half.rows), 64);
    if (ph.area() > 0) v[8] = judgement::MoirePeak(half(ph));
    const cv::Rect p128 = CentredSquare(face, 128);
    if (p128.width == 128) v[9] = judgement::MoirePeak(grey(p128));
  }
  return v;
}

namespace {
// RMS of the second difference of a series over its mean (NaN when short).
float Flicker(std::span<const float> series) {
  if (series.size() < 8) return kNaN;
  double mean = 0, acc = 0;
  for (float l : series) mean += l;
  mean /= double(series.size());
  for (std::size_t i = 2; i < series.size(); ++i) {
    const double d2 = series[i] - 2.0 * series[i - 1] + series[i - 2];
    acc += d2 * d2;
  }
  return mean > 1 ? float(std::sqrt(acc / double(series.size() - 2)) / mean) : kNaN;
}
}  // namespace

std::array<float, kSessionCandidates> TemporalScreenCandidates(std::span<const float> face_luma,
                                                               std::span<const float> frame_difference,
                                                               std::span<const float> centre_luma,
                                                               std::span<const float> frame_luma) {
  std::array<float, kSessionCandidates> v = {kNaN, kNaN, kNaN, kNaN};
  int pairs = 0, still = 0;
  for (float d : frame_difference) {
    if (d < 0) continue;
    ++pairs;
    still += d < 0.5f;
  }
  if (pairs >= 8) v[0] = float(still) / float(pairs);
  v[1] = Flicker(face_luma);
  v[2] = Flicker(centre_luma);
  v[3] = Flicker(frame_luma);
  return v;
}

}  // namespace livegate::eval

namespace livegate::eval {

std::array<float, kNativeCandidates> NativeRateCandidates(const std::vector<cv::Mat>& grey_frames) {
  std::array<float, kNativeCandidates> v = {kNaN, kNaN, kNaN};
  const std::size_t n = grey_frames.size();
  if (n < 8) return v;
  auto mad = [](const cv::Mat& a, const cv::Mat& b) { return float(cv::norm(a, b, cv::NORM_L1) / double(a.total())); };
  int dup = 0, blend = 0, blend_pairs = 0;
  std::vector<float> luma;
  for (std::size_t i = 0; i < n; ++i) {
    luma.push_back(float(cv::mean(grey_frames[i])[0]));
    if (i >= 1) dup += mad(grey_frames[i], grey_frames[i - 1]) < 0.5f;
    if (i >= 1 && i + 1 < n) {
      const float outer = mad(grey_frames[i + 1], grey_frames[i - 1]);
      if (outer >= 3.0f) {
        ++blend_pairs;
        cv::Mat mid;
        cv::addWeighted(grey_frames[i - 1], 0.5, grey_frames[i + 1], 0.5, 0.0, mid);
        blend += mad(grey_frames[i], mid) < 0.2f * outer;
      }
    }
  }
  v[0] = float(dup) / float(n - 1);
  v[1] = blend_pairs >= 4 ? float(blend) / float(blend_pairs) : 0.0f;
  v[2] = Flicker(luma);
  return v;
}

}  // namespace livegate::eval
