// R-CLI-ENV-1, R-CLI-CAP-1/2, R-CLI-ASD-1..5, R-CLI-QD-1/2.
#include "client/capture_session.h"

#include <cstdio>

namespace livegate::client {
namespace {

std::vector<cv::Rect2f> Boxes(const std::vector<vision::FaceAnalysis>& faces) {
  std::vector<cv::Rect2f> boxes;
  for (const auto& f : faces) {
    if (!f.tiny) boxes.push_back(f.box);
  }
  return boxes;
}

std::string Advice(const EnvironmentReport& r) {
  std::string s;
  for (const auto& i : r.issues) s += (s.empty() ? "" : " ") + i.advice;
  return s;
}

std::string ColourAt(const judgement::Challenge& ch, std::int64_t t) {
  for (const auto& c : ch.colours) {
    if (t >= c.start_ms && t < c.end_ms) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
      return buf;
    }
  }
  return "";
}

}  // namespace

Result<CaptureOutcome> RunCaptureSession(FrameSource& source, vision::FaceAnalyzer& analyzer,
                                         const judgement::Challenge& challenge,
                                         const CaptureSessionOptions& options,
                                         const CaptureListener& listener) {
  auto notify = [&](const CaptureEvent& e) {
    if (listener) listener(e);
  };
  EnvironmentChecker env(options.environment);
  LocalAsd asd(challenge);
  CaptureOutcome out;
  const std::int64_t duration = std::max<std::int64_t>(challenge.duration_ms, 1000);

  // --- R-CLI-ENV-1: do not capture until the conditions hold.
  std::vector<CapturedFrame> pending;  // file sources: frames checked but kept
  if (options.check_environment) {
    EnvironmentReport last;
    double first_ms = -1;
    while (true) {
      LG_ASSIGN_OR_RETURN(auto next, source.Next());
      if (!next) break;
      LG_ASSIGN_OR_RETURN(auto faces, analyzer.Analyze(next->bgr));
      last = env.Check(next->bgr, Boxes(faces));
      if (first_ms < 0) first_ms = next->timestamp_ms;
      if (!source.live()) pending.push_back(std::move(*next));
      if (last.ok) break;
      CaptureEvent e;
      e.kind = CaptureEvent::Kind::kEnvironment;
      e.environment = last;
      notify(e);
      const bool out_of_time =
          source.live() ? (pending.empty() && next && next->timestamp_ms - first_ms > options.environment_timeout_ms)
                        : static_cast<int>(pending.size()) >= options.file_environment_frames;
      if (out_of_time) break;
    }
    if (!last.ok) {
      return Status(StatusCode::kFailedPrecondition, "env.conditions_not_met",
                    "the capture conditions were not met: " + Advice(last));
    }
  }

  // --- Capture for the challenge's duration, following it live.
  double t0 = -1;
  double last_kept = -1e18;
  auto take = [&](CapturedFrame& frame) -> Result<bool> {
    if (t0 < 0) t0 = frame.timestamp_ms;
    const double t = frame.timestamp_ms - t0;
    if (t > duration + options.extra_ms) return false;
    ++out.frames_seen;
    const double gap = judgement::InBlinkWindow(challenge, t, options.blink_window_slack_ms)
                           ? options.blink_window_min_gap_ms
                           : options.min_frame_gap_ms;
    if (t - last_kept < gap - 3.0) return true;  // 3 ms: camera clock jitter
    last_kept = t;
    LG_ASSIGN_OR_RETURN(auto faces, analyzer.Analyze(frame.bgr));
    const auto ts = static_cast<std::int64_t>(std::llround(t));
    asd.AddFrame(frame.index, ts, frame.bgr, faces);
    if (faces.empty() || faces.front().tiny) {
      ++out.frames_without_face;
    } else {
      PackageInput in;
      in.bgr = frame.bgr;
      in.face = faces.front().box;
      in.timestamp_ms = t;
      in.quality = ScoreFrameQuality(frame.bgr, faces.front().box);
      out.frames.push_back(std::move(in));
    }
    CaptureEvent e;
    e.kind = CaptureEvent::Kind::kCapturing;
    e.elapsed_ms = ts;
    e.duration_ms = duration;
    e.frames = static_cast<int>(out.frames.size());
    e.progress = asd.Progress(ts);
    e.colour_hex = ColourAt(challenge, ts);
    notify(e);
    return true;
  };
  for (auto& f : pending) {
    LG_ASSIGN_OR_RETURN(bool more, take(f));
    if (!more) break;
  }
  while (true) {
    LG_ASSIGN_OR_RETURN(auto next, source.Next());
    if (!next) break;
    LG_ASSIGN_OR_RETURN(bool more, take(*next));
    if (!more) break;
  }
  if (out.frames.empty()) {
    return Status(StatusCode::kFailedPrecondition, "capture.no_face",
                  "no face was seen during the capture: look at the camera");
  }
  out.preliminary = asd.Finish();
  CaptureEvent done;
  done.kind = CaptureEvent::Kind::kDone;
  done.frames = static_cast<int>(out.frames.size());
  done.progress = asd.Progress(duration + options.extra_ms);
  notify(done);
  return out;
}

}  // namespace livegate::client
