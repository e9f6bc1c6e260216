// R-CLI-ENV-1: brightness, backlight, face presence, size, centring, steadiness.
#include "client/environment.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace livegate::client {

EnvironmentReport EnvironmentChecker::Check(const cv::Mat& bgr,
                                            const std::vector<cv::Rect2f>& faces) {
  EnvironmentReport r;
  auto add = [&r](const char* code, const char* advice) {
    r.issues.push_back({code, advice});
  };
  if (bgr.empty()) {
    add("env.no_face", "No picture from the camera: check that it is connected and uncovered.");
    return r;
  }
  if (faces.empty()) {
    Reset();
    add("env.no_face", "No face found: look straight at the camera.");
    return r;
  }
  if (faces.size() > 1 && faces[1].area() > 0.25 * faces[0].area()) {
    add("env.many_faces", "More than one face is visible: make sure you are alone in the picture.");
  }
  const cv::Rect frame_rect(0, 0, bgr.cols, bgr.rows);
  const cv::Rect face = cv::Rect(faces[0]) & frame_rect;
  if (face.area() <= 0) {
    add("env.off_centre", "Your face is outside the picture: move into the middle.");
    return r;
  }

  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::Mat background_mask(gray.size(), CV_8U, cv::Scalar(255));
  background_mask(face).setTo(0);
  // Skin, not hair or the background in the box corners: the inner 60%.
  const cv::Rect inner(face.x + face.width / 5, face.y + face.height / 5, std::max(1, face.width * 3 / 5),
                       std::max(1, face.height * 3 / 5));
  r.face_brightness = cv::mean(gray(inner & frame_rect))[0];
  r.background_brightness =
      cv::countNonZero(background_mask) > 0 ? cv::mean(gray, background_mask)[0] : r.face_brightness;
  if (r.face_brightness < options_.min_face_brightness) {
    add("env.too_dark", "Your face is too dark: turn on a light or face a window.");
  } else if (r.face_brightness > options_.max_face_brightness) {
    add("env.too_bright", "Your face is over-lit: move away from the direct light.");
  }
  if (r.background_brightness - r.face_brightness > options_.max_backlight_delta) {
    add("env.backlit", "The light is behind you: turn so that the light falls on your face.");
  }

  r.face_width = faces[0].width / bgr.cols;
  if (r.face_width < options_.min_face_width) {
    add("env.too_far", "You are too far away: move closer to the camera.");
  } else if (r.face_width > options_.max_face_width) {
    add("env.too_close", "You are too close: move back a little.");
  }

  const cv::Point2f centre(faces[0].x + faces[0].width / 2, faces[0].y + faces[0].height / 2);
  r.centre_offset = std::max(std::abs(centre.x / bgr.cols - 0.5), std::abs(centre.y / bgr.rows - 0.5));
  if (r.centre_offset > options_.max_centre_offset) {
    add("env.off_centre", "Your face is not centred: move to the middle of the picture.");
  }

  if (!centres_.empty()) {
    const cv::Point2f d = centre - centres_.back();
    r.motion = std::hypot(d.x, d.y) / bgr.cols;
  }
  centres_.push_back(centre);
  if (centres_.size() > 8) centres_.pop_front();
  steady_count_ = (centres_.size() > 1 && r.motion <= options_.max_motion) ? steady_count_ + 1 : 0;
  if (steady_count_ < options_.steady_frames) {
    add("env.moving", "Hold still for a moment.");
  }
  r.ok = r.issues.empty();
  return r;
}

}  // namespace livegate::client
