// `livegate eval verify`: comparison accuracy (R-SRV-CMP-1) per source of an
// identity-labelled image tree; the evaluation run that justifies the
// comparison threshold (X.1279 section 11 item 2). Prints a table (or JSON
// with --json) and writes CSV, JSON and an HTML report with DET curves.
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command.h"
#include "eval/eval_cli.h"
#include "eval/verify_runner.h"
#include "vision/face_analyzer.h"

namespace {

int ExitFor(const livegate::Status& s) {
  using livegate::StatusCode;
  switch (s.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kNotFound:
      return livegate::cli::kExitUnavailable;
    case StatusCode::kBadInput:
    case StatusCode::kTooLarge:
    case StatusCode::kUnsupported:
      return livegate::cli::kExitBadInput;
    default:
      return livegate::cli::kExitInternal;
  }
}

struct Args {
  std::string data;
  std::string out = "livegate-eval-verify";
  std::string manifest;
  std::string models;
  std::string detector = "front_then_back";
  double threshold = livegate::vision::kDefaultCompareThreshold;
  bool aligned_chips = false;
  std::vector<double> fmr_targets;  // empty: the default policy's tiers
  double confidence = 0.95;
  bool mirror = false;
  double min_face_width = 0;
  double max_abs_yaw = 0;
  double min_sharpness = 0;
  std::string cv;  // "source": leave-one-source-out cross-validation of the thresholds
  bool json = false;
  bool quiet = false;
  int threads = 2;
};

int Run(const Args& a) {
  livegate::eval::VerifyOptions o;
  o.data_dir = a.data;
  o.manifest = a.manifest;
  o.threshold = a.threshold;
  o.aligned_chips = a.aligned_chips;
  o.threads = a.threads;
  if (!a.fmr_targets.empty()) {
    o.fmr_targets.clear();
    for (double t : a.fmr_targets) o.fmr_targets.emplace_back("target", t);
  }
  o.confidence = a.confidence;
  o.mirror = a.mirror;
  o.min_face_width = a.min_face_width;
  o.max_abs_yaw = a.max_abs_yaw;
  o.min_sharpness = a.min_sharpness;
  if (!a.models.empty()) o.analyzer.model_dir = a.models;
  o.analyzer.detector =
      livegate::vision::ParseDetectorChoice(a.detector).value_or(livegate::vision::DetectorChoice::kFrontThenBack);
  if (!a.quiet) {
    o.progress = [](std::size_t done, std::size_t total) {
      if (done % 25 == 0 || done == total) std::cerr << "\ranalysed " << done << "/" << total << std::flush;
      if (done == total) std::cerr << "\n";
    };
  }
  auto report = livegate::eval::RunVerify(o);
  if (!report.ok()) {
    std::cerr << "eval verify: " << report.status().reason() << ": " << report.status().message() << "\n";
    return ExitFor(report.status());
  }
  std::vector<livegate::eval::CvResult> cv;
  if (a.cv == "source") {
    auto r = livegate::eval::CrossValidateBySource(*report);
    if (!r.ok()) {
      std::cerr << "eval verify: " << r.status().reason() << ": " << r.status().message() << "\n";
      return ExitFor(r.status());
    }
    cv = std::move(r).value();
  }
  if (!a.out.empty()) {
    auto st = livegate::eval::WriteVerifyReport(*report, a.out);
    if (st.ok() && !a.cv.empty()) {
      st = livegate::eval::WriteTextFile(std::filesystem::path(a.out) / "cross_validation.json",
                                         livegate::eval::ToJson(cv).dump(2) + "\n");
    }
    if (!st.ok()) {
      std::cerr << "eval verify: " << st.reason() << ": " << st.message() << "\n";
      return livegate::cli::kExitBadInput;
    }
  }
  if (a.json) {
    nlohmann::json j = livegate::eval::ToJson(*report);
    if (!a.aligned_chips) j["detector"] = a.detector;
    if (!a.cv.empty()) j["cross_validation"] = livegate::eval::ToJson(cv);
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "mode " << report->mode << (a.aligned_chips ? "" : ", detector " + a.detector) << ", threshold " << report->threshold << ", "
              << report->threads << " thread(s), " << report->seconds << " s\n"
              << livegate::eval::TableText(livegate::eval::VerifySummaryTable(*report));
    std::cout << "\noperating points (one-sided " << a.confidence * 100
              << " % Clopper-Pearson upper bound on FMR; see report.html for the method)\n"
              << livegate::eval::TableText(livegate::eval::OperatingPointTable(*report))
              << "\nidentities with the highest FNMR at each pooled operating point\n"
              << livegate::eval::TableText(livegate::eval::WorstIdentityTable(*report, 5));
    if (!a.cv.empty()) {
      std::cout << "\nleave-one-source-out cross-validation of the threshold rule (operating point of the other "
                   "sources, rounded down to 0.01) next to the in-sample (all sources) threshold\n"
                << livegate::eval::TableText(livegate::eval::CrossValidationTable(cv));
    }
    if (!a.out.empty()) std::cout << "reports: " << a.out << "/{summary.csv,summary.json,det.csv,pairs.csv,images.csv,report.html}\n";
  }
  return livegate::cli::kExitOk;
}

livegate::cli::Registration reg([](CLI::App& app) {
  auto args = std::make_shared<Args>();
  auto* cmd = livegate::eval::EvalGroup(app)->add_subcommand(
      "verify", "Genuine/impostor pairs within each source of DIR/<source>/<identity>/<image>: FTA, EER, "
                "FNMR at FMR 1 % and 0.1 %, decisions at the threshold");
  cmd->add_option("--data", args->data, "Identity-labelled image tree (or one source folder)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", args->out, "Folder for summary.csv/json, det.csv, pairs.csv, images.csv, report.html "
                                      "(empty string: write nothing)")
      ->capture_default_str();
  cmd->add_option("--threshold", args->threshold, "Descriptor distance below which a pair is 'same' (default: the default policy's medium tier)")
      ->capture_default_str();
  cmd->add_option("--fmr-target", args->fmr_targets,
                  "False-match target(s) to set operating points for (repeatable; default: the default "
                  "policy's tier targets)")
      ->check(CLI::Range(1e-9, 0.5));
  cmd->add_option("--confidence", args->confidence, "One-sided confidence of the FMR upper bound")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 0.9999));
  cmd->add_flag("--mirror", args->mirror,
                "Test-time augmentation: average the descriptors of the aligned face and its mirror image");
  cmd->add_option("--min-face-width", args->min_face_width,
                  "Quality exclusion: leave out faces narrower than this (detector box, px; 0 = off)");
  cmd->add_option("--max-yaw", args->max_abs_yaw, "Quality exclusion: leave out faces turned more (degrees; 0 = off)");
  cmd->add_option("--min-sharpness", args->min_sharpness,
                  "Quality exclusion: leave out chips whose Laplacian variance is lower (0 = off)");
  cmd->add_flag("--aligned-chips", args->aligned_chips,
                "Images are 150x150 dlib-aligned chips: feed them to the descriptor directly");
  cmd->add_option("--threads", args->threads, "Worker threads (one analyzer each)")->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--manifest", args->manifest, "MANIFEST.tsv for same-photo groups (default: searched upward)");
  cmd->add_option("--models", args->models, "Model folder (default: LIVEGATE_MODELS or the build default)");
  cmd->add_option("--detector", args->detector,
                  "BlazeFace: front_then_back (front 128 model, back 256 model as fallback), back_only, front_only")
      ->check(CLI::IsMember({"front_then_back", "back_only", "front_only"}))
      ->capture_default_str();
  cmd->add_option("--cv", args->cv,
                  "Cross-validate the threshold rule: 'source' = leave one source out (the threshold for each "
                  "source is set on the others; written to cross_validation.json)")
      ->check(CLI::IsMember({"source"}));
  cmd->add_flag("--json", args->json, "Print the full summary as JSON");
  cmd->add_flag("--quiet", args->quiet, "No progress on stderr");
  cmd->callback([args] { livegate::cli::SetExitCode(Run(*args)); });
});

}  // namespace
