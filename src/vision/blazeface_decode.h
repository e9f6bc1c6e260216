// BlazeFace post-processing: the 896 SSD anchors of MediaPipe's face
// detectors - "back" (256 input, strides 16 and 32) and "front"/short-range
// (128 input, strides 8 and 16): the same 16x16x2 + 8x8x6 grid at half the
// scale - box/keypoint decoding, sigmoid scores and weighted non-maximum
// suppression; plus the letterbox that maps an image of any size into the
// square input and back.
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

namespace livegate::vision {

struct BlazeFaceDetection {
  cv::Rect2f box;                        // pixels of the space it was decoded in
  float score = 0;                       // sigmoid, 0..1
  std::array<cv::Point2f, 6> keypoints;  // r-eye, l-eye, nose, mouth, r-ear, l-ear
};

// Anchor centres in input pixels: 16x16 cells x 2 anchors, then 8x8 cells
// x 6 anchors, cell-major, as MediaPipe's SsdAnchorsCalculator (num_layers 4,
// offset 0.5, fixed anchor size; strides 16/32/32/32 for the back model's 256
// input, 8/16/16/16 for the front model's 128). `input_size` is 256 or 128;
// any other size has no anchors (empty: decoding then finds nothing).
const std::vector<cv::Point2f>& BlazeFaceAnchors(int input_size = 256);
constexpr int kBlazeFaceAnchors = 896;

// Decodes raw logits (896) and regressors (896 x 16, input pixels relative to
// the anchor centre) into detections above min_score, merged by weighted NMS
// (MediaPipe's WeightedNonMaxSuppression: overlapping boxes above nms_iou are
// averaged, weighted by score). Sorted by score, highest first. Boxes are in
// pixels of the model input (`input_size`, as BlazeFaceAnchors).
std::vector<BlazeFaceDetection> DecodeBlazeFace(const std::vector<float>& logits, const cv::Mat& regressors,
                                                float min_score, float nms_iou, int input_size = 256);

float IoU(const cv::Rect2f& a, const cv::Rect2f& b);

// Aspect-preserving fit of an image into a square of `side`, centred, padded
// with black. image = (p - offset) / scale.
struct Letterbox {
  float scale = 1;
  cv::Point2f offset;
  cv::Point2f ToImage(cv::Point2f p) const { return (p - offset) / scale; }
  cv::Rect2f ToImage(const cv::Rect2f& r) const {
    return {(r.x - offset.x) / scale, (r.y - offset.y) / scale, r.width / scale, r.height / scale};
  }
};
// Fills `rgb_out` (side x side, CV_8UC3, RGB) from a BGR image.
Letterbox LetterboxRgb(const cv::Mat& bgr, int side, cv::Mat& rgb_out);

}  // namespace livegate::vision
