// Pins the shipped policy defaults (decision 11.2: a change of a threshold
// must be a deliberate, reviewed change) and the JSON loader's refusals.
#include "judgement/policy.h"

#include <gtest/gtest.h>

namespace livegate::judgement {
namespace {

TEST(PolicyTest, ShippedDefaultsArePinned) {
  const Policy p;
  EXPECT_EQ(p.challenge.num_actions, 3);
  EXPECT_EQ(p.challenge.actions.size(), 5u);
  EXPECT_FALSE(p.challenge.allow_scripted);  // production refuses scripted challenges
  EXPECT_FALSE(p.challenge.allow_repeats);
  EXPECT_EQ(p.challenge.lead_in_ms, 1000);
  EXPECT_EQ(p.challenge.action_window_ms, 2500);
  EXPECT_EQ(p.challenge.window_jitter_ms, 500);
  EXPECT_EQ(p.challenge.window_slack_ms, 750);
  EXPECT_EQ(p.challenge.num_colours, 4);
  EXPECT_EQ(p.challenge.colour_step_ms, 600);
  EXPECT_EQ(p.capture.min_frames, 8);
  EXPECT_EQ(p.capture.max_frames, 600);
  EXPECT_EQ(p.capture.max_duration_ms, 60000);
  EXPECT_EQ(p.capture.max_frame_gap_ms, 1500);
  EXPECT_EQ(p.capture.min_frame_interval_ms, 5);
  EXPECT_EQ(p.capture.sparse_grid_gap_ms, 0);  // issue 16 experiment: off (it moves PAD decisions)
  EXPECT_FLOAT_EQ(p.action.blink_closed_ratio, 0.55f);
  EXPECT_FLOAT_EQ(p.action.blink_reopen_ratio, 0.8f);
  EXPECT_FLOAT_EQ(p.action.mouth_open_min, 0.30f);
  EXPECT_FLOAT_EQ(p.action.mouth_open_delta, 0.20f);
  EXPECT_FLOAT_EQ(p.action.turn_yaw_deg, 15.0f);
  EXPECT_FLOAT_EQ(p.action.nod_pitch_deg, 10.0f);
  EXPECT_TRUE(p.action.eye_openness_from_iris);
  EXPECT_FLOAT_EQ(p.action.iris_gate, 0.9f);
  EXPECT_FLOAT_EQ(p.geometry.min_yaw_span_deg, 30.0f);  // issue 13: measurable turn
  EXPECT_FLOAT_EQ(p.geometry.min_parallax, 0.19f);
  EXPECT_EQ(p.geometry.min_turn_frames, 3);
  EXPECT_FLOAT_EQ(p.geometry.noise_max_yaw_deg, 5.0f);
  EXPECT_EQ(p.continuity.speed_window_ms, 120);
  EXPECT_FLOAT_EQ(p.continuity.glitch_min_yaw_deg, 30.0f);
  EXPECT_FLOAT_EQ(p.continuity.glitch_mesh_confidence, 0.5f);
  EXPECT_FLOAT_EQ(p.continuity.cut_ied, 0.5f);
  EXPECT_FLOAT_EQ(p.continuity.max_identity_distance, 0.6f);
  EXPECT_EQ(p.continuity.identity_samples, 2);
  EXPECT_FLOAT_EQ(p.continuity.max_speed_ied_per_s, 12.0f);
  EXPECT_FLOAT_EQ(p.continuity.second_face_ratio, 0.5f);
  EXPECT_FLOAT_EQ(p.replay.min_colour_correlation, 0.5f);
  EXPECT_EQ(p.replay.display_tolerance_ms, 250);
  EXPECT_FLOAT_EQ(p.replay.moire_threshold, 1.8f);
  EXPECT_FLOAT_EQ(p.replay.border_threshold, 0.55f);
  EXPECT_EQ(p.replay.border_every_n_frames, 3);
  EXPECT_FLOAT_EQ(p.combine.threshold, 0.5f);
  EXPECT_EQ(p.combine.required.size(), 7u);
  EXPECT_FLOAT_EQ(p.quality.min_inter_eye_distance, 30.0f);
  EXPECT_FLOAT_EQ(p.quality.min_sharpness, 25.0f);
  EXPECT_FLOAT_EQ(p.quality.max_abs_yaw_deg, 25.0f);
  EXPECT_EQ(p.quality.best_frames, 3);
}

TEST(PolicyTest, JsonRoundTripKeepsEveryField) {
  Policy p;
  p.challenge.num_actions = 2;
  p.challenge.actions = {Action::kBlink, Action::kNod};
  p.quality.min_sharpness = 42.5f;
  p.combine.required = {"capture", "actions"};
  auto back = PolicyFromJson(PolicyToJson(p));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->challenge.num_actions, 2);
  ASSERT_EQ(back->challenge.actions.size(), 2u);
  EXPECT_EQ(back->challenge.actions[1], Action::kNod);
  EXPECT_FLOAT_EQ(back->quality.min_sharpness, 42.5f);
  EXPECT_EQ(back->combine.required, (std::vector<std::string>{"capture", "actions"}));
  EXPECT_EQ(PolicyToJson(*back), PolicyToJson(p));
}

TEST(PolicyTest, PartialJsonKeepsDefaults) {
  auto p = PolicyFromJson(R"({"challenge": {"allow_scripted": true}})");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->challenge.allow_scripted);
  EXPECT_EQ(p->challenge.num_actions, 3);
}

