// `livegate eval pad`: ISO/IEC 30107-3 evaluation of the anti-spoofing
// judgement (R-SRV-ASJ-1, R-ASD-1..6) over a session manifest
// (src/judgement/eval_session.h): APCER per attack type, BPCER, ACER at the
// operating threshold, DET curves; CSV, JSON and HTML reports.
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "command.h"
#include "eval/eval_cli.h"
#include "eval/metrics.h"
#include "eval/observation_cache.h"
#include "eval/pad_calibration.h"
#include "eval/pad_report.h"
#include "eval/report.h"
#include "judgement/eval_session.h"
#include "judgement/judgement.h"
#include "judgement/measures.h"
#include "vision/passive_pad_model.h"

namespace {

namespace lj = livegate::judgement;
namespace le = livegate::eval;

struct Args {
  std::vector<std::string> manifests;
  std::string data;
  std::string out = "livegate-eval-pad";
  std::string policy;
  std::string models;
  std::string only;
  std::string inspect;
  std::string pad_model;         // optional passive PAD model (ONNX), issue 13
  std::string pad_model_sha256;  // its pin (required with --pad-model)
  std::string cv;         // "" or "source"
  std::string obs_cache;  // folder of cached observations ("" = none)
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
  bool cached = false;  // observations read from --obs-cache
  lj::LivenessVerdict verdict;
  std::string quality_reason;
  // ISO/IEC 30107-3 non-response: no frame reaches the capture floor
  // (lj::FailedToAcquire); no PAD decision, reported per type, not in
  // APCER/BPCER.
  bool fta = false;
};

// Error counts of one (tier, type) cell under one set of verdicts.
struct Cell {
  int presented = 0, fta = 0, decided = 0, errors = 0;
};
using Cells = std::map<std::pair<std::string, std::string>, Cell>;  // (tier, label)

// `live[i]`: the decision for results[i] (an analysis error is a refusal).
Cells CountErrors(const std::vector<SessionResult>& results, const std::vector<bool>& live) {
  Cells cells;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    for (const std::string& tier : {lj::SessionTier(r.session), std::string("all")}) {
      Cell& c = cells[{tier, r.session.label}];
      ++c.presented;
      if (r.fta) {
        ++c.fta;
        continue;
      }
      ++c.decided;
      const bool accepted = r.error.empty() && live[i];
      if (r.session.bona_fide() ? !accepted : accepted) ++c.errors;
    }
  }
  return cells;
}

std::string Rate(const Cell& c) {
  if (c.decided == 0) return "n/a";
  return std::to_string(c.errors) + "/" + std::to_string(c.decided) + " = " +
         le::FormatPercent(double(c.errors) / double(c.decided), 1);
}

std::string TypeName(const std::string& label) {
  return label == "bona_fide" ? "bona fide (BPCER)" : label + " (APCER)";
}

