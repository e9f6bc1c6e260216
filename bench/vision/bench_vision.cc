// Vision benchmarks (issue 2, "Performance"): each model alone and the full
// frame analysis (detect + mesh + pose + descriptor) on Debian's dlib example
// images and on a 640x480 frame with one face, with OpenCV on 1 and 2
// threads (the /threads:N argument); the detector as the analyzer runs it by
// default (front 128 model first, back 256 model as fallback) and pinned to
// the back model (*_BackOnly: the engine before the front model). Google
// Benchmark prints the figures; --benchmark_format=json gives JSON.
//
// Data: the dlib examples (/usr/share/doc/libdlib19.1/examples/faces) and
// the first frame of a real webcam clip with one face,
// 3_presentation_attack/zubaircrackscode/zubair_real.webm (960x540) from the
// shared test data (LIVEGATE_TEST_DATA), centre-cropped to 4:3 and resized to
// 640x480. Models: LIVEGATE_MODELS.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/alignment.h"
#include "vision/blazeface_decode.h"
#include "vision/face_analyzer.h"
#include "vision/face_measures.h"
#include "vision/head_pose.h"
#include "vision/image_io.h"
#include "vision/models.h"
#include "vision/passive_pad_model.h"

namespace lv = livegate::vision;
namespace fs = std::filesystem;

