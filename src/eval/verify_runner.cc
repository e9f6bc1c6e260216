// `livegate eval verify` runner: comparison accuracy (R-SRV-CMP-1) per
// source of an identity-labelled tree, the evaluation runs that justify the
// comparison threshold (X.1279 section 11 item 2). Pairing rules, same-photo
// groups and FTA: see verify_runner.h.
#include "eval/verify_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <opencv2/imgproc.hpp>

#include "vision/image_io.h"
#include "vision/models.h"

namespace livegate::eval {
namespace fs = std::filesystem;
namespace {

bool IsImageFile(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::set<std::string> kExt = {".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".bmp",
                                             ".webp", ".tif", ".tiff"};
  return kExt.count(ext) > 0;
}

bool Skipped(const std::string& name) {
  return name.rfind("_multi", 0) == 0 || name.rfind("_edge", 0) == 0 || name.rfind('.', 0) == 0;
}

std::vector<fs::path> SortedChildren(const fs::path& dir, bool dirs) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (dirs ? e.is_directory() : e.is_regular_file()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool HoldsImagesDirectly(const fs::path& dir) {
  for (const auto& f : SortedChildren(dir, false)) {
    if (IsImageFile(f)) return true;
  }
  return false;
}

// ---- MANIFEST.tsv same-photo groups ----------------------------------------

struct ManifestRow {
  std::string staged_path;
  std::string repo;
  std::string original_path;
  std::string notes;
};

fs::path FindManifest(const fs::path& data_dir) {
  fs::path dir = fs::absolute(data_dir).lexically_normal();
  for (int i = 0; i < 4 && !dir.empty(); ++i) {
    if (fs::is_regular_file(dir / "MANIFEST.tsv")) return dir / "MANIFEST.tsv";
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  return {};
}

Result<std::vector<ManifestRow>> ReadManifest(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return Status::BadInput("eval.manifest_unreadable", "cannot read " + path.string());
  std::vector<ManifestRow> rows;
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 4) continue;
    ManifestRow r;
    r.staged_path = cols[0];
    r.repo = cols[1];
    r.original_path = cols[3];
    r.notes = cols.size() > 6 ? cols[6] : "";
    rows.push_back(std::move(r));
  }
  return rows;
}

// staged_path -> photo group key, for the rows the notes mark as renderings
// of one photo.
std::map<std::string, std::string> PhotoGroups(const std::vector<ManifestRow>& rows) {
  std::map<std::string, std::string> group;
  static const std::regex kResSuffix("-[0-9]+p$");
  static const std::regex kCropOf("crop of ([^ ()]+)");
  for (const auto& r : rows) {
    if (r.notes.find("same photo at") != std::string::npos) {
      const fs::path p(r.staged_path);
      const std::string stem = std::regex_replace(p.stem().string(), kResSuffix, "");
      group[r.staged_path] = "resolutions:" + (p.parent_path() / stem).string();
    }
  }
  for (const auto& r : rows) {
    std::smatch m;
    if (!std::regex_search(r.notes, m, kCropOf)) continue;
    const std::string original = m[1].str();
    for (const auto& o : rows) {
      // The note may name the path without the repository's leading folders.
      const bool same_file =
          o.original_path == original ||
          (o.original_path.size() > original.size() &&
           o.original_path.compare(o.original_path.size() - original.size(), original.size(), original) == 0 &&
           o.original_path[o.original_path.size() - original.size() - 1] == '/');
      if (o.repo == r.repo && same_file && o.staged_path != r.staged_path) {
        const std::string key = group.count(o.staged_path) ? group[o.staged_path] : "photo:" + o.staged_path;
        group[o.staged_path] = key;
        group[r.staged_path] = key;
      }
    }
  }
  return group;
}

// ---- Analysis --------------------------------------------------------------

struct Worker {
  std::unique_ptr<vision::FaceAnalyzer> analyzer;
  std::unique_ptr<vision::DescriptorModel> descriptor;
};

double ChipSharpness(const cv::Mat& chip_bgr) {
  cv::Mat grey, lap;
  cv::cvtColor(chip_bgr, grey, cv::COLOR_BGR2GRAY);
  cv::Laplacian(grey, lap, CV_64F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(lap, mean, stddev);
  return stddev[0] * stddev[0];
}

void AnalyseOne(Worker& w, const VerifyOptions& options, ImageRecord& rec) {
  const bool aligned_chips = options.aligned_chips;
  auto img = vision::ReadImageFile(rec.path);
  if (!img.ok()) {
    rec.failure = img.status().reason();
    return;
  }
  if (aligned_chips) {
    const cv::Mat& bgr = *img;
    if (bgr.cols != vision::DescriptorModel::kInputSize || bgr.rows != vision::DescriptorModel::kInputSize) {
      rec.failure = "chip.not_150x150";
      return;
    }
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    auto d = w.descriptor->Run(rgb);
    if (!d.ok()) {
      rec.failure = d.status().reason();
      return;
    }
    rec.faces = 1;
    rec.descriptor = *d;
    rec.acquired = true;
    return;
  }
  auto faces = w.analyzer->Analyze(*img);
  if (!faces.ok()) {
    rec.failure = faces.status().reason();
    return;
  }
  rec.faces = static_cast<int>(faces->size());
  if (faces->empty()) {
    rec.failure = "face.none";
    return;
  }
  // Largest face first (FaceAnalyzer contract), but do not rely on it.
  const vision::FaceAnalysis* best = &(*faces)[0];
  for (const auto& f : *faces) {
    if (f.box.area() > best->box.area()) best = &f;
  }
  if (!best->descriptor) {
    rec.failure = best->tiny ? "face.tiny" : "face.no_descriptor";
    return;
  }
  rec.descriptor = *best->descriptor;
  rec.face_width = best->box.width;
  rec.yaw_deg = best->pose.yaw_deg;
  rec.pitch_deg = best->pose.pitch_deg;
  if (!best->chip.empty()) rec.sharpness = ChipSharpness(best->chip);
  if (options.mirror && !best->chip.empty()) {
    // Test-time augmentation: the mirror image of the aligned chip is another
    // view of the same face; the two descriptors are averaged (no
    // renormalisation: dlib's jittered descriptors are averaged the same way).
    cv::Mat flipped, rgb;
    cv::flip(best->chip, flipped, 1);
    cv::cvtColor(flipped, rgb, cv::COLOR_BGR2RGB);
    auto m = w.descriptor->Run(rgb);
    if (!m.ok()) {
      rec.failure = m.status().reason();
      return;
    }
    for (std::size_t i = 0; i < rec.descriptor.size(); ++i) rec.descriptor[i] = 0.5f * (rec.descriptor[i] + (*m)[i]);
  }
  rec.acquired = true;
}

Status AnalyseAll(const VerifyOptions& options, std::vector<ImageRecord*>& jobs) {
  const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(jobs.size())));
  std::vector<Worker> workers(threads);
  for (auto& w : workers) {
    if (options.aligned_chips || options.mirror) {
      LG_ASSIGN_OR_RETURN(w.descriptor, vision::DescriptorModel::Load(options.analyzer.model_dir));
    }
    if (!options.aligned_chips) {
      LG_ASSIGN_OR_RETURN(w.analyzer, vision::FaceAnalyzer::Create(options.analyzer));
    }
  }
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::mutex progress_mu;
  auto run = [&](Worker& w) {
    for (std::size_t i = next++; i < jobs.size(); i = next++) {
      AnalyseOne(w, options, *jobs[i]);
      const std::size_t d = ++done;
      if (options.progress) {
        std::lock_guard<std::mutex> lock(progress_mu);
        options.progress(d, jobs.size());
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(run, std::ref(workers[t]));
  run(workers[0]);
  for (auto& t : pool) t.join();
  return Status::Ok();
}

void ScoreSource(SourceResult& s, double threshold) {
  s.scores.polarity = Polarity::kLowerIsPositive;
  const auto& im = s.images;
  for (std::size_t a = 0; a < im.size(); ++a) {
    for (std::size_t b = a + 1; b < im.size(); ++b) {
      const bool genuine = im[a].identity == im[b].identity;
      if (genuine && !im[a].photo_group.empty() && im[a].photo_group == im[b].photo_group) {
        ++s.genuine_same_photo_excluded;
        continue;
      }
      (genuine ? s.genuine_possible : s.impostor_possible)++;
      if (!im[a].acquired || !im[b].acquired || im[a].quality_excluded || im[b].quality_excluded) continue;
      PairScore p;
      p.a = a;
      p.b = b;
      p.genuine = genuine;
      // The product's own comparison decides (strict "<", as dlib); the
      // metrics' inclusive boundary differs only on an exact float tie.
      const auto cmp = vision::CompareDescriptors(im[a].descriptor, im[b].descriptor,
                                                  static_cast<float>(threshold));
      p.distance = cmp.distance;
      p.accepted = cmp.same;
      const bool accepted = cmp.same;
      if (genuine) {
        ++s.genuine_scored;
        s.scores.positives.push_back(p.distance);
        (accepted ? s.genuine_accepted : s.genuine_rejected)++;
      } else {
        ++s.impostor_scored;
        s.scores.negatives.push_back(p.distance);
        (accepted ? s.impostor_accepted : s.impostor_rejected)++;
      }
      s.pairs.push_back(p);
    }
  }
  for (const auto& r : im) {
    s.images_failed += r.acquired ? 0 : 1;
    s.images_quality_excluded += r.quality_excluded ? 1 : 0;
  }
  s.fta_rate = im.empty() ? 0 : static_cast<double>(s.images_failed) / static_cast<double>(im.size());
  auto summary = SummariseVerification(s.scores, threshold);
  if (summary.ok()) s.summary = *summary;
}

std::string Count(std::size_t n, std::size_t of) { return std::to_string(n) + "/" + std::to_string(of); }

std::string Thr(double t) {
  if (std::isinf(t)) return t > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", t);
  return buf;
}

}  // namespace

Result<VerifyReport> RunVerify(const VerifyOptions& options) {
  if (!fs::is_directory(options.data_dir)) {
    return Status::BadInput("eval.data_dir_missing", "no such folder: " + options.data_dir.string());
  }
  VerifyReport report;
  report.mode = options.aligned_chips ? "aligned-chips" : "detect+align";
  report.threshold = options.threshold;
  report.data_dir = options.data_dir;
  report.threads = std::max(1, options.threads);

  // Sources: DIR itself when its subfolders hold images, else each subfolder.
  std::vector<fs::path> source_dirs;
  bool dir_is_source = false;
  for (const auto& sub : SortedChildren(options.data_dir, true)) {
    if (!Skipped(sub.filename().string()) && HoldsImagesDirectly(sub)) dir_is_source = true;
  }
  if (dir_is_source) {
    source_dirs.push_back(options.data_dir);
  } else {
    for (const auto& sub : SortedChildren(options.data_dir, true)) {
      if (!Skipped(sub.filename().string())) source_dirs.push_back(sub);
    }
  }

  std::map<std::string, std::string> groups;
  fs::path manifest_dir;
  report.manifest = options.manifest.empty() ? FindManifest(options.data_dir) : options.manifest;
  if (!report.manifest.empty()) {
    LG_ASSIGN_OR_RETURN(auto rows, ReadManifest(report.manifest));
    groups = PhotoGroups(rows);
    manifest_dir = fs::absolute(report.manifest).parent_path();
  }

  for (const auto& sdir : source_dirs) {
    SourceResult s;
    s.name = fs::absolute(sdir).lexically_normal().filename().string();
    if (s.name.empty()) s.name = fs::absolute(sdir).lexically_normal().parent_path().filename().string();
    for (const auto& idir : SortedChildren(sdir, true)) {
      const std::string identity = idir.filename().string();
      if (Skipped(identity)) continue;
      bool any = false;
      for (const auto& f : SortedChildren(idir, false)) {
        if (!IsImageFile(f)) continue;
        ImageRecord r;
        r.path = f;
        r.source = s.name;
        r.identity = identity;
        if (!manifest_dir.empty()) {
          const std::string rel =
              fs::absolute(f).lexically_normal().lexically_relative(manifest_dir).generic_string();
          auto it = groups.find(rel);
          if (it != groups.end()) r.photo_group = it->second;
        }
        s.images.push_back(std::move(r));
        any = true;
      }
      if (any) ++s.identities;
    }
    if (!s.images.empty()) report.sources.push_back(std::move(s));
  }
  if (report.sources.empty()) {
    return Status::BadInput("eval.no_sources",
                            "no <source>/<identity>/<image> folders under " + options.data_dir.string());
  }

  std::vector<ImageRecord*> jobs;
  for (auto& s : report.sources) {
    for (auto& r : s.images) jobs.push_back(&r);
  }
  const auto t0 = std::chrono::steady_clock::now();
  LG_RETURN_IF_ERROR(AnalyseAll(options, jobs));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report.seconds_per_image = jobs.empty() ? 0 : report.seconds / static_cast<double>(jobs.size());
  report.mirror = options.mirror;
  report.fmr_targets = options.fmr_targets;
  report.confidence = options.confidence;
  for (auto& s : report.sources) {
    for (auto& r : s.images) {
      if (!r.acquired || options.aligned_chips) continue;
      r.quality_excluded = (options.min_face_width > 0 && r.face_width < options.min_face_width) ||
                           (options.max_abs_yaw > 0 && std::fabs(r.yaw_deg) > options.max_abs_yaw) ||
                           (options.min_sharpness > 0 && r.sharpness < options.min_sharpness);
    }
    ScoreSource(s, options.threshold);
    if (s.summary) {
      for (const auto& [label, target] : options.fmr_targets) {
        LG_ASSIGN_OR_RETURN(auto p, AtFmrTargetWithBound(s.scores, target, options.confidence));
        s.operating_points.push_back(p);
      }
    }
    report.pooled.positives.insert(report.pooled.positives.end(), s.scores.positives.begin(),
                                   s.scores.positives.end());
    report.pooled.negatives.insert(report.pooled.negatives.end(), s.scores.negatives.begin(),
                                   s.scores.negatives.end());
  }
  report.pooled.polarity = Polarity::kLowerIsPositive;
  if (ValidateScores(report.pooled).ok()) {
    for (const auto& [label, target] : options.fmr_targets) {
      LG_ASSIGN_OR_RETURN(auto p, AtFmrTargetWithBound(report.pooled, target, options.confidence));
      // Fairness check at the pooled point (the threshold a policy would ship).
      std::map<std::pair<std::string, std::string>, VerifyReport::IdentityErrors> per_id;
      for (const auto& s : report.sources) {
        for (const auto& pair : s.pairs) {
          if (!pair.genuine) continue;
          auto& e = per_id[{s.name, s.images[pair.a].identity}];
          e.source = s.name;
          e.identity = s.images[pair.a].identity;
          ++e.genuine;
          if (!Accepts(Polarity::kLowerIsPositive, pair.distance, p.point.threshold)) ++e.rejected;
        }
      }
      std::vector<VerifyReport::IdentityErrors> ids;
      for (auto& [k, e] : per_id) {
        e.fnmr = static_cast<double>(e.rejected) / static_cast<double>(e.genuine);
        ids.push_back(e);
      }
      std::stable_sort(ids.begin(), ids.end(), [](const auto& x, const auto& y) {
        if (x.fnmr != y.fnmr) return x.fnmr > y.fnmr;
        return x.rejected > y.rejected;
      });
      report.pooled_points.push_back(p);
      report.worst_identities.push_back(std::move(ids));
    }
  }
  return report;
}

std::vector<std::pair<std::string, double>> DefaultFmrTargets() {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& tier : default_policy::kTiers) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.second == tier.fmr_target; });
    if (it == out.end()) {
      out.emplace_back(tier.name, tier.fmr_target);
    } else {
      it->first += std::string(", ") + tier.name;
    }
  }
  return out;
}

