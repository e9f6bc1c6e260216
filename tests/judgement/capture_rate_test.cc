// Issue 13/16, the capture rate rule (judgement/capture_rate.h): every
// camera frame inside blink windows, ~15 fps elsewhere; the server judges
// the frames above the 15 fps grid for the blink only.
#include <gtest/gtest.h>

#include "judgement/capture_rate.h"
#include "judgement/judgement.h"
#include "judgement/synthetic.h"

namespace livegate::judgement {
namespace {

using testing::MakeObservation;
using testing::SynthFrame;

Challenge BlinkThenMouth() {
  Challenge c;
  c.type = AsdType::kActions;
  c.steps = {{Action::kBlink, 1000, 3500}, {Action::kOpenMouth, 3500, 6000}};
  return c;
}

TEST(CaptureRateTest, CameraRateInsideBlinkWindowsOnly) {
  const Challenge c = BlinkThenMouth();
  EXPECT_FALSE(InBlinkWindow(c, 999, 750));
  EXPECT_TRUE(InBlinkWindow(c, 1000, 750));
  EXPECT_TRUE(InBlinkWindow(c, 4250, 750));  // the window's accepted lateness
  EXPECT_FALSE(InBlinkWindow(c, 4251, 750));
  EXPECT_DOUBLE_EQ(ClientMinFrameGapMs(c, 2000, 750), kBlinkWindowMinGapMs);
  EXPECT_DOUBLE_EQ(ClientMinFrameGapMs(c, 5000, 750), kElsewhereMinGapMs);
  Challenge passive = c;
  passive.type = AsdType::kPassive;
  EXPECT_FALSE(InBlinkWindow(passive, 2000, 750));
}

TEST(CaptureRateTest, FrameBudgetCoversTheLongestChallenges) {
  const ChallengePolicy p;  // 1 s lead-in, 2.5 + 0.5 s windows, 0.75 s slack
  // 4 actions, at most 2 blinks (no repeats): 2 x 3.75 s at 33 fps + 7 s at 15 fps.
  EXPECT_EQ(MaxFramesForChallenges(p, 4), 360);
  // 3 actions, 2 blinks (blink, x, blink): 7.5 s dense + 4 s sparse (of 11.5 s).
  EXPECT_EQ(MaxFramesForChallenges(p, 3), 314);
  ChallengePolicy no_blink = p;
  no_blink.actions = {Action::kTurnLeft, Action::kTurnRight};
  EXPECT_EQ(MaxFramesForChallenges(no_blink, 4), 221);  // 14.5 s at 15 fps
}

TEST(CaptureRateTest, FramesAboveTheGridInsideBlinkWindowsAreBlinkOnly) {
  const Challenge c = BlinkThenMouth();
  std::vector<std::int64_t> ts;
  for (int i = 0; i * 33 <= 7000; ++i) ts.push_back(500000 + i * 33);  // 30 fps throughout
  ts.insert(ts.begin() + 40, ts[40] + 5);  // a frame 5 ms after another, inside the window
  const auto roles = PlanFrameRoles(ts, c, 750);
  int full_in_window = 0, extra = 0, skipped = 0;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const double t = double(ts[i] - ts[0]);
    if (!InBlinkWindow(c, t, 750)) {
      EXPECT_EQ(roles[i], FrameRole::kFull) << t;  // outside: judged as before
      continue;
    }
    full_in_window += roles[i] == FrameRole::kFull;
    extra += roles[i] == FrameRole::kBlinkExtra;
    skipped += roles[i] == FrameRole::kSkipped;
  }
  EXPECT_EQ(skipped, 1);
  // The grid keeps ~15 fps (every other 30 fps frame) inside the window.
  EXPECT_NEAR(full_in_window, extra, 2);
  EXPECT_GT(extra, 40);
  // A 15 fps capture (the evaluation's) is all grid: nothing changes for it.
  std::vector<std::int64_t> slow;
  for (int i = 0; i < 100; ++i) slow.push_back(std::llround(i * 1000.0 / 15));
  for (auto r : PlanFrameRoles(slow, c, 750)) EXPECT_EQ(r, FrameRole::kFull);
}

// Issue 16 experiment: with CapturePolicy::sparse_grid_gap_ms a ~15 fps
// stretch outside blink windows is analysed every other frame; inside blink
// windows nothing changes. Off (0, the default): every frame is kept.
TEST(CaptureRateTest, SparseGridSkipsEveryOtherFrameOutsideBlinkWindowsOnly) {
  const Challenge c = BlinkThenMouth();
  std::vector<std::int64_t> ts;
  for (int i = 0; i * 33 <= 7000; ++i) ts.push_back(500000 + i * 33);  // 30 fps throughout
  const auto off = PlanFrameRoles(ts, c, 750);
  EXPECT_EQ(off, PlanFrameRoles(ts, c, 750, 0));
  const auto sparse = PlanFrameRoles(ts, c, 750, 100);
  int outside_full = 0, outside = 0, grid_off = 0, grid_sparse = 0, extra_off = 0, extra_sparse = 0;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const double t = double(ts[i] - ts[0]);
    if (InBlinkWindow(c, t, 750)) {
      // Blink windows: the capture rate rule as before (the grid's phase
      // may shift by a frame).
      EXPECT_NE(sparse[i], FrameRole::kSkipped) << t;
      grid_off += off[i] == FrameRole::kFull, grid_sparse += sparse[i] == FrameRole::kFull;
      extra_off += off[i] == FrameRole::kBlinkExtra, extra_sparse += sparse[i] == FrameRole::kBlinkExtra;
      continue;
    }
    ++outside;
    if (sparse[i] == FrameRole::kFull) {
      ++outside_full;
    } else {
      EXPECT_EQ(sparse[i], FrameRole::kSkipped) << t;
    }
  }
  EXPECT_NEAR(grid_sparse, grid_off, 1);
  EXPECT_NEAR(extra_sparse, extra_off, 1);
  // 30 fps outside: every 4th frame analysed (>= 100 ms apart: 132 ms).
  EXPECT_NEAR(outside_full * 4, outside, 4);
  EXPECT_EQ(sparse[0], FrameRole::kFull);  // the first frame always
  // A 15 fps capture: every other frame.
  std::vector<std::int64_t> slow;
  for (int i = 0; i < 100; ++i) slow.push_back(std::llround(i * 1000.0 / 15));
  Challenge passive;
  passive.type = AsdType::kPassive;
  const auto roles = PlanFrameRoles(slow, passive, 750, 100);
  for (std::size_t i = 0; i < roles.size(); ++i) EXPECT_EQ(roles[i], i % 2 == 0 ? FrameRole::kFull : FrameRole::kSkipped) << i;
}

