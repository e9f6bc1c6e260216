// The capture rate rule (issue 13, "blinks at the real capture rate"),
// shared by the C++ client, the browser client (web/ui/capture.js mirrors
// it) and the server's judgement:
//   - inside a blink window (its action window plus the accepted lateness,
//     ChallengePolicy::window_slack_ms) every camera frame is kept, up to
//     ~33 fps: a blink's closure lasts 3-4 frames at 30 fps, 1-2 at 15 fps,
//     where it was missed;
//   - elsewhere ~15 fps, the rate every other check was calibrated at
//     (docs/ANTISPOOFING.md): a turn, a nod or an open mouth lasts far
//     longer than a frame.
// The server judges the frames above the 15 fps grid for the blink only
// (ObserveCapture marks them FrameObservation::blink_extra): the other
// checks keep reading the 15 fps frames their thresholds were set on, and
// those extra frames cost a tracked mesh (plus the Iris where the mesh
// sees the eyes closing) instead of the whole analysis (issue 16).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "judgement/policy.h"
#include "judgement/types.h"

namespace livegate::judgement {

// Client side: the smallest gap kept between two frames.
inline constexpr double kBlinkWindowMinGapMs = 30.0;  // camera rate, up to ~33 fps
inline constexpr double kElsewhereMinGapMs = 66.0;    // ~15 fps
// Server side: frames at least this far from the previous grid frame form
// the grid the checks are calibrated on. 36 ms: a 30 fps camera's
// neighbours (33 +- 3 ms) alternate grid / blink-only, i.e. a ~15 fps grid;
// a 25 fps source is all grid - as ~15 fps sampling of one is (its frames
// come 40 and 80 ms apart: the PAD evaluation's captures of 25 fps clips),
// so every capture the checks were calibrated on is judged unchanged.
inline constexpr double kGridMinGapMs = 36.0;
// Server side: inside blink windows, frames closer than this to the
// previous analysed one are not analysed (not even decoded): no camera a
// user holds delivers more than ~40 fps, and a client cannot buy more
// analysis than the rule gives.
inline constexpr double kBlinkWindowServerMinGapMs = 25.0;

// True when `t_ms` (from the first frame) lies in a blink step's window
// [start_ms, end_ms + slack_ms].
bool InBlinkWindow(const Challenge& challenge, double t_ms, std::int64_t slack_ms);

// The client's minimum gap at time t_ms.
double ClientMinFrameGapMs(const Challenge& challenge, double t_ms, std::int64_t slack_ms);

// The most frames a client following the rule can send for any challenge
// the policy can draw with `num_actions` actions (every window at its
// longest, blink windows as many as the no-repeat rule allows), recording
// `extra_ms` past the challenge. The server's limits.max_frames must be at
// least this for the tiers it serves (config/server.example.json).
int MaxFramesForChallenges(const ChallengePolicy& policy, int num_actions, std::int64_t extra_ms = 750);

// How the server analyses each received frame.
enum class FrameRole : std::uint8_t {
  kFull,        // every measure (the ~15 fps grid, and everything outside blink windows)
  kBlinkExtra,  // inside a blink window, between grid frames: tracked mesh + eyes only
  kSkipped,     // inside a blink window, closer than kBlinkWindowServerMinGapMs: not analysed
};
// Roles from the frames' timestamps (relative to the first frame). Frames
// outside blink windows are always kFull, so a capture without a blink in
// its challenge is judged exactly as before this rule - unless
// `sparse_grid_gap_ms` > 0 (CapturePolicy::sparse_grid_gap_ms, off by
// default): then a frame outside blink windows closer than that to the
// previous analysed frame is kSkipped.
std::vector<FrameRole> PlanFrameRoles(std::span<const std::int64_t> timestamps_ms, const Challenge& challenge,
                                      std::int64_t slack_ms, std::int64_t sparse_grid_gap_ms = 0);

}  // namespace livegate::judgement