namespace {

std::string Sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2g", v);
  return buf;
}

void AddPointRow(Table& t, const std::string& scope, const std::string& label, const FmrTargetPoint& p) {
  t.rows.push_back({scope,
                    label + " " + Sci(p.target),
                    std::to_string(p.impostors),
                    p.supported ? "yes" : "NO (needs " + std::to_string(p.impostors_needed) + ")",
                    Thr(p.point.threshold),
                    FormatPercent(p.point.frr) + " (" + Count(p.point.false_rejects, p.point.positives) + ")",
                    Count(p.point.false_accepts, p.point.negatives),
                    Sci(p.fmr_upper_bound),
                    Thr(p.empirical.threshold) + " / " + FormatPercent(p.empirical.frr),
                    p.tail_model_threshold ? Thr(*p.tail_model_threshold) + " / " + FormatPercent(*p.tail_model_fnmr)
                                           : "n/a"});
}

}  // namespace

Table OperatingPointTable(const VerifyReport& report) {
  Table t;
  const std::string conf = std::to_string(static_cast<int>(std::lround(report.confidence * 100))) + " %";
  t.header = {"scope", "FMR target", "impostors", "target supported", "threshold", "FNMR", "FM (k/N)",
              "FMR upper bound " + conf, "empirical-only thr / FNMR", "tail model thr / FNMR (extrapolation)"};
  for (std::size_t i = 0; i < report.pooled_points.size(); ++i) {
    AddPointRow(t, "pooled", report.fmr_targets[i].first, report.pooled_points[i]);
  }
  for (const auto& s : report.sources) {
    for (std::size_t i = 0; i < s.operating_points.size(); ++i) {
      AddPointRow(t, s.name, report.fmr_targets[i].first, s.operating_points[i]);
    }
  }
  return t;
}

