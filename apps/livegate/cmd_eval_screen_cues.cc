// `livegate eval screen-cues`: measures the candidate screen-recapture cues
// of src/eval/screen_candidates.h on every bona fide and attack session of a
// PAD manifest (face boxes from the observation cache that `eval pad
// --obs-cache` writes) and on folders of face crops, then cross-validates
// each candidate leave-one-source-out with the project's calibration rule
// (src/eval/calibration.h): per held-out source, the threshold set on the
// other sources, and the bona fide / attack sessions and frames it flags.
// Issue 13 ("replay <= 10 % with a matching script"); evaluation only.
#include <algorithm>
#include <cmath>
#include <ctime>
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
#include "eval/calibration.h"
#include "eval/eval_cli.h"
#include "eval/observation_cache.h"
#include "eval/report.h"
#include "eval/screen_candidates.h"
#include "judgement/eval_session.h"
#include "judgement/policy.h"
#include "vision/face_analyzer.h"
#include "vision/image_io.h"

namespace {

namespace lj = livegate::judgement;
namespace le = livegate::eval;
namespace fs = std::filesystem;

struct Args {
  std::vector<std::string> manifests;
  std::vector<std::string> crops;  // "source:label:folder"
  std::string data;
  std::string models;
  std::string obs_cache;
  std::string out;
  std::string only;
  double frame_share = 0.30;  // a session is flagged when this share of its frames is (replay.min_flagged_frames_pct)
};

struct Session {
  std::string id, source, label, tier;
  std::vector<std::array<float, le::kScreenCandidates>> frames;  // frame candidates (+ NaN session slots)
  std::array<float, le::kScreenCandidates> value{};                // session critical value per candidate
};

std::string Fixed(double v, int digits = 3) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

// The level above which `share` of the values lie (nearest rank): a session
// is flagged at threshold t (value > t) exactly when >= share of its frames
// are > t.
float LevelAboveShare(std::vector<float> v, double share) {
  v.erase(std::remove_if(v.begin(), v.end(), [](float x) { return !std::isfinite(x); }), v.end());
  if (v.size() < 3) return std::numeric_limits<float>::quiet_NaN();
  std::sort(v.begin(), v.end(), std::greater<float>());
  const std::size_t k = std::size_t(std::ceil(share * double(v.size()))) - 1;
  return v[std::min(k, v.size() - 1)];
}

void FinishSession(Session& s, double share, std::span<const float> luma, std::span<const float> diff,
                   std::span<const float> centre, std::span<const float> whole,
                   const std::vector<cv::Mat>& native) {
  for (int k = 0; k < le::kFrameCandidates; ++k) {
    std::vector<float> col;
    for (const auto& f : s.frames) col.push_back(f[std::size_t(k)]);
    s.value[std::size_t(k)] = LevelAboveShare(col, share);
  }
  const auto t = le::TemporalScreenCandidates(luma, diff, centre, whole);
  for (int k = 0; k < le::kSessionCandidates; ++k) s.value[std::size_t(le::kFrameCandidates + k)] = t[std::size_t(k)];
  const auto nr = le::NativeRateCandidates(native);
  for (int k = 0; k < le::kNativeCandidates; ++k) {
    s.value[std::size_t(le::kFrameCandidates + le::kSessionCandidates + k)] = nr[std::size_t(k)];
  }
}

// Every frame of a video session's source over the span the session
// covers (its first kept frame to `span_ms` later), as 160-px-wide grey
// images: the capture-rate candidates. Empty for stills.
std::vector<cv::Mat> NativeFrames(const lj::EvalSession& s, const std::string& data, std::int64_t span_ms) {
  std::vector<cv::Mat> out;
  if (s.kind != "video") return out;
  double t_clip = -1, t_first = -1, last_ts = -1;
  const livegate::Status st = livegate::vision::ForEachVideoFrame(fs::path(data) / s.media, [&](const livegate::vision::VideoFrame& f) {
    if (s.first_frame && f.index < *s.first_frame) return true;
    if (s.last_frame && f.index > *s.last_frame) return false;
    double ts = f.timestamp_ms;
    if (ts <= last_ts) ts = last_ts + 1;
    last_ts = ts;
    if (t_clip < 0) t_clip = ts;
    if (s.from_ms && ts - t_clip < double(*s.from_ms)) return true;
    if (s.to_ms && ts - t_clip > double(*s.to_ms)) return false;
    if (t_first < 0) t_first = ts;
    if (ts - t_first > double(span_ms) + 0.5) return false;
    cv::Mat grey, small;
    cv::cvtColor(f.bgr, grey, cv::COLOR_BGR2GRAY);
    const double sc = 160.0 / std::max(1, grey.cols);
    cv::resize(grey, small, cv::Size(160, std::max(1, int(std::lround(grey.rows * sc)))), 0, 0, cv::INTER_AREA);
    out.push_back(small);
    return true;
  });
  if (!st.ok()) std::cerr << "eval screen-cues: " << s.id << ": " << st.ToString() << " (source-rate candidates from " << out.size() << " frames)\n";
  return out;
}

int Run(const Args& a) {
  using livegate::cli::kExitBadInput;
  const auto manifest = livegate::eval::LoadManifests(a.manifests, "eval screen-cues");
  if (!manifest) return kExitBadInput;
  std::string data = a.data;
  if (data.empty()) {
    const char* env = std::getenv("LIVEGATE_TEST_DATA");
    data = env ? env : "../shared/data";
  }
  if (a.obs_cache.empty()) {
    std::cerr << "eval screen-cues: --obs-cache is required (run `livegate eval pad --obs-cache DIR` first)\n";
    return kExitBadInput;
  }
  const std::string why = le::ObservationCacheUnavailableReason();
  if (!why.empty()) {
    std::cerr << "eval screen-cues: observation cache unusable: " << why << "\n";
    return kExitBadInput;
  }
  // The key `eval pad` used: default policy with scripted challenges allowed.
  lj::Policy policy;
  policy.challenge.allow_scripted = true;
  livegate::vision::AnalyzerOptions ao;
  if (!a.models.empty()) ao.model_dir = a.models;

  std::vector<Session> sessions;
  double measure_cpu_s = 0;  // CPU time in MeasureScreenCandidates (cost of the candidates)
  long measured_frames = 0;
  auto measure = [&](const cv::Mat& bgr, const cv::Rect2f& box, bool surround) {
    const std::clock_t c0 = std::clock();
    auto m = le::MeasureScreenCandidates(bgr, box, surround);
    measure_cpu_s += double(std::clock() - c0) / CLOCKS_PER_SEC;
    ++measured_frames;
    return m;
  };
  std::ostringstream frames_tsv;
  frames_tsv << "session\tsource\tlabel\tt_ms";
  for (const auto& n : le::ScreenCandidateNames()) frames_tsv << "\t" << n;
  frames_tsv << "\n";
  for (const auto& es : *manifest) {
    if (!es.exclude.empty()) continue;
    if (!a.only.empty() && es.id.find(a.only) == std::string::npos) continue;
    auto key = le::ObservationCacheKey(es, data, policy, ao.model_dir);
    std::optional<le::CachedObservations> cached;
    if (key.ok()) cached = le::LoadObservations(le::ObservationCachePath(a.obs_cache, es, *key), *key);
    if (!cached) {
      std::cerr << "eval screen-cues: " << es.id << ": not in the observation cache (skipped)\n";
      continue;
    }
    if (cached->fta) {
      std::cerr << "eval screen-cues: " << es.id << ": failed to acquire (skipped, no PAD decision)\n";
      continue;
    }
    auto cap = lj::LoadEvalCapture(es, data);
    if (!cap.ok()) {
      std::cerr << "eval screen-cues: " << es.id << ": " << cap.status().ToString() << "\n";
      continue;
    }
    Session s{es.id, es.source, es.label, lj::SessionTier(es), {}, {}};
    std::vector<float> luma, diff, centre, whole;
    for (const auto& o : cached->observations) {
      if (!o.has_face || o.blink_extra || o.index < 0 || o.index >= int(cap->frames.size())) continue;
      const cv::Mat& bgr = cap->frames[std::size_t(o.index)].bgr;
      std::array<float, le::kScreenCandidates> f;
      f.fill(std::numeric_limits<float>::quiet_NaN());
      const auto m = measure(bgr, o.box, true);
      std::copy(m.begin(), m.end(), f.begin());
      s.frames.push_back(f);
      luma.push_back(o.mean_luma);
      diff.push_back(o.frame_difference);
      centre.push_back(0.299f * o.face_r + 0.587f * o.face_g + 0.114f * o.face_b);
      {
        const cv::Scalar m = cv::mean(bgr);
        whole.push_back(float(0.114 * m[0] + 0.587 * m[1] + 0.299 * m[2]));
      }
      frames_tsv << s.id << "\t" << s.source << "\t" << s.label << "\t" << o.timestamp_ms;
      for (float x : f) frames_tsv << "\t" << Fixed(x, 4);
      frames_tsv << "\n";
    }
    const std::int64_t span_ms = cached->observations.empty() ? 0 : cached->observations.back().timestamp_ms;
    FinishSession(s, a.frame_share, luma, diff, centre, whole, NativeFrames(es, data, span_ms));
    std::cerr << std::left << std::setw(32) << s.id << " " << std::setw(10) << s.label << " " << s.frames.size()
              << " face frames\n";
    sessions.push_back(std::move(s));
  }
  // Folders of face crops: the crop is the face box (no surround), one
  // session per folder.
  for (const auto& spec : a.crops) {
    const auto c1 = spec.find(':'), c2 = spec.find(':', c1 == std::string::npos ? 0 : c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) {
      std::cerr << "eval screen-cues: --crops takes source:label:folder\n";
      return kExitBadInput;
    }
    Session s;
    s.source = spec.substr(0, c1);
    s.label = spec.substr(c1 + 1, c2 - c1 - 1);
    fs::path dir = spec.substr(c2 + 1);
    if (dir.is_relative() && !fs::exists(dir)) dir = fs::path(data) / dir;
    s.id = s.source + "-crops-" + s.label;
    s.tier = "crops";
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& p : files) {
      auto img = livegate::vision::ReadImageFile(p);
      if (!img.ok()) continue;
      std::array<float, le::kScreenCandidates> f;
      f.fill(std::numeric_limits<float>::quiet_NaN());
      const auto m = measure(*img, cv::Rect2f(0, 0, float(img->cols), float(img->rows)), false);
      std::copy(m.begin(), m.end(), f.begin());
      s.frames.push_back(f);
      frames_tsv << s.id << "\t" << s.source << "\t" << s.label << "\t" << p.filename().string();
      for (float x : f) frames_tsv << "\t" << Fixed(x, 4);
      frames_tsv << "\n";
    }
    if (s.frames.empty()) {
      std::cerr << "eval screen-cues: no readable image in " << dir << "\n";
      return kExitBadInput;
    }
    FinishSession(s, a.frame_share, {}, {}, {}, {}, {});
    std::cerr << std::left << std::setw(32) << s.id << " " << std::setw(10) << s.label << " " << s.frames.size()
              << " crops\n";
    sessions.push_back(std::move(s));
  }
  if (sessions.empty()) {
    std::cerr << "eval screen-cues: no session measured\n";
    return kExitBadInput;
  }

