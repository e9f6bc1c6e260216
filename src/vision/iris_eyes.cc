// MediaPipe Iris eye openness from a FaceMesh (see iris_eyes.h; issue 4,
// R-ASD-1 blink, R-ASD-5).
#include "vision/iris_eyes.h"

#include <cmath>

#include <opencv2/imgproc.hpp>

#include "vision/face_measures.h"

namespace livegate::vision {

Result<std::array<float, 2>> IrisEyeOpenness(const cv::Mat& bgr, const std::vector<cv::Point3f>& mesh,
                                             IrisModel& iris) {
  using namespace mesh_index;
  if (mesh.size() < kCount || bgr.empty() || bgr.type() != CV_8UC3) {
    return Status::BadInput("vision.no_mesh", "eye openness needs a 468-point mesh and a BGR frame");
  }
  std::array<float, 2> out{};
  // {image-left corner, image-right corner, mirrored}: right eye 33 -> 133,
  // left eye 362 -> 263 (mirrored: the model is trained on one side).
  const int eyes[2][2] = {{kRightEyeOuter, kRightEyeInner}, {kLeftEyeInner, kLeftEyeOuter}};
  for (int e = 0; e < 2; ++e) {
    const cv::Point2f a(mesh[eyes[e][0]].x, mesh[eyes[e][0]].y), b(mesh[eyes[e][1]].x, mesh[eyes[e][1]].y);
    const float width = std::hypot(b.x - a.x, b.y - a.y);
    if (!(width > 1.0f)) return Status::BadInput("vision.no_mesh", "degenerate eye corners");
    const cv::Point2f u = (b - a) / width, v(-u.y, u.x), c = (a + b) * 0.5f;
    const float h = 0.5f * 2.3f * width;  // MediaPipe's eye crop: 2.3 eye widths, square
    const cv::Point2f src[3] = {c - u * h - v * h, c + u * h - v * h, c - u * h + v * h};
    const float n = float(IrisModel::kInputSize);
    cv::Point2f dst[3] = {{0, 0}, {n, 0}, {0, n}};
    if (e == 1) dst[0] = {n, 0}, dst[1] = {0, 0}, dst[2] = {n, n};
    cv::Mat crop, rgb;
    cv::warpAffine(bgr, crop, cv::getAffineTransform(src, dst), cv::Size(int(n), int(n)), cv::INTER_LINEAR,
                   cv::BORDER_REPLICATE);
    cv::cvtColor(crop, rgb, cv::COLOR_BGR2RGB);
    LG_ASSIGN_OR_RETURN(IrisOutput r, iris.Run(rgb));
    // Contour 0..8: lower lid corner to corner; 9..15: upper lid. The two
    // lid pairs of the FaceMesh measure (160/144, 158/153) are 11/3, 13/5.
    const auto& p = r.eye_contour;
    if (p.size() < 16) return Status::Internal("model.corrupt", "iris: short eye contour");
    auto d = [&](int i, int j) { return std::hypot(p[i].x - p[j].x, p[i].y - p[j].y); };
    const float w = d(0, 8);
    out[std::size_t(e)] = w > 0 ? (d(11, 3) + d(13, 5)) / (2 * w) : 0.0f;
  }
  return out;
}

}  // namespace livegate::vision
