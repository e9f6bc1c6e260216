// FMR/FNMR/EER/DET (ISO/IEC 19795-1) and APCER/BPCER/ACER (ISO/IEC
// 30107-3). Definitions and the EER interpolation: see metrics.h.
#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace livegate::eval {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Status CheckFinite(const std::vector<double>& v) {
  for (double s : v) {
    if (!std::isfinite(s)) {
      return Status::BadInput("eval.non_finite_score", "a score is NaN or infinite");
    }
  }
  return Status::Ok();
}

// Counts for one threshold, on sorted copies (ascending).
OperatingPoint PointAt(const std::vector<double>& pos_sorted, const std::vector<double>& neg_sorted,
                       Polarity polarity, double threshold) {
  OperatingPoint p;
  p.threshold = threshold;
  p.positives = pos_sorted.size();
  p.negatives = neg_sorted.size();
  std::size_t pos_accepted;
  std::size_t neg_accepted;
  if (polarity == Polarity::kHigherIsPositive) {
    // accepted: score >= t
    pos_accepted = pos_sorted.end() - std::lower_bound(pos_sorted.begin(), pos_sorted.end(), threshold);
    neg_accepted = neg_sorted.end() - std::lower_bound(neg_sorted.begin(), neg_sorted.end(), threshold);
  } else {
    // accepted: score <= t
    pos_accepted = std::upper_bound(pos_sorted.begin(), pos_sorted.end(), threshold) - pos_sorted.begin();
    neg_accepted = std::upper_bound(neg_sorted.begin(), neg_sorted.end(), threshold) - neg_sorted.begin();
  }
  p.false_accepts = neg_accepted;
  p.false_rejects = p.positives - pos_accepted;
  p.far = static_cast<double>(p.false_accepts) / static_cast<double>(p.negatives);
  p.frr = static_cast<double>(p.false_rejects) / static_cast<double>(p.positives);
  return p;
}

std::vector<double> Sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

bool Accepts(Polarity polarity, double score, double threshold) {
  return polarity == Polarity::kHigherIsPositive ? score >= threshold : score <= threshold;
}

Status ValidateScores(const ScoreSet& scores) {
  if (scores.positives.empty()) {
    return Status::BadInput("eval.no_positives", "no genuine / bona fide scores");
  }
  if (scores.negatives.empty()) {
    return Status::BadInput("eval.no_negatives", "no impostor / attack scores");
  }
  LG_RETURN_IF_ERROR(CheckFinite(scores.positives));
  return CheckFinite(scores.negatives);
}

Result<OperatingPoint> AtThreshold(const ScoreSet& scores, double threshold) {
  LG_RETURN_IF_ERROR(ValidateScores(scores));
  return PointAt(Sorted(scores.positives), Sorted(scores.negatives), scores.polarity, threshold);
}

Result<std::vector<OperatingPoint>> ComputeDet(const ScoreSet& scores) {
  LG_RETURN_IF_ERROR(ValidateScores(scores));
  const auto pos = Sorted(scores.positives);
  const auto neg = Sorted(scores.negatives);
  std::vector<double> values;
  values.reserve(pos.size() + neg.size());
  values.insert(values.end(), pos.begin(), pos.end());
  values.insert(values.end(), neg.begin(), neg.end());
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());

  // Thresholds from the most lenient (the extreme score value itself, which
  // accepts everything) to the strictest (infinite: rejects everything).
  std::vector<double> thresholds;
  thresholds.reserve(values.size() + 1);
  if (scores.polarity == Polarity::kHigherIsPositive) {
    thresholds.insert(thresholds.end(), values.begin(), values.end());
    thresholds.push_back(kInf);
  } else {
    thresholds.insert(thresholds.end(), values.rbegin(), values.rend());
    thresholds.push_back(-kInf);
  }
  std::vector<OperatingPoint> det;
  det.reserve(thresholds.size());
  for (double t : thresholds) det.push_back(PointAt(pos, neg, scores.polarity, t));
  return det;
}

Result<EerResult> ComputeEer(const ScoreSet& scores) {
  LG_ASSIGN_OR_RETURN(auto det, ComputeDet(scores));
  // det[0] has FRR - FAR = -1 < 0, det.back() has +1 > 0.
  for (std::size_t i = 0; i < det.size(); ++i) {
    const double d = det[i].frr - det[i].far;
    if (d == 0) {
      EerResult r;
      r.eer = det[i].far;
      r.threshold = det[i].threshold;
      r.below = r.above = det[i];
      // Several consecutive points may share FAR == FRR (e.g. a 0/0 plateau
      // of a perfect separation): report the middle of that threshold range
      // when it is finite.
      std::size_t j = i;
      while (j + 1 < det.size() && det[j + 1].frr == det[j + 1].far) ++j;
      if (j != i) {
        r.above = det[j];
        if (std::isfinite(det[i].threshold) && std::isfinite(det[j].threshold)) {
          r.threshold = 0.5 * (det[i].threshold + det[j].threshold);
        }
      }
      return r;
    }
    if (d > 0) {
      const auto& p1 = det[i - 1];  // i >= 1 since det[0] has d < 0
      const auto& p2 = det[i];
      const double d1 = p1.frr - p1.far;  // < 0
      const double lambda = -d1 / (d - d1);
      EerResult r;
      r.eer = p1.far + lambda * (p2.far - p1.far);
      r.below = p1;
      r.above = p2;
      if (std::isfinite(p1.threshold) && std::isfinite(p2.threshold)) {
        r.threshold = p1.threshold + lambda * (p2.threshold - p1.threshold);
      } else {
        r.threshold = std::isfinite(p1.threshold) ? p1.threshold : p2.threshold;
      }
      return r;
    }
  }
  return Status::Internal("eval.eer_not_found", "DET curve without a crossing");
}

