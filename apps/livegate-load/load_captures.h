// Real captures for the simulated clients, prepared once: a segment of a
// recorded clip is decoded and analysed by the client's own capture session
// (face boxes, timestamps, preliminary ASD) a single time, and the capture
// package (face crops as JPEG) is built once per set of server limits; every
// simulated flow then sends those same bytes. The clip's challenge is the
// one the server uses through its scripted-challenge hook (docs/API.md
// "Scripted challenges"): a recording cannot follow a random challenge.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "client/package.h"
#include "livegate/status.h"
#include "protocol/messages.h"

namespace livegate::load {

struct SegmentSpec {
  std::string name;            // "registration" | "authentication" (what it answers)
  std::string video;           // clip path
  int start_frame = 0;
  int end_frame = -1;
  std::string challenge_json;  // the scripted challenge this segment performs
};

// One analysed segment; Package() is thread-safe.
class PreparedSegment {
 public:
  // `min_frame_gap_ms` as the client's capture session (default ~16 fps);
  // 0 keeps every frame of the clip: captures at the camera's real rate.
  static Result<std::unique_ptr<PreparedSegment>> Prepare(const SegmentSpec& spec, const std::string& model_dir,
                                                          double min_frame_gap_ms = -1);

  const SegmentSpec& spec() const { return spec_; }
  int frames_with_face() const { return static_cast<int>(inputs_.size()); }
  // Frames a second of the analysed segment (its timestamps).
  double frames_per_second() const;
  // Frames of the last package built (what a capture sends), 0 before any.
  int frames_sent() const { return frames_sent_.load(); }
  // Frames and preliminary results for a procedure's limits (cached per
  // limits; `max_frames_cap` > 0 caps the frame count further).
  Result<std::shared_ptr<const protocol::CaptureSubmission>> Package(const protocol::Procedure& procedure,
                                                                      int max_frames_cap);

 private:
  SegmentSpec spec_;
  std::vector<client::PackageInput> inputs_;
  protocol::ClientResults preliminary_;
  std::atomic<int> frames_sent_{0};
  bool every_frame_ = false;  // real rate: the package keeps frames closer than the client's 66 ms
  std::mutex mu_;
  std::map<std::tuple<int, int, std::size_t>, std::shared_ptr<const protocol::CaptureSubmission>> cache_;
};

}  // namespace livegate::load
