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
//   capture  - what the server does with a capture (src/server/capture_judge):
//              the segment's frames go through the judgement's observation
//              and quality judgement (judgement::ObserveCapture,
//              JudgeQuality, default policy), the quality's best frames
//              (policy quality.best_frames, 3) are described by the
//              server's FrameDescriber and averaged; distance of the two
//              averages. A segment the quality judgement refuses has no
//              capture template and is left out of every rule's pairs.
//   capture_spread - as capture, but the averaged frames are spread over
//              the segment (first, middle and last of the frames passing
//              quality) instead of the top quality scores: "diverse" frames.
//   photo_vs_capture - a single-image reference (the segment's first frame:
//              a batch-imported photo) against the other segment's capture
//              template: which threshold applies to batch references.
// Caveat: segments of one clip share lighting, camera and session, so these
// genuine pairs are easier than two captures days apart.
#pragma once

#include <filesystem>
#include <optional>
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

// The server's template of one capture: the mean of `frames` described
// best frames (absent when the quality judgement refused the segment).
struct CaptureTemplate {
  vision::Descriptor descriptor{};
  int frames = 0;
};

struct VideoSegment {
  std::size_t clip = 0;  // index into VideoReport::clips
  int segment = 0;
  std::vector<VideoFrameRecord> frames;  // acquired frames only
  std::optional<CaptureTemplate> capture;         // quality-best frames
  std::optional<CaptureTemplate> capture_spread;  // spread over the segment
};

enum class FusionRule { kSingle, kMean, kMin, kBest, kMedian, kCapture, kCaptureSpread, kPhotoVsCapture };
const char* FusionRuleName(FusionRule rule);
inline constexpr FusionRule kFusionRules[] = {FusionRule::kSingle,  FusionRule::kMean,
                                              FusionRule::kMin,     FusionRule::kBest,
                                              FusionRule::kMedian,  FusionRule::kCapture,
                                              FusionRule::kCaptureSpread, FusionRule::kPhotoVsCapture};

// The distance of two segments under a rule (both must hold >= 1 frame and,
// for the capture rules, a capture template). photo_vs_capture is not
// symmetric: `a` gives the photo, `b` the capture.
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
  // Segments with >= 1 acquired frame and a capture template; those the
  // quality judgement refused are counted here (left out of every rule).
  std::vector<VideoSegment> segments;
  int segments_quality_refused = 0;
  int best_frames = 0;  // quality.best_frames of the policy used
  std::vector<VideoRuleResult> rules;
  std::vector<double> thresholds;
  std::vector<std::pair<std::string, double>> fmr_targets;
  double seconds = 0;
};

// Pooled scores of the rules that set thresholds (capture_spread: live
// reference vs live probe; photo_vs_capture: batch-imported reference vs
// live probe): every genuine distance, the `lowest_impostors` lowest
// impostor distances and the impostor count (committed as
// eval/reference/identity_video_scores.json; tests/eval/operating_points_test.cc).
nlohmann::json VideoOperatingPointScores(const VideoReport& report, std::size_t lowest_impostors = 200);

// Per source (the clip's parent folder; a pair belongs to a source when
// both of its clips do) under one rule, decisions at `threshold`; last row:
// the genuine pairs of two different clips of one person (--same-person).
Table VideoSourceTable(const VideoReport& report, FusionRule rule, double threshold);

// Reasons: eval.no_clips, video.* of vision::ForEachVideoFrame, models.*.
Result<VideoReport> RunVideoEval(const VideoOptions& options);
Table VideoRuleTable(const VideoReport& report);
nlohmann::json ToJson(const VideoReport& report);

}  // namespace livegate::eval
