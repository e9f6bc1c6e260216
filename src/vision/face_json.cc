// FaceAnalysis -> JSON (see face_json.h).
#include "vision/face_json.h"

#include <cmath>

namespace livegate::vision {
namespace {
// Three decimals are below any measurement's precision and keep output short.
double R3(double v) { return std::round(v * 1000.0) / 1000.0; }
}  // namespace

nlohmann::json FaceAnalysisToJson(const FaceAnalysis& f, const FaceJsonOptions& options) {
  nlohmann::json j;
  j["box"] = {{"x", R3(f.box.x)}, {"y", R3(f.box.y)}, {"width", R3(f.box.width)}, {"height", R3(f.box.height)}};
  j["detector_score"] = R3(f.detector_score);
  j["detector"] = f.detected_by == FaceDetectorModel::kFront ? "front" : "back";
  j["tiny"] = f.tiny;
  if (f.tracked) j["tracked"] = true;
  nlohmann::json kp = nlohmann::json::array();
  for (const auto& p : f.keypoints) kp.push_back({R3(p.x), R3(p.y)});
  j["keypoints"] = kp;
  if (!f.mesh.empty()) {
    j["mesh_confidence"] = R3(f.mesh_confidence);
    j["pose"] = {{"yaw_deg", R3(f.pose.yaw_deg)}, {"pitch_deg", R3(f.pose.pitch_deg)}, {"roll_deg", R3(f.pose.roll_deg)}};
    j["left_eye_openness"] = R3(f.left_eye_openness);
    j["right_eye_openness"] = R3(f.right_eye_openness);
    j["mouth_openness"] = R3(f.mouth_openness);
    j["inter_eye_distance"] = R3(f.inter_eye_distance);
    if (options.mesh) {
      nlohmann::json m = nlohmann::json::array();
      for (const auto& p : f.mesh) m.push_back({R3(p.x), R3(p.y), R3(p.z)});
      j["mesh"] = m;
    }
  }
  if (f.descriptor && options.descriptor) {
    nlohmann::json d = nlohmann::json::array();
    for (float v : *f.descriptor) d.push_back(std::round(v * 1e6) / 1e6);
    j["descriptor"] = d;
  }
  if (f.iris_eye_openness) {
    j["iris_eye_openness"] = {{"right", R3((*f.iris_eye_openness)[0])}, {"left", R3((*f.iris_eye_openness)[1])}};
  }
  if (f.antispoof_score) j["antispoof_score"] = R3(*f.antispoof_score);
  if (f.liveness_score) j["liveness_score"] = R3(*f.liveness_score);
  return j;
}

}  // namespace livegate::vision
