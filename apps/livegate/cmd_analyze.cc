// `livegate analyze IMAGE|VIDEO`: runs the face analysis engine (issue 2) on
// a still image or on every N-th frame of a video and prints, per face (per
// frame for video), the box, detector score, head pose, eye and mouth
// openness and mesh confidence; JSON with --json.
#include <cmath>
#include <cstdio>
#include <memory>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "vision/face_analyzer.h"
#include "vision/face_json.h"
#include "vision/image_io.h"

namespace {

using livegate::Status;
using livegate::StatusCode;
namespace cli = livegate::cli;
namespace vision = livegate::vision;

struct AnalyzeArgs {
  std::string input;
  bool json = false;
  int every = 1;
  std::uint64_t max_pixels = vision::ImageLimits{}.max_pixels;
  int max_frames = vision::VideoLimits{}.max_frames;
  bool descriptor = false;
  bool mesh = false;
  bool pad = false;
  bool iris = false;
  bool no_track = false;
  std::string models;
  std::string detector = "front_then_back";
};

int ExitFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kBadInput:
    case StatusCode::kTooLarge:
    case StatusCode::kUnsupported:
    case StatusCode::kNotFound:
      return cli::kExitBadInput;
    case StatusCode::kUnavailable:
      return cli::kExitUnavailable;
    default:
      return cli::kExitInternal;
  }
}

int Fail(const std::string& what, const Status& s) {
  std::cerr << "livegate analyze: " << what << ": " << s.message() << " [" << s.reason() << "]\n";
  return ExitFor(s);
}

void PrintFacesText(const std::vector<vision::FaceAnalysis>& faces, const std::string& indent) {
  if (faces.empty()) std::cout << indent << "no face\n";
  for (size_t i = 0; i < faces.size(); ++i) {
    const auto& f = faces[i];
    std::printf("%sface %zu: box %.0f,%.0f %.0fx%.0f score %.3f (%s)", indent.c_str(), i + 1, f.box.x, f.box.y,
                f.box.width, f.box.height, f.detector_score,
                f.detected_by == vision::FaceDetectorModel::kFront ? "front" : "back");
    if (f.tiny) {
      std::printf(" tiny (narrower than the minimum face size: not measured)\n");
      continue;
    }
    if (!f.mesh.empty()) {
      std::printf(" mesh %.2f yaw %+.1f pitch %+.1f roll %+.1f eyes L %.2f R %.2f mouth %.2f", f.mesh_confidence,
                  f.pose.yaw_deg, f.pose.pitch_deg, f.pose.roll_deg, f.left_eye_openness, f.right_eye_openness,
                  f.mouth_openness);
    }
    if (f.antispoof_score) std::printf(" antispoof %.2f", *f.antispoof_score);
    if (f.liveness_score) std::printf(" liveness %.2f", *f.liveness_score);
    std::printf("\n");
  }
}

nlohmann::json FacesJson(const std::vector<vision::FaceAnalysis>& faces, const vision::FaceJsonOptions& o) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& f : faces) a.push_back(vision::FaceAnalysisToJson(f, o));
  return a;
}

