// The display report of an actions+light capture (judgement::AlignDisplay,
// issue 15): the colours a client says it drew, checked against the
// challenge's sequence (colour, timing within the tolerance, bounds), and
// the light check judged on the sequence as drawn (R-ASD-4, R-SRV-ASJ-1).
#include <cstdio>

#include <gtest/gtest.h>

#include "judgement/judgement.h"
#include "judgement/synthetic.h"

namespace livegate::judgement {
namespace {

using testing::MakeSequence;
using testing::SynthFrame;

// Red, blue, green, magenta for 600 ms each from 0 (DrawChallenge's layout),
// then the overlay off at 2400; one action to 3500.
Challenge Light() {
  Challenge c;
  c.type = AsdType::kActionsLight;
  c.steps = {{Action::kBlink, 1000, 3500}};
  c.colours = {{255, 0, 0, 0, 600}, {0, 0, 255, 600, 1200}, {0, 255, 0, 1200, 1800}, {255, 0, 255, 1800, 2400}};
  c.duration_ms = 3500;
  return c;
}

DisplayChange On(std::int64_t t, std::uint8_t r, std::uint8_t g, std::uint8_t b) { return {t, true, r, g, b}; }
DisplayChange Off(std::int64_t t) { return {t, false, 0, 0, 0}; }

// As drawn by an honest client whose clock starts 1000 ms before the
// first frame's, each change `lag` ms late.
std::vector<DisplayChange> Drawn(std::int64_t lag, std::int64_t origin = 1000) {
  return {On(origin + 0 + lag, 255, 0, 0), On(origin + 600 + lag, 0, 0, 255), On(origin + 1200 + lag, 0, 255, 0),
          On(origin + 1800 + lag, 255, 0, 255), Off(origin + 2400 + lag)};
}

std::vector<std::int64_t> Frames(std::int64_t origin = 1000, std::int64_t span = 3400, std::int64_t step = 100) {
  std::vector<std::int64_t> t;
  for (std::int64_t x = 0; x <= span; x += step) t.push_back(origin + x);
  return t;
}

std::string ReasonOf(const Result<DisplayAlignment>& r) { return r.ok() ? "ok" : r.status().reason(); }

TEST(DisplayTest, AnHonestReportIsAcceptedAndTheWindowsMoveToTheDrawnTimes) {
  const auto frames = Frames();
  auto a = AlignDisplay(Light(), Drawn(120), frames, Policy());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->reported);
  EXPECT_EQ(a->max_offset_ms, 120);
  ASSERT_EQ(a->drawn.colours.size(), 4u);
  EXPECT_EQ(a->drawn.colours[0].start_ms, 120);
  EXPECT_EQ(a->drawn.colours[0].end_ms, 720);
  EXPECT_EQ(a->drawn.colours[3].start_ms, 1920);
  EXPECT_EQ(a->drawn.colours[3].end_ms, 2520);
  EXPECT_EQ(a->drawn.colours[1].b, 255);
  EXPECT_EQ(a->drawn.steps.size(), 1u);  // the actions are untouched
  EXPECT_EQ(a->drawn.duration_ms, 3500);
  EXPECT_TRUE(ValidateChallenge(a->drawn, Policy()).ok());
}

TEST(DisplayTest, RequiredForLightRefusedOtherwise) {
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), std::nullopt, Frames(), Policy())), "display.missing");
  Challenge actions = Light();
  actions.type = AsdType::kActions;
  actions.colours.clear();
  EXPECT_EQ(ReasonOf(AlignDisplay(actions, Drawn(0), Frames(), Policy())), "display.unexpected");
  EXPECT_EQ(ReasonOf(AlignDisplay(actions, std::vector<DisplayChange>{}, Frames(), Policy())), "display.unexpected");
  auto plain = AlignDisplay(actions, std::nullopt, Frames(), Policy());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->reported);
  EXPECT_TRUE(plain->drawn.colours.empty());
}

TEST(DisplayTest, AWrongColourIsRefused) {
  auto d = Drawn(0);
  d[2] = On(d[2].t_ms, 0, 250, 0);  // almost green
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), d, Frames(), Policy())), "display.colour_mismatch");
  d = Drawn(0);
  std::swap(d[1].b, d[2].b), std::swap(d[1].g, d[2].g);  // two colours in the wrong order
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), d, Frames(), Policy())), "display.colour_mismatch");
  d = Drawn(0);
  d[4] = On(d[4].t_ms, 255, 255, 255);  // still lit when the sequence ends
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), d, Frames(), Policy())), "display.colour_mismatch");
}