namespace {

const fs::path kDlibFaces = "/usr/share/doc/libdlib19.1/examples/faces";

fs::path TestDataDir() {
  const char* env = std::getenv("LIVEGATE_TEST_DATA");
  return env && *env ? fs::path(env) : fs::path(LIVEGATE_TEST_DATA_DEFAULT);
}

template <typename T>
T Must(livegate::Result<T> r, const std::string& what) {
  if (!r.ok()) {
    std::cerr << "bench_vision: " << what << ": " << r.status().ToString() << "\n";
    std::exit(2);
  }
  return std::move(r).value();
}

// The first frame of the bona fide webcam clip (960x540), decoded once.
const cv::Mat& FirstWebcamFrame() {
  static const cv::Mat frame = [] {
    const fs::path video = TestDataDir() / "3_presentation_attack/zubaircrackscode/zubair_real.webm";
    cv::Mat first;
    const auto s = lv::ForEachVideoFrame(video, [&](const lv::VideoFrame& f) {
      first = f.bgr.clone();
      return false;
    });
    if (!s.ok()) {
      std::cerr << "bench_vision: " << video << ": " << s.ToString() << "\n";
      std::exit(2);
    }
    return first;
  }();
  return frame;
}

// The 640x480 frame with one face.
const cv::Mat& Frame640() {
  static const cv::Mat frame = [] {
    const cv::Mat& first = FirstWebcamFrame();
    const int w43 = std::min(first.cols, first.rows * 4 / 3);
    const cv::Mat centre = first(cv::Rect((first.cols - w43) / 2, 0, w43, first.rows));
    cv::Mat out;
    cv::resize(centre, out, {640, 480}, 0, 0, cv::INTER_AREA);
    return out;
  }();
  return frame;
}

std::vector<fs::path> DlibImages() {
  std::vector<fs::path> v;
  if (!fs::exists(kDlibFaces)) return v;
  for (const auto& e : fs::directory_iterator(kDlibFaces)) {
    if (e.path().extension() == ".jpg") v.push_back(e.path());
  }
  std::sort(v.begin(), v.end());
  return v;
}

void SetThreads(benchmark::State& state) { cv::setNumThreads(static_cast<int>(state.range(0))); }

// Model inputs cut from the 640x480 frame, as the pipeline cuts them.
struct ModelInputs {
  cv::Mat det256, det128, mesh192, chip150, crop128, crop32, eye64;
};
const ModelInputs& Inputs() {
  static const ModelInputs in = [] {
    ModelInputs m;
    lv::LetterboxRgb(Frame640(), 256, m.det256);
    lv::LetterboxRgb(Frame640(), 128, m.det128);
    lv::AnalyzerOptions o;
    auto a = Must(lv::FaceAnalyzer::Create(o), "analyzer");
    auto faces = Must(a->Analyze(Frame640()), "analyze frame");
    if (faces.size() != 1) {
      std::cerr << "bench_vision: expected one face in the 640x480 frame, found " << faces.size() << "\n";
      std::exit(2);
    }
    const auto& f = faces[0];
    const cv::Point2f c(f.box.x + f.box.width / 2, f.box.y + f.box.height / 2);
    const float ext = std::max(f.box.width, f.box.height);
    cv::Mat bgr;
    lv::WarpCrop(Frame640(), lv::MakeRotatedCrop(c, ext * 1.5f, 0, 192), 192, bgr);
    cv::cvtColor(bgr, m.mesh192, cv::COLOR_BGR2RGB);
    cv::cvtColor(f.chip, m.chip150, cv::COLOR_BGR2RGB);
    lv::WarpCrop(Frame640(), lv::MakeRotatedCrop(c, ext, 0, 128), 128, bgr);
    cv::cvtColor(bgr, m.crop128, cv::COLOR_BGR2RGB);
    cv::resize(m.crop128, m.crop32, {32, 32}, 0, 0, cv::INTER_AREA);
    // The left eye (mesh points 33 and 133: its corners) in a square twice
    // as wide as the eye, as the Iris input.
    auto mesh = Must(Must(lv::FaceMeshModel::Load(lv::DefaultModelDir()), "facemesh")->Run(m.mesh192), "mesh");
    const cv::Point2f corner_a(mesh.points[33].x, mesh.points[33].y), corner_b(mesh.points[133].x, mesh.points[133].y);
    const float side = 2.0f * static_cast<float>(cv::norm(corner_a - corner_b));
    const cv::Point2f eye = (corner_a + corner_b) * 0.5f;
    cv::Rect r(cvRound(eye.x - side / 2), cvRound(eye.y - side / 2), cvRound(side), cvRound(side));
    r &= cv::Rect(0, 0, 192, 192);
    cv::resize(m.mesh192(r), m.eye64, {64, 64}, 0, 0, cv::INTER_AREA);
    return m;
  }();
  return in;
}

const fs::path& ModelDir() {
  static const fs::path d = lv::DefaultModelDir();
  return d;
}

void BM_BlazeFace(benchmark::State& state) {
  SetThreads(state);
  auto m = Must(lv::BlazeFaceModel::Load(ModelDir()), "blazeface");
  const cv::Mat& in = Inputs().det256;
  for (auto _ : state) benchmark::DoNotOptimize(m->Run(in));
}
void BM_BlazeFaceFront(benchmark::State& state) {
  SetThreads(state);
  auto m = Must(lv::BlazeFaceFrontModel::Load(ModelDir()), "blazeface front");
  const cv::Mat& in = Inputs().det128;
  for (auto _ : state) benchmark::DoNotOptimize(m->Run(in));
}
void BM_FaceMesh(benchmark::State& state) {
  SetThreads(state);
  auto m = Must(lv::FaceMeshModel::Load(ModelDir()), "facemesh");
  const cv::Mat& in = Inputs().mesh192;
  for (auto _ : state) benchmark::DoNotOptimize(m->Run(in));
}
// MediaPipe Iris on a 64x64 crop of the left eye (the blink measure, issue 16).
void BM_Iris(benchmark::State& state) {
  SetThreads(state);
  auto m = Must(lv::IrisModel::Load(ModelDir()), "iris");
  const cv::Mat& in = Inputs().eye64;
  for (auto _ : state) benchmark::DoNotOptimize(m->Run(in));
}
void BM_Descriptor(benchmark::State& state) {
  SetThreads(state);
  auto m = Must(lv::DescriptorModel::Load(ModelDir()), "descriptor");
  const cv::Mat& in = Inputs().chip150;
  for (auto _ : state) benchmark::DoNotOptimize(m->Run(in));
}
// The int8 experiment (MODELS.md): the descriptor quantised by
// cv::dnn::Net::quantize, calibrated on the chips of the dlib example faces
// (the timed chip is the 640x480 frame's, not one of them).
std::vector<cv::Mat> DlibChipsRgb() {
  std::vector<cv::Mat> chips;
  auto a = Must(lv::FaceAnalyzer::Create(lv::AnalyzerOptions{}), "analyzer");
  for (const auto& p : DlibImages()) {
    for (const auto& f : Must(a->Analyze(Must(lv::ReadImageFile(p), p.string())), p.string())) {
      if (f.chip.empty()) continue;
      cv::Mat rgb;
      cv::cvtColor(f.chip, rgb, cv::COLOR_BGR2RGB);
      chips.push_back(rgb);
    }
  }
  return chips;
}
void BM_DescriptorInt8(benchmark::State& state) {
  SetThreads(state);
  static const std::vector<cv::Mat> calibration = DlibChipsRgb();
  if (calibration.empty()) {
    state.SkipWithError("dlib example images missing (calibration)");
    return;
  }
  auto m = Must(lv::DescriptorModel::LoadQuantized(ModelDir(), calibration), "descriptor int8");
  const cv::Mat& in = Inputs().chip150;
  for (auto _ : state) benchmark::DoNotOptimize(m->Run(in));
  state.counters["calibration_chips"] = static_cast<double>(calibration.size());
}
void BM_Antispoof(benchmark::State& state) {
  SetThreads(state);
  auto m = Must(lv::AntispoofModel::Load(ModelDir()), "antispoof");
  const cv::Mat& in = Inputs().crop128;
  for (auto _ : state) benchmark::DoNotOptimize(m->Run(in));
}
void BM_Liveness(benchmark::State& state) {
  SetThreads(state);
  auto m = Must(lv::LivenessModel::Load(ModelDir()), "liveness");
  const cv::Mat& in = Inputs().crop32;
  for (auto _ : state) benchmark::DoNotOptimize(m->Run(in));
}

// The optional passive PAD model (issue 13): crop (1.5x box, 128x128) +
// network, one face. The evaluation-only model is read from
// LIVEGATE_PAD_MODEL_DIR (default <test data>/../models/pad); never shipped.
void BM_PassivePadModel(benchmark::State& state) {
  SetThreads(state);
  const char* env = std::getenv("LIVEGATE_PAD_MODEL_DIR");
  lv::PassivePadOptions o;
  o.file = (env && *env ? fs::path(env) : TestDataDir().parent_path() / "models" / "pad") / "AntiSpoofing_bin_1.5_128.onnx";
  o.sha256 = "a6c0553fab996a56962baeb0a49013a03c32b866999f6aea76936b6833929bda";
  auto w = lv::ReadPinnedPassivePad(o);
  if (!w.ok()) {
    state.SkipWithError(("passive PAD model absent: " + w.status().ToString()).c_str());
    return;
  }
  auto m = Must(lv::PassivePadModel::Create(*w), "passive pad");
  const cv::Mat& frame = FirstWebcamFrame();
  const cv::Rect2f box(frame.cols * 0.35f, frame.rows * 0.2f, frame.cols * 0.25f, frame.rows * 0.45f);
  for (auto _ : state) benchmark::DoNotOptimize(m->LiveProbability(frame, box));
}

// Post-processing alone (no network): decode + NMS, pose, measures.
void BM_BlazeFaceDecode(benchmark::State& state) {
  std::vector<float> logits(896, -5.f);
  cv::Mat reg(896, 16, CV_32F);
  cv::randu(reg, -10, 10);
  reg.col(2).setTo(60);
  reg.col(3).setTo(60);
  for (int i = 300; i < 320; ++i) logits[i] = 3.f;
  for (auto _ : state) benchmark::DoNotOptimize(lv::DecodeBlazeFace(logits, reg, 0.75f, 0.3f));
}

lv::AnalyzerOptions FullOptions() {
  lv::AnalyzerOptions o;
  o.compute_mesh = true;
  o.compute_descriptor = true;
  return o;
}

lv::AnalyzerOptions BackOnly(lv::AnalyzerOptions o) {
  o.detector = lv::DetectorChoice::kBackOnly;
  return o;
}

// The detectors that found the faces of one result: counters a reader can
// check (front_faces = faces found by the front model alone).
void CountDetectors(benchmark::State& state, const std::vector<lv::FaceAnalysis>& faces) {
  size_t front = 0;
  for (const auto& f : faces) front += f.detected_by == lv::FaceDetectorModel::kFront ? 1 : 0;
  state.counters["faces"] = static_cast<double>(faces.size());
  state.counters["front_faces"] = static_cast<double>(front);
}

void DetectOnly(benchmark::State& state, lv::AnalyzerOptions o, const cv::Mat& frame) {
  SetThreads(state);
  o.compute_mesh = false;
  o.compute_descriptor = false;
  auto a = Must(lv::FaceAnalyzer::Create(o), "analyzer");
  std::vector<lv::FaceAnalysis> last;
  for (auto _ : state) {
    auto r = a->Analyze(frame);
    if (r.ok()) last = std::move(r).value();
  }
  CountDetectors(state, last);
}

void FullAnalysis(benchmark::State& state, const lv::AnalyzerOptions& o, const cv::Mat& frame) {
  SetThreads(state);
  auto a = Must(lv::FaceAnalyzer::Create(o), "analyzer");
  std::vector<lv::FaceAnalysis> last;
  for (auto _ : state) {
    auto r = a->Analyze(frame);
    if (r.ok()) last = std::move(r).value();
  }
  CountDetectors(state, last);
}

// The same webcam frame with the whole 960x540 picture resized to 640x360:
// the face is ~0.19 of the longer side (under front_min_face_fraction 0.24),
// so the default runs the front model and then the back model - the
// fallback's cost.
const cv::Mat& FrameSmallFace() {
  static const cv::Mat frame = [] {
    const cv::Mat& first = FirstWebcamFrame();
    cv::Mat out;
    cv::resize(first, out, {640, 360}, 0, 0, cv::INTER_AREA);
    return out;
  }();
  return frame;
}

void BM_DetectOnly640x480(benchmark::State& state) { DetectOnly(state, FullOptions(), Frame640()); }
void BM_DetectOnly640x480_BackOnly(benchmark::State& state) { DetectOnly(state, BackOnly(FullOptions()), Frame640()); }
void BM_FullAnalysis640x480(benchmark::State& state) { FullAnalysis(state, FullOptions(), Frame640()); }
void BM_FullAnalysis640x480_BackOnly(benchmark::State& state) {
  FullAnalysis(state, BackOnly(FullOptions()), Frame640());
}
void BM_FullAnalysis640x360SmallFace(benchmark::State& state) { FullAnalysis(state, FullOptions(), FrameSmallFace()); }
void BM_FullAnalysis640x360SmallFace_BackOnly(benchmark::State& state) {
  FullAnalysis(state, BackOnly(FullOptions()), FrameSmallFace());
}

// Consecutive frames of the same webcam clip (first 60, 640x480 as above)
// through AnalyzeVideoFrame: the detector runs every 10th frame, other
// frames place FaceMesh from the previous mesh. One iteration = one frame.
void BM_TrackedVideo640x480(benchmark::State& state) {
  SetThreads(state);
  static const std::vector<cv::Mat> frames = [] {
    std::vector<cv::Mat> v;
    const fs::path video = TestDataDir() / "3_presentation_attack/zubaircrackscode/zubair_real.webm";
    const auto s = lv::ForEachVideoFrame(video, [&](const lv::VideoFrame& f) {
      const int w43 = std::min(f.bgr.cols, f.bgr.rows * 4 / 3);
      cv::Mat out;
      cv::resize(f.bgr(cv::Rect((f.bgr.cols - w43) / 2, 0, w43, f.bgr.rows)), out, {640, 480}, 0, 0,
                 cv::INTER_AREA);
      v.push_back(out);
      return v.size() < 60;
    });
    if (!s.ok()) {
      std::cerr << "bench_vision: " << video << ": " << s.ToString() << "\n";
      std::exit(2);
    }
    return v;
  }();
  auto a = Must(lv::FaceAnalyzer::Create(FullOptions()), "analyzer");
  size_t i = 0, tracked = 0, faces = 0;
  for (auto _ : state) {
    if (i % frames.size() == 0) a->ResetTracking();  // the clip restarts: not a continuation
    auto r = a->AnalyzeVideoFrame(frames[i++ % frames.size()]);
    if (r.ok()) {
      faces += r->size();
      for (const auto& f : *r) tracked += f.tracked ? 1 : 0;
    }
  }
  state.counters["faces_per_frame"] = static_cast<double>(faces) / state.iterations();
  state.counters["tracked_share"] = faces ? static_cast<double>(tracked) / faces : 0.0;
}

// All dlib example images in turn (decoded once, outside the timing); one
// iteration = one image. Faces per image vary (0 to 10+).
void BM_FullAnalysisDlibExamples(benchmark::State& state) {
  SetThreads(state);
  static const std::vector<cv::Mat> images = [] {
    std::vector<cv::Mat> v;
    for (const auto& p : DlibImages()) v.push_back(Must(lv::ReadImageFile(p), p.string()));
    return v;
  }();
  if (images.empty()) {
    state.SkipWithError("dlib example images missing");
    return;
  }
  auto a = Must(lv::FaceAnalyzer::Create(FullOptions()), "analyzer");
  size_t i = 0, faces = 0;
  for (auto _ : state) {
    auto r = a->Analyze(images[i++ % images.size()]);
    if (r.ok()) faces += r->size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["faces_per_image"] = benchmark::Counter(static_cast<double>(faces) / state.iterations());
}

// Per image, so the figure for each dlib example can be read.
void RegisterPerImage() {
  for (const auto& p : DlibImages()) {
    benchmark::RegisterBenchmark(("BM_FullAnalysis/" + p.filename().string()).c_str(),
                                 [p](benchmark::State& state) {
                                   SetThreads(state);
                                   const cv::Mat img = Must(lv::ReadImageFile(p), p.string());
                                   auto a = Must(lv::FaceAnalyzer::Create(FullOptions()), "analyzer");
                                   size_t faces = 0;
                                   for (auto _ : state) {
                                     auto r = a->Analyze(img);
                                     faces = r.ok() ? r->size() : 0;
                                   }
                                   state.counters["faces"] = static_cast<double>(faces);
                                   state.counters["pixels"] = static_cast<double>(img.total());
                                 })
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond);
  }
}

#define LG_THREADS(b) BENCHMARK(b)->ArgName("threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)
LG_THREADS(BM_BlazeFace);
LG_THREADS(BM_BlazeFaceFront);
LG_THREADS(BM_FaceMesh);
LG_THREADS(BM_Iris);
LG_THREADS(BM_Descriptor);
LG_THREADS(BM_DescriptorInt8);
LG_THREADS(BM_Antispoof);
LG_THREADS(BM_Liveness);
LG_THREADS(BM_PassivePadModel);
BENCHMARK(BM_BlazeFaceDecode)->Unit(benchmark::kMicrosecond);
LG_THREADS(BM_DetectOnly640x480);
LG_THREADS(BM_DetectOnly640x480_BackOnly);
LG_THREADS(BM_FullAnalysis640x480);
LG_THREADS(BM_FullAnalysis640x480_BackOnly);
LG_THREADS(BM_FullAnalysis640x360SmallFace);
LG_THREADS(BM_FullAnalysis640x360SmallFace_BackOnly);
LG_THREADS(BM_TrackedVideo640x480);
LG_THREADS(BM_FullAnalysisDlibExamples);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RegisterPerImage();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
