// `livegate eval video`: fusion rules for multi-frame comparison, measured on
// segments of video clips (issue 14). See video_runner.h.
#include "eval/video_runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "judgement/judgement.h"
#include "vision/image_io.h"
#include "vision/models.h"

namespace livegate::eval {

const char* FusionRuleName(FusionRule rule) {
  switch (rule) {
    case FusionRule::kSingle: return "single";
    case FusionRule::kMean: return "mean";
    case FusionRule::kMin: return "min";
    case FusionRule::kBest: return "best";
    case FusionRule::kMedian: return "median";
    case FusionRule::kCapture: return "capture";
    case FusionRule::kCaptureSpread: return "capture_spread";
    case FusionRule::kPhotoVsCapture: return "photo_vs_capture";
  }
  return "?";
}

namespace {

vision::Descriptor Mean(const VideoSegment& s) {
  vision::Descriptor m{};
  for (const auto& f : s.frames) {
    for (std::size_t i = 0; i < m.size(); ++i) m[i] += f.descriptor[i];
  }
  for (float& v : m) v /= static_cast<float>(s.frames.size());
  return m;
}

const VideoFrameRecord& MostFrontal(const VideoSegment& s) {
  return *std::min_element(s.frames.begin(), s.frames.end(), [](const auto& x, const auto& y) {
    return std::fabs(x.yaw_deg) + std::fabs(x.pitch_deg) < std::fabs(y.yaw_deg) + std::fabs(y.pitch_deg);
  });
}

// The server's capture template (src/server/capture_judge.cc): observation
// and quality judgement of the segment's frames, then the mean of the
// described best frames. The spread variant averages the first, middle and
// last (in time) of the frames passing quality instead of the top quality
// scores. Both absent when the quality judgement refuses the frames.
struct CaptureTemplates {
  std::optional<CaptureTemplate> best, spread;
};
Result<CaptureTemplates> CaptureTemplatesOf(const judgement::Capture& capture, vision::FaceAnalyzer& observer,
                                            judgement::FrameDescriber& describer, const judgement::Policy& policy) {
  LG_ASSIGN_OR_RETURN(auto obs, judgement::ObserveCapture(capture, observer, policy));
  const auto quality = judgement::JudgeQuality(obs, policy);
  CaptureTemplates out;
  if (!quality.accepted || quality.best_frames.empty()) return out;
  const std::vector<int> spread = judgement::ComparisonFrames(quality, policy);  // the server's choice
  std::map<int, vision::Descriptor> described;
  auto average = [&](const std::vector<int>& chosen) -> Result<std::optional<CaptureTemplate>> {
    CaptureTemplate t;
    for (int idx : chosen) {
      if (idx < 0 || idx >= int(obs.size()) || !obs[std::size_t(idx)].has_mesh) continue;
      if (!described.count(idx)) {
        LG_ASSIGN_OR_RETURN(described[idx], describer.Describe(capture.frames[std::size_t(idx)].bgr,
                                                               obs[std::size_t(idx)].align_points));
      }
      for (std::size_t i = 0; i < t.descriptor.size(); ++i) t.descriptor[i] += described[idx][i];
      ++t.frames;
    }
    if (t.frames == 0) return std::optional<CaptureTemplate>{};
    for (auto& v : t.descriptor) v /= static_cast<float>(t.frames);
    return std::optional<CaptureTemplate>(t);
  };
  LG_ASSIGN_OR_RETURN(out.best, average(quality.best_frames));
  LG_ASSIGN_OR_RETURN(out.spread, average(spread));
  return out;
}

}  // namespace

double FusedDistance(FusionRule rule, const VideoSegment& a, const VideoSegment& b) {
  switch (rule) {
    case FusionRule::kSingle:
      return vision::DescriptorDistance(a.frames.front().descriptor, b.frames.front().descriptor);
    case FusionRule::kMean:
      return vision::DescriptorDistance(Mean(a), Mean(b));
    case FusionRule::kBest:
      return vision::DescriptorDistance(MostFrontal(a).descriptor, MostFrontal(b).descriptor);
    case FusionRule::kMin:
    case FusionRule::kMedian: {
      std::vector<double> d;
      for (const auto& x : a.frames) {
        for (const auto& y : b.frames) d.push_back(vision::DescriptorDistance(x.descriptor, y.descriptor));
      }
      std::sort(d.begin(), d.end());
      if (rule == FusionRule::kMin) return d.front();
      const std::size_t n = d.size();
      return n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
    }
    case FusionRule::kCapture:
      return vision::DescriptorDistance(a.capture->descriptor, b.capture->descriptor);
    case FusionRule::kCaptureSpread:
      return vision::DescriptorDistance(a.capture_spread->descriptor, b.capture_spread->descriptor);
    case FusionRule::kPhotoVsCapture:
      return vision::DescriptorDistance(a.frames.front().descriptor, b.capture->descriptor);
  }
  return 0;
}

Result<VideoReport> RunVideoEval(const VideoOptions& options) {
  if (options.clips.empty()) return Status::BadInput("eval.no_clips", "no video clips given");
  VideoReport report;
  report.clips = options.clips;
  report.identities = options.identities;
  if (report.identities.size() != report.clips.size()) {
    report.identities.clear();
    for (const auto& c : report.clips) report.identities.push_back(c.filename().string());
  }
  report.thresholds = options.thresholds;
  report.fmr_targets = options.fmr_targets;
  LG_ASSIGN_OR_RETURN(auto analyzer, vision::FaceAnalyzer::Create(options.analyzer));
  // The server's path for the capture rules: an analyzer without
  // descriptors plus the describer (AnalyzerPool in src/server).
  vision::AnalyzerOptions observer_options = options.analyzer;
  observer_options.compute_descriptor = false;
  LG_ASSIGN_OR_RETURN(auto observer, vision::FaceAnalyzer::Create(observer_options));
  LG_ASSIGN_OR_RETURN(auto describer, judgement::FrameDescriber::Create(options.analyzer.model_dir));
  const judgement::Policy policy{};
  report.best_frames = policy.quality.best_frames;
  std::unique_ptr<vision::DescriptorModel> mirror_model;
  if (options.mirror) {
    LG_ASSIGN_OR_RETURN(mirror_model, vision::DescriptorModel::Load(options.analyzer.model_dir));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const int per_clip = options.segments * options.frames_per_segment;
  for (std::size_t c = 0; c < options.clips.size(); ++c) {
    // Pass 1: count the frames (containers do not always declare it).
    int total = 0;
    LG_RETURN_IF_ERROR(vision::ForEachVideoFrame(options.clips[c], [&](const vision::VideoFrame&) {
      ++total;
      return true;
    }));
    // Frame k of the per_clip evenly spaced picks sits at the centre of its
    // span; segment = k / frames_per_segment.
    std::vector<int> picks;
    for (int k = 0; k < per_clip; ++k) {
      picks.push_back(static_cast<int>((k + 0.5) * total / per_clip));
    }
    std::vector<VideoSegment> segs(options.segments);
    std::vector<judgement::Capture> seg_frames(options.segments);  // every picked frame, as a capture
    for (int s = 0; s < options.segments; ++s) {
      segs[s].clip = c;
      segs[s].segment = s;
    }
    int analysed = 0, acquired = 0;
    Status inner = Status::Ok();
    std::size_t next = 0;
    LG_RETURN_IF_ERROR(vision::ForEachVideoFrame(options.clips[c], [&](const vision::VideoFrame& f) {
      while (next < picks.size() && picks[next] == f.index) {
        const int segment = static_cast<int>(next) / options.frames_per_segment;
        ++next;
        ++analysed;
        seg_frames[segment].frames.push_back({static_cast<std::int64_t>(f.timestamp_ms), f.bgr.clone()});
        auto faces = analyzer->Analyze(f.bgr);
        if (!faces.ok()) {
          inner = faces.status();
          return false;
        }
        const vision::FaceAnalysis* best = nullptr;
        for (const auto& face : *faces) {
          if (face.descriptor && (!best || face.box.area() > best->box.area())) best = &face;
        }
        if (!best) continue;
        vision::Descriptor d = *best->descriptor;
        if (mirror_model && !best->chip.empty()) {
          cv::Mat flipped, rgb;
          cv::flip(best->chip, flipped, 1);
          cv::cvtColor(flipped, rgb, cv::COLOR_BGR2RGB);
          auto m = mirror_model->Run(rgb);
          if (!m.ok()) {
            inner = m.status();
            return false;
          }
          for (std::size_t i = 0; i < d.size(); ++i) d[i] = 0.5f * (d[i] + (*m)[i]);
        }
        ++acquired;
        segs[segment].frames.push_back({f.index, d, best->pose.yaw_deg, best->pose.pitch_deg, best->box.width});
      }
      // A segment is complete: its capture templates, then free its frames.
      const std::size_t seg_done = next / std::size_t(options.frames_per_segment);
      for (std::size_t s = 0; s < seg_done && inner.ok(); ++s) {
        if (seg_frames[s].frames.empty()) continue;
        auto t = CaptureTemplatesOf(seg_frames[s], *observer, *describer, policy);
        if (!t.ok()) {
          inner = t.status();
          return false;
        }
        segs[s].capture = t->best;
        segs[s].capture_spread = t->spread;
        seg_frames[s].frames.clear();
      }
      return next < picks.size();
    }));
    LG_RETURN_IF_ERROR(inner);
    report.frames_analysed.push_back(analysed);
    report.frames_acquired.push_back(acquired);
    for (int s = 0; s < options.segments; ++s) {
      if (segs[s].frames.empty()) continue;
      if (!segs[s].capture || !segs[s].capture_spread) {
        ++report.segments_quality_refused;
        continue;
      }
      report.segments.push_back(std::move(segs[s]));
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (FusionRule rule : kFusionRules) {
    VideoRuleResult r;
    r.rule = rule;
    r.scores.polarity = Polarity::kLowerIsPositive;
    const auto& sg = report.segments;
    for (std::size_t i = 0; i < sg.size(); ++i) {
      for (std::size_t j = i + 1; j < sg.size(); ++j) {
        const double d = FusedDistance(rule, sg[i], sg[j]);
        (report.identities[sg[i].clip] == report.identities[sg[j].clip] ? r.scores.positives : r.scores.negatives).push_back(d);
      }
    }
    if (ValidateScores(r.scores).ok()) {
      LG_ASSIGN_OR_RETURN(auto eer, ComputeEer(r.scores));
      r.eer = eer;
      for (const auto& [label, target] : options.fmr_targets) {
        LG_ASSIGN_OR_RETURN(auto p, AtFmrTargetWithBound(r.scores, target, options.confidence));
        r.points.push_back(p);
      }
      for (double t : options.thresholds) {
        LG_ASSIGN_OR_RETURN(auto p, AtThreshold(r.scores, t));
        r.at_thresholds.push_back(p);
      }
    }
    report.rules.push_back(std::move(r));
  }
  return report;
}

namespace {
std::string Fixed(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}
}  // namespace

Table VideoRuleTable(const VideoReport& report) {
  Table t;
  t.header = {"rule", "genuine", "impostor", "EER"};
  for (double thr : report.thresholds) {
    t.header.push_back("FNMR@t=" + Fixed(thr));
    t.header.push_back("FM@t=" + Fixed(thr));
  }
  for (const auto& [label, target] : report.fmr_targets) {
    char b[64];
    std::snprintf(b, sizeof b, "%.0e", target);
    t.header.push_back(std::string("thr/FNMR/bound @") + b);
  }
  t.header.push_back("genuine max");
  t.header.push_back("impostor min");
  for (const auto& r : report.rules) {
    std::vector<std::string> row = {FusionRuleName(r.rule), std::to_string(r.scores.positives.size()),
                                    std::to_string(r.scores.negatives.size()),
                                    r.eer ? FormatPercent(r.eer->eer) : "n/a"};
    for (const auto& p : r.at_thresholds) {
      row.push_back(FormatPercent(p.frr) + " (" + std::to_string(p.false_rejects) + "/" +
                    std::to_string(p.positives) + ")");
      row.push_back(std::to_string(p.false_accepts) + "/" + std::to_string(p.negatives));
    }
    for (const auto& p : r.points) {
      char b[96];
      std::snprintf(b, sizeof b, "%s / %s / %.2g%s", Fixed(p.point.threshold).c_str(),
                    FormatPercent(p.point.frr).c_str(), p.fmr_upper_bound, p.supported ? "" : " (unsupported)");
      row.push_back(b);
    }
    row.push_back(r.scores.positives.empty()
                      ? "n/a"
                      : Fixed(*std::max_element(r.scores.positives.begin(), r.scores.positives.end())));
    row.push_back(r.scores.negatives.empty()
                      ? "n/a"
                      : Fixed(*std::min_element(r.scores.negatives.begin(), r.scores.negatives.end())));
    t.rows.push_back(std::move(row));
  }
  return t;
}

nlohmann::json ToJson(const VideoReport& report) {
  nlohmann::json j;
  j["seconds"] = report.seconds;
  j["clips"] = nlohmann::json::array();
  for (std::size_t c = 0; c < report.clips.size(); ++c) {
    j["clips"].push_back({{"clip", report.clips[c].string()},
                          {"identity", report.identities[c]},
                          {"frames_analysed", report.frames_analysed[c]},
                          {"frames_acquired", report.frames_acquired[c]}});
  }
  j["segments"] = report.segments.size();
  j["segments_quality_refused"] = report.segments_quality_refused;
  j["best_frames"] = report.best_frames;
  // Clip pairs of different labels whose segments come close under the mean
  // rule (the smallest segment-pair distance < 0.5): two clips of one
  // person, or look-alikes - to check by eye before trusting the labels.
  j["close_clip_pairs"] = nlohmann::json::array();
  for (std::size_t a = 0; a < report.clips.size(); ++a) {
    for (std::size_t b = a + 1; b < report.clips.size(); ++b) {
      if (report.identities[a] == report.identities[b]) continue;
      double best = 1e9;
      for (const auto& x : report.segments) {
        for (const auto& y : report.segments) {
          if (x.clip == a && y.clip == b) best = std::min(best, FusedDistance(FusionRule::kMean, x, y));
        }
      }
      if (best < 0.5) {
        j["close_clip_pairs"].push_back({{"a", report.clips[a].string()}, {"b", report.clips[b].string()},
                                         {"min_mean_rule_distance", best}});
      }
    }
  }
  j["rules"] = nlohmann::json::array();
  for (const auto& r : report.rules) {
    nlohmann::json jr = {{"rule", FusionRuleName(r.rule)},
                         {"genuine", r.scores.positives.size()},
                         {"impostor", r.scores.negatives.size()}};
    jr["eer"] = r.eer ? ToJson(*r.eer) : nlohmann::json(nullptr);
    jr["at_thresholds"] = nlohmann::json::array();
    for (const auto& p : r.at_thresholds) jr["at_thresholds"].push_back(ToJson(p));
    jr["operating_points"] = nlohmann::json::array();
    for (std::size_t i = 0; i < r.points.size(); ++i) {
      jr["operating_points"].push_back(ToJson(r.points[i], report.fmr_targets[i].first));
    }
    j["rules"].push_back(jr);
  }
  return j;
}

nlohmann::json VideoOperatingPointScores(const VideoReport& report, std::size_t lowest_impostors) {
  nlohmann::json j = {{"what", "pooled segment-pair distances of livegate eval video under the rules that set the "
                               "server's fused thresholds: every genuine distance, the lowest impostor distances and "
                               "the impostor count (tests/eval/operating_points_test.cc)"},
                      {"clips", report.clips.size()},
                      {"segments", report.segments.size()},
                      {"best_frames", report.best_frames},
                      {"confidence", 0.95},
                      {"rules", nlohmann::json::object()}};
  auto rounded = [](std::vector<double> v) {
    for (double& x : v) x = std::round(x * 1e6) / 1e6;
    return v;
  };
  for (const auto& r : report.rules) {
    if (r.rule != FusionRule::kCaptureSpread && r.rule != FusionRule::kPhotoVsCapture) continue;
    std::vector<double> g = r.scores.positives, i = r.scores.negatives;
    std::sort(g.begin(), g.end());
    std::sort(i.begin(), i.end());
    if (i.size() > lowest_impostors) i.resize(lowest_impostors);
    j["rules"][FusionRuleName(r.rule)] = {{"genuine_count", r.scores.positives.size()},
                                          {"impostor_count", r.scores.negatives.size()},
                                          {"genuine", rounded(g)},
                                          {"lowest_impostors", rounded(i)}};
  }
  return j;
}

Table VideoSourceTable(const VideoReport& report, FusionRule rule, double threshold) {
  auto source_of = [&](std::size_t clip) { return report.clips[clip].parent_path().filename().string(); };
  struct Counts {
    std::size_t genuine = 0, rejected = 0, impostors = 0, accepted = 0;
  };
  std::map<std::string, Counts> per;
  Counts all, cross_clip;  // cross_clip: genuine pairs of two different clips of one person
  const auto& sg = report.segments;
  for (std::size_t i = 0; i < sg.size(); ++i) {
    for (std::size_t j = i + 1; j < sg.size(); ++j) {
      const bool genuine = report.identities[sg[i].clip] == report.identities[sg[j].clip];
      const bool accepted = FusedDistance(rule, sg[i], sg[j]) <= threshold;
      std::vector<Counts*> into = {&all};
      if (source_of(sg[i].clip) == source_of(sg[j].clip)) into.push_back(&per[source_of(sg[i].clip)]);
      if (genuine && sg[i].clip != sg[j].clip) into.push_back(&cross_clip);
      for (Counts* c : into) {
        if (genuine) {
          ++c->genuine;
          c->rejected += accepted ? 0 : 1;
        } else {
          ++c->impostors;
          c->accepted += accepted ? 1 : 0;
        }
      }
    }
  }
  Table t;
  t.header = {"source", "rule", "threshold", "FNMR", "FM"};
  auto row = [&](const std::string& name, const Counts& c) {
    t.rows.push_back({name, FusionRuleName(rule), Fixed(threshold),
                      (c.genuine ? FormatPercent(double(c.rejected) / double(c.genuine)) : std::string("n/a")) + " (" +
                          std::to_string(c.rejected) + "/" + std::to_string(c.genuine) + ")",
                      std::to_string(c.accepted) + "/" + std::to_string(c.impostors)});
  };
  row("pooled", all);
  for (const auto& [name, c] : per) row(name, c);
  row("different clips of one person", cross_clip);
  return t;
}

}  // namespace livegate::eval
