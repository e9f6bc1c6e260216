// Head pose by solvePnP on six mesh points (see head_pose.h).
#include "vision/head_pose.h"

#include <algorithm>
#include <cmath>

#include <opencv2/calib3d.hpp>

#include "vision/face_measures.h"

namespace livegate::vision {

const std::vector<PoseModelPoint>& PoseModelPoints() {
  using namespace mesh_index;
  // The widely used generic 6-point face (millimetre-like units), in
  // camera axes. The subject's right eye is on the image's left (-x).
  static const std::vector<PoseModelPoint> points = {
      {kNoseTip, {0.f, 0.f, 0.f}},
      {kChin, {0.f, 330.f, 65.f}},
      {kRightEyeOuter, {-225.f, -170.f, 135.f}},
      {kLeftEyeOuter, {225.f, -170.f, 135.f}},
      {kMouthRight, {-150.f, 150.f, 125.f}},
      {kMouthLeft, {150.f, 150.f, 125.f}},
  };
  return points;
}

HeadPose HeadPoseFromRotation(const cv::Matx33d& r) {
  constexpr double kDeg = 180.0 / M_PI;
  // r = Rz(roll) * Ry(yaw) * Rx(pitch), with the signs of HeadPose: yaw +
  // turns the nose toward image +x (the face's own left), pitch + lifts the
  // chin (nose toward image -y), roll + turns the eye line clockwise on
  // screen. Row 2 of r is (sin yaw, -cos yaw sin pitch, cos yaw cos pitch).
  HeadPose p;
  p.yaw_deg = static_cast<float>(std::asin(std::clamp(r(2, 0), -1.0, 1.0)) * kDeg);
  p.pitch_deg = static_cast<float>(std::atan2(-r(2, 1), r(2, 2)) * kDeg);
  p.roll_deg = static_cast<float>(std::atan2(r(1, 0), r(0, 0)) * kDeg);
  return p;
}

HeadPose EstimateHeadPose(const std::vector<cv::Point3f>& mesh, cv::Size image_size) {
  if (mesh.size() < mesh_index::kCount) return {};
  std::vector<cv::Point3d> object;
  std::vector<cv::Point2d> image;
  for (const auto& p : PoseModelPoints()) {
    object.emplace_back(p.model.x, p.model.y, p.model.z);
    image.emplace_back(mesh[p.mesh_index].x, mesh[p.mesh_index].y);
  }
  const double focal = std::max(image_size.width, image_size.height);
  const cv::Matx33d camera(focal, 0, image_size.width / 2.0, 0, focal, image_size.height / 2.0, 0, 0, 1);
  // Start frontal at the distance the eye-corner spacing implies: the LM
  // refinement then stays on the physical solution (not the mirrored one).
  const double eye_model = 450.0;  // model distance between outer eye corners
  const double eye_px = std::max(1.0, cv::norm(image[2] - image[3]));
  cv::Vec3d rvec(0, 0, 0);
  cv::Vec3d tvec(0, 0, focal * eye_model / eye_px);
  tvec[0] = (image[0].x - camera(0, 2)) * tvec[2] / focal;
  tvec[1] = (image[0].y - camera(1, 2)) * tvec[2] / focal;
  if (!cv::solvePnP(object, image, camera, cv::noArray(), rvec, tvec, true, cv::SOLVEPNP_ITERATIVE)) {
    return {};
  }
  cv::Matx33d r;
  cv::Rodrigues(rvec, r);
  return HeadPoseFromRotation(r);
}

}  // namespace livegate::vision
