// Geometry that cuts model inputs out of an image: the rotated square crop
// FaceMesh expects, and dlib's aligned face chip for the ResNet descriptor
// (dlib::get_face_chip_details(det, 150, 0.25) with its 5-point template).
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

namespace livegate::vision {

// A similarity transform p_image = A * p_crop + t, stored as a 2x3 CV_64F
// matrix (crop -> image), for warpAffine with WARP_INVERSE_MAP.
struct CropTransform {
  cv::Matx23d crop_to_image;
  double scale = 1;  // image pixels per crop pixel
  cv::Point2f ToImage(cv::Point2f p) const {
    const auto& m = crop_to_image;
    return {static_cast<float>(m(0, 0) * p.x + m(0, 1) * p.y + m(0, 2)),
            static_cast<float>(m(1, 0) * p.x + m(1, 1) * p.y + m(1, 2))};
  }
};

// Square crop of `side` pixels centred on `centre`, covering `extent` image
// pixels, rotated by `angle_rad` (the image direction that becomes the
// crop's +x axis).
CropTransform MakeRotatedCrop(cv::Point2f centre, float extent, float angle_rad, int side);

// Fills `out` (side x side, same type as src) from the crop. Pixels outside
// the image are black. When the crop shrinks the image by more than 2x, the
// image region is first reduced with INTER_AREA (as dlib's pyramid does), so
// the chip is not aliased.
void WarpCrop(const cv::Mat& src, const CropTransform& t, int side, cv::Mat& out);

// Least-squares similarity transform mapping `from` onto `to` (both n >= 2).
cv::Matx23d FitSimilarity(const std::vector<cv::Point2d>& from, const std::vector<cv::Point2d>& to);

// dlib's 5-point alignment: image points are the subject's left eye outer
// and inner corners, right eye outer and inner corners, and the base of the
// nose (dlib's 5-point predictor order). Returns the chip -> image transform
// of a size x size chip with `padding` (dlib: 150, 0.25 for the descriptor).
CropTransform DlibChipTransform(const std::array<cv::Point2f, 5>& image_points, int size = 150,
                                double padding = 0.25);

}  // namespace livegate::vision
