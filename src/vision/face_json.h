// JSON form of a FaceAnalysis, shared by `livegate analyze` / `compare` and
// anyone who logs analysis results. Units: pixels for geometry, degrees for
// pose, dimensionless ratios for openness, 0..1 for scores.
#pragma once

#include <nlohmann/json.hpp>

#include "vision/face_analyzer.h"

namespace livegate::vision {

struct FaceJsonOptions {
  bool descriptor = false;  // include the 128 descriptor values
  bool mesh = false;        // include the 468 mesh points
};
nlohmann::json FaceAnalysisToJson(const FaceAnalysis& face, const FaceJsonOptions& options = {});

}  // namespace livegate::vision