Table WorstIdentityTable(const VerifyReport& report, std::size_t limit) {
  Table t;
  t.header = {"FMR target", "threshold", "rank", "source", "identity", "genuine pairs", "refused", "FNMR"};
  for (std::size_t i = 0; i < report.worst_identities.size(); ++i) {
    const auto& ids = report.worst_identities[i];
    for (std::size_t r = 0; r < ids.size() && r < limit; ++r) {
      t.rows.push_back({report.fmr_targets[i].first + " " + Sci(report.fmr_targets[i].second),
                        Thr(report.pooled_points[i].point.threshold), std::to_string(r + 1), ids[r].source,
                        ids[r].identity, std::to_string(ids[r].genuine), std::to_string(ids[r].rejected),
                        FormatPercent(ids[r].fnmr)});
    }
  }
  return t;
}

Table VerifySummaryTable(const VerifyReport& report) {
  Table t;
  const std::string at = "@t=" + Thr(report.threshold);
  t.header = {"source",      "ids",           "images",       "FTA",
              "genuine",     "impostor",      "same-photo excl.",
              "EER",         "EER thr",       "FNMR@FMR1%",   "thr@FMR1%",
              "FNMR@FMR0.1%", "thr@FMR0.1%",  "thr@FMR0.01%", "FNMR" + at,    "FMR" + at};
  for (const auto& s : report.sources) {
    std::vector<std::string> row = {
        s.name,
        std::to_string(s.identities),
        std::to_string(s.images.size()),
        FormatPercent(s.fta_rate) + " (" + std::to_string(s.images_failed) + ")",
        Count(s.genuine_scored, s.genuine_possible),
        Count(s.impostor_scored, s.impostor_possible),
        std::to_string(s.genuine_same_photo_excluded)};
    if (s.summary) {
      const auto& m = *s.summary;
      row.push_back(FormatPercent(m.eer.eer));
      row.push_back(Thr(m.eer.threshold));
      row.push_back(FormatPercent(m.at_fmr_1pct.frr));
      row.push_back(Thr(m.at_fmr_1pct.threshold));
      row.push_back(FormatPercent(m.at_fmr_0_1pct.frr));
      row.push_back(Thr(m.at_fmr_0_1pct.threshold));
      row.push_back(Thr(m.at_fmr_0_01pct.threshold));
    } else {
      row.insert(row.end(), 7, "n/a");
    }
    row.push_back(s.genuine_scored ? FormatPercent(static_cast<double>(s.genuine_rejected) / s.genuine_scored) +
                                         " (" + Count(s.genuine_rejected, s.genuine_scored) + ")"
                                   : "n/a");
    row.push_back(s.impostor_scored
                      ? FormatPercent(static_cast<double>(s.impostor_accepted) / s.impostor_scored) + " (" +
                            Count(s.impostor_accepted, s.impostor_scored) + ")"
                      : "n/a");
    t.rows.push_back(std::move(row));
  }
  return t;
}

