// Local anti-spoofing detection (X.1279 7.2, R-CLI-ASD-1..5) and local
// quality detection (R-CLI-QD-1/2), following the server's challenge live.
//
// R-CLI-ASD-4's three steps: (a) the capture loop hands each frame's face
// analysis here; (b) features = the judgement module's per-frame
// observation (pose, eye and mouth openness, image measures); (c) the
// criterion = the judgement module's own action detection over the frames
// seen so far, so the client and the server cannot disagree on what a blink
// is. The verdict is PRELIMINARY (R-CLI-ASD-5, decision 11.10): it guides the
// user and travels with the package; the server recomputes everything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "judgement/policy.h"
#include "judgement/types.h"
#include "vision/face_analyzer.h"

namespace livegate::client {

struct ActionProgress {
  int steps_total = 0;
  int steps_done = 0;          // actions detected so far, in order
  int current_step = -1;       // index of the action to perform now (-1: none / lead-in)
  std::string current_action;  // "blink", ... ("" when none)
  std::string prompt;          // what to tell the user now
};

struct PreliminaryResult {
  bool live = false;                  // the client's preliminary opinion
  float score = 0;                    // judgement's combined score on the client's frames
  std::string reason;                 // e.g. "asd.live", "actions.missing:nod"
  std::vector<std::string> detected;  // actions seen, "blink@1320ms"
  int best_frame_index = -1;          // capture index of the best-quality frame (R-CLI-QD-2)
  float best_quality = 0;             // its judgement quality score (0..100)
  bool quality_accepted = false;      // the judgement's quality verdict on the client's frames
  std::string quality_reason;         // e.g. "quality.ok", "quality.failed"
};

class LocalAsd {
 public:
  LocalAsd(judgement::Challenge challenge, judgement::Policy policy = {});
  // One captured frame (the first call defines t = 0).
  void AddFrame(int index, std::int64_t timestamp_ms, const cv::Mat& bgr,
                const std::vector<vision::FaceAnalysis>& faces);
  // Live progress at capture time `elapsed_ms` (for prompts).
  ActionProgress Progress(std::int64_t elapsed_ms) const;
  PreliminaryResult Finish() const;
  const std::vector<judgement::FrameObservation>& observations() const { return observations_; }

 private:
  void Reevaluate();
  judgement::Challenge challenge_;
  judgement::Policy policy_;
  std::vector<judgement::FrameObservation> observations_;
  std::vector<int> source_indices_;  // frame index in the source, per observation
  int steps_done_ = 0;
  int frames_since_eval_ = 0;
};

// Prompt text for an action ("Blink once", "Turn your head to your left" ...).
std::string ActionPrompt(judgement::Action action);

}  // namespace livegate::client
