#include "server/capture_judge.h"

#include <chrono>

namespace livegate::server {

AnalyzerPool::AnalyzerPool(int size, vision::AnalyzerOptions options,
                           std::shared_ptr<const vision::PassivePadWeights> pad_weights)
    : options_(std::move(options)), pad_weights_(std::move(pad_weights)), size_(size < 1 ? 1 : size) {
  options_.compute_descriptor = false;  // the slot's describer does it on demand
}

AnalyzerPool::Lease::~Lease() {
  if (pool_ && slot_.analyzer) pool_->Release(std::move(slot_));
}

Result<AnalyzerPool::Lease> AnalyzerPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!free_.empty()) {
      Slot slot = std::move(free_.back());
      free_.pop_back();
      return Lease(this, std::move(slot));
    }
    if (created_ < size_) {
      ++created_;
      lock.unlock();
      auto a = vision::FaceAnalyzer::Create(options_);
      auto d = a.ok() ? judgement::FrameDescriber::Create(options_.model_dir)
                      : Result<std::unique_ptr<judgement::FrameDescriber>>(a.status());
      std::unique_ptr<vision::PassivePadModel> pad;
      if (d.ok() && pad_weights_) {
        auto m = vision::PassivePadModel::Create(pad_weights_);
        if (m.ok()) pad = std::move(m).value();
        else d = m.status();
      }
      if (!d.ok()) {
        std::lock_guard<std::mutex> relock(mu_);
        --created_;
        return d.status();
      }
      return Lease(this, Slot{std::move(a).value(), std::move(d).value(), std::move(pad)});
    }
    cv_.wait(lock);
  }
}

void AnalyzerPool::Release(Slot slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(slot));
  }
  cv_.notify_one();
}

namespace {

// The capture's template: the mean descriptor of the comparison frames
// (judgement::ComparisonFrames: spread over the capture). JudgeCapture has
// described them already (FramesToDescribe includes them: issue 16); only
// the images-only path (JudgeImagesWithPool) describes them here.
Status FillDescriptor(JudgedCapture& out, std::vector<judgement::FrameObservation>& obs,
                      const judgement::Capture& capture, judgement::FrameDescriber& describer,
                      const judgement::Policy& policy, double min_quality_score) {
  if (!out.quality.accepted || out.quality.best_frames.empty()) return Status::Ok();
  for (const auto& fq : out.quality.frames) {
    if (fq.index == out.quality.best_frames.front()) out.best_quality_score = fq.score;
  }
  if (out.best_quality_score < min_quality_score) {
    out.quality.accepted = false;
    out.quality.reason = "quality.below_tier_minimum";
    return Status::Ok();
  }
  vision::Descriptor mean{};
  int n = 0;
  for (int idx : judgement::ComparisonFrames(out.quality, policy)) {
    if (idx < 0 || idx >= static_cast<int>(obs.size()) || !obs[idx].has_mesh) continue;
    if (!obs[idx].descriptor) {
      LG_ASSIGN_OR_RETURN(obs[idx].descriptor, describer.Describe(capture.frames[idx].bgr, obs[idx].align_points));
    }
    for (std::size_t i = 0; i < mean.size(); ++i) mean[i] += (*obs[idx].descriptor)[i];
    ++n;
  }
  if (n == 0) return Status::Ok();
  for (auto& v : mean) v /= static_cast<float>(n);
  out.descriptor = mean;
  out.descriptor_frames = n;
  return Status::Ok();
}

}  // namespace

Result<JudgedCapture> JudgeCaptureWithPool(AnalyzerPool& pool, const judgement::Challenge& challenge,
                                           const judgement::Capture& capture,
                                           const judgement::Policy& policy,
                                           double min_quality_score) {
  const auto t0 = std::chrono::steady_clock::now();
  LG_ASSIGN_OR_RETURN(auto lease, pool.Acquire());
  LG_ASSIGN_OR_RETURN(auto j, judgement::JudgeCapture(challenge, capture, *lease, policy,
                                                             &lease.describer(), lease.pad_model()));
  JudgedCapture out;
  out.liveness = std::move(j.liveness);
  out.quality = std::move(j.quality);
  LG_RETURN_IF_ERROR(FillDescriptor(out, j.observations, capture, lease.describer(), policy, min_quality_score));
  out.vision_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

Result<JudgedCapture> JudgeImagesWithPool(AnalyzerPool& pool, const judgement::Capture& capture,
                                          const judgement::Policy& policy,
                                          double min_quality_score) {
  const auto t0 = std::chrono::steady_clock::now();
  LG_ASSIGN_OR_RETURN(auto lease, pool.Acquire());
  LG_ASSIGN_OR_RETURN(auto obs, judgement::ObserveCapture(capture, *lease, policy));
  JudgedCapture out;
  out.quality = judgement::JudgeQuality(obs, policy);
  LG_RETURN_IF_ERROR(FillDescriptor(out, obs, capture, lease.describer(), policy, min_quality_score));
  out.vision_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace livegate::server
