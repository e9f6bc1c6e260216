// Error-rate metrics for biometric verification (ISO/IEC 19795-1 terms:
// FMR, FNMR, EER, DET) and presentation attack detection (ISO/IEC 30107-3:
// APCER per attack type, BPCER, ACER, DET). Pure functions of score lists:
// the evaluation runners (`livegate eval verify`, `livegate eval pad`) and the
// threshold justification of X.1279 section 11 item 2 (comparison threshold
// set for FMR <= 1e-4, defaults justified by recorded evaluation runs) use them.
//
// One model for both: a score list of POSITIVES (genuine / mated comparisons,
// or bona fide presentations) and NEGATIVES (impostor / non-mated
// comparisons, or attack presentations). A threshold t ACCEPTS a sample when
//   Polarity::kHigherIsPositive : score >= t   (similarity, liveness score)
//   Polarity::kLowerIsPositive  : score <= t   (distance, e.g. descriptor L2)
// (the boundary is inclusive in both cases).
//   false accept rate  = accepted negatives / negatives  = FMR   | APCER
//   false reject rate  = rejected positives / positives  = FNMR  | BPCER
//
// EER: the empirical operating points (one per distinct score, plus "accept
// all" and "reject all") form a staircase. The EER is where the straight
// segment joining the two consecutive points between which (FRR - FAR)
// changes sign crosses the line FAR = FRR; if some point has FAR == FRR
// exactly, that value. The EER threshold is interpolated along the same
// segment (linear in the threshold). When positives and negatives are
// perfectly separated the EER is 0.
//
// "FRR at FAR = x" (e.g. FNMR at FMR = 1 %): the operating point with the
// most lenient threshold whose FAR <= x (no interpolation: the reported FAR is
// what that threshold really achieves). With fewer than 1/x negatives this is
// a point with FAR = 0; callers should print the negative count beside it.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "livegate/status.h"

namespace livegate::eval {

enum class Polarity {
  kHigherIsPositive,  // similarity / bona fide score
  kLowerIsPositive,   // distance
};

struct ScoreSet {
  std::vector<double> positives;  // genuine (mated) | bona fide
  std::vector<double> negatives;  // impostor (non-mated) | attack
  Polarity polarity = Polarity::kLowerIsPositive;
};

// One decision threshold and what it does to the score set.
struct OperatingPoint {
  double threshold = 0;           // +-infinity only for the "reject all" end
  double far = 0;                 // false accept rate: FMR | APCER
  double frr = 0;                 // false reject rate: FNMR | BPCER
  std::size_t false_accepts = 0;  // negatives accepted
  std::size_t false_rejects = 0;  // positives rejected
  std::size_t negatives = 0;
  std::size_t positives = 0;
};

// True when `score` is accepted at `threshold` under `polarity`.
bool Accepts(Polarity polarity, double score, double threshold);

// Reasons: eval.no_positives, eval.no_negatives, eval.non_finite_score
Status ValidateScores(const ScoreSet& scores);

// Rates at one threshold.
Result<OperatingPoint> AtThreshold(const ScoreSet& scores, double threshold);

// The full empirical DET/ROC curve: one point per distinct score value (the
// threshold set to that value), from the most lenient (the extreme score:
// FAR = 1, FRR = 0) to "reject all" (threshold +inf for kHigherIsPositive,
// -inf for kLowerIsPositive: FAR = 0, FRR = 1). FAR is non-increasing and FRR
// non-decreasing along the vector.
Result<std::vector<OperatingPoint>> ComputeDet(const ScoreSet& scores);

struct EerResult {
  double eer = 0;
  double threshold = 0;      // interpolated threshold at the EER
  OperatingPoint below;      // the two empirical points bracketing the crossing
  OperatingPoint above;      // (equal when a point has FAR == FRR exactly)
};
Result<EerResult> ComputeEer(const ScoreSet& scores);

// The most lenient operating point with FAR <= target_far (see file comment).
// Reason: eval.bad_target (target outside [0, 1]).
Result<OperatingPoint> AtFarTarget(const ScoreSet& scores, double target_far);
// The strictest operating point with FRR <= target_frr (e.g. APCER at
// BPCER = 5 %). Reason: eval.bad_target.
Result<OperatingPoint> AtFrrTarget(const ScoreSet& scores, double target_frr);

// Everything `eval verify` prints for one score set.
struct VerificationSummary {
  std::size_t genuine = 0;
  std::size_t impostor = 0;
  EerResult eer;
  OperatingPoint at_fmr_1pct;     // FNMR at FMR = 1 %
  OperatingPoint at_fmr_0_1pct;   // FNMR at FMR = 0.1 %
  OperatingPoint at_fmr_0_01pct;  // FNMR at FMR = 0.01 % (X.1279 s.11 item 2 target)
  OperatingPoint at_threshold;    // the operating threshold's decisions
};
Result<VerificationSummary> SummariseVerification(const ScoreSet& scores, double threshold);

// ---- Presentation attack detection (ISO/IEC 30107-3) ----------------------

struct PadScores {
  std::vector<double> bona_fide;
  // Attack presentations per attack type (PAI species), e.g. "print",
  // "replay". An empty type name is allowed but reported as "attack".
  std::map<std::string, std::vector<double>> attacks;
  Polarity polarity = Polarity::kHigherIsPositive;  // higher = more bona fide
};

struct PadAtThreshold {
  double threshold = 0;
  double bpcer = 0;                          // bona fide rejected / bona fide
  std::size_t bona_fide = 0;
  std::size_t bona_fide_rejected = 0;
  std::map<std::string, double> apcer;       // per attack type
  std::map<std::string, std::size_t> attacks;           // count per type
  std::map<std::string, std::size_t> attacks_accepted;  // per type
  double apcer_max = 0;                      // worst attack type (30107-3)
  std::string apcer_max_type;
  double apcer_pooled = 0;                   // all attacks pooled (informative)
  // ACER = (APCER_max + BPCER) / 2. 30107-3:2017 discourages it (it mixes
  // two error kinds); reported because common benchmarks (OULU-NPU) use it.
  double acer = 0;
};
// Reasons: eval.no_positives (no bona fide), eval.no_negatives (no attacks),
// eval.non_finite_score.
Result<PadAtThreshold> PadErrorsAt(const PadScores& scores, double threshold);

// The ScoreSet of bona fide vs one attack type (`type`), or vs all attacks
// pooled (`type` empty): feed it to ComputeDet / ComputeEer / AtFrrTarget.
// Reason: eval.unknown_attack_type.
Result<ScoreSet> PadScoreSet(const PadScores& scores, const std::string& type = {});

// ---- Normal deviate (probit) for DET axes ---------------------------------

// Inverse of the standard normal CDF, p in (0, 1); clamps p to
// [1e-12, 1 - 1e-12]. Acklam's rational approximation refined by one
// Halley step (|error| < 1e-12).
double Probit(double p);

}  // namespace livegate::eval