  // Session values.
  le::Table values;
  values.header = {"session", "source", "label"};
  for (const auto& n : le::ScreenCandidateNames()) values.header.push_back(n);
  for (const auto& s : sessions) {
    std::vector<std::string> row = {s.id, s.source, s.label};
    for (float x : s.value) row.push_back(Fixed(x, 3));
    values.rows.push_back(row);
  }

  // Leave-one-source-out per candidate. Rule: a per-session critical value
  // (the level above which frame_share of its frames lie), "higher refuses
  // more" in the oriented measure (a session passes while threshold >= its
  // value), attack bound = replay, conflicts favour bona fide, shipped =
  // off (never tighten without attack evidence); margins 10 % of the
  // training bona fide values' spread (standard deviation), at least 2 % of
  // the training values' range, both sides.
  std::vector<std::string> sources;
  for (const auto& s : sessions) sources.push_back(s.source);
  const auto folds = le::LeaveOneSourceOut(sources);
  std::ostringstream report;
  le::Table summary;
  summary.header = {"candidate", "folds calibrated", "bona fide sessions flagged (CV)", "bona fide frames flagged (CV)",
                    "replay sessions flagged (CV)", "replay frames flagged (CV)", "other attacks flagged (CV)",
                    "zalo replay caught (zalo held out)", "edge view: bona fide sessions flagged", "edge view: replay sessions flagged",
                    "edge view: other attacks flagged", "edge view: zalo replay"};
  for (int k = 0; k < le::kScreenCandidates; ++k) {
    const bool per_frame = k < le::kFrameCandidates;
    le::Table t;
    t.header = {"held out", "threshold", "status", "bf sessions", "bf frames", "replay sessions", "replay frames",
                "other attack sessions", "edge threshold", "edge: bf", "edge: replay", "note"};
    int calibrated = 0, bf_s = 0, bf_sn = 0, bf_f = 0, bf_fn = 0, rp_s = 0, rp_sn = 0, rp_f = 0, rp_fn = 0, ot_s = 0,
        ot_sn = 0;
    std::string zalo = "n/a", zalo_edge = "n/a";
    int e_bf = 0, e_rp = 0, e_ot = 0;
    std::string e_bf_names;
    for (const auto& fold : folds) {
      std::vector<le::ThresholdSample> train;
      double sum = 0, sum2 = 0, lo = 1e300, hi = -1e300;
      int nbf = 0;
      for (std::size_t i : fold.train) {
        const float v = sessions[i].value[std::size_t(k)];
        if (!std::isfinite(v)) continue;
        le::ThresholdSample ts;
        ts.session = sessions[i].id, ts.source = sessions[i].source, ts.label = sessions[i].label;
        ts.kind = le::ThresholdSample::Kind::kValue;
        ts.value = v;
        train.push_back(ts);
        lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
        if (ts.bona_fide()) sum += v, sum2 += double(v) * v, ++nbf;
      }
      const double sd = nbf > 1 ? std::sqrt(std::max(0.0, sum2 / nbf - (sum / nbf) * (sum / nbf))) : 0.0;
      le::CalibrationRule rule;
      rule.strictness = le::Strictness::kLowerRefusesMore;
      rule.bona_fide_quantile = 0.02;
      // Never a zero margin: a cue on which every bona fide reads the same
      // value (e.g. 0 blended frames) would otherwise "separate" an attack
      // that reads that value too (gap 0 >= margins 0).
      const double margin = std::max(0.1 * sd, hi > lo ? 0.02 * (hi - lo) : 1e-6);
      rule.bona_fide_margin = margin;
      rule.attack_margin = margin;
      rule.attack_types = {"replay"};
      rule.on_conflict = le::OnConflict::kFavourBonaFide;
      const double off = 1e9;
      const auto c = le::Calibrate(rule, train, off);
      const bool active = c.threshold < off / 2;
      // Diagnostic ("edge view", not the rule): the strictest threshold that
      // keeps every training bona fide accepted (its edge + margin), whatever
      // the training attacks show: the best a cue could do on held-out data.
      const bool has_edge = c.bona_fide_edge.has_value() && c.bona_fide_values >= rule.min_bona_fide_sessions &&
                            c.bona_fide_sources >= rule.min_bona_fide_sources;
      const double edge_t = has_edge ? *c.bona_fide_edge + rule.bona_fide_margin : off;
      int fe_bf = 0, fe_rp = 0;
      calibrated += c.status == le::CalibrationResult::Status::kCalibrated && active;
      int fbs = 0, fbsn = 0, fbf = 0, fbfn = 0, frs = 0, frsn = 0, frf = 0, frfn = 0, fos = 0, fosn = 0;
      for (std::size_t i : fold.test) {
        const Session& s = sessions[i];
        const float v = s.value[std::size_t(k)];
        const bool flagged = active && std::isfinite(v) && v > c.threshold;
        const bool edge_flagged = has_edge && std::isfinite(v) && v > edge_t;
        if (s.label == "bona_fide") {
          fe_bf += edge_flagged, e_bf += edge_flagged;
          if (edge_flagged) e_bf_names += (e_bf_names.empty() ? "" : " ") + s.id;
        }
        else if (s.label == "replay") fe_rp += edge_flagged, e_rp += edge_flagged;
        else e_ot += edge_flagged;
        int ff = 0, fn = 0;
        if (per_frame) {
          for (const auto& f : s.frames) {
            if (!std::isfinite(f[std::size_t(k)])) continue;
            ++fn;
            ff += active && f[std::size_t(k)] > c.threshold;
          }
        }
        if (s.label == "bona_fide") fbs += flagged, ++fbsn, fbf += ff, fbfn += fn;
        else if (s.label == "replay") frs += flagged, ++frsn, frf += ff, frfn += fn;
        else fos += flagged, ++fosn;
        if (s.source == "zalo" && s.label == "replay") {
          zalo = (zalo == "n/a" ? "" : zalo + ", ") + s.id + (flagged ? " caught" : " missed") + " (" + Fixed(v, 3) +
                 " vs " + (active ? Fixed(c.threshold, 3) : std::string("off")) + ")";
          zalo_edge = (zalo_edge == "n/a" ? "" : zalo_edge + ", ") + s.id + (edge_flagged ? " caught" : " missed") + " (" +
                      Fixed(v, 3) + " vs " + (has_edge ? Fixed(edge_t, 3) : std::string("off")) + ")";
        }
      }
      bf_s += fbs, bf_sn += fbsn, bf_f += fbf, bf_fn += fbfn, rp_s += frs, rp_sn += frsn, rp_f += frf, rp_fn += frfn,
          ot_s += fos, ot_sn += fosn;
      auto frac = [](int a, int b) { return b ? std::to_string(a) + "/" + std::to_string(b) : std::string("-"); };
      t.rows.push_back({fold.held_out, active ? Fixed(c.threshold, 3) : "off", le::StatusName(c.status), frac(fbs, fbsn),
                        per_frame ? frac(fbf, fbfn) : "-", frac(frs, frsn), per_frame ? frac(frf, frfn) : "-",
                        frac(fos, fosn), has_edge ? Fixed(edge_t, 3) : "-", std::to_string(fe_bf),
                        std::to_string(fe_rp), c.note});
    }
    auto frac = [](int a, int b) { return std::to_string(a) + "/" + std::to_string(b); };
    summary.rows.push_back({le::ScreenCandidateNames()[std::size_t(k)], std::to_string(calibrated) + "/" +
                                                                            std::to_string(folds.size()),
                            frac(bf_s, bf_sn), per_frame ? frac(bf_f, bf_fn) : "-", frac(rp_s, rp_sn),
                            per_frame ? frac(rp_f, rp_fn) : "-", frac(ot_s, ot_sn), zalo,
                            frac(e_bf, bf_sn) + (e_bf_names.empty() ? "" : " (" + e_bf_names + ")"), frac(e_rp, rp_sn), frac(e_ot, ot_sn),
                            zalo_edge});
    report << "== " << le::ScreenCandidateNames()[std::size_t(k)] << ": "
           << le::ScreenCandidateMeaning()[std::size_t(k)] << "\n"
           << le::TableText(t) << "\n";
  }
  std::cout << le::TableText(values) << "\n" << report.str() << le::TableText(summary)
            << "candidate measures: " << measured_frames << " frames, " << Fixed(1000.0 * measure_cpu_s / std::max(1L, measured_frames), 2)
            << " ms CPU per frame (all " << le::kFrameCandidates << " frame candidates together)\n";
  if (!a.out.empty()) {
    for (const auto& st : {le::WriteTextFile(a.out + "/frames.tsv", frames_tsv.str()),
                           le::WriteTextFile(a.out + "/sessions.csv", le::TableCsv(values)),
                           le::WriteTextFile(a.out + "/folds.txt", report.str()),
                           le::WriteTextFile(a.out + "/summary.csv", le::TableCsv(summary))}) {
      if (!st.ok()) {
        std::cerr << "eval screen-cues: " << st.ToString() << "\n";
        return kExitBadInput;
      }
    }
  }
  return livegate::cli::kExitOk;
}

