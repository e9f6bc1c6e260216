// Capture (X.1279 7.2, R-CLI-CAP-1): frames from a camera, a video file or
// an image sequence, each with its capture timestamp, optionally limited to a
// frame range so that a test can use one segment of a clip.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "livegate/status.h"

namespace livegate::client {

struct CaptureOptions {
  enum class Kind { kCamera, kVideoFile, kImageSequence };
  Kind kind = Kind::kVideoFile;
  int camera_index = 0;                       // kCamera
  double camera_fps = 30;                     // kCamera: requested rate (blink windows keep every frame)
  std::filesystem::path path;                 // kVideoFile; kImageSequence: a folder
  std::vector<std::filesystem::path> images;  // kImageSequence: explicit list (wins over path)
  int start_frame = 0;                        // first frame delivered (earlier ones are skipped)
  int end_frame = -1;                         // one past the last frame; -1 = to the end
  double image_sequence_fps = 15.0;           // timestamps for image sequences (stills have no clock: tests and tools)
  int max_frames = 3000;                      // hard bound on frames delivered
  std::uint64_t max_pixels_per_frame = 8'000'000;
};

struct CapturedFrame {
  cv::Mat bgr;              // 8-bit BGR
  int index = 0;            // index in the source (before the range is applied)
  double timestamp_ms = 0;  // capture time: camera clock, container time or index/fps;
                            // relative to the first delivered frame
};

// A pull source: Next() returns the next frame, std::nullopt at the end.
// Reasons: capture.camera_unavailable, capture.unreadable_file,
// capture.cannot_decode, capture.no_images, capture.bad_range,
// capture.too_many_pixels, plus image.* from vision::ReadImageFile.
class FrameSource {
 public:
  static Result<std::unique_ptr<FrameSource>> Open(const CaptureOptions& options);
  virtual ~FrameSource() = default;
  virtual Result<std::optional<CapturedFrame>> Next() = 0;
  virtual bool live() const = 0;  // a camera: the user can react to guidance
};

// Image files of a folder in name order (.jpg .jpeg .png .bmp .pgm .ppm .webp).
Result<std::vector<std::filesystem::path>> ListImageSequence(const std::filesystem::path& dir);

}  // namespace livegate::client
