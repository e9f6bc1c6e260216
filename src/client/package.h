// The capture package (decisions 11.4 and 11.8, R-SEC-COM-5 "desensitise"):
// face-region crops only, bounded resolution, re-encoded as JPEG so that no
// EXIF or other metadata survives, a bounded number of frames, each with its
// capture timestamp. Local quality detection (R-CLI-QD-1/2) scores each frame
// and names the best one; those scores are preliminary (decision 11.10).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "livegate/status.h"

namespace livegate::client {

struct PackageOptions {
  double crop_margin = 0.5;   // added on each side, as a fraction of the face box size
  int max_side = 480;         // longest side of a crop after down-scaling (pixels)
  int jpeg_quality = 90;      // 0..100
  int max_frames = 40;        // bound on frames in one package
  double min_gap_ms = 66;     // frames closer than this to the previous kept one are dropped
  // Blink windows (judgement/capture_rate.h, issue 13): [from, to] in capture
  // ms where frames down to dense_min_gap_ms apart are kept, and which are
  // thinned last when there are more than max_frames.
  std::vector<std::pair<double, double>> dense_windows;
  double dense_min_gap_ms = 30;
};

// One captured frame with the face found in it.
struct PackageInput {
  cv::Mat bgr;
  cv::Rect2f face;            // image pixels
  double timestamp_ms = 0;
  double quality = 0;         // from ScoreFrameQuality; used for best-frame choice
};

struct PackageFrame {
  std::vector<std::uint8_t> jpeg;  // baseline JPEG, JFIF header only
  int width = 0;
  int height = 0;
  double timestamp_ms = 0;
  double quality = 0;
};

// A change of what the client showed full-screen during an actions+light
// capture: at timestamp_ms (the frames' clock) the screen turned to `rgb`,
// "#rrggbb" in lower case or "none" (overlay off). Only a client that lights
// the screen records these; for every other challenge the package has none
// and the submission carries no "display" (the server refuses a report for
// a challenge without colours, and a light capture without one).
struct DisplayChange {
  double timestamp_ms = 0;
  std::string rgb;
};

struct CapturePackage {
  std::vector<PackageFrame> frames;  // in capture order
  int best_frame = -1;               // index into frames of the best-quality frame
  std::vector<DisplayChange> display;  // empty unless SetPackageDisplay recorded the colours drawn
};

// Local quality (R-CLI-QD-1): sharpness (variance of the Laplacian of the
// face region, saturating at 300), exposure (distance of the face's mean
// luma from mid-grey) and face size (inter-eye width or box width, saturating
// at 120 px), combined into 0..1. Higher is better.
double ScoreFrameQuality(const cv::Mat& bgr, const cv::Rect2f& face);

// Crops, bounds and encodes. Frames are thinned evenly over time when there
// are more than max_frames (the server needs motion across the whole
// challenge, not only the sharpest frames) - those outside dense_windows
// first - and the best frame is always kept.
// Reasons: package.empty, package.face_outside_frame, package.encode_failed.
Result<CapturePackage> BuildCapturePackage(const std::vector<PackageInput>& inputs,
                                           const PackageOptions& options = {});

// Records the colours drawn during the capture (protocol DisplayChangeMessage):
// each "#rrggbb" (lower case) or "none", times strictly increasing, at most
// `max_changes` (the protocol's bound). Reason: package.bad_display.
Status SetPackageDisplay(CapturePackage& package, std::vector<DisplayChange> changes,
                         std::size_t max_changes = 64);

// The crop rectangle used for a face (exposed for tests).
cv::Rect FaceCropRect(const cv::Rect2f& face, const cv::Size& image, double margin);

}  // namespace livegate::client
