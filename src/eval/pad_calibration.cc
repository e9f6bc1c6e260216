// The calibrated thresholds of the PAD judgement and leave-one-source-out
// cross-validation over cached observations (see pad_calibration.h).
#include "eval/pad_calibration.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

namespace livegate::eval {
namespace {

namespace lj = livegate::judgement;
using json = nlohmann::json;
using S = Strictness;

const std::vector<std::string> kPlanarAttacks = {"print", "photo", "replay"};
const std::vector<std::string> kScreenAttacks = {"replay", "print"};

CalibrationRule Rule(S strictness, double bf_margin, double attack_margin, std::vector<std::string> attacks,
                     OnConflict on_conflict, double lo, double hi) {
  CalibrationRule r;
  r.strictness = strictness;
  r.bona_fide_quantile = 0.02;
  r.bona_fide_margin = bf_margin;
  r.attack_margin = attack_margin;
  r.attack_types = std::move(attacks);
  r.on_conflict = on_conflict;
  r.min_bona_fide_sessions = 5;
  r.min_bona_fide_sources = 3;
  r.lower_bound = lo;
  r.upper_bound = hi;
  return r;
}

// No attack in the corpus is what the threshold exists to refuse.
CalibrationRule BonaFideOnly(CalibrationRule r) {
  r.attack_bound = false;
  r.attack_types.clear();
  return r;
}

std::vector<ThresholdRow> BuildTable() {
  std::vector<ThresholdRow> t;
  // Geometry: a flat picture turned in front of the camera moves as a plane.
  t.push_back({"geometry.min_parallax",
               "parallax: RMS residual of the best homography over the rigid mesh points between the neutral and "
               "the most turned frames, in inter-eye distances / sin(turn) (median of up to 3 pairs)",
               {"geometry.planar", "photo.planar_motion"}, 0.0, 3.0, false, {},
               Rule(S::kHigherRefusesMore, 0.02, 0.02, kPlanarAttacks, OnConflict::kFavourBonaFide, 0.0, 3.0),
               "every session with a turn of >= geometry.min_yaw_span_deg (the others are not measurable)",
               "too high: real turning heads refused as planar (geometry.planar, photo.planar_motion); too low: a "
               "turned print, photo or screen passes the 3D test (the actions and photo checks remain)"});
  t.push_back({"continuity.max_speed_ied_per_s",
               "peak landmark speed between consecutive frames within +-45 deg yaw, inter-eye distances per second",
               {"continuity.implausible_motion"}, 1000.0, 0.0, false, {},
               BonaFideOnly(Rule(S::kLowerRefusesMore, 2.0, 0.0, {}, OnConflict::kFavourBonaFide, 0.0, 1000.0)),
               "every session with a face mesh on consecutive frames",
               "too low: fast real motion (expressive speech, broadcast cuts of the same face) refused "
               "(continuity.implausible_motion); too high: a spliced or jumping presentation is left to the slideshow "
               "and identity checks"});
  t.push_back({"continuity.max_identity_distance",
               "largest descriptor distance between the described near-frontal frames of the capture",
               {"continuity.identity_changed"}, 4.0, 0.0, false, {},
               BonaFideOnly(Rule(S::kLowerRefusesMore, 0.05, 0.0, {}, OnConflict::kFavourBonaFide, 0.0, 4.0)),
               "every session with >= 2 described near-frontal frames",
               "too low: a real person's own pose/expression spread refused (continuity.identity_changed); too high: "
               "a face swapped mid-capture passes (no such attack in the corpus)"});
  t.push_back({"continuity.max_frozen_fraction",
               "fraction of frames whose whole-frame change is under continuity.frozen_difference",
               {"continuity.frozen"}, 1.01, 0.0, false, {},
               Rule(S::kLowerRefusesMore, 0.05, 0.02, kPlanarAttacks, OnConflict::kFavourBonaFide, 0.0, 1.01),
               "every session with frame differences",
               "too low: a motionless real user refused (continuity.frozen); too high: a still picture with no "
               "tremor is left to the photo check"});
  t.push_back({"replay.moire_threshold",
               "per-frame moire peak (log band ratio); a session's value: the frame level above which "
               "replay.min_flagged_frames_pct of its face frames lie",
               {"replay.moire"}, 50.0, 0.0, false, {{"replay.border_threshold", 2.0}, {"replay.glare_threshold", 2.0}},
               Rule(S::kLowerRefusesMore, 0.1, 0.05, kScreenAttacks, OnConflict::kFavourBonaFide, 0.0, 50.0),
               "every session with a face (the passive screen cue)",
               "too low: soft or up-scaled real video refused as a screen (replay.moire); too high: a photographed "
               "screen's grid is not flagged (the challenge and geometry remain)"});
  t.push_back({"replay.border_threshold",
               "per-frame straight-frame evidence around the face (0..1, every border_every_n_frames frame); a "
               "session's value: the level above which min_flagged_frames_pct of its measured frames lie",
               {"replay.screen_border"}, 2.0, 0.0, false, {{"replay.moire_threshold", 50.0}, {"replay.glare_threshold", 2.0}},
               Rule(S::kLowerRefusesMore, 0.05, 0.02, kScreenAttacks, OnConflict::kFavourBonaFide, 0.0, 2.0),
               "every session with a face",
               "too low: door frames, shelves and monitors behind a real user refused (replay.screen_border); too "
               "high: a visible screen or paper edge is not flagged"});
  t.push_back({"replay.glare_threshold",
               "per-frame saturated specular fraction on the face; a session's value: the level above which "
               "min_flagged_frames_pct of its face frames lie",
               {"replay.glare"}, 2.0, 0.0, false, {{"replay.moire_threshold", 50.0}, {"replay.border_threshold", 2.0}},
               Rule(S::kLowerRefusesMore, 0.01, 0.005, kPlanarAttacks, OnConflict::kFavourBonaFide, 0.0, 2.0),
               "every session with a face",
               "too low: glasses and shiny skin refused (replay.glare); too high: a glossy print or screen glare is "
               "not flagged"});
  t.push_back({"replay.min_flagged_frames_pct",
               "the largest share (%) of face frames flagged by one passive screen cue at the shipped per-frame "
               "levels",
               {"replay.moire", "replay.screen_border", "replay.glare"}, 101.0, 0.0, true, {},
               Rule(S::kLowerRefusesMore, 5.0, 2.0, kScreenAttacks, OnConflict::kFavourBonaFide, 0.0, 101.0),
               "every session with a face",
               "too low: a few flagged frames (a passing reflection) refuse a real user; too high: a screen flagged "
               "on part of the capture is accepted (the issue's monitor replay: 15 % of frames)"});
  // Actions. The photo check's "blink or mouth" evidence reads the same
  // fields: a session whose other evidence suffices is not moved (no
  // vote); the mouth floor and the mouth delta combine as max(floor,
  // neutral + delta), so each is measured with the other at 0.
  t.push_back({"action.blink_closed_ratio",
               "deepest eye closure (mean of both eyes) relative to the user's neutral openness, where it is "
               "followed by a reopening (and inside the window when a blink is asked)",
               {"actions.missing:blink", "photo.no_facial_motion"}, 1.0, 0.0, false, {},
               Rule(S::kLowerRefusesMore, 0.05, 0.05, kPlanarAttacks, OnConflict::kFavourBonaFide, 0.05, 0.95),
               "sessions asking a blink, and every session on the photo check's evidence",
               "too low: real blinks (short, glasses, 15 fps) missed (actions.missing:blink, "
               "photo.no_facial_motion); too high: a photo's landmark noise reads as a blink"});
  t.push_back({"action.mouth_open_min",
               "widest inner-lip gap / mouth width (absolute floor of the open-mouth action)",
               {"actions.missing:open_mouth", "photo.no_facial_motion"}, 0.0, 2.0, false,
               {{"action.mouth_open_delta", 0.0}},
               Rule(S::kHigherRefusesMore, 0.03, 0.03, kPlanarAttacks, OnConflict::kFavourBonaFide, 0.05, 2.0),
               "sessions asking an open mouth, and every session on the photo check's evidence",
               "too high: a real opening refused (actions.missing:open_mouth); too low: speech or a photo's fit "
               "noise counts as an opening"});
  t.push_back({"action.mouth_open_delta",
               "widest inner-lip ratio above the user's rest (neutral) mouth",
               {"actions.missing:open_mouth", "photo.no_facial_motion"}, 0.0, 2.0, false,
               {{"action.mouth_open_min", 0.0}},
               Rule(S::kHigherRefusesMore, 0.03, 0.03, kPlanarAttacks, OnConflict::kFavourBonaFide, 0.02, 2.0),
               "sessions asking an open mouth, and every session on the photo check's evidence",
               "too high: a real opening from a parted-lips rest refused; too low: speech counts as an opening"});
  t.push_back({"action.turn_yaw_deg",
               "largest yaw departure from the lead-in neutral in the asked direction inside the window (turn "
               "actions) / over the capture (face_angle.no_turn), degrees",
               {"actions.missing:turn_left", "actions.missing:turn_right", "face_angle.no_turn"}, 0.0, 90.0, false, {},
               Rule(S::kHigherRefusesMore, 2.0, 2.0, kPlanarAttacks, OnConflict::kFavourBonaFide, 5.0, 45.0),
               "sessions asking a turn",
               "too high: a real but modest turn refused; too low: pose noise or a tilted sheet counts as a turn"});
  t.push_back({"action.nod_pitch_deg", "largest pitch departure from the lead-in neutral inside the window, degrees",
               {"actions.missing:nod"}, 0.0, 90.0, false, {},
               Rule(S::kHigherRefusesMore, 2.0, 2.0, kPlanarAttacks, OnConflict::kFavourBonaFide, 5.0, 45.0),
               "sessions asking a nod (none in the corpus yet: the shipped value is kept)",
               "too high: a real nod refused; too low: pitch noise counts as a nod"});
  t.push_back({"replay.min_colour_correlation",
               "correlation of the face chromaticity with the screen colours (actions+light)",
               {"replay.no_colour_response"}, -1.0, 1.0, false, {},
               Rule(S::kHigherRefusesMore, 0.05, 0.05, {"replay"}, OnConflict::kFavourBonaFide, -1.0, 1.0),
               "actions+light sessions (none recorded under a colour challenge: the shipped value is kept)",
               "too high: a real face under weak screen light refused; too low: a replay that ignores the colours "
               "passes"});
  return t;
}

std::vector<FixedThreshold> BuildFixed() {
  return {
      {"combine.threshold", "0.5 by construction: every check scores 0.5 at its own threshold"},
      {"geometry.min_yaw_span_deg", "a measurability gate (below 20 deg the FaceMesh noise and a head's parallax are of one size), not a decision"},
      {"face_angle 600 deg/s", "hard-coded in liveness.cc, not a policy field: calibratable once it becomes one (add a row)"},
      {"action.blink_reopen_ratio", "shape of the blink event (the eye must come back to 80 % of neutral); the closure depth is the calibrated part"},
      {"continuity.second_face_ratio / bystander_gap", "hard veto on unambiguous evidence (a second face near the main one); no multi-face attack in the corpus"},
      {"continuity.max_missing_face_frames", "hard veto (the face lost), structural"},
      {"continuity.frozen_difference / frozen_run_frames / jump_ied", "slideshow pattern (a hard veto); no slideshow attack in the corpus"},
      {"mask.min_model_score", "mask_cg is not a required check by default (weak model, docs/MODELS.md)"},
      {"capture.*", "protocol limits (frame counts, gaps, duration), not PAD thresholds"},
      {"quality.*", "the quality judgement (ISO/IEC 29794-5), not PAD"},
  };
}

std::pair<std::string, std::string> Split(const std::string& field) {
  const auto dot = field.find('.');
  if (dot == std::string::npos) return {field, ""};
  return {field.substr(0, dot), field.substr(dot + 1)};
}

Result<json> PolicyJson(const lj::Policy& p) {
  json j = json::parse(lj::PolicyToJson(p), nullptr, false);
  if (j.is_discarded()) return Status::Internal("policy.bad_json", "PolicyToJson produced unreadable JSON");
  return j;
}

Status SetInJson(json& j, const std::string& field, double value, bool integer) {
  const auto [sec, name] = Split(field);
  if (!j.contains(sec) || !j[sec].is_object() || !j[sec].contains(name)) {
    return Status::BadInput("policy.unknown_key", "no policy field " + field);
  }
  if (integer || j[sec][name].is_number_integer()) j[sec][name] = std::int64_t(std::llround(value));
  else j[sec][name] = value;
  return Status::Ok();
}

}  // namespace

const std::vector<ThresholdRow>& PadThresholdTable() {
  static const std::vector<ThresholdRow> table = BuildTable();
  return table;
}
const std::vector<FixedThreshold>& PadFixedThresholds() {
  static const std::vector<FixedThreshold> fixed = BuildFixed();
  return fixed;
}

Result<double> GetPolicyField(const lj::Policy& policy, const std::string& field) {
  LG_ASSIGN_OR_RETURN(json j, PolicyJson(policy));
  const auto [sec, name] = Split(field);
  if (!j.contains(sec) || !j[sec].contains(name) || !j[sec][name].is_number()) {
    return Status::BadInput("policy.unknown_key", "no numeric policy field " + field);
  }
  return j[sec][name].get<double>();
}

Result<lj::Policy> SetPolicyField(const lj::Policy& policy, const std::string& field, double value) {
  LG_ASSIGN_OR_RETURN(json j, PolicyJson(policy));
  LG_RETURN_IF_ERROR(SetInJson(j, field, value, false));
  return lj::PolicyFromJson(j.dump());
}

bool RefusedFor(const lj::LivenessVerdict& v, const std::vector<std::string>& reasons) {
  for (const auto& c : v.checks) {
    if (c.passed || !c.applicable) continue;
    for (const auto& r : reasons) {
      if (c.reason.rfind(r, 0) == 0) return true;
    }
  }
  return false;
}

Result<ThresholdSample> CriticalValue(const ThresholdRow& row, const ObservedSession& s, const lj::Policy& base) {
  ThresholdSample out;
  out.session = s.session.id;
  out.source = s.session.source;
  out.label = s.session.label;
  if (!s.error.empty() || s.fta || s.observations.empty()) {
    out.kind = ThresholdSample::Kind::kAlwaysPasses;
    return out;
  }
  LG_ASSIGN_OR_RETURN(json j, PolicyJson(base));
  for (const auto& [f, v] : row.isolate) LG_RETURN_IF_ERROR(SetInJson(j, f, v, false));
  Status failure;
  auto fires = [&](double t) {
    json k = j;
    Status st = SetInJson(k, row.field, t, row.integer);
    if (!st.ok()) {
      failure = st;
      return false;
    }
    auto p = lj::PolicyFromJson(k.dump());
    if (!p.ok()) {
      failure = p.status();
      return false;
    }
    return RefusedFor(lj::JudgeLiveness(s.session.challenge, s.observations, *p), row.reasons);
  };
  const bool at_permissive = fires(row.permissive);
  LG_RETURN_IF_ERROR(failure);
  if (at_permissive) {
    out.kind = ThresholdSample::Kind::kAlwaysRefused;
    out.value = row.permissive;
    return out;
  }
  if (!fires(row.strict)) {
    LG_RETURN_IF_ERROR(failure);
    out.kind = ThresholdSample::Kind::kAlwaysPasses;
    out.value = row.strict;
    return out;
  }
  // Bisection: `pass` is accepted, `fail` refused; the critical value is
  // the strictest accepted one.
  double pass = row.permissive, fail = row.strict;
  for (int it = 0; it < 40; ++it) {
    if (row.integer && std::abs(fail - pass) <= 1.0) break;
    if (!row.integer && std::abs(fail - pass) <= 1e-6 * std::max(1.0, std::abs(row.strict - row.permissive))) break;
    double mid = 0.5 * (pass + fail);
    if (row.integer) mid = std::round(mid);
    if (fires(mid)) fail = mid;
    else pass = mid;
    LG_RETURN_IF_ERROR(failure);
  }
  out.kind = ThresholdSample::Kind::kValue;
  out.value = pass;
  return out;
}

Result<std::vector<std::vector<ThresholdSample>>> CriticalValues(const std::vector<ThresholdRow>& rows,
                                                                 const std::vector<ObservedSession>& sessions,
                                                                 const lj::Policy& base) {
  std::vector<std::vector<ThresholdSample>> out(rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (const auto& s : sessions) {
      LG_ASSIGN_OR_RETURN(auto v, CriticalValue(rows[r], s, base));
      out[r].push_back(std::move(v));
    }
  }
  return out;
}

Result<CalibratedPolicy> CalibratePolicy(const std::vector<ThresholdRow>& rows,
                                         const std::vector<std::vector<ThresholdSample>>& critical,
                                         const std::vector<std::size_t>& train, const lj::Policy& base) {
  if (critical.size() != rows.size()) return Status::InvalidArgument("calibration.bad_table", "one sample list per row");
  CalibratedPolicy out;
  LG_ASSIGN_OR_RETURN(json j, PolicyJson(base));
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::vector<ThresholdSample> samples;
    for (std::size_t i : train) {
      if (i >= critical[r].size()) return Status::InvalidArgument("calibration.bad_index", "training index out of range");
      samples.push_back(critical[r][i]);
    }
    LG_ASSIGN_OR_RETURN(double shipped, GetPolicyField(base, rows[r].field));
    CalibrationResult c = Calibrate(rows[r].rule, samples, shipped);
    if (rows[r].integer && c.status != CalibrationResult::Status::kInsufficientData) {
      // Round towards the permissive side (the bona fide margin is kept).
      c.threshold = rows[r].rule.strictness == S::kHigherRefusesMore ? std::floor(c.threshold) : std::ceil(c.threshold);
    }
    LG_RETURN_IF_ERROR(SetInJson(j, rows[r].field, c.threshold, rows[r].integer));
    out.rows.push_back(std::move(c));
  }
  LG_ASSIGN_OR_RETURN(out.policy, lj::PolicyFromJson(j.dump()));
  return out;
}

Result<CvResult> CrossValidateBySource(const std::vector<ThresholdRow>& rows,
                                       const std::vector<std::vector<ThresholdSample>>& critical,
                                       const std::vector<ObservedSession>& sessions, const lj::Policy& base) {
  std::vector<std::string> sources;
  for (const auto& s : sessions) sources.push_back(s.session.source);
  CvResult out;
  out.verdicts.resize(sessions.size());
  for (auto& f : LeaveOneSourceOut(sources)) {
    CvFold fold;
    fold.held_out = f.held_out;
    fold.test = f.test;
    LG_ASSIGN_OR_RETURN(fold.calibrated, CalibratePolicy(rows, critical, f.train, base));
    for (std::size_t i : f.test) {
      const auto& s = sessions[i];
      if (!s.error.empty() || s.observations.empty()) {
        out.verdicts[i].live = false;
        out.verdicts[i].reason = s.error.empty() ? "eval.no_observations" : s.error;
        continue;
      }
      out.verdicts[i] = lj::JudgeLiveness(s.session.challenge, s.observations, fold.calibrated.policy);
    }
    out.folds.push_back(std::move(fold));
  }
  return out;
}

}  // namespace livegate::eval