nlohmann::json ToJson(const VerifyReport& report) {
  nlohmann::json j;
  j["mode"] = report.mode;
  // The default comes from a float (vision's 0.6f): print it as set, not as
  // 0.6000000238.
  j["threshold"] = std::round(report.threshold * 1e6) / 1e6;
  j["data_dir"] = report.data_dir.string();
  j["manifest"] = report.manifest.string();
  j["threads"] = report.threads;
  j["seconds"] = report.seconds;
  j["seconds_per_image"] = report.seconds_per_image;
  j["mirror"] = report.mirror;
  j["operating_points"] = {
      {"confidence", report.confidence},
      {"method",
       "per FMR target: the most lenient threshold whose one-sided Clopper-Pearson upper confidence bound on "
       "the FMR (k false matches of N impostor pairs) is <= the target; when N cannot support the target "
       "(zero false matches still bound the FMR above it; N >= ln(1/(1-confidence))/target needed) the "
       "threshold just below the lowest impostor distance, flagged supported=false, with the bound it reaches. "
       "Pairs sharing images are not independent: the bound is optimistic. tail_model_* is an extrapolation "
       "(normal fitted to the impostor 1 % and 10 % quantiles), not evidence."},
      {"pooled", nlohmann::json::array()},
      {"worst_identities", nlohmann::json::array()}};
  for (std::size_t i = 0; i < report.pooled_points.size(); ++i) {
    j["operating_points"]["pooled"].push_back(ToJson(report.pooled_points[i], report.fmr_targets[i].first));
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& e : report.worst_identities[i]) {
      if (ids.size() >= 20) break;
      ids.push_back({{"source", e.source}, {"identity", e.identity}, {"genuine", e.genuine},
                     {"rejected", e.rejected}, {"fnmr", e.fnmr}});
    }
    j["operating_points"]["worst_identities"].push_back(
        {{"tiers", report.fmr_targets[i].first}, {"fmr_target", report.fmr_targets[i].second},
         {"threshold", report.pooled_points[i].point.threshold}, {"identities", ids}});
  }
  j["sources"] = nlohmann::json::array();
  for (const auto& s : report.sources) {
    nlohmann::json js;
    js["source"] = s.name;
    js["identities"] = s.identities;
    js["images"] = s.images.size();
    js["images_failed"] = s.images_failed;
    js["fta_rate"] = s.fta_rate;
    js["genuine_possible"] = s.genuine_possible;
    js["impostor_possible"] = s.impostor_possible;
    js["genuine_same_photo_excluded"] = s.genuine_same_photo_excluded;
    js["genuine_scored"] = s.genuine_scored;
    js["impostor_scored"] = s.impostor_scored;
    js["decisions"] = {{"threshold", j["threshold"]},
                       {"genuine_accepted", s.genuine_accepted},
                       {"genuine_rejected", s.genuine_rejected},
                       {"impostor_accepted", s.impostor_accepted},
                       {"impostor_rejected", s.impostor_rejected}};
    js["summary"] = s.summary ? ToJson(*s.summary) : nlohmann::json(nullptr);
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& r : s.images) {
      if (!r.acquired) failures.push_back({{"image", r.path.string()}, {"reason", r.failure}});
    }
    js["failures_to_acquire"] = failures;
    js["images_quality_excluded"] = s.images_quality_excluded;
    js["operating_points"] = nlohmann::json::array();
    for (std::size_t i = 0; i < s.operating_points.size(); ++i) {
      js["operating_points"].push_back(ToJson(s.operating_points[i], report.fmr_targets[i].first));
    }
    if (!s.scores.positives.empty()) {
      js["genuine_max_distance"] = *std::max_element(s.scores.positives.begin(), s.scores.positives.end());
    }
    if (!s.scores.negatives.empty()) {
      js["impostor_min_distance"] = *std::min_element(s.scores.negatives.begin(), s.scores.negatives.end());
    }
    j["sources"].push_back(js);
  }
  return j;
}

