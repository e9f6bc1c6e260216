// Challenge drawing (R-SRV-ASJ-3, decision 11.1), scripted-challenge refusal
// and JSON.
#include <set>

#include <gtest/gtest.h>

#include "judgement/judgement.h"

namespace livegate::judgement {
namespace {

// Deterministic byte stream (a counter through a simple mixer).
RandomSource FixedRandom(std::uint64_t seed) {
  auto state = std::make_shared<std::uint64_t>(seed);
  return [state](std::span<std::uint8_t> out) {
    for (auto& b : out) {
      *state = *state * 6364136223846793005ull + 1442695040888963407ull;
      b = std::uint8_t(*state >> 56);
    }
  };
}

TEST(ChallengeTest, DrawsPolicyLengthWithOrderedRandomisedWindows) {
  Policy p;
  auto c = DrawChallenge(p, AsdType::kActions, FixedRandom(1));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->steps.size(), 3u);
  EXPECT_EQ(c->id.size(), 32u);
  EXPECT_EQ(c->steps[0].start_ms, p.challenge.lead_in_ms);
  for (std::size_t i = 0; i < c->steps.size(); ++i) {
    const auto& s = c->steps[i];
    EXPECT_GE(s.end_ms - s.start_ms, p.challenge.action_window_ms);
    EXPECT_LE(s.end_ms - s.start_ms, p.challenge.action_window_ms + p.challenge.window_jitter_ms);
    if (i > 0) {
      EXPECT_EQ(s.start_ms, c->steps[i - 1].end_ms);
      EXPECT_NE(s.action, c->steps[i - 1].action);  // no repeats by default
    }
  }
  EXPECT_TRUE(c->colours.empty());
  EXPECT_FALSE(c->scripted);
  EXPECT_TRUE(ValidateChallenge(*c, p).ok());
}

TEST(ChallengeTest, DifferentRandomnessGivesDifferentChallengesAndAllActionsOccur) {
  Policy p;
  std::set<std::string> ids, sequences;
  std::set<Action> seen;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    auto c = DrawChallenge(p, AsdType::kActions, FixedRandom(seed));
    ASSERT_TRUE(c.ok());
    ids.insert(c->id);
    std::string seq;
    for (const auto& s : c->steps) seq += std::string(ActionName(s.action)) + ",", seen.insert(s.action);
    sequences.insert(seq);
  }
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_GT(sequences.size(), 20u);
  EXPECT_EQ(seen.size(), 5u);
}

TEST(ChallengeTest, ActionsLightAddsAColourSequenceWithoutRepeats) {
  Policy p;
  auto c = DrawChallenge(p, AsdType::kActionsLight, FixedRandom(7));
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->colours.size(), 4u);
  for (std::size_t i = 1; i < c->colours.size(); ++i) {
    const auto& a = c->colours[i - 1];
    const auto& b = c->colours[i];
    EXPECT_FALSE(a.r == b.r && a.g == b.g && a.b == b.b);
    EXPECT_EQ(b.start_ms, a.end_ms);
  }
}

TEST(ChallengeTest, PolicyThatAllowsNothingIsRefused) {
  Policy p;
  p.challenge.actions = {};
  EXPECT_EQ(DrawChallenge(p, AsdType::kActions, FixedRandom(1)).status().reason(), "challenge.bad_policy");
  p.challenge.actions = {Action::kBlink};
  EXPECT_EQ(DrawChallenge(p, AsdType::kActions, FixedRandom(1)).status().reason(), "challenge.bad_policy");
  p.challenge.allow_repeats = true;
  EXPECT_TRUE(DrawChallenge(p, AsdType::kActions, FixedRandom(1)).ok());
  EXPECT_EQ(DrawChallenge(p, AsdType::kActions, RandomSource()).status().reason(), "challenge.no_random_source");
}

TEST(ChallengeTest, ProductionPolicyRefusesAScriptedChallenge) {
  Challenge c;
  c.scripted = true;
  c.steps = {{Action::kBlink, 0, 3000}};
  Policy production;
  const Status st = ValidateChallenge(c, production);
  EXPECT_EQ(st.reason(), "challenge.scripted_not_allowed");
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied);
  Policy evaluation;
  evaluation.challenge.allow_scripted = true;
  EXPECT_TRUE(ValidateChallenge(c, evaluation).ok());
}

TEST(ChallengeTest, BadWindowsAreRefused) {
  Policy p;
  Challenge c;
  c.steps = {{Action::kBlink, 2000, 1000}};
  EXPECT_EQ(ValidateChallenge(c, p).reason(), "challenge.bad_window");
  c.steps = {{Action::kBlink, 2000, 3000}, {Action::kNod, 0, 1000}};
  EXPECT_EQ(ValidateChallenge(c, p).reason(), "challenge.bad_window");
  c.steps.clear();
  EXPECT_EQ(ValidateChallenge(c, p).reason(), "challenge.bad_window");
  c.type = AsdType::kPassive;
  EXPECT_TRUE(ValidateChallenge(c, p).ok());
}

TEST(ChallengeTest, JsonRoundTrip) {
  Policy p;
  auto c = DrawChallenge(p, AsdType::kActionsLight, FixedRandom(3));
  ASSERT_TRUE(c.ok());
  c->bound_nonce = "n0nce";
  auto back = ChallengeFromJson(ChallengeToJson(*c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, c->id);
  EXPECT_EQ(back->bound_nonce, "n0nce");
  EXPECT_EQ(back->type, AsdType::kActionsLight);
  ASSERT_EQ(back->steps.size(), c->steps.size());
  for (std::size_t i = 0; i < c->steps.size(); ++i) {
    EXPECT_EQ(back->steps[i].action, c->steps[i].action);
    EXPECT_EQ(back->steps[i].start_ms, c->steps[i].start_ms);
    EXPECT_EQ(back->steps[i].end_ms, c->steps[i].end_ms);
  }
  ASSERT_EQ(back->colours.size(), c->colours.size());
  EXPECT_EQ(back->colours[0].r, c->colours[0].r);
  EXPECT_EQ(back->duration_ms, c->duration_ms);
  EXPECT_EQ(ChallengeToJson(*back), ChallengeToJson(*c));
}

TEST(ChallengeTest, JsonErrorsHaveSpecificReasons) {
  EXPECT_EQ(ChallengeFromJson("[").status().reason(), "challenge.bad_json");
  EXPECT_EQ(ChallengeFromJson(R"({"type":"telepathy"})").status().reason(), "challenge.bad_type");
  EXPECT_EQ(ChallengeFromJson(R"({"steps":[{"action":"wink","start_ms":0,"end_ms":9}]})").status().reason(),
            "challenge.bad_action");
  EXPECT_EQ(ChallengeFromJson(R"({"steps":[{"action":"blink","start_ms":5,"end_ms":1}]})").status().reason(),
            "challenge.bad_window");
  EXPECT_EQ(ChallengeFromJson(R"({"steps":[{"action":"blink"}]})").status().reason(), "challenge.bad_json");
  EXPECT_EQ(ChallengeFromJson(R"({"colours":[{"rgb":"red","start_ms":0,"end_ms":9}]})").status().reason(),
            "challenge.bad_json");
}

}  // namespace
}  // namespace livegate::judgement
