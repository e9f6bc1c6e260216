// Environment detection (X.1279 7.2, R-CLI-ENV-1): capture starts only when
// the face and the surroundings meet the capture conditions, and the user is
// told what to change. X.1279 gives no criteria; ours are below, each with a
// stable code and a sentence a person can act on.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace livegate::client {

struct EnvironmentOptions {
  double min_face_brightness = 70;   // mean luma (0..255) inside the face box
  double max_face_brightness = 215;  // above: washed out
  double max_backlight_delta = 80;   // background mean luma minus face mean luma (inner 60% of the box)
  double min_face_width = 0.09;      // face box width / frame width (~58 px on a 640-px camera)
  double max_face_width = 0.80;
  double max_centre_offset = 0.22;   // |face centre - frame centre| / frame size, per axis
  double max_motion = 0.03;          // face-centre movement between frames / frame width
  int steady_frames = 3;             // that many consecutive steady frames make "steady"
};

struct EnvironmentIssue {
  std::string code;     // env.no_face, env.many_faces, env.too_dark, env.too_bright,
                        // env.backlit, env.too_far, env.too_close, env.off_centre, env.moving
  std::string advice;   // what the user should change
};

struct EnvironmentReport {
  bool ok = false;                       // all conditions hold: capture may start
  std::vector<EnvironmentIssue> issues;  // empty when ok
  double face_brightness = 0;
  double background_brightness = 0;
  double face_width = 0;                 // fraction of frame width
  double centre_offset = 0;              // max of the two axes
  double motion = 0;                     // fraction of frame width since the last frame
};

// Stateful (steadiness needs the previous frames). One per capture session.
class EnvironmentChecker {
 public:
  explicit EnvironmentChecker(EnvironmentOptions options = {}) : options_(options) {}
  // `faces`: face boxes found in `bgr` (image pixels), largest first.
  EnvironmentReport Check(const cv::Mat& bgr, const std::vector<cv::Rect2f>& faces);
  void Reset() { centres_.clear(); steady_count_ = 0; }

 private:
  EnvironmentOptions options_;
  std::deque<cv::Point2f> centres_;
  int steady_count_ = 0;
};

}  // namespace livegate::client
