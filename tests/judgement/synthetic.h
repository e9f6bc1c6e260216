// Synthetic per-frame observation sequences for unit tests of the pure
// judgement functions: a rigid 3-D "head" (or a flat picture of one) that
// blinks, opens its mouth and turns, sampled at given timestamps.
#pragma once

#include <cmath>
#include <vector>

#include "judgement/measures.h"
#include "judgement/types.h"

namespace livegate::judgement::testing {

struct SynthFrame {
  float yaw = 0, pitch = 0;
  float eye = 0.3f, mouth = 0.02f;
};

// 53 rigid points of a head: an ellipsoid cap with a nose ridge; `flat`
// puts them all on one plane (a photo of the same face).
inline std::vector<cv::Point3f> HeadModel(bool flat) {
  std::vector<cv::Point3f> p;
  const int n = int(RigidMeshIndices().size());
  for (int i = 0; i < n; ++i) {
    const float a = 2.0f * float(M_PI) * float(i) / float(n);
    const float r = (i % 3 == 0) ? 0.3f : (i % 3 == 1 ? 0.65f : 1.0f);
    float x = r * std::cos(a), y = 1.2f * r * std::sin(a);
    float z = std::sqrt(std::max(0.0f, 1.0f - r * r)) * 0.9f;  // cap
    if (i < 8) x *= 0.15f, y = -0.4f + 0.1f * i, z = 1.0f + 0.2f * (i % 4);  // nose ridge
    if (flat) z = 0;
    p.emplace_back(x, y, z);
  }
  return p;
}

// One observation with the head rotated by yaw/pitch, 60 px per unit,
// centred at (200, 200).
inline FrameObservation MakeObservation(int index, std::int64_t t_ms, const SynthFrame& s, bool flat,
                                        int faces = 1) {
  FrameObservation o;
  o.index = index;
  o.timestamp_ms = t_ms;
  o.image_width = 400, o.image_height = 400;
  o.face_count = faces;
  o.second_face_ratio = faces > 1 ? 0.9f : 0.0f;
  o.has_face = o.has_mesh = true;
  o.box = cv::Rect2f(120, 110, 160, 190);
  o.detector_score = 0.95f;
  o.mesh_confidence = 0.99f;
  o.pose.yaw_deg = s.yaw;
  o.pose.pitch_deg = s.pitch;
  o.left_eye_openness = o.right_eye_openness = s.eye;
  o.mouth_openness = s.mouth;
  o.inter_eye_distance = 60.0f;
  const float y = s.yaw * float(M_PI) / 180.0f, p = s.pitch * float(M_PI) / 180.0f;
  for (const auto& q : HeadModel(flat)) {
    // yaw about the vertical axis, then pitch; weak perspective.
    const float x1 = q.x * std::cos(y) + q.z * std::sin(y), z1 = -q.x * std::sin(y) + q.z * std::cos(y);
    const float y2 = q.y * std::cos(p) - z1 * std::sin(p), z2 = q.y * std::sin(p) + z1 * std::cos(p);
    const float f = 6.0f / (6.0f - z2);
    o.landmarks.emplace_back(200 + 60 * x1 * f, 200 + 60 * y2 * f);
  }
  o.descriptor = vision::Descriptor{};
  (*o.descriptor)[0] = 0.1f;
  o.sharpness = 120, o.mean_luma = 130, o.illumination_uniformity = 0.9f, o.blockiness = 1.0f;
  o.face_r = 180, o.face_g = 140, o.face_b = 120;
  o.moire = 1.0f, o.border = 0, o.glare = 0;
  // Small natural change between frames (sensor noise, micro-motion).
  o.frame_difference = index == 0 ? -1.0f : 2.0f;
  return o;
}

// A sequence at `fps` over `duration_ms` where `at(t_ms)` gives the state.
template <class F>
std::vector<FrameObservation> MakeSequence(std::int64_t duration_ms, int fps, bool flat, F&& at) {
  std::vector<FrameObservation> v;
  const std::int64_t step = 1000 / fps;
  int i = 0;
  for (std::int64_t t = 0; t <= duration_ms; t += step, ++i) v.push_back(MakeObservation(i, 1000000 + t, at(t), flat));
  return v;
}

// The challenge blink [1000,3500) -> open mouth [3500,6000) -> turn left
// [6000,8500), and a user who follows it, turning `turn_deg` at the peak
// (the geometry check is judged only on >= 3 frames turned >= 30 deg).
inline Challenge ThreeStepChallenge() {
  Challenge c;
  c.type = AsdType::kActions;
  c.steps = {{Action::kBlink, 1000, 3500}, {Action::kOpenMouth, 3500, 6000}, {Action::kTurnLeft, 6000, 8500}};
  return c;
}
inline SynthFrame ThreeStepUser(std::int64_t t, float turn_deg) {
  SynthFrame s;
  s.yaw = 2.0f * std::sin(t / 700.0f);  // natural sway
  if (t >= 1500 && t < 1600) s.eye = 0.04f;
  if (t >= 4000 && t < 4600) s.mouth = 0.6f;
  if (t >= 6200 && t < 7400) s.yaw = turn_deg * std::sin(float(M_PI) * (t - 6200) / 1200.0f);
  return s;
}

}  // namespace livegate::judgement::testing
