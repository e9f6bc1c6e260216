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

namespace livegate::server {

struct JudgedCapture {
  judgement::LivenessVerdict liveness;
  judgement::QualityReport quality;
  // Mean of the best frames' descriptors (present when quality accepted and
  // at least one best frame has a descriptor).
  std::optional<vision::Descriptor> descriptor;
  double best_quality_score = 0;  // 0..100, best frame's unified quality
  double vision_seconds = 0;      // time spent in analysis + judgement
};

class AnalyzerPool {
 public:
  // Creates `size` analyzers lazily (model loading costs ~100 ms each).
  AnalyzerPool(int size, vision::AnalyzerOptions options);
  class Lease {
   public:
    Lease(AnalyzerPool* pool, std::unique_ptr<vision::FaceAnalyzer> a) : pool_(pool), a_(std::move(a)) {}
    Lease(Lease&&) = default;
    ~Lease();
    vision::FaceAnalyzer& operator*() { return *a_; }

   private:
    AnalyzerPool* pool_;
    std::unique_ptr<vision::FaceAnalyzer> a_;
  };
  // Blocks until an analyzer is free. Errors: the analyzer's (model files).
  Result<Lease> Acquire();

 private:
  friend class Lease;
  void Release(std::unique_ptr<vision::FaceAnalyzer> a);
  vision::AnalyzerOptions options_;
  int size_;
  int created_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<vision::FaceAnalyzer>> free_;
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
