// R-CLI-ASD-1..5, R-CLI-QD-1/2: the judgement's own measures, run on the
// client, as a preliminary and guiding verdict.
#include "client/local_asd.h"

#include <cmath>

#include "judgement/judgement.h"
#include "judgement/measures.h"

namespace livegate::client {

std::string ActionPrompt(judgement::Action action) {
  switch (action) {
    case judgement::Action::kBlink: return "Blink once";
    case judgement::Action::kOpenMouth: return "Open your mouth wide";
    case judgement::Action::kTurnLeft: return "Turn your head to your left";
    case judgement::Action::kTurnRight: return "Turn your head to your right";
    case judgement::Action::kNod: return "Nod your head";
  }
  return "";
}

LocalAsd::LocalAsd(judgement::Challenge challenge, judgement::Policy policy)
    : challenge_(std::move(challenge)), policy_(std::move(policy)) {}

void LocalAsd::AddFrame(int index, std::int64_t timestamp_ms, const cv::Mat& bgr,
                        const std::vector<vision::FaceAnalysis>& faces) {
  // Observation index = position in the capture, as the server numbers them.
  observations_.push_back(judgement::ObserveFrame(static_cast<int>(observations_.size()), timestamp_ms, bgr, faces));
  source_indices_.push_back(index);
  // Re-judging every frame is wasteful; every 3rd frame keeps prompts timely.
  if (++frames_since_eval_ >= 3) Reevaluate();
}

void LocalAsd::Reevaluate() {
  frames_since_eval_ = 0;
  if (observations_.empty() || challenge_.steps.empty()) return;
  const auto verdict = judgement::JudgeLiveness(challenge_, observations_, policy_);
  const judgement::CheckResult* actions = verdict.Find("actions");
  if (!actions) return;
  const int total = static_cast<int>(challenge_.steps.size());
  // The judgement scores a partial match as 0.5 * matched / total.
  steps_done_ = actions->passed ? total
                                : std::min(total, static_cast<int>(std::lround(actions->score * 2 * total)));
}

ActionProgress LocalAsd::Progress(std::int64_t elapsed_ms) const {
  ActionProgress p;
  p.steps_total = static_cast<int>(challenge_.steps.size());
  p.steps_done = steps_done_;
  if (challenge_.steps.empty()) {
    p.prompt = "Look at the camera and keep still";
    return p;
  }
  if (steps_done_ >= p.steps_total) {
    p.prompt = "Done - keep looking at the camera";
    return p;
  }
  const auto& next = challenge_.steps[steps_done_];
  if (elapsed_ms < next.start_ms) {
    p.prompt = steps_done_ == 0 ? "Look straight at the camera" : "Good - get ready";
    return p;
  }
  p.current_step = steps_done_;
  p.current_action = std::string(judgement::ActionName(next.action));
  p.prompt = ActionPrompt(next.action) + " (" + std::to_string(steps_done_ + 1) + " of " +
             std::to_string(p.steps_total) + ")";
  if (elapsed_ms > next.end_ms + policy_.challenge.window_slack_ms) p.prompt += " - too late for this step";
  return p;
}

PreliminaryResult LocalAsd::Finish() const {
  PreliminaryResult r;
  if (observations_.empty()) {
    r.reason = "capture.no_frames";
    return r;
  }
  const auto verdict = judgement::JudgeLiveness(challenge_, observations_, policy_);
  r.live = verdict.live;
  r.score = verdict.score;
  r.reason = verdict.reason;
  if (const auto* a = verdict.Find("actions"); a && a->passed) {
    // detail: "blink@1320ms open_mouth@2810ms "
    std::string token;
    for (char c : a->detail + " ") {
      if (c == ' ') {
        if (!token.empty()) r.detected.push_back(token);
        token.clear();
      } else {
        token.push_back(c);
      }
    }
  }
  // R-CLI-QD-2: the judgement's best frame; when no frame passes its
  // thresholds, still the highest-scoring one (the client only points).
  const auto quality = judgement::JudgeQuality(observations_, policy_);
  int best = quality.best_frames.empty() ? -1 : quality.best_frames.front();
  if (best < 0) {
    float top = -1;
    for (const auto& f : quality.frames) {
      if (f.score > top) top = f.score, best = f.index;
    }
  }
  if (best >= 0 && best < static_cast<int>(observations_.size())) {
    r.best_frame_index = source_indices_[best];
    for (const auto& f : quality.frames) {
      if (f.index == best) r.best_quality = f.score;
    }
  }
  r.quality_accepted = quality.accepted;
  r.quality_reason = quality.reason;
  return r;
}

}  // namespace livegate::client