int RunAnalyze(const AnalyzeArgs& args) {
  std::ifstream in(args.input, std::ios::binary);
  if (!in) {
    return Fail(args.input, Status::NotFound("image.unreadable_file", "cannot open the file"));
  }
  std::vector<std::uint8_t> head(4096);
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  in.close();

  vision::AnalyzerOptions options;
  if (!args.models.empty()) options.model_dir = args.models;
  options.detector = vision::ParseDetectorChoice(args.detector).value_or(vision::DetectorChoice::kFrontThenBack);
  options.compute_descriptor = args.descriptor;
  options.compute_passive_pad = args.pad;
  options.compute_iris = args.iris;
  auto analyzer = vision::FaceAnalyzer::Create(options);
  if (!analyzer.ok()) {
    std::cerr << "livegate analyze: cannot load the face models from " << options.model_dir << ": "
              << analyzer.status().message() << " [" << analyzer.status().reason() << "]\n";
    return cli::kExitUnavailable;
  }
  const vision::FaceJsonOptions jopt{args.descriptor, args.mesh};

  // An empty file, or anything with an image signature, goes the image way
  // (so it gets the image.* reason); everything else is tried as a video.
  if (head.empty() || vision::HasStillImageSignature(head)) {
    vision::ImageLimits limits;
    limits.max_pixels = args.max_pixels;
    auto img = vision::ReadImageFile(args.input, limits);
    if (!img.ok()) return Fail(args.input, img.status());
    auto faces = (*analyzer)->Analyze(*img);
    if (!faces.ok()) return Fail(args.input, faces.status());
    if (args.json) {
      nlohmann::json out = {{"file", args.input},
                            {"kind", "image"},
                            {"width", img->cols},
                            {"height", img->rows},
                            {"faces", FacesJson(*faces, jopt)}};
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << args.input << " (" << img->cols << "x" << img->rows << "): " << faces->size() << " face(s)\n";
      PrintFacesText(*faces, "  ");
    }
    return cli::kExitOk;
  }

  vision::VideoLimits limits;
  limits.max_pixels_per_frame = args.max_pixels;
  limits.max_frames = args.max_frames;
  // Tracking (detector every 10th frame) only when frames are close in time.
  const bool track = !args.no_track && args.every <= 2;
  nlohmann::json frames = nlohmann::json::array();
  Status failure;
  int analysed = 0;
  const Status s = vision::ForEachVideoFrame(
      args.input,
      [&](const vision::VideoFrame& frame) {
        if (frame.index % args.every != 0) return true;
        auto faces = track ? (*analyzer)->AnalyzeVideoFrame(frame.bgr) : (*analyzer)->Analyze(frame.bgr);
        if (!faces.ok()) {
          failure = faces.status();
          return false;
        }
        ++analysed;
        if (args.json) {
          frames.push_back({{"index", frame.index},
                            {"timestamp_ms", std::round(frame.timestamp_ms * 1000) / 1000},
                            {"faces", FacesJson(*faces, jopt)}});
        } else {
          std::printf("frame %d (%.0f ms): %zu face(s)\n", frame.index, frame.timestamp_ms, faces->size());
          PrintFacesText(*faces, "  ");
        }
        return true;
      },
      limits);
  if (!s.ok()) {
    if (s.reason() == "video.cannot_decode") {
      std::cerr << "livegate analyze: " << args.input
                << ": not an image format this build reads (JPEG, PNG, BMP, PNM, WebP, TIFF), nor a video FFmpeg can "
                   "decode ["
                << s.reason() << "]\n";
      return cli::kExitBadInput;
    }
    return Fail(args.input, s);
  }
  if (!failure.ok()) return Fail(args.input, failure);
  if (args.json) {
    nlohmann::json out = {{"file", args.input}, {"kind", "video"}, {"every", args.every}, {"frames", frames}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << analysed << " frame(s) analysed\n";
  }
  return cli::kExitOk;
}

cli::Registration reg([](CLI::App& app) {
  auto args = std::make_shared<AnalyzeArgs>();
  auto* cmd = app.add_subcommand("analyze", "Find and measure faces in an image or a video");
  cmd->add_option("input", args->input, "Image (JPEG, PNG, BMP, PNM, WebP, TIFF) or video (mp4, webm, avi, gif...)")
      ->required();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_option("--every", args->every, "Video: analyse every N-th frame")->check(CLI::PositiveNumber);
  cmd->add_option("--max-pixels", args->max_pixels, "Refuse images (video frames) with more pixels than this")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-frames", args->max_frames, "Refuse videos with more frames than this")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--descriptor", args->descriptor, "Compute and print the 128-D descriptor");
  cmd->add_flag("--mesh", args->mesh, "Print the 468 mesh points");
  cmd->add_flag("--pad", args->pad, "Compute the passive anti-spoofing weak signals (antispoof, liveness)");
  cmd->add_flag("--iris", args->iris, "Measure eye openness with MediaPipe Iris too (iris_eye_openness)");
  cmd->add_flag("--no-track", args->no_track,
                "Video: run the detector on every analysed frame (default: track faces between frames when --every <= 2)");
  cmd->add_option("--models", args->models, "Model folder (default: LIVEGATE_MODELS or the build's models/)");
  cmd->add_option("--detector", args->detector,
                  "BlazeFace: front_then_back (front 128 model, back 256 model as fallback), back_only, front_only")
      ->check(CLI::IsMember({"front_then_back", "back_only", "front_only"}))
      ->capture_default_str();
  cmd->callback([args] { cli::SetExitCode(RunAnalyze(*args)); });
});

}  // namespace
