// Calibration rules and leave-one-source-out folds (see calibration.h).
#include "eval/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace livegate::eval {
namespace {

// "Strict space": u = value when a higher threshold refuses more, -value
// otherwise; a session passes while threshold_u <= u.
double ToU(Strictness s, double v) { return s == Strictness::kHigherRefusesMore ? v : -v; }
double FromU(Strictness s, double u) { return s == Strictness::kHigherRefusesMore ? u : -u; }

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

}  // namespace

std::string StatusName(CalibrationResult::Status status) {
  switch (status) {
    case CalibrationResult::Status::kCalibrated: return "calibrated";
    case CalibrationResult::Status::kConflict: return "conflict";
    case CalibrationResult::Status::kInsufficientData: return "insufficient_data";
  }
  return "?";
}
std::string StrictnessName(Strictness s) {
  return s == Strictness::kHigherRefusesMore ? "higher refuses more" : "lower refuses more";
}
std::string OnConflictName(OnConflict c) {
  switch (c) {
    case OnConflict::kFavourBonaFide: return "favour bona fide";
    case OnConflict::kFavourAttack: return "favour attack";
  }
  return "?";
}

bool PassesAt(Strictness s, double value, double threshold) { return ToU(s, threshold) <= ToU(s, value); }

CalibrationResult Calibrate(const CalibrationRule& rule, std::span<const ThresholdSample> training, double shipped) {
  CalibrationResult r;
  r.threshold = shipped;
  const Strictness s = rule.strictness;
  std::vector<std::pair<double, const ThresholdSample*>> bf;  // (u, sample)
  std::set<std::string> bf_sources;
  const ThresholdSample* att = nullptr;
  double att_u = 0;
  for (const auto& t : training) {
    if (t.kind != ThresholdSample::Kind::kValue || !std::isfinite(t.value)) continue;
    const double u = ToU(s, t.value);
    if (t.bona_fide()) {
      bf.push_back({u, &t});
      bf_sources.insert(t.source);
      continue;
    }
    if (!rule.attack_bound) continue;
    if (!rule.attack_types.empty() &&
        std::find(rule.attack_types.begin(), rule.attack_types.end(), t.label) == rule.attack_types.end()) {
      continue;
    }
    ++r.attack_values;
    if (!att || u > att_u) att = &t, att_u = u;  // passes at the most thresholds
  }
  r.bona_fide_values = int(bf.size());
  r.bona_fide_sources = int(bf_sources.size());
  if (att) r.attack_edge = att->value, r.attack_edge_session = att->session;
  if (r.bona_fide_values < rule.min_bona_fide_sessions || r.bona_fide_sources < rule.min_bona_fide_sources) {
    r.status = CalibrationResult::Status::kInsufficientData;
    r.note = "kept the shipped value: " + std::to_string(r.bona_fide_values) + " bona fide values from " +
             std::to_string(r.bona_fide_sources) + " sources (the rule needs " +
             std::to_string(rule.min_bona_fide_sessions) + " from " + std::to_string(rule.min_bona_fide_sources) + ")";
    return r;
  }
  std::sort(bf.begin(), bf.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  // Nearest rank: floor(p * n) bona fide sessions may lie beyond the edge.
  const std::size_t k = std::min(bf.size() - 1, std::size_t(std::floor(rule.bona_fide_quantile * double(bf.size()))));
  const double edge_u = bf[k].first;
  r.bona_fide_edge = FromU(s, edge_u);
  r.bona_fide_edge_session = bf[k].second->session;
  const double t_bf = edge_u - rule.bona_fide_margin;
  const std::string bf_text = "bona fide edge " + Num(*r.bona_fide_edge) + " (" + *r.bona_fide_edge_session + ")";
  double t_u = t_bf;
  if (!att) {
    // Bona fide only: relax, never tighten.
    const double shipped_u = ToU(s, shipped);
    t_u = std::min(t_bf, shipped_u);
    r.status = CalibrationResult::Status::kCalibrated;
    r.note = bf_text + " with margin " + Num(rule.bona_fide_margin) +
             (t_u < t_bf ? " would tighten the shipped value without attack evidence: shipped value kept"
                         : ": relaxed from the shipped value") +
             (rule.attack_bound ? "; no attack of the listed types moved by it" : "; no attack bound by rule");
  } else {
    const double gap = edge_u - att_u;
    const std::string att_text = "attack edge " + Num(att->value) + " (" + att->session + ")";
    if (gap >= rule.bona_fide_margin + rule.attack_margin) {
      r.status = CalibrationResult::Status::kCalibrated;
      t_u = std::clamp(0.5 * (edge_u + att_u), att_u + rule.attack_margin, t_bf);
      r.note = "middle of the gap between " + bf_text + " and " + att_text + " (both margins kept)";
    } else {
      // Margins overlap, or the attack lies on the accepting side of the
      // bona fide: no evidence that a stricter value refuses attacks
      // without refusing bona fide.
      r.status = CalibrationResult::Status::kConflict;
      t_u = rule.on_conflict == OnConflict::kFavourAttack ? att_u + rule.attack_margin : std::min(t_bf, ToU(s, shipped));
      r.note = "conflict: " + att_text + (gap > 0 ? " is within the margins of " : " lies on the accepting side of ") +
               bf_text + " (gap " + Num(gap) + ", margins " + Num(rule.bona_fide_margin) + " + " +
               Num(rule.attack_margin) + "): " + OnConflictName(rule.on_conflict) +
               (rule.on_conflict == OnConflict::kFavourBonaFide ? " (never stricter than shipped)" : "");
    }
  }
  r.threshold = std::clamp(FromU(s, t_u), rule.lower_bound, rule.upper_bound);
  return r;
}

std::vector<Fold> LeaveOneSourceOut(const std::vector<std::string>& sources) {
  std::map<std::string, Fold> by;
  for (std::size_t i = 0; i < sources.size(); ++i) by[sources[i]].held_out = sources[i];
  for (auto& [name, f] : by) {
    for (std::size_t i = 0; i < sources.size(); ++i) (sources[i] == name ? f.test : f.train).push_back(i);
  }
  std::vector<Fold> out;
  for (auto& [name, f] : by) out.push_back(std::move(f));
  return out;
}

}  // namespace livegate::eval
