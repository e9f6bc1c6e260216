// Decisions 11.4/11.8, R-SEC-COM-5 (desensitise), R-CLI-QD-1/2 (best frame).
#include "client/package.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace livegate::client {

cv::Rect FaceCropRect(const cv::Rect2f& face, const cv::Size& image, double margin) {
  const float mx = static_cast<float>(face.width * margin);
  const float my = static_cast<float>(face.height * margin);
  cv::Rect2f grown(face.x - mx, face.y - my, face.width + 2 * mx, face.height + 2 * my);
  return cv::Rect(grown) & cv::Rect(0, 0, image.width, image.height);
}

double ScoreFrameQuality(const cv::Mat& bgr, const cv::Rect2f& face) {
  const cv::Rect r = cv::Rect(face) & cv::Rect(0, 0, bgr.cols, bgr.rows);
  if (r.width < 8 || r.height < 8) return 0;
  cv::Mat gray, lap;
  cv::cvtColor(bgr(r), gray, cv::COLOR_BGR2GRAY);
  cv::Laplacian(gray, lap, CV_64F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  const double sharpness = std::min(1.0, stddev[0] * stddev[0] / 300.0);
  const double exposure = 1.0 - std::min(1.0, std::abs(cv::mean(gray)[0] - 128.0) / 128.0);
  const double size = std::min(1.0, r.width / 120.0);
  return 0.5 * sharpness + 0.25 * exposure + 0.25 * size;
}

Result<CapturePackage> BuildCapturePackage(const std::vector<PackageInput>& inputs,
                                           const PackageOptions& options) {
  if (inputs.empty()) {
    return Status::BadInput("package.empty", "no frame with a face was captured");
  }
  // Drop frames too close in time, then thin evenly to max_frames.
  auto dense = [&](double t) {
    for (const auto& [from, to] : options.dense_windows) {
      if (t >= from && t <= to) return true;
    }
    return false;
  };
  std::vector<int> kept;
  for (int i = 0; i < static_cast<int>(inputs.size()); ++i) {
    const double gap = dense(inputs[i].timestamp_ms) ? options.dense_min_gap_ms : options.min_gap_ms;
    // 3 ms: camera clock jitter (a 30 fps camera's frames are 30-36 ms apart).
    if (!kept.empty() && inputs[i].timestamp_ms - inputs[kept.back()].timestamp_ms < gap - 3.0) {
      continue;
    }
    kept.push_back(i);
  }
  // Over the bound: thin the frames outside the blink windows first (the
  // blink needs every frame of its window; the other checks read ~15 fps).
  if (options.max_frames > 0 && static_cast<int>(kept.size()) > options.max_frames &&
      !options.dense_windows.empty()) {
    std::vector<int> in_window, outside;
    for (int i : kept) (dense(inputs[i].timestamp_ms) ? in_window : outside).push_back(i);
    const int room = options.max_frames - static_cast<int>(in_window.size());
    if (room >= 2 && static_cast<int>(outside.size()) > room) {
      std::vector<int> thinned = in_window;
      const double step = static_cast<double>(outside.size() - 1) / (room - 1);
      for (int k = 0; k < room; ++k) thinned.push_back(outside[static_cast<std::size_t>(std::lround(k * step))]);
      std::sort(thinned.begin(), thinned.end());
      thinned.erase(std::unique(thinned.begin(), thinned.end()), thinned.end());
      kept = std::move(thinned);
    }
  }
  int best_input = 0;
  for (int i = 1; i < static_cast<int>(inputs.size()); ++i) {
    if (inputs[i].quality > inputs[best_input].quality) best_input = i;
  }
  if (static_cast<int>(kept.size()) > options.max_frames && options.max_frames > 0) {
    std::vector<int> thinned;
    const double step = static_cast<double>(kept.size() - 1) / std::max(1, options.max_frames - 1);
    for (int k = 0; k < options.max_frames; ++k) {
      const int idx = kept[static_cast<int>(std::lround(k * step))];
      if (thinned.empty() || thinned.back() != idx) thinned.push_back(idx);
    }
    kept = std::move(thinned);
  }
  if (std::find(kept.begin(), kept.end(), best_input) == kept.end()) {
    // Replace the nearest kept frame in time by the best one.
    auto nearest = std::min_element(kept.begin(), kept.end(), [&](int a, int b) {
      return std::abs(inputs[a].timestamp_ms - inputs[best_input].timestamp_ms) <
             std::abs(inputs[b].timestamp_ms - inputs[best_input].timestamp_ms);
    });
    *nearest = best_input;
    std::sort(kept.begin(), kept.end());
    kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  }

  CapturePackage package;
  const std::vector<int> params = {cv::IMWRITE_JPEG_QUALITY, options.jpeg_quality,
                                   cv::IMWRITE_JPEG_OPTIMIZE, 0};
  for (int i : kept) {
    const PackageInput& in = inputs[i];
    const cv::Rect crop = FaceCropRect(in.face, in.bgr.size(), options.crop_margin);
    if (crop.width < 2 || crop.height < 2) {
      return Status::BadInput("package.face_outside_frame",
                              "a face box lies outside its frame (t=" +
                                  std::to_string(in.timestamp_ms) + " ms)");
    }
    cv::Mat region = in.bgr(crop);
    const int longest = std::max(crop.width, crop.height);
    if (longest > options.max_side) {
      const double s = static_cast<double>(options.max_side) / longest;
      cv::resize(region, region,
                 cv::Size(std::max(1, static_cast<int>(std::lround(crop.width * s))),
                          std::max(1, static_cast<int>(std::lround(crop.height * s)))),
                 0, 0, cv::INTER_AREA);
    }
    PackageFrame f;
    // imencode writes only a JFIF APP0 header: no EXIF, XMP or ICC data.
    if (!cv::imencode(".jpg", region, f.jpeg, params)) {
      return Status::Internal("package.encode_failed", "JPEG encoding failed");
    }
    f.width = region.cols;
    f.height = region.rows;
    f.timestamp_ms = in.timestamp_ms;
    f.quality = in.quality;
    if (i == best_input) package.best_frame = static_cast<int>(package.frames.size());
    package.frames.push_back(std::move(f));
  }
  return package;
}

Status SetPackageDisplay(CapturePackage& package, std::vector<DisplayChange> changes, std::size_t max_changes) {
  if (changes.size() > max_changes) {
    return Status::BadInput("package.bad_display", std::to_string(changes.size()) + " screen changes, at most " +
                                                       std::to_string(max_changes));
  }
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const std::string& c = changes[i].rgb;
    bool ok = c == "none" || (c.size() == 7 && c[0] == '#');
    for (std::size_t k = 1; ok && c != "none" && k < 7; ++k) {
      ok = (c[k] >= '0' && c[k] <= '9') || (c[k] >= 'a' && c[k] <= 'f');
    }
    if (!ok) return Status::BadInput("package.bad_display", "screen colour \"" + c + "\" is not #rrggbb or none");
    if (i > 0 && std::llround(changes[i].timestamp_ms) <= std::llround(changes[i - 1].timestamp_ms)) {
      return Status::BadInput("package.bad_display", "screen changes must be in time order, a millisecond apart");
    }
  }
  package.display = std::move(changes);
  return Status::Ok();
}

}  // namespace livegate::client
