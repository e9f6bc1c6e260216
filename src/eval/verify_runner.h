// `livegate eval verify`: accuracy of the comparison function (R-SRV-CMP-1)
// on an identity-labelled image tree, reported per source as ISO/IEC 19795-1
// figures (FTA, EER, FNMR at FMR = 1 % and 0.1 %, decisions at the operating
// threshold), the evidence X.1279 section 11 item 2 asks for.
//
// Tree layout: DIR/<source>/<identity>/<image>. When DIR's own subfolders
// hold images directly, DIR is one source (its folder name) whose subfolders
// are identities (e.g. dlib's examples/johns). Folders whose name starts with
// "_multi" or "_edge" are skipped (multi-face / odd images by convention);
// files that are not images by extension are ignored.
//
// Pairs: every unordered pair of acquired images within one source; genuine
// when both have the same identity folder, impostor otherwise. Images are
// never paired across sources (labels are per source).
//
// Same-photo variants: when a MANIFEST.tsv (columns staged_path, repo,
// commit, original_path, license, label, notes) is found, files it marks as
// several renderings of ONE photo (notes "same photo at <res>" in one folder
// with the same stem once "-<res>p" is removed, or "crop of <path>" where
// <path> is another row's original_path or a '/'-bounded suffix of it, same
// repository) form a photo group. Genuine pairs inside a photo group
// are excluded (they are not independent genuine comparisons) and counted
// apart; every such image still takes part in impostor pairs and in FTA.
//
// Failure to acquire: an image that cannot be decoded, has no face, or whose
// largest face gets no descriptor (tiny) counts toward FTA; its pairs are not
// scored (counted as "pairs lost to FTA").
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "eval/report.h"
#include "livegate/default_policy.h"
#include "livegate/status.h"
#include "vision/face_analyzer.h"

