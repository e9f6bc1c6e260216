// Real captures for the simulated clients, prepared once: a segment of a
// recorded clip is decoded and analysed by the client's own capture session
// (face boxes, timestamps, preliminary ASD) a single time, and the capture
// package (face crops as JPEG) is built once per set of server limits; every
// simulated flow then sends those same bytes. The clip's challenge is the
// one the server uses through its scripted-challenge hook (docs/API.md
// "Scripted challenges"): a recording cannot follow a random challenge.
#pragma once

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
  static Result<std::unique_ptr<PreparedSegment>> Prepare(const SegmentSpec& spec, const std::string& model_dir);

  const SegmentSpec& spec() const { return spec_; }
  int frames_with_face() const { return static_cast<int>(inputs_.size()); }
  // Frames and preliminary results for a procedure's limits (cached per
  // limits; `max_frames_cap` > 0 caps the frame count further).
  Result<std::shared_ptr<const protocol::CaptureSubmission>> Package(const protocol::Procedure& procedure,
                                                                      int max_frames_cap);

 private:
  SegmentSpec spec_;
  std::vector<client::PackageInput> inputs_;
  protocol::ClientResults preliminary_;
  std::mutex mu_;
  std::map<std::tuple<int, int, std::size_t>, std::shared_ptr<const protocol::CaptureSubmission>> cache_;
};

}  // namespace livegate::load