// A blink of two 30 fps frames that falls between the 15 fps grid frames
// is seen through the blink-only frames; every other check judges the grid
// as if the extra frames were not there.
TEST(CaptureRateTest, ShortBlinkBetweenGridFramesIsSeenOnlyByTheBlinkCheck) {
  Challenge c;
  c.type = AsdType::kActions;
  c.steps = {{Action::kBlink, 1000, 3500}};
  std::vector<FrameObservation> obs;
  std::vector<std::int64_t> ts;
  for (int i = 0; i * 33 <= 4500; ++i) ts.push_back(1000000 + i * 33);
  const auto roles = PlanFrameRoles(ts, c, 750);
  for (std::size_t i = 0; i < ts.size(); ++i) {
    SynthFrame s;
    s.yaw = 2.0f * std::sin(float(i) / 20.0f);
    const bool closed = roles[i] == FrameRole::kBlinkExtra && ts[i] - ts[0] >= 2000 && ts[i] - ts[0] < 2100;
    if (closed) s.eye = 0.04f;
    FrameObservation o = MakeObservation(int(i), ts[i], s, false);
    o.blink_extra = roles[i] != FrameRole::kFull;
    if (o.blink_extra) o.sharpness = 0, o.frame_difference = -1;  // no image measures there
    obs.push_back(o);
  }
  const auto with_extras = JudgeLiveness(c, obs, Policy());
  EXPECT_EQ(with_extras.Find("actions")->reason, "actions.ok");
  std::vector<FrameObservation> grid;
  for (const auto& o : obs) {
    if (!o.blink_extra) grid.push_back(o);
  }
  const auto grid_only = JudgeLiveness(c, grid, Policy());
  EXPECT_EQ(grid_only.Find("actions")->reason, "actions.missing:blink");  // 15 fps misses it
  // Every other check reads the same frames either way.
  for (const char* name : {"face_angle", "geometry", "continuity", "replay", "photo"}) {
    ASSERT_NE(with_extras.Find(name), nullptr) << name;
    EXPECT_EQ(with_extras.Find(name)->reason, grid_only.Find(name)->reason) << name;
    EXPECT_FLOAT_EQ(with_extras.Find(name)->score, grid_only.Find(name)->score) << name;
  }
  // Quality never picks a blink-only frame (no image measures).
  const auto q = JudgeQuality(obs, Policy());
  for (int b : q.best_frames) EXPECT_FALSE(obs[std::size_t(b)].blink_extra) << b;
}

}  // namespace
}  // namespace livegate::judgement