namespace livegate::eval {

// One entry per distinct FMR target of the default policy's tiers, labelled
// with the tiers that use it (e.g. {"low, medium", 1e-4}, {"high", 1e-5}).
std::vector<std::pair<std::string, double>> DefaultFmrTargets();

struct VerifyOptions {
  std::filesystem::path data_dir;
  // MANIFEST.tsv for same-photo groups; empty = look for one in data_dir and
  // up to three parent folders; none found = no groups.
  std::filesystem::path manifest;
  double threshold = vision::kDefaultCompareThreshold;  // distance <= t: same
  // False-match targets to set operating points for, each with a label (the
  // policy tiers that use it); default: the default policy's tiers.
  std::vector<std::pair<std::string, double>> fmr_targets = DefaultFmrTargets();
  double confidence = 0.95;  // one-sided, for the FMR upper bound
  // Test-time augmentation: average the descriptor of the aligned chip and of
  // its mirror image (detect path only).
  bool mirror = false;
  // Quality-aware exclusion: acquired images whose face is narrower than
  // min_face_width px, turned more than max_abs_yaw degrees, or whose chip
  // sharpness (variance of the Laplacian of the grey chip) is below
  // min_sharpness are left out of pairs (counted apart). 0 = off.
  double min_face_width = 0;
  double max_abs_yaw = 0;
  double min_sharpness = 0;
  // Feed every image, which must be a 150x150 dlib-aligned chip, straight to
  // the descriptor network (no detection, no alignment).
  bool aligned_chips = false;
  int threads = 2;  // one analyzer (or descriptor model) per thread
  vision::AnalyzerOptions analyzer;  // used unless aligned_chips
  // Called from worker threads (serialised) after each image; may be empty.
  std::function<void(std::size_t done, std::size_t total)> progress;
};

struct ImageRecord {
  std::filesystem::path path;
  std::string source;
  std::string identity;
  std::string photo_group;   // empty = its own photo
  bool acquired = false;
  std::string failure;       // Status reason or "face.none" / "face.tiny"
  int faces = 0;             // faces found (detect path)
  vision::Descriptor descriptor{};
  // Quality measures of the compared face (detect path).
  float face_width = 0;   // detector box, px
  float yaw_deg = 0;
  float pitch_deg = 0;
  double sharpness = 0;   // variance of the Laplacian of the grey 150x150 chip
  bool quality_excluded = false;  // acquired but left out by the quality rule
};

struct PairScore {
  std::size_t a = 0;  // indices into SourceResult::images
  std::size_t b = 0;
  bool genuine = false;
  double distance = 0;
  bool accepted = false;  // vision::CompareDescriptors(...).same at the threshold
};

struct SourceResult {
  std::string name;
  std::size_t identities = 0;
  std::vector<ImageRecord> images;
  std::size_t images_failed = 0;
  double fta_rate = 0;
  // Pairs among ALL images of the source (before FTA), same-photo genuine
  // pairs excluded from genuine_possible.
  std::size_t genuine_possible = 0;
  std::size_t impostor_possible = 0;
  std::size_t genuine_same_photo_excluded = 0;
  std::vector<PairScore> pairs;    // scored pairs (both images acquired)
  std::size_t genuine_scored = 0;
  std::size_t impostor_scored = 0;
  ScoreSet scores;                 // distances, Polarity::kLowerIsPositive
  // Absent when the source has no scored genuine or no scored impostor pair.
  std::optional<VerificationSummary> summary;
  // Decisions at the threshold (always filled; genuine_accepted +
  // genuine_rejected == genuine_scored, same for impostors).
  std::size_t genuine_accepted = 0;
  std::size_t genuine_rejected = 0;
  std::size_t impostor_accepted = 0;
  std::size_t impostor_rejected = 0;
  std::size_t images_quality_excluded = 0;
  std::vector<FmrTargetPoint> operating_points;  // one per VerifyOptions::fmr_targets
};

struct VerifyReport {
  std::string mode;       // "detect+align" or "aligned-chips"
  double threshold = 0;
  std::filesystem::path data_dir;
  std::filesystem::path manifest;  // empty when none used
  int threads = 1;
  double seconds = 0;     // wall time of the analysis
  std::vector<SourceResult> sources;
  double seconds_per_image = 0;
  bool mirror = false;
  std::vector<std::pair<std::string, double>> fmr_targets;
  double confidence = 0.95;
  // All sources' pairs together (pairs never cross sources).
  ScoreSet pooled;
  std::vector<FmrTargetPoint> pooled_points;  // absent entries: no summary possible
  // Fairness check: per identity, genuine pairs refused at each pooled
  // operating point, worst first.
  struct IdentityErrors {
    std::string source, identity;
    std::size_t genuine = 0, rejected = 0;
    double fnmr = 0;
  };
  std::vector<std::vector<IdentityErrors>> worst_identities;  // [target][rank]
};

// The shipping rule of docs/EVALUATION.md ("Operating points"): the
// operating point's threshold rounded DOWN to 0.01 (towards fewer false
// matches). Used for the shipped policy and for cross-validation.
double ShippedThreshold(const FmrTargetPoint& point);

// Leave-one-source-out cross-validation of the shipping rule: for each
// source S with genuine pairs, the rule is applied to the pooled scores of
// every OTHER source, and S is scored at that threshold - how the rule does
// on a source it was not set on. Next to it, the in-sample figure: S at the
// rule applied to all sources (the shipped threshold).
struct CvFold {
  std::string held_out;
  std::size_t train_impostors = 0;
  bool train_supported = false;     // the training impostors can show the target
  double train_point = 0;           // the rule's operating point before rounding
  double cv_threshold = 0;          // rounded down to 0.01
  OperatingPoint held_out_at_cv;    // FNMR / FM of S at cv_threshold
  OperatingPoint held_out_in_sample;  // S at the in-sample (all sources) threshold
};
struct CvResult {
  std::string target_label;
  double target = 0;
  double in_sample_threshold = 0;  // the rule on all sources (shipped)
  std::vector<CvFold> folds;
  // Pooled over folds: every source's genuine and impostor pairs decided at
  // its own fold's threshold.
  std::size_t genuine = 0, false_rejects = 0, impostors = 0, false_accepts = 0;
  std::size_t in_sample_false_rejects = 0, in_sample_false_accepts = 0;
};
// Reasons: those of AtFmrTargetWithBound. Empty when fewer than 2 sources.
Result<std::vector<CvResult>> CrossValidateBySource(const VerifyReport& report);
Table CrossValidationTable(const std::vector<CvResult>& cv);
nlohmann::json ToJson(const std::vector<CvResult>& cv);

// The operating-point table (pooled first, then per source).
Table OperatingPointTable(const VerifyReport& report);
// The worst identities at each pooled operating point (top `limit`).
Table WorstIdentityTable(const VerifyReport& report, std::size_t limit = 10);

// Reasons: eval.data_dir_missing, eval.no_sources, eval.manifest_unreadable,
// and the model loading errors of vision (models.*).
Result<VerifyReport> RunVerify(const VerifyOptions& options);

// The per-source summary (one row per source).
Table VerifySummaryTable(const VerifyReport& report);
nlohmann::json ToJson(const VerifyReport& report);
// Writes summary.csv, summary.json, det.csv, pairs.csv, images.csv and
// report.html (DET curves of every source with a summary) into out_dir.
// The pooled scores needed to recompute the strict operating points: every
// genuine distance, the `lowest_impostors` lowest impostor distances and the
// impostor count (written as operating_point_scores.json; a copy is
// committed as eval/reference/identity_operating_point_scores.json).
nlohmann::json OperatingPointScores(const VerifyReport& report, std::size_t lowest_impostors = 200);
Status WriteVerifyReport(const VerifyReport& report, const std::filesystem::path& out_dir);

}  // namespace livegate::eval
