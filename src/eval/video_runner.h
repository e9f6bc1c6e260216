// `livegate eval video`: multi-frame comparison measured on video clips
// (issue 14). Each clip is one person (one live capture); it is cut into
// `segments` equal spans and `frames_per_segment` frames are analysed in each
// (evenly spaced). A segment stands for one capture of several frames.
// Genuine pairs: two segments of one clip; impostor pairs: segments of two
// different clips. Each pair is scored by several rules:
//   single   - one frame each (the segment's first acquired frame): the
//              single-frame baseline;
//   mean     - distance between the segments' mean descriptors;
//   min      - the smallest frame-to-frame distance (any frame of A vs any of B);
//   best     - one frame each, the most frontal (smallest |yaw| + |pitch|);
//   median   - the median of all frame-to-frame distances.
// Caveat: segments of one clip share lighting, camera and session, so these
// genuine pairs are easier than two captures days apart.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "eval/report.h"
#include "livegate/status.h"
#include "vision/face_analyzer.h"

namespace livegate::eval {

struct VideoFrameRecord {
  int frame_index = 0;
  vision::Descriptor descriptor{};
  float yaw_deg = 0, pitch_deg = 0, face_width = 0;
};

struct VideoSegment {
  std::size_t clip = 0;  // index into VideoReport::clips
  int segment = 0;
  std::vector<VideoFrameRecord> frames;  // acquired frames only
};

enum class FusionRule { kSingle, kMean, kMin, kBest, kMedian };
const char* FusionRuleName(FusionRule rule);
inline constexpr FusionRule kFusionRules[] = {FusionRule::kSingle, FusionRule::kMean, FusionRule::kMin,
                                              FusionRule::kBest, FusionRule::kMedian};

// The distance of two segments under a rule (both must hold >= 1 frame).
double FusedDistance(FusionRule rule, const VideoSegment& a, const VideoSegment& b);

struct VideoOptions {
  std::vector<std::filesystem::path> clips;  // one person per clip
  // Identity label per clip (same size as clips, or empty = one person per
  // clip): clips with the same label are one person, so segments of two
  // such clips make genuine pairs ("different clips of one person").
  std::vector<std::string> identities;
  int segments = 4;
  int frames_per_segment = 5;
  std::vector<std::pair<std::string, double>> fmr_targets;
  std::vector<double> thresholds;  // decisions reported at these (the policy tiers')
  double confidence = 0.95;
  // Test-time augmentation per frame: average the descriptors of the aligned
  // chip and its mirror image (as `eval verify --mirror`).
  bool mirror = false;
  vision::AnalyzerOptions analyzer;
};

struct VideoRuleResult {
  FusionRule rule = FusionRule::kSingle;
  ScoreSet scores;
  std::optional<EerResult> eer;
  std::vector<FmrTargetPoint> points;        // per fmr target
  std::vector<OperatingPoint> at_thresholds;  // per threshold
};

struct VideoReport {
  std::vector<std::filesystem::path> clips;
  std::vector<std::string> identities;  // per clip
  std::vector<int> frames_analysed;  // per clip
  std::vector<int> frames_acquired;  // per clip
  std::vector<VideoSegment> segments;  // with >= 1 acquired frame
  std::vector<VideoRuleResult> rules;
  std::vector<double> thresholds;
  std::vector<std::pair<std::string, double>> fmr_targets;
  double seconds = 0;
};

// Reasons: eval.no_clips, video.* of vision::ForEachVideoFrame, models.*.
Result<VideoReport> RunVideoEval(const VideoOptions& options);
Table VideoRuleTable(const VideoReport& report);
nlohmann::json ToJson(const VideoReport& report);

}  // namespace livegate::eval