TEST(DisplayTest, TimingWithinTheToleranceOnly) {
  Policy p;
  ASSERT_EQ(p.replay.display_tolerance_ms, 250);
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), Drawn(250), Frames(), p)), "ok");
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), Drawn(-200), Frames(), p)), "ok");
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), Drawn(251), Frames(), p)), "display.timing_mismatch");
  // A whole window late: each colour claimed where the challenge had the previous one.
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), Drawn(600), Frames(), p)), "display.timing_mismatch");
  auto d = Drawn(0);
  d[2].t_ms += 400;  // one change shifted
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), d, Frames(), p)), "display.timing_mismatch");
  p.replay.display_tolerance_ms = 500;
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), d, Frames(), p)), "ok");
}

TEST(DisplayTest, TooManyChangesAndChangesOutsideTheCapture) {
  auto d = Drawn(0);
  d.push_back(On(3300 + 1000, 255, 0, 0));
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), d, Frames(), Policy())), "display.too_many_changes");
  std::vector<DisplayChange> flood;
  for (int i = 0; i < 64; ++i) flood.push_back(On(1000 + i, 255, 0, 0));
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), flood, Frames(), Policy())), "display.too_many_changes");
  // The frames end at 1500 ms: a change claimed at 1800 is after them.
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), Drawn(0), Frames(1000, 1500), Policy())), "display.outside_capture");
  // A report on another clock (the frames' origin ignored): before the first frame.
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), Drawn(0, 0), Frames(), Policy())), "display.outside_capture");
}

TEST(DisplayTest, IncompleteOnlyWhenFramesWentOnAfterTheMissingChange) {
  auto d = Drawn(0);
  d.pop_back();  // the overlay never taken down, frames to 3400
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), d, Frames(), Policy())), "display.incomplete");
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), std::vector<DisplayChange>{}, Frames(), Policy())), "display.incomplete");
  // The capture ended at 2500 ms, just after the nominal 2400 (within the
  // tolerance): the last change may be missing; magenta ends at its nominal end.
  auto a = AlignDisplay(Light(), d, Frames(1000, 2500), Policy());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->drawn.colours.back().end_ms, 2400);
}

TEST(DisplayTest, FramesPastTheSequenceAreRefused) {
  // Frames to 4000 ms for a 3500 ms challenge: the sequence does not cover them.
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), Drawn(0), Frames(1000, 4000), Policy())),
            "display.frames_outside_sequence");
  EXPECT_EQ(ReasonOf(AlignDisplay(Light(), Drawn(0), Frames(1000, 3700), Policy())), "ok");
}

TEST(DisplayTest, NoColourWithinTheCaptureKeepsTheNominalWindows) {
  // All frames within the first 200 ms, nothing reported: the light check
  // must still run on the nominal windows, not be skipped.
  auto a = AlignDisplay(Light(), std::vector<DisplayChange>{}, Frames(1000, 200), Policy());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->drawn.colours.size(), 4u);
  EXPECT_EQ(a->drawn.colours[0].start_ms, 0);
}

// The light check on the sequence as drawn: a face that follows the screen
// with the client's drawing lag (240 ms, inside the tolerance) answers the
// drawn windows better than the nominal ones; a replay is refused either way.
TEST(DisplayTest, TheLightCheckJudgesTheSequenceAsDrawn) {
  const Challenge c = Light();
  const std::int64_t lag = 240;
  auto live = MakeSequence(3500, 15, false, [](std::int64_t t) {
    SynthFrame s;
    s.yaw = 2.0f * std::sin(t / 700.0f);
    if (t >= 1500 && t < 1600) s.eye = 0.04f;
    return s;
  });
  auto replay = live;
  std::vector<std::int64_t> times;
  for (auto& o : live) {
    times.push_back(o.timestamp_ms);
    const std::int64_t t = o.timestamp_ms - live.front().timestamp_ms - lag;
    for (const auto& s : c.colours) {
      if (t >= s.start_ms && t < s.end_ms) o.face_r += 0.15f * s.r, o.face_g += 0.15f * s.g, o.face_b += 0.15f * s.b;
    }
  }
  const std::int64_t t0 = times.front();
  auto a = AlignDisplay(c, Drawn(lag, t0), times, Policy());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const auto nominal = JudgeLiveness(c, live, Policy());
  const auto drawn = JudgeLiveness(a->drawn, live, Policy());
  const CheckResult* rn = nominal.Find("replay");
  const CheckResult* rd = drawn.Find("replay");
  ASSERT_NE(rn, nullptr);
  ASSERT_NE(rd, nullptr);
  EXPECT_EQ(rd->reason, "replay.ok") << rd->detail;
  EXPECT_GT(rd->score, rn->score) << "drawn: " << rd->detail << " nominal: " << rn->detail;
  std::printf("face lagging %lld ms: drawn windows: %s / nominal windows: %s\n", static_cast<long long>(lag),
              rd->detail.c_str(), rn->detail.c_str());
  const auto r = JudgeLiveness(a->drawn, replay, Policy());
  EXPECT_EQ(r.reason, "replay.no_colour_response");
}

}  // namespace
}  // namespace livegate::judgement
