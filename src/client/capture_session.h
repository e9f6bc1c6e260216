// One guided capture (R-CLI-ENV-1, R-CLI-CAP-1/2, R-CLI-ASD-1..5,
// R-CLI-QD-1/2, R-FLOW-REG-5..7 / AUT-5..7): wait until the environment is
// right, then record for the challenge's duration while telling the user
// which action to perform, detect the actions locally, score quality, and
// hand back the frames for the capture package.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "client/capture.h"
#include "client/environment.h"
#include "client/local_asd.h"
#include "client/package.h"
#include "judgement/capture_rate.h"
#include "judgement/policy.h"
#include "judgement/types.h"
#include "vision/face_analyzer.h"

namespace livegate::client {

struct CaptureSessionOptions {
  EnvironmentOptions environment;
  // Live camera: how long to wait for good conditions before giving up.
  std::int64_t environment_timeout_ms = 30'000;
  // File sources cannot react to advice: the environment is checked on the
  // first frames, which stay part of the capture (the challenge's clock
  // starts at the first frame, matching a scripted challenge).
  int file_environment_frames = 8;
  bool check_environment = true;     // false only for analysis tools, never by the CLI flows
  std::int64_t extra_ms = 750;       // keep recording this long past the challenge (slack)
  // Capture rate rule (judgement/capture_rate.h, issue 13): every camera
  // frame up to ~33 fps inside blink windows (a blink is 3-4 frames at
  // 30 fps), ~15 fps elsewhere.
  double min_frame_gap_ms = judgement::kElsewhereMinGapMs;
  double blink_window_min_gap_ms = judgement::kBlinkWindowMinGapMs;
  std::int64_t blink_window_slack_ms = judgement::ChallengePolicy{}.window_slack_ms;
};

struct CaptureEvent {
  enum class Kind { kEnvironment, kCapturing, kDone };
  Kind kind = Kind::kEnvironment;
  EnvironmentReport environment;  // kEnvironment: what is wrong now
  ActionProgress progress;        // kCapturing
  std::int64_t elapsed_ms = 0;
  std::int64_t duration_ms = 0;
  int frames = 0;                 // frames recorded so far
  std::string colour_hex;         // actions+light: colour to show now ("" none)
};
using CaptureListener = std::function<void(const CaptureEvent&)>;

struct CaptureOutcome {
  std::vector<PackageInput> frames;   // frames with a face, for BuildCapturePackage
  PreliminaryResult preliminary;      // local ASD + quality, preliminary only
  int frames_seen = 0;
  int frames_without_face = 0;
};

// Reasons: env.conditions_not_met (with the advice in the message),
// capture.no_face (no frame with a face), capture.* and vision.* errors.
Result<CaptureOutcome> RunCaptureSession(FrameSource& source, vision::FaceAnalyzer& analyzer,
                                         const judgement::Challenge& challenge,
                                         const CaptureSessionOptions& options,
                                         const CaptureListener& listener);

}  // namespace livegate::client
