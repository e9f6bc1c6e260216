// Judgement of a 30-frame capture end to end on one core (issue 4 target:
// <= 300 ms). Frames: the first 30 frames, sampled at 15 fps, of a real
// face video from the shared data (LIVEGATE_TEST_DATA), decoded before
// timing (the server receives decoded JPEGs; decoding is timed apart).
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <benchmark/benchmark.h>
#include <opencv2/core.hpp>

#include "judgement/judgement.h"
#include "vision/image_io.h"

namespace {

namespace lj = livegate::judgement;

std::filesystem::path DataDir() {
  const char* env = std::getenv("LIVEGATE_TEST_DATA");
  return env ? env : LIVEGATE_TEST_DATA_DEFAULT;
}

const lj::Capture& Capture30() {
  static lj::Capture cap = [] {
    lj::Capture c;
    const auto clip = DataDir() / "2_face_video/liveportrait/liveportrait_d9.mp4";
    int kept = 0;
    auto st = livegate::vision::ForEachVideoFrame(clip, [&](const livegate::vision::VideoFrame& f) {
      if (f.index % 2 == 0) c.frames.push_back({std::int64_t(f.timestamp_ms), f.bgr.clone()}), ++kept;
      return kept < 30;
    });
    if (!st.ok()) std::cerr << "cannot read " << clip << ": " << st.ToString() << "\n";
    return c;
  }();
  return cap;
}

lj::Challenge Script() {
  lj::Challenge c;
  c.scripted = true;
  c.steps = {{lj::Action::kOpenMouth, 0, 4000}};
  return c;
}

void BM_JudgeCapture30(benchmark::State& state, bool passive_models) {
  cv::setNumThreads(1);  // one core
  const auto& cap = Capture30();
  if (cap.frames.size() != 30) {
    state.SkipWithError("test data missing (set LIVEGATE_TEST_DATA)");
    return;
  }
  livegate::vision::AnalyzerOptions ao;
  ao.compute_passive_pad = passive_models;
  auto analyzer = livegate::vision::FaceAnalyzer::Create(ao);
  if (!analyzer.ok()) {
    state.SkipWithError(analyzer.status().ToString().c_str());
    return;
  }
  lj::Policy policy;
  policy.challenge.allow_scripted = true;
  const auto challenge = Script();
  bool live = false;
  for (auto _ : state) {
    auto j = lj::JudgeCapture(challenge, cap, **analyzer, policy);
    if (!j.ok()) {
      state.SkipWithError(j.status().ToString().c_str());
      return;
    }
    live = j->liveness.live;
    benchmark::DoNotOptimize(j->quality.best_frames.data());
  }
  state.counters["frames"] = 30;
  state.counters["live"] = live;
  state.counters["ms_per_frame"] =
      benchmark::Counter(30.0 * double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_JudgementOnly30(benchmark::State& state) {
  // The pure part: observations in, verdict + quality out.
  cv::setNumThreads(1);
  const auto& cap = Capture30();
  auto analyzer = livegate::vision::FaceAnalyzer::Create({});
  if (cap.frames.size() != 30 || !analyzer.ok()) {
    state.SkipWithError("test data or models missing");
    return;
  }
  lj::Policy policy;
  policy.challenge.allow_scripted = true;
  auto obs = lj::ObserveCapture(cap, **analyzer, policy);
  if (!obs.ok()) {
    state.SkipWithError(obs.status().ToString().c_str());
    return;
  }
  const auto challenge = Script();
  for (auto _ : state) {
    auto v = lj::JudgeLiveness(challenge, *obs, policy);
    auto q = lj::JudgeQuality(*obs, policy);
    benchmark::DoNotOptimize(v.score);
    benchmark::DoNotOptimize(q.accepted);
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_JudgeCapture30, without_passive_models, false)->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK_CAPTURE(BM_JudgeCapture30, with_passive_models, true)->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK(BM_JudgementOnly30)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
