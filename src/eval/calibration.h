// Threshold calibration rules and leave-one-source-out folds (issue 13).
//
// A threshold is calibrated on per-session *critical values*: for each
// session, the threshold value at which the check it governs turns from
// accepting to refusing that session (src/eval/pad_calibration.h finds them
// by re-judging cached observations). A rule turns the critical values of
// the training sessions into a threshold:
//
//   bona fide edge = the bona fide critical value at the rule's quantile on
//                    the accepting side (p = 0.02: the 2nd percentile, nearest
//                    rank; with fewer than 50 sessions the extreme one);
//   attack edge    = the most bona-fide-like critical value among the attacks
//                    the threshold exists to refuse (rule.attack_types);
//   gap            = how far the attack edge lies on the refusing side of the
//                    bona fide edge.
//   - no attack bound (the rule has none, or no such attack moved): the
//     bona fide edge with bona_fide_margin, or the shipped value if that is
//     more permissive: bona fide data alone may relax a threshold, never
//     tighten it (tightening needs attack evidence);
//   - gap >= both margins: the middle of the gap, kept at least
//     bona_fide_margin from the bona fide and attack_margin from the attacks
//     (status calibrated);
//   - otherwise (the margins overlap, or the attack lies on the accepting
//     side of the bona fide edge: this threshold cannot refuse it without
//     refusing bona fide): a conflict, reported; kFavourBonaFide keeps the
//     bona fide edge with its margin, never stricter than shipped;
//     kFavourAttack takes the attack edge with its margin.
//   So a threshold is only tightened on evidence: an attack it separates
//   from every training bona fide with both margins.
//
// Sessions the threshold cannot move (the check accepts, or refuses for
// another reason, at every value of the range) carry no critical value and
// do not vote. With fewer than min_bona_fide_sessions bona fide values or
// fewer than min_bona_fide_sources distinct sources, the shipped value is
// kept (no threshold is set from a single clip or a single source).
//
// Pure: no judgement types, usable with synthetic tables (tests/eval).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace livegate::eval {

// Which way moving the threshold refuses more sessions.
enum class Strictness {
  kHigherRefusesMore,  // e.g. a minimum parallax: a session passes while threshold <= its value
  kLowerRefusesMore,   // e.g. a maximum speed: a session passes while threshold >= its value
};

// What an inseparable conflict (the most bona-fide-like attack lies on the
// accepting side of the bona fide edge) resolves to.
enum class OnConflict {
  kFavourBonaFide,  // the bona fide edge with its margin, never stricter than shipped
  kFavourAttack,    // the attack edge with its margin (the bona fide beyond are refused)
};

struct CalibrationRule {
  Strictness strictness = Strictness::kHigherRefusesMore;
  double bona_fide_quantile = 0.02;  // share of training bona fide allowed beyond the edge
  double bona_fide_margin = 0;       // measure units, towards the permissive side
  double attack_margin = 0;          // measure units, towards the refusing side
  // False: no attack in the corpus is what this threshold exists to refuse
  // (e.g. a speed limit against spliced video): bona fide data only, and
  // then only to relax.
  bool attack_bound = true;
  // Attack labels the threshold exists to refuse; empty = every attack.
  std::vector<std::string> attack_types;
  OnConflict on_conflict = OnConflict::kFavourBonaFide;
  int min_bona_fide_sessions = 5;
  int min_bona_fide_sources = 3;
  // The calibrated value is clamped into [lower_bound, upper_bound] (the
  // range the policy field can take).
  double lower_bound = -1e300, upper_bound = 1e300;
};

struct ThresholdSample {
  std::string session, source, label;  // label: "bona_fide" or an attack type
  enum class Kind {
    kValue,          // value = the critical threshold
    kAlwaysPasses,   // the threshold never refuses this session (n/a, or masked)
    kAlwaysRefused,  // refused at every value (another cause of the same check)
  } kind = Kind::kValue;
  double value = 0;
  bool bona_fide() const { return label == "bona_fide"; }
};

struct CalibrationResult {
  enum class Status {
    kCalibrated,        // both margins kept, or bona fide only (no attack bound)
    kConflict,          // margins overlap, or attacks inseparable: see note
    kInsufficientData,  // too few bona fide values or sources: shipped value kept
  } status = Status::kInsufficientData;
  double threshold = 0;
  std::optional<double> bona_fide_edge;  // at the quantile
  std::optional<std::string> bona_fide_edge_session;
  std::optional<double> attack_edge;     // most bona-fide-like attack
  std::optional<std::string> attack_edge_session;
  int bona_fide_values = 0, bona_fide_sources = 0, attack_values = 0;
  std::string note;  // one line: what decided the value
};

std::string StatusName(CalibrationResult::Status status);
std::string StrictnessName(Strictness s);
std::string OnConflictName(OnConflict c);

// True when a session with critical value `value` passes at `threshold`.
bool PassesAt(Strictness s, double value, double threshold);

// Applies the rule to the training samples (callers pass only training
// sessions: the held-out source must not be among them).
CalibrationResult Calibrate(const CalibrationRule& rule, std::span<const ThresholdSample> training, double shipped);

// Leave-one-source-out folds over items labelled with their source: one
// fold per distinct source (sorted by name); test = that source's items,
// train = every other item. Indices into `sources`.
struct Fold {
  std::string held_out;
  std::vector<std::size_t> train, test;
};
std::vector<Fold> LeaveOneSourceOut(const std::vector<std::string>& sources);

}  // namespace livegate::eval
