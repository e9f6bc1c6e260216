// Issue 13 / 16: the capture rate rule (see capture_rate.h).
#include "judgement/capture_rate.h"

#include <algorithm>
#include <cmath>

namespace livegate::judgement {

bool InBlinkWindow(const Challenge& challenge, double t_ms, std::int64_t slack_ms) {
  if (challenge.type == AsdType::kPassive) return false;
  for (const auto& s : challenge.steps) {
    if (s.action == Action::kBlink && t_ms >= double(s.start_ms) && t_ms <= double(s.end_ms + slack_ms)) return true;
  }
  return false;
}

double ClientMinFrameGapMs(const Challenge& challenge, double t_ms, std::int64_t slack_ms) {
  return InBlinkWindow(challenge, t_ms, slack_ms) ? kBlinkWindowMinGapMs : kElsewhereMinGapMs;
}

int MaxFramesForChallenges(const ChallengePolicy& p, int num_actions, std::int64_t extra_ms) {
  const bool blink_allowed = std::find(p.actions.begin(), p.actions.end(), Action::kBlink) != p.actions.end();
  int blinks = 0;
  if (blink_allowed && num_actions > 0) {
    // Without repeats a blink cannot follow a blink: every other step at most.
    blinks = (p.allow_repeats || p.actions.size() < 2) ? num_actions : (num_actions + 1) / 2;
  }
  const double window = double(p.action_window_ms + p.window_jitter_ms);
  const double total = double(p.lead_in_ms) + num_actions * window + double(p.window_slack_ms) + double(extra_ms);
  const double dense = std::min(total, blinks * (window + double(p.window_slack_ms)));
  // +1 per stretch: a frame at each start.
  const double frames = dense / kBlinkWindowMinGapMs + (total - dense) / kElsewhereMinGapMs + blinks + 1;
  return int(std::ceil(frames));
}

std::vector<FrameRole> PlanFrameRoles(std::span<const std::int64_t> ts, const Challenge& challenge,
                                      std::int64_t slack_ms, std::int64_t sparse_grid_gap_ms) {
  std::vector<FrameRole> roles(ts.size(), FrameRole::kFull);
  if (ts.empty()) return roles;
  const double t0 = double(ts.front());
  double last_grid = -1e18, last_analysed = -1e18;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const double t = double(ts[i]) - t0;
    const bool in_blink = InBlinkWindow(challenge, t, slack_ms);
    if (!in_blink && sparse_grid_gap_ms > 0 && t - last_analysed < double(sparse_grid_gap_ms)) {
      roles[i] = FrameRole::kSkipped;  // the sparse grid (off by default)
      continue;
    }
    if (!in_blink || t - last_grid >= kGridMinGapMs) {
      // Outside blink windows nothing changes (every frame fully analysed).
      last_grid = last_analysed = t;
      continue;
    }
    if (t - last_analysed < kBlinkWindowServerMinGapMs) {
      roles[i] = FrameRole::kSkipped;
      continue;
    }
    roles[i] = FrameRole::kBlinkExtra;
    last_analysed = t;
  }
  return roles;
}

}  // namespace livegate::judgement
