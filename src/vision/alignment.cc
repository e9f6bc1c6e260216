// Crops and dlib-style chip alignment (see alignment.h).
#include "vision/alignment.h"

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
  if (t.scale <= 2.0) {
    cv::warpAffine(src, out, t.crop_to_image, {side, side}, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_CONSTANT, cv::Scalar::all(0));
    return;
  }
  // Warp at an intermediate size where one crop pixel is about one image
  // pixel, then area-average down.
  const int big = static_cast<int>(std::ceil(side * t.scale));
  const double f = static_cast<double>(side) / big;
  const cv::Matx23d m = t.crop_to_image;
  const cv::Matx23d big_to_image(m(0, 0) * f, m(0, 1) * f, m(0, 2), m(1, 0) * f, m(1, 1) * f, m(1, 2));
  cv::Mat tmp;
  cv::warpAffine(src, tmp, big_to_image, {big, big}, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_CONSTANT, cv::Scalar::all(0));
  cv::resize(tmp, out, {side, side}, 0, 0, cv::INTER_AREA);
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