nlohmann::json OperatingPointScores(const VerifyReport& report, std::size_t lowest_impostors) {
  std::vector<double> genuine = report.pooled.positives;
  std::vector<double> impostor = report.pooled.negatives;
  std::sort(genuine.begin(), genuine.end());
  std::sort(impostor.begin(), impostor.end());
  if (impostor.size() > lowest_impostors) impostor.resize(lowest_impostors);
  auto rounded = [](std::vector<double> v) {
    for (double& x : v) x = std::round(x * 1e6) / 1e6;
    return v;
  };
  return {{"what", "pooled scores of livegate eval verify: every genuine distance, the lowest impostor distances "
                   "and the impostor count - enough to recompute the strict operating points "
                   "(tests/eval/operating_points_test.cc)"},
          {"data_dir", report.data_dir.string()},
          {"mode", report.mode},
          {"mirror", report.mirror},
          {"confidence", report.confidence},
          {"genuine_count", report.pooled.positives.size()},
          {"impostor_count", report.pooled.negatives.size()},
          {"genuine", rounded(genuine)},
          {"lowest_impostors", rounded(impostor)}};
}

Status WriteVerifyReport(const VerifyReport& report, const fs::path& out_dir) {
  const Table summary = VerifySummaryTable(report);
  LG_RETURN_IF_ERROR(WriteTextFile(out_dir / "summary.csv", TableCsv(summary)));
  LG_RETURN_IF_ERROR(WriteTextFile(out_dir / "summary.json", ToJson(report).dump(2) + "\n"));
  LG_RETURN_IF_ERROR(WriteTextFile(out_dir / "operating_point_scores.json", OperatingPointScores(report).dump(1) + "\n"));

  std::vector<DetCurve> curves;
  for (const auto& s : report.sources) {
    if (!s.summary) continue;
    DetCurve c;
    c.label = s.name;
    c.points = ComputeDet(s.scores).value();
    c.marks.push_back({"EER", s.summary->eer.below});
    c.marks.push_back({"t=" + Thr(report.threshold), s.summary->at_threshold});
    curves.push_back(std::move(c));
  }
  LG_RETURN_IF_ERROR(WriteTextFile(out_dir / "det.csv", DetCsv(curves)));

  std::ostringstream pairs;
  pairs << "source,image_a,image_b,genuine,distance,accepted\n";
  std::ostringstream images;
  images << "source,identity,image,photo_group,acquired,failure,faces,face_width,yaw_deg,pitch_deg,sharpness,quality_excluded\n";
  for (const auto& s : report.sources) {
    for (const auto& p : s.pairs) {
      pairs << s.name << ',' << s.images[p.a].path.string() << ',' << s.images[p.b].path.string() << ','
            << (p.genuine ? 1 : 0) << ',' << p.distance << ','
            << (p.accepted ? 1 : 0) << '\n';
    }
    for (const auto& r : s.images) {
      images << s.name << ',' << r.identity << ',' << r.path.string() << ',' << r.photo_group << ','
             << (r.acquired ? 1 : 0) << ',' << r.failure << ',' << r.faces << ',' << r.face_width << ','
             << r.yaw_deg << ',' << r.pitch_deg << ',' << r.sharpness << ',' << (r.quality_excluded ? 1 : 0) << '\n';
    }
  }
  LG_RETURN_IF_ERROR(WriteTextFile(out_dir / "pairs.csv", pairs.str()));
  LG_RETURN_IF_ERROR(WriteTextFile(out_dir / "images.csv", images.str()));

  HtmlReport html("livegate eval verify: " + report.data_dir.filename().string() + " (" + report.mode + ")");
  html.AddParagraph("Data: " + report.data_dir.string() + ". Mode: " + report.mode +
                    ". Threshold: Euclidean descriptor distance <= " + Thr(report.threshold) +
                    " means same person. Manifest: " +
                    (report.manifest.empty() ? std::string("none") : report.manifest.string()) +
                    ". Analysis wall time " + std::to_string(report.seconds) + " s on " +
                    std::to_string(report.threads) + " thread(s).");
  html.AddParagraph(
      "Pairs are built within each source only. Genuine/impostor columns give scored/possible pairs "
      "(pairs with an image that failed to acquire are not scored). Genuine pairs between renderings of "
      "one photo (MANIFEST.tsv notes) are excluded. EER: linear interpolation between the two empirical "
      "operating points bracketing FMR = FNMR. FNMR at FMR x: the most lenient threshold whose FMR <= x "
      "(with fewer than 1/x impostor pairs this is a point with FMR = 0).");
  html.AddTable("Per source", summary);
  html.AddParagraph(
      "Operating points from false-match targets (the policy tiers' fmr_target). Threshold: the most lenient "
      "one whose one-sided " + std::to_string(static_cast<int>(std::lround(report.confidence * 100))) +
      " % Clopper-Pearson upper bound on the FMR (k false matches of N impostor pairs) is <= the target. "
      "When N is too small to support the target (even 0 false matches bound the FMR above it: about 3/N at "
      "95 %), the row says NO, gives the impostor pairs needed, and the threshold just below the lowest "
      "impostor distance with the bound it reaches: the data then show only FMR <= that bound. Pairs that "
      "share images are not independent, so the bound is optimistic. The last column fits a normal to the "
      "impostor distances' 1 % and 10 % quantiles and reads it at the target: an extrapolation, not evidence.");
  html.AddTable("Operating points (pooled over all sources, then per source)", OperatingPointTable(report));
  html.AddTable("Fairness check: identities with the highest FNMR at each pooled operating point",
                WorstIdentityTable(report));
  if (!curves.empty()) html.AddDetPlot("DET curves (dots: EER point, operating threshold)", curves);
  Table fta{{"source", "image", "reason"}, {}};
  for (const auto& s : report.sources) {
    for (const auto& r : s.images) {
      if (!r.acquired) fta.rows.push_back({s.name, r.path.string(), r.failure});
    }
  }
  if (!fta.rows.empty()) html.AddTable("Failures to acquire", fta);
  return WriteTextFile(out_dir / "report.html", html.Render());
}

