// Head pose (yaw, pitch, roll) from FaceMesh points with cv::solvePnP
// against a generic 3D face, for the nod / shake challenges (R-CLI-ASD-1,
// R-SRV-ASJ-4). models.md: yaw agrees with dlib-68 (r = 0.97); absolute
// pitch does not (r = 0.27), so judge pitch relative to the user's own
// neutral frame.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "vision/face_analyzer.h"

namespace livegate::vision {

// The six 3D model points (camera axes: x right, y down, z away from the
// camera; nose tip at the origin; arbitrary units) and the FaceMesh indices
// they correspond to.
struct PoseModelPoint {
  int mesh_index;
  cv::Point3f model;
};
const std::vector<PoseModelPoint>& PoseModelPoints();

// image_size sets the pinhole camera (focal = longer side, centre = middle).
// Angles from the rotated face axes (see HeadPose for signs).
HeadPose EstimateHeadPose(const std::vector<cv::Point3f>& mesh, cv::Size image_size);
// From a rotation matrix of model -> camera (exposed for tests).
HeadPose HeadPoseFromRotation(const cv::Matx33d& r);

}  // namespace livegate::vision
