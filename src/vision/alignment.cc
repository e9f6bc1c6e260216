// Crops and dlib-style chip alignment (see alignment.h).
#include "vision/alignment.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace livegate::vision {

CropTransform MakeRotatedCrop(cv::Point2f centre, float extent, float angle_rad, int side) {
  const double k = static_cast<double>(extent) / side;
  const double c = std::cos(angle_rad) * k, s = std::sin(angle_rad) * k;
  const double half = side / 2.0;
  CropTransform t;
  t.scale = k;
  t.crop_to_image = {c, -s, centre.x - (c * half - s * half), s, c, centre.y - (s * half + c * half)};
  return t;
}

void WarpCrop(const cv::Mat& src, const CropTransform& t, int side, cv::Mat& out) {
  const auto direct = [&] {
    cv::warpAffine(src, out, t.crop_to_image, {side, side}, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_CONSTANT, cv::Scalar::all(0));
  };
  if (t.scale <= 2.0) return direct();
  // Downscaling by more than 2: area-average the image region under the crop
  // by a whole factor k (scale rounded) first, so that the bilinear warp
  // that follows resamples by at most 1.25 and does not alias. A whole
  // factor takes OpenCV's fast INTER_AREA path, and the warp writes only
  // side x side pixels: ~4 M instructions for the 192 px mesh crop of a
  // 512x480 frame at scale 2.34, against 27 M for warping at
  // ceil(192 * 2.34) px and area-averaging by the fractional 2.34 — a sixth
  // of a tracked video frame's cost before.
  const int k = static_cast<int>(std::lround(t.scale));
  const cv::Matx23d& m = t.crop_to_image;
  double x_lo = 1e300, x_hi = -1e300, y_lo = 1e300, y_hi = -1e300;
  for (const double cx : {0.0, double(side)}) {
    for (const double cy : {0.0, double(side)}) {
      const double x = m(0, 0) * cx + m(0, 1) * cy + m(0, 2), y = m(1, 0) * cx + m(1, 1) * cy + m(1, 2);
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x), y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  }
  // One block of margin for the bilinear neighbours; clamped to the image,
  // whose outside reads as zeros either way.
  const int x0 = std::max(0, static_cast<int>(std::floor(x_lo)) - k);
  const int y0 = std::max(0, static_cast<int>(std::floor(y_lo)) - k);
  const int x1 = std::min(src.cols, static_cast<int>(std::ceil(x_hi)) + 2 * k);
  const int y1 = std::min(src.rows, static_cast<int>(std::ceil(y_hi)) + 2 * k);
  const int w = (x1 - x0) / k * k, h = (y1 - y0) / k * k;
  if (w < 2 * k || h < 2 * k) return direct();  // (almost) outside the image
  cv::Mat small;
  cv::resize(src(cv::Rect(x0, y0, w, h)), small, {w / k, h / k}, 0, 0, cv::INTER_AREA);
  // Pixel u of `small` averages image pixels x0 + k*u .. x0 + k*u + k-1,
  // centred at x0 + k*u + (k-1)/2.
  const double c = (k - 1) / 2.0;
  const cv::Matx23d crop_to_small(m(0, 0) / k, m(0, 1) / k, (m(0, 2) - x0 - c) / k,  //
                                  m(1, 0) / k, m(1, 1) / k, (m(1, 2) - y0 - c) / k);
  cv::warpAffine(small, out, crop_to_small, {side, side}, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_CONSTANT, cv::Scalar::all(0));
}

cv::Matx23d FitSimilarity(const std::vector<cv::Point2d>& from, const std::vector<cv::Point2d>& to) {
  // p -> [a -b; b a] p + t: linear least squares on centred points.
  const size_t n = from.size();
  cv::Point2d mf(0, 0), mt(0, 0);
  for (size_t i = 0; i < n; ++i) {
    mf += from[i];
    mt += to[i];
  }
  mf *= 1.0 / n;
  mt *= 1.0 / n;
  double sxx = 0, a_num = 0, b_num = 0;
  for (size_t i = 0; i < n; ++i) {
    const cv::Point2d p = from[i] - mf, q = to[i] - mt;
    sxx += p.dot(p);
    a_num += p.x * q.x + p.y * q.y;
    b_num += p.x * q.y - p.y * q.x;
  }
  const double a = sxx > 0 ? a_num / sxx : 1, b = sxx > 0 ? b_num / sxx : 0;
  return {a, -b, mt.x - (a * mf.x - b * mf.y), b, a, mt.y - (b * mf.x + a * mf.y)};
}

CropTransform DlibChipTransform(const std::array<cv::Point2f, 5>& image_points, int size, double padding) {
  // dlib/image_transforms/interpolation.h, get_face_chip_details, 5 parts:
  // the template on the unit square, before padding.
  static constexpr double kTemplate[5][2] = {{0.8595674595992, 0.2134981538014},
                                             {0.6460604764104, 0.2289674387677},
                                             {0.1205750620789, 0.2137274526848},
                                             {0.3340850613712, 0.2290642403242},
                                             {0.4901123135679, 0.6277975316475}};
  std::vector<cv::Point2d> from, to;
  for (int i = 0; i < 5; ++i) {
    // dlib maps the template onto chip pixel indices 0..size-1 via p * size
    // (its chip_details then uses the rectangle over 0..size-1).
    from.emplace_back((padding + kTemplate[i][0]) / (2 * padding + 1) * size,
                      (padding + kTemplate[i][1]) / (2 * padding + 1) * size);
    to.emplace_back(image_points[i].x, image_points[i].y);
  }
  CropTransform t;
  t.crop_to_image = FitSimilarity(from, to);
  t.scale = std::hypot(t.crop_to_image(0, 0), t.crop_to_image(1, 0));
  return t;
}

}  // namespace livegate::vision