livegate::cli::Registration reg([](CLI::App& app) {
  auto args = std::make_shared<Args>();
  auto* cmd = livegate::eval::EvalGroup(app)->add_subcommand(
      "screen-cues", "Candidate screen-recapture cues per frame and session (bona fide vs attacks), each "
                     "cross-validated leave-one-source-out with the calibration rule (issue 13; evaluation only)");
  cmd->add_option("--manifest", args->manifests, "PAD session manifest(s)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--crops", args->crops, "source:label:folder of face crops (relative to --data if not found); "
                                          "one session per folder; repeat");
  cmd->add_option("--data", args->data, "Data root (default: LIVEGATE_TEST_DATA)");
  cmd->add_option("--models", args->models, "Model folder the observation cache was written with");
  cmd->add_option("--obs-cache", args->obs_cache, "Observation cache of `eval pad --obs-cache` (face boxes)")->required();
  cmd->add_option("--out", args->out, "Folder for frames.tsv, sessions.csv, folds.txt, summary.csv");
  cmd->add_option("--only", args->only, "Only sessions whose id contains this text");
  cmd->add_option("--frame-share", args->frame_share, "Share of frames that flags a session (default 0.30, as "
                                                      "replay.min_flagged_frames_pct)")
      ->capture_default_str();
  cmd->callback([args] { livegate::cli::SetExitCode(Run(*args)); });
});

}  // namespace
