// Measures read off the 468-point FaceMesh (MediaPipe topology): eye and
// mouth openness for the blink / open-mouth challenges (R-CLI-ASD-1,
// R-SRV-ASJ-4), eye centres, and the points dlib's chip alignment needs.
// Index names follow the subject: "right eye" is the subject's right eye,
// which appears on the image's left.
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

namespace livegate::vision::mesh_index {
// Eye corners.
inline constexpr int kRightEyeOuter = 33, kRightEyeInner = 133;
inline constexpr int kLeftEyeInner = 362, kLeftEyeOuter = 263;
// Lid pairs (upper, lower) for the eye aspect ratio.
inline constexpr int kRightEyeLids[2][2] = {{160, 144}, {158, 153}};
inline constexpr int kLeftEyeLids[2][2] = {{385, 380}, {387, 373}};
// Mouth: outer corners and the inner-lip midpoints.
inline constexpr int kMouthRight = 61, kMouthLeft = 291;
inline constexpr int kInnerLipUpper = 13, kInnerLipLower = 14;
inline constexpr int kNoseTip = 1, kNoseBase = 2, kChin = 152;
inline constexpr int kCount = 468;
}  // namespace livegate::vision::mesh_index

namespace livegate::vision {

// Eye aspect ratio (Soukupova & Cech 2016) from the mesh lids: mean lid gap
// over eye width. Dimensionless; ~0.25-0.35 open, < 0.1 closed.
float RightEyeOpenness(const std::vector<cv::Point3f>& mesh);
float LeftEyeOpenness(const std::vector<cv::Point3f>& mesh);
// Inner-lip gap over mouth width (outer corners). Dimensionless; ~0 closed,
// > 0.3 wide open.
float MouthOpenness(const std::vector<cv::Point3f>& mesh);
// Centre of each eye (mean of its corners), image pixels.
cv::Point2f RightEyeCentre(const std::vector<cv::Point3f>& mesh);
cv::Point2f LeftEyeCentre(const std::vector<cv::Point3f>& mesh);
// dlib 5-point order: left eye outer, left eye inner, right eye outer,
// right eye inner, nose base.
std::array<cv::Point2f, 5> DlibFivePoints(const std::vector<cv::Point3f>& mesh);

}  // namespace livegate::vision
