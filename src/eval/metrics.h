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

// ---- Operating points from a false-match target ---------------------------
//
// A security target is a bound, not a point estimate: "FMR <= 1e-4" must hold
// for the population, not only on the impostor pairs at hand. With n impostor
// pairs of which k are accepted at a threshold, the exact one-sided
// (Clopper-Pearson) upper confidence bound on the FMR is the p for which
// P(X <= k | n, p) = 1 - confidence. With k = 0 it is 1 - (1 - confidence)^(1/n)
// (about 3/n at 95 %, the "rule of three"), so a target below that cannot be
// shown by n pairs whatever the threshold: n >= ln(1/(1 - confidence)) / target
// impostor pairs are needed (29,956 for 1e-4 at 95 %, 299,572 for 1e-5).
// The bound treats pairs as independent; pairs that share images are not, so
// it is optimistic on sets with few identities.

// The exact one-sided upper bound (k <= n, n >= 1, confidence in (0, 1)).
double ClopperPearsonUpper(std::size_t k, std::size_t n, double confidence);
// Impostor pairs needed to show `target` with zero false matches.
std::size_t ImpostorsNeeded(double target, double confidence);

struct FmrTargetPoint {
  double target = 0;          // FMR target, e.g. 1e-4
  double confidence = 0.95;
  std::size_t impostors = 0;
  std::size_t genuine = 0;
  // True when the impostor count can show the target at all (the bound with
  // zero false matches is <= target).
  bool supported = false;
  // supported: the most lenient threshold whose upper bound is <= target.
  // Not supported: the most lenient threshold with zero false matches (at the
  // largest score below the lowest impostor score), the strictest claim the
  // data allow; its bound (fmr_upper_bound) is then above the target.
  OperatingPoint point;
  double fmr_upper_bound = 0;       // Clopper-Pearson upper bound at `point`
  double best_reachable_bound = 0;  // the bound with zero false matches
  std::size_t impostors_needed = 0;
  // The naive point (AtFarTarget: empirical FMR <= target, no bound).
  OperatingPoint empirical;
  // EXTRAPOLATION, not evidence: a normal fitted to the impostor scores'
  // tail by their 1 % and 10 % quantiles (needs >= 100 impostor pairs), read
  // at the target; the FNMR there is empirical. Absent otherwise.
  std::optional<double> tail_model_threshold;
  std::optional<double> tail_model_fnmr;
};
// Reasons: eval.bad_target (target or confidence outside (0, 1)), and those
// of ValidateScores.
Result<FmrTargetPoint> AtFmrTargetWithBound(const ScoreSet& scores, double target,
                                            double confidence = 0.95);

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
