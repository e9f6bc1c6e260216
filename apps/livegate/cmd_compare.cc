// `livegate compare IMAGE_A IMAGE_B`: the comparison function (R-SRV-CMP-1)
// on two images: the largest face of each, dlib-aligned, 128-D descriptors,
// Euclidean distance and the same/different decision at a threshold.
// Exit 0 = same person, 1 = different (a decision), 3 = bad input or no face.
#include <cmath>
#include <cstdio>
#include <memory>
#include <iostream>

#include <nlohmann/json.hpp>

#include "command.h"
#include "vision/face_analyzer.h"
#include "vision/image_io.h"

namespace {

using livegate::Status;
namespace cli = livegate::cli;
namespace vision = livegate::vision;

struct CompareArgs {
  std::string a, b;
  float threshold = vision::kDefaultCompareThreshold;
  bool json = false;
  std::uint64_t max_pixels = vision::ImageLimits{}.max_pixels;
  std::string models;
  std::string detector = "front_then_back";
};

struct Side {
  int faces = 0;
  vision::FaceAnalysis face;
};

int RunCompare(const CompareArgs& args) {
  vision::AnalyzerOptions options;
  if (!args.models.empty()) options.model_dir = args.models;
  options.detector = vision::ParseDetectorChoice(args.detector).value_or(vision::DetectorChoice::kFrontThenBack);
  options.compute_mesh = true;
  options.compute_descriptor = true;
  auto analyzer = vision::FaceAnalyzer::Create(options);
  if (!analyzer.ok()) {
    std::cerr << "livegate compare: cannot load the face models from " << options.model_dir << ": "
              << analyzer.status().message() << " [" << analyzer.status().reason() << "]\n";
    return cli::kExitUnavailable;
  }
  vision::ImageLimits limits;
  limits.max_pixels = args.max_pixels;
  Side sides[2];
  const std::string* paths[2] = {&args.a, &args.b};
  for (int i = 0; i < 2; ++i) {
    auto img = vision::ReadImageFile(*paths[i], limits);
    if (!img.ok()) {
      std::cerr << "livegate compare: " << *paths[i] << ": " << img.status().message() << " ["
                << img.status().reason() << "]\n";
      return cli::kExitBadInput;
    }
    auto faces = (*analyzer)->Analyze(*img);
    if (!faces.ok()) {
      std::cerr << "livegate compare: " << *paths[i] << ": " << faces.status().ToString() << "\n";
      return cli::kExitInternal;
    }
    sides[i].faces = static_cast<int>(faces->size());
    // The largest face that could be measured (faces come largest first).
    const vision::FaceAnalysis* best = nullptr;
    for (const auto& f : *faces) {
      if (f.descriptor) {
        best = &f;
        break;
      }
    }
    if (best == nullptr) {
      std::cerr << "livegate compare: " << *paths[i] << ": "
                << (faces->empty() ? "no face found" : "only faces too small to compare") << " ["
                << (faces->empty() ? "face.none" : "face.tiny") << "]\n";
      return cli::kExitBadInput;
    }
    sides[i].face = *best;
  }
  const auto c = vision::CompareDescriptors(*sides[0].face.descriptor, *sides[1].face.descriptor, args.threshold);
  if (args.json) {
    nlohmann::json out = {{"a", args.a},
                          {"b", args.b},
                          {"faces_in_a", sides[0].faces},
                          {"faces_in_b", sides[1].faces},
                          {"distance", std::round(c.distance * 1e6) / 1e6},
                          {"threshold", std::round(static_cast<double>(args.threshold) * 1e6) / 1e6},
                          {"same", c.same}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("distance %.4f (threshold %.3f): %s\n", c.distance, args.threshold,
                c.same ? "same person" : "different people");
    for (int i = 0; i < 2; ++i) {
      if (sides[i].faces > 1) {
        std::printf("note: %s has %d faces; the largest was compared\n", paths[i]->c_str(), sides[i].faces);
      }
    }
  }
  return c.same ? cli::kExitOk : cli::kExitRefused;
}

cli::Registration reg([](CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand("compare", "Compare the largest faces of two images (exit 0 same, 1 different)");
  cmd->add_option("image_a", args->a, "First image")->required();
  cmd->add_option("image_b", args->b, "Second image")->required();
  cmd->add_option("--threshold", args->threshold, "Same person below this Euclidean distance (default: the default policy's medium tier, config/policy.default.json; dlib's reference: 0.6)")
      ->check(CLI::Range(0.0f, 4.0f));
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_option("--max-pixels", args->max_pixels, "Refuse images with more pixels than this")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--models", args->models, "Model folder (default: LIVEGATE_MODELS or the build's models/)");
  cmd->add_option("--detector", args->detector,
                  "BlazeFace: front_then_back (front 128 model, back 256 model as fallback), back_only, front_only")
      ->check(CLI::IsMember({"front_then_back", "back_only", "front_only"}))
      ->capture_default_str();
  cmd->callback([args] { cli::SetExitCode(RunCompare(*args)); });
});

}  // namespace