TEST(PolicyTest, RefusesTyposWrongTypesAndBadValues) {
  EXPECT_EQ(PolicyFromJson("not json").status().reason(), "policy.bad_json");
  EXPECT_EQ(PolicyFromJson(R"({"challenge": {"num_action": 2}})").status().reason(), "policy.unknown_key");
  EXPECT_EQ(PolicyFromJson(R"({"challange": {}})").status().reason(), "policy.unknown_key");
  EXPECT_EQ(PolicyFromJson(R"({"challenge": {"num_actions": "two"}})").status().reason(), "policy.bad_value");
  EXPECT_EQ(PolicyFromJson(R"({"challenge": {"num_actions": 2.5}})").status().reason(), "policy.bad_value");
  EXPECT_EQ(PolicyFromJson(R"({"challenge": {"actions": ["wink"]}})").status().reason(), "policy.bad_value");
  EXPECT_EQ(PolicyFromJson(R"({"capture": {"min_frames": 0}})").status().reason(), "policy.bad_value");
  EXPECT_EQ(PolicyFromJson(R"({"combine": {"required": ["telepathy"]}})").status().reason(), "policy.bad_value");
  // Issue 13 fields: a negative or second-long speed window, a turn needing
  // no frame, are refused.
  EXPECT_EQ(PolicyFromJson(R"({"continuity": {"speed_window_ms": -5}})").status().reason(), "policy.bad_value");
  EXPECT_EQ(PolicyFromJson(R"({"continuity": {"speed_window_ms": 5000}})").status().reason(), "policy.bad_value");
  EXPECT_EQ(PolicyFromJson(R"({"geometry": {"min_turn_frames": 0}})").status().reason(), "policy.bad_value");
  EXPECT_TRUE(PolicyFromJson(R"({"continuity": {"speed_window_ms": 0}})").ok());
  // Issue 16 experiment: a negative sparse-grid gap is refused, 100 is read.
  EXPECT_EQ(PolicyFromJson(R"({"capture": {"sparse_grid_gap_ms": -1}})").status().reason(), "policy.bad_value");
  auto sparse = PolicyFromJson(R"({"capture": {"sparse_grid_gap_ms": 100}})");
  ASSERT_TRUE(sparse.ok());
  EXPECT_EQ(sparse->capture.sparse_grid_gap_ms, 100);
}

}  // namespace
}  // namespace livegate::judgement