int Run(const Args& a) {
  using livegate::cli::kExitBadInput;
  const auto sessions = livegate::eval::LoadManifests(a.manifests, "eval pad");
  if (!sessions) return kExitBadInput;
  if (!a.cv.empty() && a.cv != "source") {
    std::cerr << "eval pad: --cv takes 'source' (leave-one-source-out)\n";
    return kExitBadInput;
  }
  if (!a.cv.empty()) {
    for (const auto& s : *sessions) {
      if (s.source.empty()) {
        std::cerr << "eval pad: session '" << s.id << "' has no source: --cv source needs one on every session\n";
        return kExitBadInput;
      }
    }
  }
  lj::Policy policy;
  if (!a.policy.empty()) {
    bool ok = false;
    const std::string ptext = livegate::eval::ReadWholeFile(a.policy, &ok);
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
  std::string cache_dir = a.obs_cache;
  if (!cache_dir.empty()) {
    const std::string why = le::ObservationCacheUnavailableReason();
    if (!why.empty()) {
      std::cerr << "eval pad: observation cache disabled: " << why << "\n";
      cache_dir.clear();
    }
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
    // The cache key does not cover the model, and the model needs the
    // frames: observe every session afresh.
    if (!cache_dir.empty()) {
      std::cerr << "eval pad: observation cache not used with --pad-model\n";
      cache_dir.clear();
    }
  }

  // Observe each session once; every later judgement (calibration, CV)
  // re-judges these observations (JudgeLiveness is pure).
  std::vector<SessionResult> results;
  std::vector<le::ObservedSession> observed;
  std::vector<std::string> excluded;
  int from_cache = 0;
  const auto t_all = std::chrono::steady_clock::now();
  for (const auto& s : *sessions) {
    if (!a.only.empty() && s.id.find(a.only) == std::string::npos) continue;
    if (!s.exclude.empty()) {
      excluded.push_back(s.id + ": " + s.exclude);
      if (!a.quiet) std::cerr << std::left << std::setw(34) << s.id << " excluded: " << s.exclude << "\n";
      continue;
    }
    SessionResult r;
    le::ObservedSession o;
    r.session = s;
    o.session = s;
    const auto t0 = std::chrono::steady_clock::now();
    std::string key;
    std::optional<le::CachedObservations> cached;
    if (!cache_dir.empty() && a.inspect.empty()) {  // --inspect needs the frames
      auto k = le::ObservationCacheKey(s, data, policy, ao.model_dir);
      if (k.ok()) key = *k, cached = le::LoadObservations(le::ObservationCachePath(cache_dir, s, key), key);
    }
    if (cached) {
      r.loaded = r.cached = true;
      ++from_cache;
      r.frames = cached->frames;
      r.fta = cached->fta;
      r.quality_reason = cached->quality_reason;
      o.observations = std::move(cached->observations);
      r.verdict = lj::JudgeLiveness(s.challenge, o.observations, policy);
    } else {
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
          r.quality_reason = j->quality.reason;
          r.fta = lj::FailedToAcquire(j->observations, policy);
          if (!a.inspect.empty()) WriteInspection(a.inspect, s, *cap, j->observations);
          o.observations = std::move(j->observations);
          if (!key.empty()) {
            le::CachedObservations c{o.observations, r.quality_reason, r.fta, r.frames};
            const auto st = le::SaveObservations(le::ObservationCachePath(cache_dir, s, key), key, c);
            if (!st.ok()) std::cerr << "eval pad: " << st.ToString() << " (cache not written)\n";
          }
        }
      }
    }
    o.fta = r.fta;
    o.error = r.error;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!a.quiet) {
      std::cerr << std::left << std::setw(34) << s.id << " " << std::setw(10) << s.label << " frames " << std::setw(4)
                << r.frames << " score " << Fixed(r.verdict.score) << " " << (r.verdict.live ? "LIVE " : "spoof")
                << " " << (r.error.empty() ? r.verdict.reason : r.error) << (r.cached ? "  [cached]" : "")
                << (r.fta ? "  [FTA: no frame reaches the capture floor, no PAD decision]" : "") << "\n";
      if (a.verbose) {
        for (const auto& c : r.verdict.checks) {
          std::cerr << "    " << std::setw(11) << c.name << (c.applicable ? "" : " (n/a)") << " " << Fixed(c.score, 2)
                    << " " << c.reason << "  " << c.detail << "\n";
        }
        std::cerr << "    quality " << r.quality_reason << "\n";
      }
    }
    results.push_back(std::move(r));
    observed.push_back(std::move(o));
  }
  const double observe_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();

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
  sessions_table.header = {"session", "source", "tier", "label", "frames", "score", "decision", "reason", "quality", "seconds"};
  for (const auto& r : results) {
    sessions_table.rows.push_back({r.session.id, r.session.source, lj::SessionTier(r.session), r.session.label,
                                   std::to_string(r.frames), Fixed(r.verdict.score),
                                   r.fta ? "FTA" : r.error.empty() && r.verdict.live ? "bona_fide" : "attack",
                                   r.error.empty() ? r.verdict.reason : r.error, r.quality_reason,
                                   r.cached ? "cached" : Fixed(r.seconds, 2)});
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

  // ------------------------------------------------ calibration and CV
  std::vector<bool> live_shipped;
  for (const auto& r : results) live_shipped.push_back(r.error.empty() && r.verdict.live);
  const auto& rows = le::PadThresholdTable();
  std::vector<std::vector<le::ThresholdSample>> critical;
  std::optional<le::CalibratedPolicy> in_sample;
  std::optional<le::CvResult> cv;
  std::vector<bool> live_calibrated, live_cv;
  double cv_seconds = 0;
  if (!a.cv.empty()) {
    const auto t_cv = std::chrono::steady_clock::now();
    auto crit = le::CriticalValues(rows, observed, policy);
    if (!crit.ok()) {
      std::cerr << "eval pad: " << crit.status().ToString() << "\n";
      return kExitBadInput;
    }
    critical = std::move(*crit);
    std::vector<std::size_t> all(observed.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    auto cal = le::CalibratePolicy(rows, critical, all, policy);
    auto cvr = cal.ok() ? le::CrossValidateBySource(rows, critical, observed, policy)
                        : livegate::Result<le::CvResult>(cal.status());
    if (!cal.ok() || !cvr.ok()) {
      std::cerr << "eval pad: " << (cal.ok() ? cvr.status() : cal.status()).ToString() << "\n";
      return kExitBadInput;
    }
    in_sample = std::move(*cal);
    cv = std::move(*cvr);
    for (std::size_t i = 0; i < observed.size(); ++i) {
      const bool usable = observed[i].error.empty() && !observed[i].observations.empty();
      live_calibrated.push_back(usable && lj::JudgeLiveness(observed[i].session.challenge, observed[i].observations,
                                                            in_sample->policy).live);
      live_cv.push_back(usable && cv->verdicts[i].live);
    }
    cv_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_cv).count();
  }

  // Error rates per tier and type: shipped thresholds (in-sample), the
  // thresholds calibrated on every source (in-sample), cross-validated.
  le::Table tiers;
  tiers.header = {"tier", "type", "presentations", "FTA", "shipped thresholds"};
  if (cv) tiers.header.insert(tiers.header.end(), {"calibrated on all sources (in-sample)", "leave-one-source-out CV"});
  const Cells c_shipped = CountErrors(results, live_shipped);
  const Cells c_cal = cv ? CountErrors(results, live_calibrated) : Cells{};
  const Cells c_cv = cv ? CountErrors(results, live_cv) : Cells{};
  for (const char* tier_name : {"passive", "actions", "actions+light", "all"}) {
    const std::string tier = tier_name;
    bool any = false;
    for (const auto& [k, c] : c_shipped) {
      if (k.first != tier || k.second != "bona_fide") continue;
      any = true;
    }
    std::vector<std::string> labels = {"bona_fide"};
    for (const auto& [k, c] : c_shipped) {
      if (k.first == tier && k.second != "bona_fide") labels.push_back(k.second), any = true;
    }
    if (!any) {
      tiers.rows.push_back({tier, "-", "0", "0", "no session of this tier in the manifest (no clip was recorded under a "
                                                  "colour challenge)"});
      continue;
    }
    for (const auto& label : labels) {
      const auto key = std::make_pair(tier, label);
      const auto it = c_shipped.find(key);
      if (it == c_shipped.end()) continue;
      std::vector<std::string> row = {tier, TypeName(label), std::to_string(it->second.presented),
                                      std::to_string(it->second.fta), Rate(it->second)};
      if (cv) row.push_back(Rate(c_cal.at(key))), row.push_back(Rate(c_cv.at(key)));
      tiers.rows.push_back(row);
    }
  }

  le::Table calib, folds_table, cv_sessions;
  if (cv) {
    calib.header = {"policy field", "direction", "shipped", "calibrated (all sources)", "status", "CV range (folds)",
                    "bona fide edge (session)", "attack edge (session)", "bona fide / sources / attacks voting", "rule"};
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const auto& c = in_sample->rows[r];
      double lo = 1e300, hi = -1e300;
      for (const auto& f : cv->folds) lo = std::min(lo, f.calibrated.rows[r].threshold), hi = std::max(hi, f.calibrated.rows[r].threshold);
      const double shipped = *le::GetPolicyField(policy, rows[r].field);
      const auto& rule = rows[r].rule;
      calib.rows.push_back(
          {rows[r].field, le::StrictnessName(rule.strictness), Fixed(shipped, 3), Fixed(c.threshold, 3),
           le::StatusName(c.status), Fixed(lo, 3) + " .. " + Fixed(hi, 3),
           c.bona_fide_edge ? Fixed(*c.bona_fide_edge, 3) + " (" + *c.bona_fide_edge_session + ")" : "-",
           c.attack_edge ? Fixed(*c.attack_edge, 3) + " (" + *c.attack_edge_session + ")" : "-",
           std::to_string(c.bona_fide_values) + " / " + std::to_string(c.bona_fide_sources) + " / " +
               std::to_string(c.attack_values),
           "q" + Fixed(rule.bona_fide_quantile, 2) + ", margins " + Fixed(rule.bona_fide_margin, 3) + " / " +
               Fixed(rule.attack_margin, 3) + ", conflict: " + le::OnConflictName(rule.on_conflict)});
    }
    folds_table.header = {"held-out source", "sessions", "bona fide refused", "attacks accepted", "thresholds moved from the all-sources calibration"};
    for (const auto& f : cv->folds) {
      int bf = 0, bf_err = 0, at = 0, at_err = 0;
      for (std::size_t i : f.test) {
        if (results[i].fta) continue;
        if (results[i].session.bona_fide()) ++bf, bf_err += !live_cv[i];
        else ++at, at_err += live_cv[i];
      }
      std::string moved;
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const double v = f.calibrated.rows[r].threshold, all_v = in_sample->rows[r].threshold;
        if (std::abs(v - all_v) > 1e-9 * std::max(1.0, std::abs(all_v))) moved += rows[r].field + " " + Fixed(v, 3) + "; ";
      }
      folds_table.rows.push_back({f.held_out, std::to_string(f.test.size()), std::to_string(bf_err) + "/" + std::to_string(bf),
                                  std::to_string(at_err) + "/" + std::to_string(at), moved.empty() ? "-" : moved});
    }
    cv_sessions.header = {"session", "source", "tier", "label", "shipped", "calibrated (all)", "CV decision", "CV reason"};
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      auto dec = [&](bool live) { return r.fta ? std::string("FTA") : live ? std::string("bona_fide") : std::string("attack"); };
      cv_sessions.rows.push_back({r.session.id, r.session.source, lj::SessionTier(r.session), r.session.label,
                                  dec(live_shipped[i]), dec(live_calibrated[i]), dec(live_cv[i]),
                                  r.error.empty() ? cv->verdicts[i].reason : r.error});
    }
  }

  nlohmann::json j;
  j["manifests"] = a.manifests;
  j["threshold"] = threshold;
  j["seconds"] = observe_seconds;
  j["sessions_from_cache"] = from_cache;
  j["excluded"] = excluded;
  j["pad"] = le::ToJson(*pad);
  j["fta"] = fta;              // per type: sessions with no PAD decision (capture floor)
  j["presentations"] = presented;
  auto cells_json = [](const Cells& cells) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [k, c] : cells) {
      o[k.first][k.second] = {{"presented", c.presented}, {"fta", c.fta}, {"decided", c.decided}, {"errors", c.errors}};
    }
    return o;
  };
  j["tiers"]["shipped"] = cells_json(c_shipped);
  j["sessions"] = nlohmann::json::array();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    nlohmann::json s = {{"id", r.session.id}, {"source", r.session.source}, {"tier", lj::SessionTier(r.session)},
                        {"label", r.session.label}, {"frames", r.frames}, {"score", r.verdict.score},
                        {"live", live_shipped[i]}, {"reason", r.error.empty() ? r.verdict.reason : r.error},
                        {"quality", r.quality_reason}, {"fta", r.fta}};
    if (cv) s["cv_live"] = bool(live_cv[i]), s["cv_reason"] = cv->verdicts[i].reason, s["calibrated_live"] = bool(live_calibrated[i]);
    s["checks"] = nlohmann::json::array();
    for (const auto& c : r.verdict.checks) {
      s["checks"].push_back({{"name", c.name}, {"applicable", c.applicable}, {"passed", c.passed}, {"score", c.score},
                             {"reason", c.reason}, {"detail", c.detail}});
    }
    j["sessions"].push_back(s);
  }
  if (cv) {
    j["cv"]["seconds"] = cv_seconds;
    j["tiers"]["calibrated_in_sample"] = cells_json(c_cal);
    j["tiers"]["cv"] = cells_json(c_cv);
    auto result_json = [](const le::CalibrationResult& c) {
      nlohmann::json o = {{"threshold", c.threshold}, {"status", le::StatusName(c.status)}, {"note", c.note},
                          {"bona_fide_values", c.bona_fide_values}, {"bona_fide_sources", c.bona_fide_sources},
                          {"attack_values", c.attack_values}};
      if (c.bona_fide_edge) o["bona_fide_edge"] = *c.bona_fide_edge, o["bona_fide_edge_session"] = *c.bona_fide_edge_session;
      if (c.attack_edge) o["attack_edge"] = *c.attack_edge, o["attack_edge_session"] = *c.attack_edge_session;
      return o;
    };
    for (std::size_t r = 0; r < rows.size(); ++r) {
      nlohmann::json row = {{"field", rows[r].field}, {"measure", rows[r].measure},
                            {"strictness", le::StrictnessName(rows[r].rule.strictness)},
                            {"shipped", *le::GetPolicyField(policy, rows[r].field)},
                            {"in_sample", result_json(in_sample->rows[r])}};
      row["folds"] = nlohmann::json::object();
      for (const auto& f : cv->folds) row["folds"][f.held_out] = result_json(f.calibrated.rows[r]);
      row["critical_values"] = nlohmann::json::array();
      for (const auto& smp : critical[r]) {
        const char* kind = smp.kind == le::ThresholdSample::Kind::kValue ? "value"
                           : smp.kind == le::ThresholdSample::Kind::kAlwaysPasses ? "unmoved" : "refused_anyway";
        nlohmann::json v = {{"session", smp.session}, {"label", smp.label}, {"kind", kind}};
        if (smp.kind == le::ThresholdSample::Kind::kValue) v["value"] = smp.value;
        row["critical_values"].push_back(v);
      }
      j["cv"]["thresholds"].push_back(row);
    }
  }

  if (!a.out.empty()) {
    le::HtmlReport html("livegate eval pad");
    std::string manifests;
    for (const auto& m : a.manifests) manifests += (manifests.empty() ? "" : ", ") + m;
    html.AddParagraph("Manifest: " + manifests + "; data: " + data + "; operating threshold " + Fixed(threshold, 2) +
                      "; " + std::to_string(results.size()) + " sessions observed in " + Fixed(observe_seconds, 1) +
                      " s (" + std::to_string(from_cache) + " from the observation cache)" +
                      (excluded.empty() ? "" : "; " + std::to_string(excluded.size()) + " excluded") + ".");
    html.AddTable("ISO/IEC 30107-3 error rates at the operating threshold (shipped thresholds)", summary);
    html.AddTable(cv ? "Error rates per tier: shipped thresholds, calibrated on all sources, and leave-one-source-out "
                       "cross-validated (each source judged with thresholds calibrated without it)"
                     : "Error rates per tier (shipped thresholds)",
                  tiers);
    if (cv) {
      html.AddHeading("Calibrated thresholds");
      html.AddParagraph("Each session's critical value is the value of the policy field at which the check it governs "
                        "turns from accepting to refusing that session (the other fields at the base policy). The rule: "
                        "the bona fide edge (nearest-rank quantile on the accepting side) moved by the bona fide margin, "
                        "kept the attack margin away from the most bona-fide-like attack of the listed types; otherwise a "
                        "conflict, resolved as the row says. Fewer than 5 bona fide values or 3 sources: the shipped "
                        "value is kept. Lines: shipped (black, dashed), calibrated on all sources (blue), each CV fold "
                        "(orange, faint).");
      html.AddTable("Thresholds: shipped, calibrated on all sources, range over the CV folds", calib);
      for (std::size_t r = 0; r < rows.size(); ++r) {
        std::vector<le::StripMark> marks;
        // Drawn in order: the shipped line last, dashed, on top.
        for (const auto& f : cv->folds) {
          marks.push_back({"CV fold: without " + f.held_out, f.calibrated.rows[r].threshold, "#e67e22", false, 0.45});
        }
        marks.push_back({"calibrated (all sources)", in_sample->rows[r].threshold, "#1f5fbf", false, 1.0});
        marks.push_back({"shipped", *le::GetPolicyField(policy, rows[r].field), "#000000", true, 1.0});
        html.AddFigure(rows[r].field + ": " + rows[r].measure + ". " + in_sample->rows[r].note,
                       le::ThresholdStripSvg(rows[r].field, critical[r], rows[r].rule.strictness, marks));
      }
      html.AddTable("Leave-one-source-out folds", folds_table);
      html.AddTable("Sessions under the three threshold sets", cv_sessions);
    }
    le::DetPlotOptions opt;
    opt.x_label = "APCER";
    opt.y_label = "BPCER";
    opt.min_rate = 0.01;
    opt.max_rate = 0.99;
    html.AddDetPlot("DET per attack type at the shipped thresholds (few presentations: coarse steps)", curves, opt);
    html.AddTable("Sessions", sessions_table);
    std::string base = a.out;
    std::vector<livegate::Status> writes = {le::WriteTextFile(base + "/summary.csv", le::TableCsv(summary)),
                                            le::WriteTextFile(base + "/tiers.csv", le::TableCsv(tiers)),
                                            le::WriteTextFile(base + "/sessions.csv", le::TableCsv(sessions_table)),
                                            le::WriteTextFile(base + "/det.csv", le::DetCsv(curves)),
                                            le::WriteTextFile(base + "/summary.json", j.dump(2)),
                                            le::WriteTextFile(base + "/report.html", html.Render())};
    if (cv) {
      writes.push_back(le::WriteTextFile(base + "/calibration.csv", le::TableCsv(calib)));
      writes.push_back(le::WriteTextFile(base + "/cv_folds.csv", le::TableCsv(folds_table)));
      writes.push_back(le::WriteTextFile(base + "/cv_sessions.csv", le::TableCsv(cv_sessions)));
    }
    for (const auto& st : writes) {
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
              << "operating threshold " << Fixed(threshold, 2) << ", " << results.size() << " sessions observed in "
              << Fixed(observe_seconds, 1) << " s (" << from_cache << " from the observation cache)\n"
              << le::TableText(summary) << "\n"
              << le::TableText(tiers);
    if (cv) {
      std::cout << "\n" << le::TableText(calib) << "\n" << le::TableText(folds_table)
                << "calibration and cross-validation: " << Fixed(cv_seconds, 1) << " s\n";
    }
    if (!a.out.empty()) std::cout << "reports: " << a.out << "/{summary.csv,tiers.csv,sessions.csv,det.csv,summary.json,report.html"
                                  << (cv ? ",calibration.csv,cv_folds.csv,cv_sessions.csv" : "") << "}\n";
  }
  return livegate::cli::kExitOk;
}