Result<OperatingPoint> AtFarTarget(const ScoreSet& scores, double target_far) {
  if (!(target_far >= 0 && target_far <= 1)) {
    return Status::InvalidArgument("eval.bad_target", "FAR target outside [0, 1]");
  }
  LG_ASSIGN_OR_RETURN(auto det, ComputeDet(scores));
  // FAR is non-increasing along det: the first point with FAR <= target is
  // the most lenient one.
  for (const auto& p : det) {
    if (p.far <= target_far) return p;
  }
  return det.back();  // unreachable: the last point has FAR = 0
}

Result<OperatingPoint> AtFrrTarget(const ScoreSet& scores, double target_frr) {
  if (!(target_frr >= 0 && target_frr <= 1)) {
    return Status::InvalidArgument("eval.bad_target", "FRR target outside [0, 1]");
  }
  LG_ASSIGN_OR_RETURN(auto det, ComputeDet(scores));
  for (auto it = det.rbegin(); it != det.rend(); ++it) {
    if (it->frr <= target_frr) return *it;
  }
  return det.front();  // unreachable: the first point has FRR = 0
}

Result<VerificationSummary> SummariseVerification(const ScoreSet& scores, double threshold) {
  VerificationSummary s;
  s.genuine = scores.positives.size();
  s.impostor = scores.negatives.size();
  LG_ASSIGN_OR_RETURN(s.eer, ComputeEer(scores));
  LG_ASSIGN_OR_RETURN(s.at_fmr_1pct, AtFarTarget(scores, 0.01));
  LG_ASSIGN_OR_RETURN(s.at_fmr_0_1pct, AtFarTarget(scores, 0.001));
  LG_ASSIGN_OR_RETURN(s.at_fmr_0_01pct, AtFarTarget(scores, 0.0001));
  LG_ASSIGN_OR_RETURN(s.at_threshold, AtThreshold(scores, threshold));
  return s;
}


namespace {

// P(X <= k) for X ~ Binomial(n, p), summed in log space (k is small where
// it matters: the few false matches near a strict threshold).
double BinomialCdf(std::size_t k, std::size_t n, double p) {
  if (p <= 0) return 1;
  if (p >= 1) return k >= n ? 1 : 0;
  const double lp = std::log(p);
  const double lq = std::log1p(-p);
  const double ln_n1 = std::lgamma(static_cast<double>(n) + 1);
  double sum = 0;
  for (std::size_t i = 0; i <= k && i <= n; ++i) {
    const double di = static_cast<double>(i);
    const double log_term = ln_n1 - std::lgamma(di + 1) - std::lgamma(static_cast<double>(n - i) + 1) +
                            di * lp + static_cast<double>(n - i) * lq;
    sum += std::exp(log_term);
  }
  return std::min(1.0, sum);
}

// Empirical quantile (nearest rank) of an ascending vector.
double Quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

double ClopperPearsonUpper(std::size_t k, std::size_t n, double confidence) {
  if (n == 0) return 1;
  if (k >= n) return 1;
  const double alpha = 1 - confidence;
  if (k == 0) return 1 - std::pow(alpha, 1.0 / static_cast<double>(n));
  // P(X <= k | p) decreases in p: bisection for the p where it equals alpha.
  double lo = 0, hi = 1;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    (BinomialCdf(k, n, mid) > alpha ? lo : hi) = mid;
  }
  return hi;
}

std::size_t ImpostorsNeeded(double target, double confidence) {
  // Smallest n with 1 - (1 - confidence)^(1/n) <= target.
  return static_cast<std::size_t>(std::ceil(std::log(1 - confidence) / std::log1p(-target)));
}

