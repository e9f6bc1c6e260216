// Internal helpers shared by the judgement's .cc files and its tests.
#pragma once

#include <vector>

#include <opencv2/core.hpp>

#include "judgement/types.h"
#include "vision/face_analyzer.h"

namespace livegate::judgement {

// FaceMesh indices kept in FrameObservation::landmarks (rigid points).
const std::vector<int>& RigidMeshIndices();

// Fills the image measures of `o` (sharpness, exposure, uniformity,
// blockiness, colours, moiré, border, glare) for the face `box`.
void MeasureFaceImage(const cv::Mat& bgr, const cv::Mat& grey, const cv::Rect2f& box,
                      FrameObservation& o, bool with_border = true);

// Builds an observation from the analyzer's faces (largest first); `main`
// is the index of the face being authenticated.
FrameObservation ObserveFrame(int index, std::int64_t timestamp_ms, const cv::Mat& bgr,
                              const std::vector<vision::FaceAnalysis>& faces, int main = 0);

// The largest width ratio (other / main) among the other faces that are
// near the main face: overlapping it or closer than `bystander_gap` main-face
// widths (box to box). Farther faces are bystanders. 0 when none.
float NearFaceRatio(const FrameObservation& o, float bystander_gap);

// Residual RMS of the best homography mapping `a` to `b`, in units of
// `scale` (inter-eye distance). < 0 when it cannot be computed.
float PlanarityResidual(const std::vector<cv::Point2f>& a, const std::vector<cv::Point2f>& b,
                        float scale);

}  // namespace livegate::judgement