livegate::cli::Registration reg([](CLI::App& app) {
  auto args = std::make_shared<Args>();
  auto* cmd = livegate::eval::EvalGroup(app)->add_subcommand(
      "pad", "Presentation attack detection over a session manifest: APCER per attack type, BPCER, ACER, DET "
             "(ISO/IEC 30107-3); --cv source: thresholds calibrated by rule, leave-one-source-out cross-validated");
  cmd->add_option("--manifest", args->manifests, "Session manifest(s) (JSON, eval/manifests/*.json); repeat for several")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", args->data, "Data root the manifest paths are relative to (default: LIVEGATE_TEST_DATA)");
  cmd->add_option("--out", args->out, "Folder for summary.csv/json, tiers.csv, sessions.csv, det.csv, report.html "
                                      "(+ calibration.csv, cv_folds.csv, cv_sessions.csv with --cv; empty string: "
                                      "write nothing)")
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
  cmd->add_option("--cv", args->cv, "'source': calibrate every threshold of the table (src/eval/pad_calibration.cc) "
                                    "by its rule, in-sample and leave-one-source-out, and report both");
  cmd->add_option("--obs-cache", args->obs_cache, "Folder of cached observations (keyed by media bytes, frame "
                                                  "selection, challenge, policy and models): a re-run re-judges "
                                                  "without observing");
  cmd->add_flag("--json", args->json, "Print the figures and per-session verdicts as JSON");
  cmd->add_flag("--verbose", args->verbose, "Print every check's score, reason and figures per session (stderr)");
  cmd->add_flag("--quiet", args->quiet, "No per-session progress on stderr");
  cmd->callback([args] { livegate::cli::SetExitCode(Run(*args)); });
});

}  // namespace