double ShippedThreshold(const FmrTargetPoint& point) {
  return std::floor(point.point.threshold * 100 + 1e-9) / 100;
}

Result<std::vector<CvResult>> CrossValidateBySource(const VerifyReport& report) {
  std::vector<CvResult> out;
  std::vector<const SourceResult*> scored;
  for (const auto& s : report.sources) {
    if (!s.scores.positives.empty() || !s.scores.negatives.empty()) scored.push_back(&s);
  }
  if (scored.size() < 2 || !ValidateScores(report.pooled).ok()) return out;
  for (const auto& [label, target] : report.fmr_targets) {
    CvResult r;
    r.target_label = label;
    r.target = target;
    LG_ASSIGN_OR_RETURN(auto all, AtFmrTargetWithBound(report.pooled, target, report.confidence));
    r.in_sample_threshold = ShippedThreshold(all);
    for (const SourceResult* held : scored) {
      if (held->scores.positives.empty()) continue;  // nothing to refuse: no FNMR to validate
      ScoreSet train;
      train.polarity = Polarity::kLowerIsPositive;
      for (const SourceResult* s : scored) {
        if (s == held) continue;
        train.positives.insert(train.positives.end(), s->scores.positives.begin(), s->scores.positives.end());
        train.negatives.insert(train.negatives.end(), s->scores.negatives.begin(), s->scores.negatives.end());
      }
      if (!ValidateScores(train).ok()) continue;
      LG_ASSIGN_OR_RETURN(auto p, AtFmrTargetWithBound(train, target, report.confidence));
      CvFold f;
      f.held_out = held->name;
      f.train_impostors = train.negatives.size();
      f.train_supported = p.supported;
      f.train_point = p.point.threshold;
      f.cv_threshold = ShippedThreshold(p);
      // A source with genuine pairs only still gets its FNMR (no impostors:
      // FM counts stay 0 of 0).
      ScoreSet held_scores = held->scores;
      held_scores.polarity = Polarity::kLowerIsPositive;
      auto decide = [&](double t) {
        OperatingPoint op;
        op.threshold = t;
        op.positives = held_scores.positives.size();
        op.negatives = held_scores.negatives.size();
        for (double d : held_scores.positives) op.false_rejects += Accepts(Polarity::kLowerIsPositive, d, t) ? 0 : 1;
        for (double d : held_scores.negatives) op.false_accepts += Accepts(Polarity::kLowerIsPositive, d, t) ? 1 : 0;
        op.frr = op.positives ? double(op.false_rejects) / double(op.positives) : 0;
        op.far = op.negatives ? double(op.false_accepts) / double(op.negatives) : 0;
        return op;
      };
      f.held_out_at_cv = decide(f.cv_threshold);
      f.held_out_in_sample = decide(r.in_sample_threshold);
      r.genuine += f.held_out_at_cv.positives;
      r.impostors += f.held_out_at_cv.negatives;
      r.false_rejects += f.held_out_at_cv.false_rejects;
      r.false_accepts += f.held_out_at_cv.false_accepts;
      r.in_sample_false_rejects += f.held_out_in_sample.false_rejects;
      r.in_sample_false_accepts += f.held_out_in_sample.false_accepts;
      r.folds.push_back(f);
    }
    out.push_back(std::move(r));
  }
  return out;
}