Result<FmrTargetPoint> AtFmrTargetWithBound(const ScoreSet& scores, double target, double confidence) {
  if (!(target > 0 && target < 1) || !(confidence > 0 && confidence < 1)) {
    return Status::InvalidArgument("eval.bad_target", "FMR target and confidence must lie in (0, 1)");
  }
  LG_ASSIGN_OR_RETURN(auto det, ComputeDet(scores));
  FmrTargetPoint r;
  r.target = target;
  r.confidence = confidence;
  r.impostors = scores.negatives.size();
  r.genuine = scores.positives.size();
  r.best_reachable_bound = ClopperPearsonUpper(0, r.impostors, confidence);
  r.supported = r.best_reachable_bound <= target;
  r.impostors_needed = ImpostorsNeeded(target, confidence);
  LG_ASSIGN_OR_RETURN(r.empirical, AtFarTarget(scores, target));
  // det runs from the most lenient point to "reject all"; the bound grows
  // with the false matches, so walk from the strict end and keep the last
  // point (most lenient) that still meets the requirement.
  const OperatingPoint* chosen = &det.back();
  for (auto it = det.rbegin(); it != det.rend(); ++it) {
    const bool ok = r.supported ? ClopperPearsonUpper(it->false_accepts, it->negatives, confidence) <= target
                                : it->false_accepts == 0;
    if (!ok) break;
    chosen = &*it;
  }
  r.point = *chosen;
  r.fmr_upper_bound = ClopperPearsonUpper(r.point.false_accepts, r.point.negatives, confidence);
  if (scores.negatives.size() >= 100) {
    // Lower-is-positive: the accepting tail is the low end; mirror otherwise.
    const bool low = scores.polarity == Polarity::kLowerIsPositive;
    std::vector<double> neg = scores.negatives;
    if (!low) {
      for (double& v : neg) v = -v;
    }
    std::sort(neg.begin(), neg.end());
    const double q01 = Quantile(neg, 0.01);
    const double q10 = Quantile(neg, 0.10);
    const double sigma = (q10 - q01) / (Probit(0.10) - Probit(0.01));
    if (sigma > 0) {
      const double mu = q10 - sigma * Probit(0.10);
      double t = mu + sigma * Probit(target);
      if (!low) t = -t;
      LG_ASSIGN_OR_RETURN(auto at, AtThreshold(scores, t));
      r.tail_model_threshold = t;
      r.tail_model_fnmr = at.frr;
    }
  }
  return r;
}

Result<PadAtThreshold> PadErrorsAt(const PadScores& scores, double threshold) {
  if (scores.bona_fide.empty()) {
    return Status::BadInput("eval.no_positives", "no bona fide scores");
  }
  std::size_t total_attacks = 0;
  for (const auto& [type, v] : scores.attacks) total_attacks += v.size();
  if (total_attacks == 0) return Status::BadInput("eval.no_negatives", "no attack scores");
  LG_RETURN_IF_ERROR(CheckFinite(scores.bona_fide));
  PadAtThreshold r;
  r.threshold = threshold;
  r.bona_fide = scores.bona_fide.size();
  for (double s : scores.bona_fide) {
    if (!Accepts(scores.polarity, s, threshold)) ++r.bona_fide_rejected;
  }
  r.bpcer = static_cast<double>(r.bona_fide_rejected) / static_cast<double>(r.bona_fide);
  std::size_t pooled_accepted = 0;
  bool first = true;
  for (const auto& [raw_type, v] : scores.attacks) {
    if (v.empty()) continue;
    LG_RETURN_IF_ERROR(CheckFinite(v));
    const std::string type = raw_type.empty() ? "attack" : raw_type;
    std::size_t accepted = 0;
    for (double s : v) {
      if (Accepts(scores.polarity, s, threshold)) ++accepted;
    }
    const double apcer = static_cast<double>(accepted) / static_cast<double>(v.size());
    r.apcer[type] = apcer;
    r.attacks[type] = v.size();
    r.attacks_accepted[type] = accepted;
    pooled_accepted += accepted;
    if (first || apcer > r.apcer_max) {
      r.apcer_max = apcer;
      r.apcer_max_type = type;
      first = false;
    }
  }
  r.apcer_pooled = static_cast<double>(pooled_accepted) / static_cast<double>(total_attacks);
  r.acer = 0.5 * (r.apcer_max + r.bpcer);
  return r;
}

Result<ScoreSet> PadScoreSet(const PadScores& scores, const std::string& type) {
  ScoreSet s;
  s.polarity = scores.polarity;
  s.positives = scores.bona_fide;
  if (type.empty()) {
    for (const auto& [t, v] : scores.attacks) s.negatives.insert(s.negatives.end(), v.begin(), v.end());
  } else {
    auto it = scores.attacks.find(type);
    if (it == scores.attacks.end()) {
      return Status::BadInput("eval.unknown_attack_type", "no attack type named '" + type + "'");
    }
    s.negatives = it->second;
  }
  return s;
}

double Probit(double p) {
  p = std::clamp(p, 1e-12, 1.0 - 1e-12);
  // Acklam's coefficients.
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  double x;
  if (p < kLow) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - kLow) {
    const double q = p - 0.5;
    const double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One Halley step on Phi(x) - p.
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  x = x - u / (1 + x * u / 2);
  return x;
}

}  // namespace livegate::eval
