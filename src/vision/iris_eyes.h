// Eye openness from MediaPipe Iris (R-ASD-1 blink, R-ASD-5 "a still picture
// cannot blink"; used by the judgement's Iris cascade and by the analyzer
// when AnalyzerOptions::compute_iris is set).
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "livegate/status.h"
#include "vision/models.h"

namespace livegate::vision {

// Eye openness {right, left} (lid gap / eye width, as the FaceMesh
// measure) from MediaPipe Iris's 71-point eye contour, run on a 64x64 crop
// of each eye placed from the FaceMesh eye corners (2.3 eye widths, turned
// with the eye line; the left eye mirrored, as MediaPipe feeds it). The
// 468-point mesh alone does not close its eyelids: a fully closed eye reads
// about 0.55 of the open one, both eyes alike even in a wink (lp-d6,
// lp-d13 in eval/manifests); the iris contour reads 0.05-0.15 closed.
// Errors: vision.no_mesh (no 468-point mesh, degenerate eye corners, not a
// BGR frame); model.* from the Iris network.
Result<std::array<float, 2>> IrisEyeOpenness(const cv::Mat& bgr, const std::vector<cv::Point3f>& mesh,
                                             IrisModel& iris);

}  // namespace livegate::vision
