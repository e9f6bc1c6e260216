// BlazeFace anchors, decoding and weighted NMS (see blazeface_decode.h).
#include "vision/blazeface_decode.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <opencv2/imgproc.hpp>

namespace livegate::vision {

namespace {

// Both detectors: 16x16 cells x 2 anchors, then 8x8 cells x 6 anchors.
std::vector<cv::Point2f> MakeAnchors(int input_size) {
  std::vector<cv::Point2f> a;
  a.reserve(kBlazeFaceAnchors);
  const struct { int cells, per_cell; } layers[] = {{16, 2}, {8, 6}};
  for (const auto& l : layers) {
    const float stride = static_cast<float>(input_size) / static_cast<float>(l.cells);
    for (int y = 0; y < l.cells; ++y) {
      for (int x = 0; x < l.cells; ++x) {
        for (int k = 0; k < l.per_cell; ++k) a.emplace_back((x + 0.5f) * stride, (y + 0.5f) * stride);
      }
    }
  }
  return a;
}

}  // namespace

const std::vector<cv::Point2f>& BlazeFaceAnchors(int input_size) {
  static const std::vector<cv::Point2f> back = MakeAnchors(256), front = MakeAnchors(128), none;
  return input_size == 256 ? back : input_size == 128 ? front : none;
}

float IoU(const cv::Rect2f& a, const cv::Rect2f& b) {
  const float inter = (a & b).area();
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

std::vector<BlazeFaceDetection> DecodeBlazeFace(const std::vector<float>& logits, const cv::Mat& regressors,
                                                float min_score, float nms_iou, int input_size) {
  const auto& anchors = BlazeFaceAnchors(input_size);
  std::vector<BlazeFaceDetection> candidates;
  if (anchors.empty() || logits.size() != anchors.size() || regressors.rows != static_cast<int>(anchors.size()) ||
      regressors.cols != 16 || regressors.type() != CV_32F) {
    return candidates;
  }
  // Compare in logit space: sigmoid only for the few that pass.
  const float min_logit = std::log(min_score / (1.f - min_score));
  for (size_t i = 0; i < anchors.size(); ++i) {
    if (!(logits[i] >= min_logit)) continue;
    const float* r = regressors.ptr<float>(static_cast<int>(i));
    const cv::Point2f a = anchors[i];
    BlazeFaceDetection d;
    const float cx = a.x + r[0], cy = a.y + r[1], w = r[2], h = r[3];
    if (!(w > 0 && h > 0)) continue;
    d.box = {cx - w / 2, cy - h / 2, w, h};
    for (int k = 0; k < 6; ++k) d.keypoints[k] = {a.x + r[4 + 2 * k], a.y + r[5 + 2 * k]};
    d.score = 1.f / (1.f + std::exp(-std::clamp(logits[i], -100.f, 100.f)));
    candidates.push_back(d);
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& x, const auto& y) { return x.score > y.score; });

  std::vector<BlazeFaceDetection> out;
  std::vector<bool> used(candidates.size(), false);
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (used[i]) continue;
    // Weighted average of every box overlapping the best remaining one.
    float wsum = 0;
    cv::Vec4f box(0, 0, 0, 0);
    std::array<cv::Point2f, 6> kp{};
    for (size_t j = i; j < candidates.size(); ++j) {
      if (used[j] || IoU(candidates[i].box, candidates[j].box) <= nms_iou) continue;
      used[j] = true;
      const auto& c = candidates[j];
      const float w = c.score;
      wsum += w;
      box += cv::Vec4f(c.box.x, c.box.y, c.box.x + c.box.width, c.box.y + c.box.height) * w;
      for (int k = 0; k < 6; ++k) kp[k] += c.keypoints[k] * w;
    }
    BlazeFaceDetection merged;
    merged.score = candidates[i].score;
    box /= wsum;
    merged.box = {box[0], box[1], box[2] - box[0], box[3] - box[1]};
    for (int k = 0; k < 6; ++k) merged.keypoints[k] = kp[k] / wsum;
    out.push_back(merged);
  }
  return out;
}

Letterbox LetterboxRgb(const cv::Mat& bgr, int side, cv::Mat& rgb_out) {
  Letterbox lb;
  lb.scale = static_cast<float>(side) / static_cast<float>(std::max(bgr.cols, bgr.rows));
  const int rw = std::clamp(static_cast<int>(std::lround(bgr.cols * lb.scale)), 1, side);
  const int rh = std::clamp(static_cast<int>(std::lround(bgr.rows * lb.scale)), 1, side);
  const int px = (side - rw) / 2, py = (side - rh) / 2;
  lb.offset = {static_cast<float>(px), static_cast<float>(py)};
  rgb_out.create(side, side, CV_8UC3);
  rgb_out.setTo(cv::Scalar::all(0));
  cv::Mat roi = rgb_out(cv::Rect(px, py, rw, rh));
  // Shrinking a lot: halve while at least 2x too big, then one linear step.
  // INTER_LINEAR at exactly 1/2 is OpenCV's fast 2x2 area average (at ~1/2,
  // for odd sizes, nearly the same). INTER_AREA at a non-integer ratio cost
  // 0.98 ms of CPU for 640x480 -> 256x192, this 0.15 ms. Each step maps the
  // whole image onto the whole output: the letterbox geometry stays exact.
  cv::Mat src = bgr, half, resized;
  while (src.cols >= 2 * rw && src.rows >= 2 * rh) {
    cv::resize(src, half, {(src.cols + 1) / 2, (src.rows + 1) / 2}, 0, 0, cv::INTER_LINEAR);
    src = half;
    half = cv::Mat();
  }
  cv::resize(src, resized, {rw, rh}, 0, 0, cv::INTER_LINEAR);
  cv::cvtColor(resized, roi, cv::COLOR_BGR2RGB);
  // Continuous coordinates (pixel i covers [i, i+1)), as the anchors are.
  lb.scale = static_cast<float>(rw) / bgr.cols;
  return lb;
}

}  // namespace livegate::vision
