// Policy (de)serialisation: JSON with one object per section; unknown keys
// and wrong types are refused (decision 11.2).
#include "judgement/policy.h"

#include <set>

#include <nlohmann/json.hpp>

namespace livegate::judgement {
namespace {

using json = nlohmann::json;

template <class F>
void Visit(ChallengePolicy& p, F&& f) {
  f("num_actions", p.num_actions);
  f("actions", p.actions);
  f("allow_repeats", p.allow_repeats);
  f("lead_in_ms", p.lead_in_ms);
  f("action_window_ms", p.action_window_ms);
  f("window_jitter_ms", p.window_jitter_ms);
  f("window_slack_ms", p.window_slack_ms);
  f("num_colours", p.num_colours);
  f("colour_step_ms", p.colour_step_ms);
  f("allow_scripted", p.allow_scripted);
}
template <class F>
void Visit(CapturePolicy& p, F&& f) {
  f("min_frames", p.min_frames);
  f("max_frames", p.max_frames);
  f("sparse_grid_gap_ms", p.sparse_grid_gap_ms);
  f("max_duration_ms", p.max_duration_ms);
  f("max_frame_gap_ms", p.max_frame_gap_ms);
  f("min_frame_interval_ms", p.min_frame_interval_ms);
}
template <class F>
void Visit(ActionPolicy& p, F&& f) {
  f("blink_closed_ratio", p.blink_closed_ratio);
  f("blink_reopen_ratio", p.blink_reopen_ratio);
  f("mouth_open_min", p.mouth_open_min);
  f("mouth_open_delta", p.mouth_open_delta);
  f("turn_yaw_deg", p.turn_yaw_deg);
  f("nod_pitch_deg", p.nod_pitch_deg);
  f("neutral_frames", p.neutral_frames);
  f("eye_openness_from_iris", p.eye_openness_from_iris);
  f("iris_gate", p.iris_gate);
}
template <class F>
void Visit(GeometryPolicy& p, F&& f) {
  f("min_yaw_span_deg", p.min_yaw_span_deg);
  f("min_parallax", p.min_parallax);
  f("min_turn_frames", p.min_turn_frames);
  f("noise_max_yaw_deg", p.noise_max_yaw_deg);
}
template <class F>
void Visit(ContinuityPolicy& p, F&& f) {
  f("max_identity_distance", p.max_identity_distance);
  f("identity_samples", p.identity_samples);
  f("identity_max_yaw_deg", p.identity_max_yaw_deg);
  f("max_speed_ied_per_s", p.max_speed_ied_per_s);
  f("speed_window_ms", p.speed_window_ms);
  f("glitch_min_yaw_deg", p.glitch_min_yaw_deg);
  f("glitch_mesh_confidence", p.glitch_mesh_confidence);
  f("cut_ied", p.cut_ied);
  f("max_missing_face_frames", p.max_missing_face_frames);
  f("frozen_difference", p.frozen_difference);
  f("frozen_run_frames", p.frozen_run_frames);
  f("jump_ied", p.jump_ied);
  f("max_frozen_fraction", p.max_frozen_fraction);
  f("second_face_ratio", p.second_face_ratio);
  f("bystander_gap", p.bystander_gap);
}
template <class F>
void Visit(ReplayPolicy& p, F&& f) {
  f("min_colour_correlation", p.min_colour_correlation);
  f("display_tolerance_ms", p.display_tolerance_ms);
  f("moire_threshold", p.moire_threshold);
  f("border_threshold", p.border_threshold);
  f("border_every_n_frames", p.border_every_n_frames);
  f("glare_threshold", p.glare_threshold);
  f("min_flagged_frames_pct", p.min_flagged_frames_pct);
  f("edge_min_persistence", p.edge_min_persistence);
  f("edge_min_face_motion", p.edge_min_face_motion);
  f("edge_max_relative_motion", p.edge_max_relative_motion);
}
template <class F>
void Visit(MaskPolicy& p, F&& f) {
  f("use_model_scores", p.use_model_scores);
  f("min_model_score", p.min_model_score);
}
template <class F>
void Visit(CombinePolicy& p, F&& f) {
  f("required", p.required);
  f("threshold", p.threshold);
  f("combination", p.combination);
  f("vetoes", p.vetoes);
  f("gates", p.gates);
  f("fused_weights", p.fused_weights);
  f("fused_bias", p.fused_bias);
  f("pad_model_threshold", p.pad_model_threshold);
  f("pad_model_frames", p.pad_model_frames);
}
template <class F>
void Visit(QualityPolicy& p, F&& f) {
  f("min_inter_eye_distance", p.min_inter_eye_distance);
  f("min_sharpness", p.min_sharpness);
  f("min_mean_luma", p.min_mean_luma);
  f("max_mean_luma", p.max_mean_luma);
  f("max_underexposed", p.max_underexposed);
  f("max_overexposed", p.max_overexposed);
  f("min_illumination_uniformity", p.min_illumination_uniformity);
  f("max_abs_yaw_deg", p.max_abs_yaw_deg);
  f("max_abs_pitch_deg", p.max_abs_pitch_deg);
  f("max_abs_roll_deg", p.max_abs_roll_deg);
  f("min_eye_openness", p.min_eye_openness);
  f("max_mouth_openness", p.max_mouth_openness);
  f("min_mesh_confidence", p.min_mesh_confidence);
  f("max_blockiness", p.max_blockiness);
  f("max_box_outside", p.max_box_outside);
  f("best_frames", p.best_frames);
  f("min_good_frames", p.min_good_frames);
}
template <class F>
void VisitAll(Policy& p, F&& f) {
  f("challenge", p.challenge);
  f("capture", p.capture);
  f("action", p.action);
  f("geometry", p.geometry);
  f("continuity", p.continuity);
  f("replay", p.replay);
  f("mask", p.mask);
  f("combine", p.combine);
  f("quality", p.quality);
}

json ToJ(const std::vector<Action>& v) {
  json a = json::array();
  for (Action x : v) a.push_back(std::string(ActionName(x)));
  return a;
}
template <class T>
json ToJ(const T& v) { return json(v); }

Status FromJ(const json& j, std::vector<Action>& out) {
  if (!j.is_array()) return Status::BadInput("policy.bad_value", "actions must be an array");
  std::vector<Action> v;
  for (const auto& e : j) {
    auto a = e.is_string() ? ParseAction(e.get<std::string>()) : std::nullopt;
    if (!a) return Status::BadInput("policy.bad_value", "unknown action " + e.dump());
    v.push_back(*a);
  }
  out = std::move(v);
  return Status::Ok();
}
Status FromJ(const json& j, bool& out) {
  if (!j.is_boolean()) return Status::BadInput("policy.bad_value", "expected a boolean, got " + j.dump());
  out = j.get<bool>();
  return Status::Ok();
}
template <class T>
  requires std::is_arithmetic_v<T>
Status FromJ(const json& j, T& out) {
  if (!j.is_number()) return Status::BadInput("policy.bad_value", "expected a number, got " + j.dump());
  if constexpr (std::is_integral_v<T>) {
    if (!j.is_number_integer()) return Status::BadInput("policy.bad_value", "expected an integer, got " + j.dump());
  }
  out = j.get<T>();
  return Status::Ok();
}
Status FromJ(const json& j, std::string& out) {
  if (!j.is_string()) return Status::BadInput("policy.bad_value", "expected a string, got " + j.dump());
  out = j.get<std::string>();
  return Status::Ok();
}
Status FromJ(const json& j, std::map<std::string, float>& out) {
  if (!j.is_object()) return Status::BadInput("policy.bad_value", "expected an object of check name -> weight");
  std::map<std::string, float> v;
  for (const auto& [k, e] : j.items()) {
    if (!e.is_number()) return Status::BadInput("policy.bad_value", "weight of " + k + ": expected a number, got " + e.dump());
    v[k] = e.get<float>();
  }
  out = std::move(v);
  return Status::Ok();
}
Status FromJ(const json& j, std::vector<std::string>& out) {
  if (!j.is_array()) return Status::BadInput("policy.bad_value", "expected an array of names");
  std::vector<std::string> v;
  for (const auto& e : j) {
    if (!e.is_string()) return Status::BadInput("policy.bad_value", "expected a name, got " + e.dump());
    v.push_back(e.get<std::string>());
  }
  out = std::move(v);
  return Status::Ok();
}

template <class S>
Status SectionFromJ(const json& j, const std::string& section, S& s) {
  if (!j.is_object()) return Status::BadInput("policy.bad_value", section + " must be an object");
  std::set<std::string> known;
  Status st;
  Visit(s, [&](const char* key, auto& field) {
    known.insert(key);
    if (!st.ok() || !j.contains(key)) return;
    Status r = FromJ(j.at(key), field);
    if (!r.ok()) st = Status::BadInput(r.reason(), section + "." + key + ": " + r.message());
  });
  LG_RETURN_IF_ERROR(st);
  for (const auto& [k, v] : j.items()) {
    if (!known.count(k)) return Status::BadInput("policy.unknown_key", "unknown key " + section + "." + k);
  }
  return Status::Ok();
}

Status Validate(const Policy& p) {
  auto bad = [](const std::string& m) { return Status::BadInput("policy.bad_value", m); };
  if (p.challenge.num_actions < 0 || p.challenge.num_actions > 10) return bad("challenge.num_actions must be 0..10");
  if (p.challenge.num_actions > 0 && p.challenge.actions.empty()) return bad("challenge.actions is empty");
  if (p.challenge.action_window_ms <= 0) return bad("challenge.action_window_ms must be > 0");
  if (p.challenge.window_jitter_ms < 0 || p.challenge.lead_in_ms < 0 || p.challenge.window_slack_ms < 0)
    return bad("challenge times must be >= 0");
  if (p.challenge.num_colours < 0 || p.challenge.num_colours > 20) return bad("challenge.num_colours must be 0..20");
  if (p.challenge.colour_step_ms <= 0) return bad("challenge.colour_step_ms must be > 0");
  if (p.capture.min_frames < 1 || p.capture.max_frames < p.capture.min_frames)
    return bad("capture.min_frames must be >= 1 and <= max_frames");
  if (p.capture.sparse_grid_gap_ms < 0) return bad("capture.sparse_grid_gap_ms must be >= 0 (0: off)");
  if (p.action.neutral_frames < 1) return bad("action.neutral_frames must be >= 1");
  if (p.quality.best_frames < 1) return bad("quality.best_frames must be >= 1");
  if (p.replay.display_tolerance_ms < 0 || p.replay.display_tolerance_ms > 5000)
    return bad("replay.display_tolerance_ms must be 0..5000");
  if (p.replay.border_every_n_frames < 1) return bad("replay.border_every_n_frames must be >= 1");
  if (p.continuity.identity_samples < 0) return bad("continuity.identity_samples must be >= 0");
  if (p.continuity.speed_window_ms < 0 || p.continuity.speed_window_ms > 1000)
    return bad("continuity.speed_window_ms must be 0..1000");
  if (p.geometry.min_turn_frames < 1) return bad("geometry.min_turn_frames must be >= 1");
  static const std::set<std::string> kChecks = {"capture", "actions", "face_angle", "geometry",
                                                "continuity", "replay", "photo", "mask_cg", "pad_model"};
  for (const auto& r : p.combine.required) {
    if (!kChecks.count(r)) return bad("combine.required: unknown check " + r);
  }
  if (p.combine.combination != "all_checks" && p.combine.combination != "fused")
    return bad("combine.combination must be \"all_checks\" or \"fused\"");
  for (const auto& g : p.combine.gates) {
    if (!kChecks.count(g)) return bad("combine.gates: unknown check " + g);
  }
  for (const auto& [name, w] : p.combine.fused_weights) {
    if (!kChecks.count(name)) return bad("combine.fused_weights: unknown check " + name);
    if (!(w >= 0.0f && w <= 100.0f)) return bad("combine.fused_weights." + name + " must be 0..100");
  }
  if (!(p.combine.fused_bias >= -30.0f && p.combine.fused_bias <= 30.0f)) return bad("combine.fused_bias must be -30..30");
  if (!(p.combine.pad_model_threshold > 0.0f && p.combine.pad_model_threshold < 1.0f))
    return bad("combine.pad_model_threshold must be in (0, 1)");
  if (p.combine.pad_model_frames < 1 || p.combine.pad_model_frames > 30) return bad("combine.pad_model_frames must be 1..30");
  return Status::Ok();
}

}  // namespace

Result<Policy> PolicyFromJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::BadInput("policy.bad_json", "policy is not a JSON object");
  Policy p;
  std::set<std::string> known;
  Status st;
  VisitAll(p, [&](const char* key, auto& section) {
    known.insert(key);
    if (!st.ok() || !j.contains(key)) return;
    st = SectionFromJ(j.at(key), key, section);
  });
  LG_RETURN_IF_ERROR(st);
  for (const auto& [k, v] : j.items()) {
    if (!known.count(k)) return Status::BadInput("policy.unknown_key", "unknown policy section " + k);
  }
  LG_RETURN_IF_ERROR(Validate(p));
  return p;
}

std::string PolicyToJson(const Policy& policy) {
  Policy p = policy;
  json out = json::object();
  VisitAll(p, [&](const char* key, auto& section) {
    json s = json::object();
    Visit(section, [&](const char* k, auto& field) { s[k] = ToJ(field); });
    out[key] = s;
  });
  return out.dump(2);
}

}  // namespace livegate::judgement
