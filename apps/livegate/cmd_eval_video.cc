// `livegate eval video CLIP...`: multi-frame fusion rules (single frame, mean
// of descriptors, min distance, most frontal frame, median distance) measured
// on segments of video clips, one person per clip (issue 14). Decisions at
// the default policy's tier thresholds and operating points at their FMR
// targets. See src/eval/video_runner.h and docs/EVALUATION.md.
#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command.h"
#include "eval/eval_cli.h"
#include "eval/verify_runner.h"
#include "eval/video_runner.h"
#include "livegate/default_policy.h"

namespace {

struct Args {
  std::vector<std::string> clips;
  std::vector<std::string> same_person;  // "a.mp4,b.mp4": these clips show one person
  int segments = 4;
  int frames = 5;
  std::string models;
  std::string out;
  std::string scores;  // operating-point scores of the threshold-setting rules
  bool mirror = false;
  bool json = false;
};

int Run(const Args& a) {
  livegate::eval::VideoOptions o;
  for (const auto& c : a.clips) o.clips.emplace_back(c);
  // Labels: the file name, unless --same-person joins clips under the first's.
  for (const auto& c : o.clips) o.identities.push_back(c.filename().string());
  for (const auto& group : a.same_person) {
    std::vector<std::string> names;
    std::stringstream ss(group);
    for (std::string n; std::getline(ss, n, ',');) names.push_back(n);
    for (std::size_t i = 0; i < o.clips.size(); ++i) {
      for (std::size_t k = 1; k < names.size(); ++k) {
        if (o.clips[i].filename().string() == names[k]) o.identities[i] = names[0];
      }
    }
  }
  o.segments = a.segments;
  o.frames_per_segment = a.frames;
  o.mirror = a.mirror;
  if (!a.models.empty()) o.analyzer.model_dir = a.models;
  o.fmr_targets = livegate::eval::DefaultFmrTargets();
  for (const auto& tier : livegate::default_policy::kTiers) {
    for (double t : {tier.compare_threshold, tier.live_compare_threshold, tier.batch_compare_threshold}) {
      if (std::find(o.thresholds.begin(), o.thresholds.end(), t) == o.thresholds.end()) o.thresholds.push_back(t);
    }
  }
  auto report = livegate::eval::RunVideoEval(o);
  if (!report.ok()) {
    std::cerr << "eval video: " << report.status().reason() << ": " << report.status().message() << "\n";
    return report.status().code() == livegate::StatusCode::kNotFound ? livegate::cli::kExitUnavailable
                                                                       : livegate::cli::kExitBadInput;
  }
  const auto j = livegate::eval::ToJson(*report);
  if (!a.out.empty()) {
    auto st = livegate::eval::WriteTextFile(a.out, j.dump(2) + "\n");
    if (!st.ok()) {
      std::cerr << "eval video: " << st.reason() << ": " << st.message() << "\n";
      return livegate::cli::kExitBadInput;
    }
  }
  if (!a.scores.empty()) {
    auto st = livegate::eval::WriteTextFile(a.scores, livegate::eval::VideoOperatingPointScores(*report).dump(1) + "\n");
    if (!st.ok()) {
      std::cerr << "eval video: " << st.reason() << ": " << st.message() << "\n";
      return livegate::cli::kExitBadInput;
    }
  }
  if (a.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::size_t analysed = 0, acquired = 0;
    for (int n : report->frames_analysed) analysed += n;
    for (int n : report->frames_acquired) acquired += n;
    std::cout << report->clips.size() << " clips, " << report->segments.size() << " segments, " << acquired << "/"
              << analysed << " frames acquired, " << report->seconds << " s\n"
              << livegate::eval::TableText(livegate::eval::VideoRuleTable(*report));
    // Per source at the server's fused thresholds (the medium tier's; the
    // high tier's are printed too when they differ).
    using livegate::eval::FusionRule;
    std::vector<std::pair<FusionRule, double>> shown;
    for (const auto* tier : {&livegate::default_policy::kMedium, &livegate::default_policy::kHigh}) {
      for (const auto& p : {std::make_pair(FusionRule::kCaptureSpread, tier->live_compare_threshold),
                            std::make_pair(FusionRule::kPhotoVsCapture, tier->batch_compare_threshold),
                            std::make_pair(FusionRule::kSingle, tier->compare_threshold)}) {
        if (std::find(shown.begin(), shown.end(), p) == shown.end()) shown.push_back(p);
      }
    }
    for (const auto& [rule, thr] : shown) {
      std::cout << "\n" << livegate::eval::TableText(livegate::eval::VideoSourceTable(*report, rule, thr));
    }
  }
  return livegate::cli::kExitOk;
}

livegate::cli::Registration reg([](CLI::App& app) {
  auto args = std::make_shared<Args>();
  auto* cmd = livegate::eval::EvalGroup(app)->add_subcommand(
      "video", "Multi-frame fusion rules on segments of video clips (one person per clip): genuine = two "
               "segments of one clip, impostor = segments of two clips");
  cmd->add_option("clips", args->clips, "Video clips, one person each")->required()->check(CLI::ExistingFile);
  cmd->add_option("--segments", args->segments, "Segments per clip")->capture_default_str()->check(CLI::Range(2, 50));
  cmd->add_option("--frames", args->frames, "Frames analysed per segment")
      ->capture_default_str()
      ->check(CLI::Range(1, 50));
  cmd->add_option("--same-person", args->same_person,
                  "Comma-separated clip file names showing one person (repeatable): their segments pair as genuine");
  cmd->add_option("--models", args->models, "Model folder (default: LIVEGATE_MODELS or the build default)");
  cmd->add_option("--out", args->out, "Write the JSON report to this file");
  cmd->add_option("--scores", args->scores,
                  "Write the pooled scores of the threshold-setting rules (capture_spread, photo_vs_capture) to this "
                  "file (committed as eval/reference/identity_video_scores.json)");
  cmd->add_flag("--mirror", args->mirror, "Average each frame's descriptor with its mirror image's");
  cmd->add_flag("--json", args->json, "Print the JSON report");
  cmd->callback([args] { livegate::cli::SetExitCode(Run(*args)); });
});

}  // namespace