namespace {
std::string Ratio(std::size_t k, std::size_t n) {
  char b[64];
  std::snprintf(b, sizeof b, "%s (%zu/%zu)", n ? FormatPercent(double(k) / double(n)).c_str() : "n/a", k, n);
  return b;
}
std::string Thr2(double t) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", t);
  return b;
}
}  // namespace

Table CrossValidationTable(const std::vector<CvResult>& cv) {
  Table t;
  t.header = {"target", "held-out source", "train impostors", "train point", "CV thr", "CV FNMR", "CV FM",
              "in-sample thr", "in-sample FNMR", "in-sample FM"};
  for (const auto& r : cv) {
    char tb[48];
    std::snprintf(tb, sizeof tb, "%.0e (%s)", r.target, r.target_label.c_str());
    for (const auto& f : r.folds) {
      t.rows.push_back({tb, f.held_out, std::to_string(f.train_impostors),
                        Thr2(f.train_point) + (f.train_supported ? "" : " (unsupported: no-FM point)"),
                        Thr2(f.cv_threshold), Ratio(f.held_out_at_cv.false_rejects, f.held_out_at_cv.positives),
                        std::to_string(f.held_out_at_cv.false_accepts) + "/" + std::to_string(f.held_out_at_cv.negatives),
                        Thr2(r.in_sample_threshold),
                        Ratio(f.held_out_in_sample.false_rejects, f.held_out_in_sample.positives),
                        std::to_string(f.held_out_in_sample.false_accepts) + "/" +
                            std::to_string(f.held_out_in_sample.negatives)});
    }
    t.rows.push_back({tb, "pooled over folds", "", "", "each fold's", Ratio(r.false_rejects, r.genuine),
                      std::to_string(r.false_accepts) + "/" + std::to_string(r.impostors), Thr2(r.in_sample_threshold),
                      Ratio(r.in_sample_false_rejects, r.genuine),
                      std::to_string(r.in_sample_false_accepts) + "/" + std::to_string(r.impostors)});
  }
  return t;
}

nlohmann::json ToJson(const std::vector<CvResult>& cv) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : cv) {
    nlohmann::json jr = {{"target", r.target},
                         {"tiers", r.target_label},
                         {"rule", "operating point of the other sources' pooled scores, rounded down to 0.01"},
                         {"in_sample_threshold", r.in_sample_threshold},
                         {"genuine", r.genuine},
                         {"cv_false_rejects", r.false_rejects},
                         {"impostors", r.impostors},
                         {"cv_false_accepts", r.false_accepts},
                         {"in_sample_false_rejects", r.in_sample_false_rejects},
                         {"in_sample_false_accepts", r.in_sample_false_accepts},
                         {"folds", nlohmann::json::array()}};
    for (const auto& f : r.folds) {
      jr["folds"].push_back({{"held_out", f.held_out},
                             {"train_impostors", f.train_impostors},
                             {"train_supported", f.train_supported},
                             {"train_point", f.train_point},
                             {"cv_threshold", f.cv_threshold},
                             {"cv", ToJson(f.held_out_at_cv)},
                             {"in_sample", ToJson(f.held_out_in_sample)}});
    }
    j.push_back(jr);
  }
  return j;
}

}  // namespace livegate::eval
