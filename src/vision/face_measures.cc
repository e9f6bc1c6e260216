// Eye / mouth openness and alignment points from the FaceMesh (see
// face_measures.h).
#include "vision/face_measures.h"

#include <cmath>

namespace livegate::vision {
namespace {

cv::Point2f P(const std::vector<cv::Point3f>& m, int i) { return {m[i].x, m[i].y}; }
float Dist(cv::Point2f a, cv::Point2f b) { return std::hypot(a.x - b.x, a.y - b.y); }

float EyeAspectRatio(const std::vector<cv::Point3f>& m, int outer, int inner, const int lids[2][2]) {
  if (m.size() < mesh_index::kCount) return 0;
  const float width = Dist(P(m, outer), P(m, inner));
  if (width <= 0) return 0;
  const float gap = Dist(P(m, lids[0][0]), P(m, lids[0][1])) + Dist(P(m, lids[1][0]), P(m, lids[1][1]));
  return gap / (2 * width);
}

}  // namespace

float RightEyeOpenness(const std::vector<cv::Point3f>& mesh) {
  using namespace mesh_index;
  return EyeAspectRatio(mesh, kRightEyeOuter, kRightEyeInner, kRightEyeLids);
}

float LeftEyeOpenness(const std::vector<cv::Point3f>& mesh) {
  using namespace mesh_index;
  return EyeAspectRatio(mesh, kLeftEyeOuter, kLeftEyeInner, kLeftEyeLids);
}

float MouthOpenness(const std::vector<cv::Point3f>& mesh) {
  using namespace mesh_index;
  if (mesh.size() < kCount) return 0;
  const float width = Dist(P(mesh, kMouthRight), P(mesh, kMouthLeft));
  return width > 0 ? Dist(P(mesh, kInnerLipUpper), P(mesh, kInnerLipLower)) / width : 0;
}

cv::Point2f RightEyeCentre(const std::vector<cv::Point3f>& mesh) {
  using namespace mesh_index;
  return (P(mesh, kRightEyeOuter) + P(mesh, kRightEyeInner)) * 0.5f;
}

cv::Point2f LeftEyeCentre(const std::vector<cv::Point3f>& mesh) {
  using namespace mesh_index;
  return (P(mesh, kLeftEyeOuter) + P(mesh, kLeftEyeInner)) * 0.5f;
}

std::array<cv::Point2f, 5> DlibFivePoints(const std::vector<cv::Point3f>& mesh) {
  using namespace mesh_index;
  return {P(mesh, kLeftEyeOuter), P(mesh, kLeftEyeInner), P(mesh, kRightEyeOuter), P(mesh, kRightEyeInner),
          P(mesh, kNoseBase)};
}

}  // namespace livegate::vision
