// Server-side judgement of a capture package (X.1279 7.3.2-7.3.4;
// R-FLOW-X1: quality judgement, then anti-spoofing judgement, then the
// descriptor the server extracts itself - decision 11.4). Frames are decoded
// here with size limits and discarded after judgement (never stored).
//
// FaceAnalyzer is not thread-safe: a pool holds one analyzer per worker.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "judgement/judgement.h"
#include "livegate/status.h"
#include "vision/face_analyzer.h"
#include "vision/passive_pad_model.h"

namespace livegate::server {

struct JudgedCapture {
  judgement::LivenessVerdict liveness;
  judgement::QualityReport quality;
  // The capture's template: the mean descriptor of up to
  // quality.best_frames frames spread over the capture (the first, middle
  // and last in time of the frames passing every quality measure: diverse
  // frames, measured better than the top quality scores, which tend to be
  // neighbours - docs/EVALUATION.md). Present when quality accepted and at
  // least one such frame has a descriptor.
  std::optional<vision::Descriptor> descriptor;
  int descriptor_frames = 0;  // frames averaged into `descriptor`
  double best_quality_score = 0;  // 0..100, best frame's unified quality
  double vision_seconds = 0;      // time spent in analysis + judgement
};

// One slot = a FaceAnalyzer without descriptors plus a FrameDescriber:
// the judgement's fast path (docs/ANTISPOOFING.md) computes the 128-D
// descriptor only on the few frames the identity check and the comparison
// need, instead of on every frame (~4 descriptors instead of 30 for a
// 30-frame capture).
class AnalyzerPool {
 public:
  // Creates `size` slots lazily (model loading costs ~100 ms each).
  // options.compute_descriptor is ignored (always off; the slot's describer
  // computes descriptors on demand).
  // `pad_weights` (optional): the verified passive PAD model
  // (vision::ReadPinnedPassivePad); each slot builds its own network from it.
  AnalyzerPool(int size, vision::AnalyzerOptions options,
               std::shared_ptr<const vision::PassivePadWeights> pad_weights = nullptr);
  struct Slot {
    std::unique_ptr<vision::FaceAnalyzer> analyzer;
    std::unique_ptr<judgement::FrameDescriber> describer;
    std::unique_ptr<vision::PassivePadModel> pad_model;  // null: no model configured
  };
  class Lease {
   public:
    Lease(AnalyzerPool* pool, Slot slot) : pool_(pool), slot_(std::move(slot)) {}
    Lease(Lease&&) = default;
    ~Lease();
    vision::FaceAnalyzer& operator*() { return *slot_.analyzer; }
    judgement::FrameDescriber& describer() { return *slot_.describer; }
    vision::PassivePadModel* pad_model() { return slot_.pad_model.get(); }

   private:
    AnalyzerPool* pool_;
    Slot slot_;
  };
  // Blocks until a slot is free. Errors: the models' (model.* reasons).
  Result<Lease> Acquire();

 private:
  friend class Lease;
  void Release(Slot slot);
  vision::AnalyzerOptions options_;
  std::shared_ptr<const vision::PassivePadWeights> pad_weights_;
  int size_;
  int created_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> free_;
};

// Judges one capture. `min_quality_score` (0..100) is the tier's extra bar
// on the best frame's unified quality score.
Result<JudgedCapture> JudgeCaptureWithPool(AnalyzerPool& pool, const judgement::Challenge& challenge,
                                           const judgement::Capture& capture,
                                           const judgement::Policy& policy,
                                           double min_quality_score);

// Images (batch import, R-SRV-REG-1/2): quality judgement only, descriptor
// from the best frames. Liveness is not judged (no challenge).
Result<JudgedCapture> JudgeImagesWithPool(AnalyzerPool& pool, const judgement::Capture& capture,
                                          const judgement::Policy& policy,
                                          double min_quality_score);

}  // namespace livegate::server
