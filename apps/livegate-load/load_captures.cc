#include "load_captures.h"

#include <algorithm>
#include <cmath>

#include "client/capture.h"
#include "client/capture_session.h"
#include "judgement/judgement.h"
#include "vision/face_analyzer.h"

namespace livegate::load {

Result<std::unique_ptr<PreparedSegment>> PreparedSegment::Prepare(const SegmentSpec& spec,
                                                                  const std::string& model_dir,
                                                                  double min_frame_gap_ms) {
  auto seg = std::unique_ptr<PreparedSegment>(new PreparedSegment());
  seg->spec_ = spec;
  LG_ASSIGN_OR_RETURN(auto challenge, judgement::ChallengeFromJson(spec.challenge_json));
  vision::AnalyzerOptions ao;
  if (!model_dir.empty()) ao.model_dir = model_dir;
  ao.compute_descriptor = false;  // as the real client: the server extracts features
  LG_ASSIGN_OR_RETURN(auto analyzer, vision::FaceAnalyzer::Create(ao));
  client::CaptureOptions co;
  co.kind = client::CaptureOptions::Kind::kVideoFile;
  co.path = spec.video;
  co.start_frame = spec.start_frame;
  co.end_frame = spec.end_frame;
  LG_ASSIGN_OR_RETURN(auto source, client::FrameSource::Open(co));
  client::CaptureSessionOptions so;
  if (min_frame_gap_ms >= 0) so.min_frame_gap_ms = min_frame_gap_ms;
  seg->every_frame_ = min_frame_gap_ms == 0;
  LG_ASSIGN_OR_RETURN(auto captured, client::RunCaptureSession(*source, *analyzer, challenge, so, {}));
  seg->inputs_ = std::move(captured.frames);
  seg->preliminary_.live = captured.preliminary.live;
  seg->preliminary_.actions_detected = captured.preliminary.detected;
  return seg;
}

double PreparedSegment::frames_per_second() const {
  if (inputs_.size() < 2) return 0;
  const double span = inputs_.back().timestamp_ms - inputs_.front().timestamp_ms;
  return span > 0 ? 1000.0 * static_cast<double>(inputs_.size() - 1) / span : 0;
}

Result<std::shared_ptr<const protocol::CaptureSubmission>> PreparedSegment::Package(
    const protocol::Procedure& procedure, int max_frames_cap) {
  int max_frames = procedure.max_frames > 0 ? procedure.max_frames : client::PackageOptions{}.max_frames;
  if (max_frames_cap > 0) max_frames = std::min(max_frames, max_frames_cap);
  const auto key = std::make_tuple(max_frames, procedure.max_frame_side, procedure.max_frame_bytes);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = cache_.find(key); it != cache_.end()) {
    frames_sent_ = static_cast<int>(it->second->frames.size());
    return it->second;
  }
  client::PackageOptions po;
  po.max_frames = max_frames;
  if (every_frame_) po.min_gap_ms = 0;
  if (procedure.max_frame_side > 0) po.max_side = std::min(po.max_side, procedure.max_frame_side);
  // As the real client (src/client/client.cc): lower the JPEG quality until
  // every frame fits the per-frame byte bound.
  Result<client::CapturePackage> package = Status::Internal("package.unset", "");
  for (int quality = 90; quality >= 40; quality -= 10) {
    po.jpeg_quality = quality;
    package = client::BuildCapturePackage(inputs_, po);
    if (!package.ok()) return package.status();
    std::size_t largest = 0;
    for (const auto& f : package->frames) largest = std::max(largest, f.jpeg.size());
    if (procedure.max_frame_bytes == 0 || largest <= procedure.max_frame_bytes) break;
  }
  auto sub = std::make_shared<protocol::CaptureSubmission>();
  for (const auto& f : package->frames) {
    sub->frames.push_back({static_cast<std::int64_t>(std::llround(f.timestamp_ms)), f.jpeg});
  }
  sub->client = preliminary_;
  sub->client.best_frame = package->best_frame;
  sub->client.quality = package->best_frame >= 0 ? package->frames[package->best_frame].quality : 0;
  cache_[key] = sub;
  frames_sent_ = static_cast<int>(sub->frames.size());
  return std::shared_ptr<const protocol::CaptureSubmission>(sub);
}

}  // namespace livegate::load
