// `livegate eval pad`: ISO/IEC 30107-3 evaluation of the anti-spoofing
// judgement (R-SRV-ASJ-1, R-ASD-1..6) over a session manifest
// (src/judgement/eval_session.h): APCER per attack type, BPCER, ACER at the
// operating threshold, DET curves; CSV, JSON and HTML reports.
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "command.h"
#include "eval/eval_cli.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "judgement/eval_session.h"
#include "judgement/judgement.h"
#include "judgement/measures.h"
#include "vision/passive_pad_model.h"

namespace {

namespace lj = livegate::judgement;
namespace le = livegate::eval;

struct Args {
  std::string manifest;
  std::string data;
  std::string out = "livegate-eval-pad";
  std::string policy;
  std::string models;
  std::string only;
  std::string inspect;
  std::string pad_model;         // optional passive PAD model (ONNX), issue 13
  std::string pad_model_sha256;  // its pin (required with --pad-model)
  bool json = false;
  bool verbose = false;
  bool quiet = false;
};

std::string Fixed(double v, int digits = 3) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

// For writing manifests: a contact sheet of the kept frames (timestamp on
// each) and the per-frame signals, so that a script can be checked against
// what a clip really shows.
void WriteInspection(const std::string& dir, const lj::EvalSession& s, const lj::Capture& cap,
                     const std::vector<lj::FrameObservation>& obs) {
  using lj::FrameObservation;
  const int cols = 8, tw = 160;
  const int n = int(cap.frames.size());
  const int rows = (n + cols - 1) / cols;
  if (n == 0) return;
  // A small face (under a third of the frame width) is shown cropped: a
  // square of 3 face widths around it, so that blinks and turns can be seen
  // on a 160-px thumbnail. Each thumbnail carries its time, yaw and eye
  // openness (the signals the actions check reads).
  const cv::Size frame_size = cap.frames[0].bgr.size();
  float face_w = 0;
  cv::Point2f face_c;
  int with_face = 0;
  for (const auto& o : obs) {
    if (!o.has_face) continue;
    face_w += o.box.width, face_c += cv::Point2f(o.box.x + o.box.width / 2, o.box.y + o.box.height / 2), ++with_face;
  }
  const bool crop = with_face > 0 && face_w / float(with_face) < frame_size.width / 3.0f;
  const int th = crop ? tw : std::max(1, tw * frame_size.height / std::max(1, frame_size.width));
  cv::Mat sheet(rows * th, cols * tw, CV_8UC3, cv::Scalar(0, 0, 0));
  for (int i = 0; i < n; ++i) {
    cv::Mat t;
    const FrameObservation* o = i < int(obs.size()) ? &obs[i] : nullptr;
    if (crop) {
      cv::Point2f c = face_c / float(with_face);
      float side = 3.0f * face_w / float(with_face);
      if (o && o->has_face) c = {o->box.x + o->box.width / 2, o->box.y + o->box.height / 2}, side = 3.0f * o->box.width;
      cv::Rect r(int(c.x - side / 2), int(c.y - side / 2), int(side), int(side));
      r &= cv::Rect(0, 0, cap.frames[i].bgr.cols, cap.frames[i].bgr.rows);
      if (r.area() > 0) cv::resize(cap.frames[i].bgr(r), t, cv::Size(tw, th));
      else t = cv::Mat(th, tw, CV_8UC3, cv::Scalar(0, 0, 0));
    } else {
      cv::resize(cap.frames[i].bgr, t, cv::Size(tw, th));
    }
    cv::putText(t, std::to_string(cap.frames[i].timestamp_ms), {3, 14}, cv::FONT_HERSHEY_SIMPLEX, 0.45, {0, 255, 255}, 1);
    if (o && o->has_mesh) {
      const std::string sig = "y" + Fixed(o->pose.yaw_deg, 0) + " p" + Fixed(o->pose.pitch_deg, 0) + " e" +
                              Fixed(0.5 * (o->left_eye_openness + o->right_eye_openness), 2) + " m" +
                              Fixed(o->mouth_openness, 2);
      cv::putText(t, sig, {3, th - 5}, cv::FONT_HERSHEY_SIMPLEX, 0.33, {0, 255, 0}, 1);
    }
    t.copyTo(sheet(cv::Rect((i % cols) * tw, (i / cols) * th, tw, th)));
  }
  (void)le::WriteTextFile(dir + "/.keep", "");
  cv::imwrite(dir + "/" + s.id + ".png", sheet);
  std::ostringstream tsv;
  tsv << "t_ms\tfaces\tyaw\tpitch\troll\teye_l\teye_r\tmouth\tied\tsharp\tluma\tmoire\tborder\tglare\tdiff\tantispoof\tmain_w\tother_ratio\tnear_ratio\n";
  for (const auto& o : obs) {
    tsv << o.timestamp_ms << "\t" << o.face_count << "\t" << Fixed(o.pose.yaw_deg, 1) << "\t" << Fixed(o.pose.pitch_deg, 1)
        << "\t" << Fixed(o.pose.roll_deg, 1) << "\t" << Fixed(o.left_eye_openness, 3) << "\t"
        << Fixed(o.right_eye_openness, 3) << "\t" << Fixed(o.mouth_openness, 3) << "\t" << Fixed(o.inter_eye_distance, 1)
        << "\t" << Fixed(o.sharpness, 0) << "\t" << Fixed(o.mean_luma, 0) << "\t" << Fixed(o.moire, 2) << "\t"
        << Fixed(o.border, 2) << "\t" << Fixed(o.glare, 3) << "\t" << Fixed(o.frame_difference, 2) << "\t"
        << Fixed(o.antispoof_score.value_or(-1), 3) << "\t" << Fixed(o.box.width, 0) << "\t"
        << Fixed(o.second_face_ratio, 2) << "\t" << Fixed(lj::NearFaceRatio(o, lj::Policy().continuity.bystander_gap), 2) << "\n";
  }
  (void)le::WriteTextFile(dir + "/" + s.id + ".tsv", tsv.str());
}

struct SessionResult {
  lj::EvalSession session;
  bool loaded = false;
  std::string error;  // load/analysis failure: counted as a rejection, listed
  int frames = 0;
  double seconds = 0;
  lj::LivenessVerdict verdict;
  lj::QualityReport quality;
  // ISO/IEC 30107-3 non-response: no frame reaches the capture floor
  // (lj::FailedToAcquire); no PAD decision, reported per type, not in
  // APCER/BPCER.
  bool fta = false;
};

std::string ReadFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = bool(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}


int Run(const Args& a) {
  using livegate::cli::kExitBadInput;
  bool ok = false;
  const std::string text = ReadFile(a.manifest, &ok);
  if (!ok) {
    std::cerr << "eval pad: cannot read manifest " << a.manifest << "\n";
    return kExitBadInput;
  }
  auto sessions = lj::ParseEvalManifest(text);
  if (!sessions.ok()) {
    std::cerr << "eval pad: " << sessions.status().ToString() << "\n";
    return kExitBadInput;
  }
  lj::Policy policy;
  if (!a.policy.empty()) {
    const std::string ptext = ReadFile(a.policy, &ok);
    auto p = ok ? lj::PolicyFromJson(ptext) : livegate::Result<lj::Policy>(livegate::Status::BadInput("policy.unreadable", a.policy));
    if (!p.ok()) {
      std::cerr << "eval pad: " << p.status().ToString() << "\n";
      return kExitBadInput;
    }
    policy = *p;
  }
  // Scripted challenges describe what each recording shows: allowed here
  // (evaluation), never in production.
  policy.challenge.allow_scripted = true;

  std::string data = a.data;
  if (data.empty()) {
    const char* env = std::getenv("LIVEGATE_TEST_DATA");
    data = env ? env : "../shared/data";
  }
  livegate::vision::AnalyzerOptions ao;
  if (!a.models.empty()) ao.model_dir = a.models;
  ao.compute_passive_pad = true;  // weak signals, reported by the mask_cg check
  // The server path: tracking without descriptors, descriptors only on the
  // frames the identity check and the comparison use.
  ao.compute_descriptor = false;
  auto analyzer = livegate::vision::FaceAnalyzer::Create(ao);
  if (!analyzer.ok()) {
    std::cerr << "eval pad: " << analyzer.status().ToString() << "\n";
    return livegate::cli::kExitUnavailable;
  }
  auto describer = lj::FrameDescriber::Create(ao.model_dir);
  if (!describer.ok()) {
    std::cerr << "eval pad: " << describer.status().ToString() << "\n";
    return livegate::cli::kExitUnavailable;
  }

  // The optional passive model, pinned like the server's (model.pin_mismatch
  // when the file is not the one named).
  std::unique_ptr<livegate::vision::PassivePadModel> pad_model;
  if (!a.pad_model.empty()) {
    livegate::vision::PassivePadOptions po;
    po.file = a.pad_model;
    po.sha256 = a.pad_model_sha256;
    auto weights = livegate::vision::ReadPinnedPassivePad(po);
    auto m = weights.ok() ? livegate::vision::PassivePadModel::Create(*weights)
                          : livegate::Result<std::unique_ptr<livegate::vision::PassivePadModel>>(weights.status());
    if (!m.ok()) {
      std::cerr << "eval pad: " << m.status().ToString() << "\n";
      return kExitBadInput;
    }
    pad_model = std::move(m).value();
  }

  std::vector<SessionResult> results;
  const auto t_all = std::chrono::steady_clock::now();
  for (const auto& s : *sessions) {
    if (!a.only.empty() && s.id.find(a.only) == std::string::npos) continue;
    if (!s.exclude.empty()) {
      if (!a.quiet) std::cerr << std::left << std::setw(34) << s.id << " excluded: " << s.exclude << "\n";
      continue;
    }
    SessionResult r;
    r.session = s;
    const auto t0 = std::chrono::steady_clock::now();
    auto cap = lj::LoadEvalCapture(s, data);
    if (!cap.ok()) {
      r.error = cap.status().ToString();
    } else {
      r.loaded = true;
      r.frames = int(cap->frames.size());
      auto j = lj::JudgeCapture(s.challenge, *cap, **analyzer, policy, describer->get(), pad_model.get());
      if (!j.ok()) {
        r.error = j.status().ToString();
      } else {
        r.verdict = j->liveness;
        r.quality = j->quality;
        r.fta = lj::FailedToAcquire(j->observations, policy);
        if (!a.inspect.empty()) WriteInspection(a.inspect, s, *cap, j->observations);
      }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!a.quiet) {
      std::cerr << std::left << std::setw(34) << s.id << " " << std::setw(10) << s.label << " frames " << std::setw(4)
                << r.frames << " score " << Fixed(r.verdict.score) << " " << (r.verdict.live ? "LIVE " : "spoof")
                << " " << (r.error.empty() ? r.verdict.reason : r.error)
                << (r.fta ? "  [FTA: no frame reaches the capture floor, no PAD decision]" : "") << "\n";
      if (a.verbose) {
        for (const auto& c : r.verdict.checks) {
          std::cerr << "    " << std::setw(11) << c.name << (c.applicable ? "" : " (n/a)") << " " << Fixed(c.score, 2)
                    << " " << c.reason << "  " << c.detail << "\n";
        }
        std::cerr << "    quality " << r.quality.reason;
        for (const auto& m : r.quality.failed_measures) std::cerr << " " << m;
        std::cerr << "\n";
      }
    }
    results.push_back(std::move(r));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();

  le::PadScores scores;
  scores.polarity = le::Polarity::kHigherIsPositive;
  std::map<std::string, int> fta, presented;  // per type ("bona_fide" or the attack type)
  for (const auto& r : results) {
    ++presented[r.session.label];
    if (r.fta) {
      ++fta[r.session.label];
      continue;
    }
    const double score = r.error.empty() ? r.verdict.score : 0.0;
    if (r.session.bona_fide()) scores.bona_fide.push_back(score);
    else scores.attacks[r.session.label].push_back(score);
  }
  const double threshold = policy.combine.threshold;
  auto pad = le::PadErrorsAt(scores, threshold);
  if (!pad.ok()) {
    std::cerr << "eval pad: " << pad.status().ToString() << " (the manifest needs bona fide and attack sessions)\n";
    return kExitBadInput;
  }

  // Per-session table.
  le::Table sessions_table;
  sessions_table.header = {"session", "label", "frames", "score", "decision", "reason", "quality", "seconds"};
  for (const auto& r : results) {
    sessions_table.rows.push_back({r.session.id, r.session.label, std::to_string(r.frames), Fixed(r.verdict.score),
                                   r.fta ? "FTA" : r.error.empty() && r.verdict.live ? "bona_fide" : "attack",
                                   r.error.empty() ? r.verdict.reason : r.error, r.quality.reason, Fixed(r.seconds, 2)});
  }
  le::Table summary;
  // presentations = all sessions of the type; FTA = no PAD decision (below
  // the capture floor); the rate is over the decided ones (30107-3).
  summary.header = {"type", "presentations", "FTA", "decided", "errors", "rate"};
  auto count = [](const std::map<std::string, int>& m, const std::string& k) {
    const auto it = m.find(k);
    return std::to_string(it == m.end() ? 0 : it->second);
  };
  summary.rows.push_back({"bona_fide (BPCER)", count(presented, "bona_fide"), count(fta, "bona_fide"),
                          std::to_string(pad->bona_fide), std::to_string(pad->bona_fide_rejected),
                          le::FormatPercent(pad->bpcer)});
  for (const auto& [type, n] : pad->attacks) {
    summary.rows.push_back({type + " (APCER)", count(presented, type), count(fta, type), std::to_string(n),
                            std::to_string(pad->attacks_accepted.at(type)), le::FormatPercent(pad->apcer.at(type))});
  }
  for (const auto& [type, n] : presented) {  // a type whose every presentation failed to acquire
    if (type != "bona_fide" && !pad->attacks.count(type)) {
      summary.rows.push_back({type + " (APCER)", std::to_string(n), count(fta, type), "0", "0", "n/a"});
    }
  }
  summary.rows.push_back({"ACER = (APCER_max + BPCER)/2", "", "", "", "", le::FormatPercent(pad->acer)});

  std::vector<le::DetCurve> curves;
  for (const auto& [type, n] : pad->attacks) {
    auto set = le::PadScoreSet(scores, type);
    if (!set.ok()) continue;
    auto det = le::ComputeDet(*set);
    auto at = le::AtThreshold(*set, threshold);
    if (!det.ok() || !at.ok()) continue;
    curves.push_back({"bona fide vs " + type, *det, {{"operating threshold", *at}}});
  }

  nlohmann::json j;
  j["manifest"] = a.manifest;
  j["threshold"] = threshold;
  j["seconds"] = seconds;
  j["pad"] = le::ToJson(*pad);
  j["fta"] = fta;              // per type: sessions with no PAD decision (capture floor)
  j["presentations"] = presented;
  j["sessions"] = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json s = {{"id", r.session.id}, {"label", r.session.label}, {"frames", r.frames},
                        {"score", r.verdict.score}, {"live", r.error.empty() && r.verdict.live},
                        {"reason", r.error.empty() ? r.verdict.reason : r.error}, {"quality", r.quality.reason},
                        {"fta", r.fta}};
    s["checks"] = nlohmann::json::array();
    for (const auto& c : r.verdict.checks) {
      s["checks"].push_back({{"name", c.name}, {"applicable", c.applicable}, {"passed", c.passed}, {"score", c.score},
                             {"reason", c.reason}, {"detail", c.detail}});
    }
    j["sessions"].push_back(s);
  }

  if (!a.out.empty()) {
    le::HtmlReport html("livegate eval pad");
    html.AddParagraph("Manifest: " + a.manifest + "; data: " + data + "; operating threshold " + Fixed(threshold, 2) +
                      "; " + std::to_string(results.size()) + " sessions in " + Fixed(seconds, 1) + " s.");
    html.AddTable("ISO/IEC 30107-3 error rates at the operating threshold", summary);
    le::DetPlotOptions opt;
    opt.x_label = "APCER";
    opt.y_label = "BPCER";
    opt.min_rate = 0.01;
    opt.max_rate = 0.99;
    html.AddDetPlot("DET per attack type (few presentations: coarse steps)", curves, opt);
    html.AddTable("Sessions", sessions_table);
    std::string base = a.out;
    for (auto st : {le::WriteTextFile(base + "/summary.csv", le::TableCsv(summary)),
                    le::WriteTextFile(base + "/sessions.csv", le::TableCsv(sessions_table)),
                    le::WriteTextFile(base + "/det.csv", le::DetCsv(curves)),
                    le::WriteTextFile(base + "/summary.json", j.dump(2)),
                    le::WriteTextFile(base + "/report.html", html.Render())}) {
      if (!st.ok()) {
        std::cerr << "eval pad: " << st.ToString() << "\n";
        return kExitBadInput;
      }
    }
  }
  if (a.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << le::TableText(sessions_table) << "\n"
              << "operating threshold " << Fixed(threshold, 2) << ", " << results.size() << " sessions, "
              << Fixed(seconds, 1) << " s\n"
              << le::TableText(summary);
    if (!a.out.empty()) std::cout << "reports: " << a.out << "/{summary.csv,sessions.csv,det.csv,summary.json,report.html}\n";
  }
  return livegate::cli::kExitOk;
}

livegate::cli::Registration reg([](CLI::App& app) {
  auto args = std::make_shared<Args>();
  auto* cmd = livegate::eval::EvalGroup(app)->add_subcommand(
      "pad", "Presentation attack detection over a session manifest: APCER per attack type, BPCER, ACER, DET "
             "(ISO/IEC 30107-3)");
  cmd->add_option("--manifest", args->manifest, "Session manifest (JSON, eval/manifests/*.json)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", args->data, "Data root the manifest paths are relative to (default: LIVEGATE_TEST_DATA)");
  cmd->add_option("--out", args->out, "Folder for summary.csv/json, sessions.csv, det.csv, report.html "
                                      "(empty string: write nothing)")
      ->capture_default_str();
  cmd->add_option("--policy", args->policy, "Policy JSON (default: the shipped defaults; scripted challenges allowed)");
  cmd->add_option("--models", args->models, "Model folder (default: LIVEGATE_MODELS or the build default)");
  cmd->add_option("--only", args->only, "Run only sessions whose id contains this text");
  cmd->add_option("--inspect", args->inspect, "Write a contact sheet (<id>.png) and per-frame signals (<id>.tsv) "
                                              "per session into this folder, to check scripts against the clips");
  cmd->add_option("--pad-model", args->pad_model,
                  "Optional passive PAD model (ONNX, MiniFASNet family: 1.5x crop, 128x128, index 0 = live) fused "
                  "into the verdict (docs/ANTISPOOFING.md \"Passive model slot\")")
      ->check(CLI::ExistingFile);
  cmd->add_option("--pad-model-sha256", args->pad_model_sha256, "SHA-256 pin of --pad-model (64 hex digits)");
  cmd->add_flag("--json", args->json, "Print the figures and per-session verdicts as JSON");
  cmd->add_flag("--verbose", args->verbose, "Print every check's score, reason and figures per session (stderr)");
  cmd->add_flag("--quiet", args->quiet, "No per-session progress on stderr");
  cmd->callback([args] { livegate::cli::SetExitCode(Run(*args)); });
});

}  // namespace
