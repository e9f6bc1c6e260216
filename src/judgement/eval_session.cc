// Session manifests and capture loading for `livegate eval pad`.
#include "judgement/eval_session.h"

#include <cmath>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "judgement/judgement.h"
#include "vision/image_io.h"

namespace livegate::judgement {
namespace {

using json = nlohmann::json;

Status BadSession(const std::string& id, const std::string& msg) {
  return Status::BadInput("manifest.bad_session", "session '" + id + "': " + msg);
}

// A photo presented to a camera: "still" = held by hand (sub-pixel to 2 px
// tremor), "planar_motion" = the sheet turned about its vertical axis by up
// to +-28 degrees and back, as an attacker does to fake a head turn: the
// turn follows the script (a smooth swing of 28 degrees inside each turn
// window, towards the side asked, as an attacker
// watching the prompt would do); a script without turns gets one swing
// each way over the capture.
float SheetAngleDeg(const Challenge& ch, double t_ms, double duration_ms) {
  float angle = 0;
  bool any_turn = false;
  for (const auto& st : ch.steps) {
    if (st.action != Action::kTurnLeft && st.action != Action::kTurnRight) continue;
    any_turn = true;
    const double len = double(st.end_ms - st.start_ms);
    if (len <= 0 || t_ms < double(st.start_ms) || t_ms > double(st.end_ms)) continue;
    const double b = std::sin(M_PI * (t_ms - double(st.start_ms)) / len);
    // FaceMesh reads little of a swung sheet as yaw, and not by its sign
    // (kit_harington-moved: the photo's -31 deg reads -36 and -40 for swings
    // of either sign), so the sign convention is arbitrary.
    angle += float((st.action == Action::kTurnLeft ? 28.0 : -28.0) * b * b);
  }
  if (!any_turn) angle = 28.0f * float(std::sin(2.0 * M_PI * t_ms / std::max(1.0, duration_ms)));
  return angle;
}

std::vector<cv::Mat> SynthesizePresentation(const cv::Mat& photo, const std::string& how, const Challenge& ch,
                                            int frames, double step_ms) {
  std::vector<cv::Mat> out;
  const float w = float(photo.cols), h = float(photo.rows);
  cv::RNG rng(12345);
  const double duration_ms = step_ms * std::max(1, frames - 1);
  for (int i = 0; i < frames; ++i) {
    cv::Mat m;
    if (how == "planar_motion") {
      const float angle = SheetAngleDeg(ch, i * step_ms, duration_ms) * float(M_PI) / 180.0f;
      // Rotate the sheet's corners about the vertical centre line; project
      // with a focal length of 1.5 image widths.
      const float f = 1.5f * w;
      std::vector<cv::Point2f> src = {{0, 0}, {w, 0}, {w, h}, {0, h}}, dst;
      for (const auto& p : src) {
        const float x = p.x - w / 2, z = x * std::sin(angle);
        const float xr = x * std::cos(angle);
        const float s = f / (f + z);
        dst.emplace_back(w / 2 + xr * s + rng.uniform(-1.0f, 1.0f), h / 2 + (p.y - h / 2) * s + rng.uniform(-1.0f, 1.0f));
      }
      cv::warpPerspective(photo, m, cv::getPerspectiveTransform(src, dst), photo.size(), cv::INTER_LINEAR,
                          cv::BORDER_CONSTANT, cv::Scalar(40, 40, 40));
    } else {
      cv::Mat shift = (cv::Mat_<double>(2, 3) << 1, 0, rng.uniform(-2.0, 2.0), 0, 1, rng.uniform(-2.0, 2.0));
      cv::warpAffine(photo, m, shift, photo.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace

Result<std::vector<EvalSession>> ParseEvalManifest(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("sessions") || !j["sessions"].is_array()) {
    return Status::BadInput("manifest.bad_json", "a manifest is a JSON object with a 'sessions' array");
  }
  std::vector<EvalSession> out;
  for (const auto& s : j["sessions"]) {
    EvalSession e;
    e.id = s.value("id", std::string("#") + std::to_string(out.size()));
    try {
      e.label = s.at("label").get<std::string>();
      e.media = s.value("media", std::string());
      e.kind = s.value("kind", std::string("video"));
      e.images = s.value("images", std::vector<std::string>{});
      if (s.contains("frames")) {
        const auto& f = s["frames"];
        if (!f.is_array() || f.size() != 2) return BadSession(e.id, "frames must be [first, last]");
        e.first_frame = f[0].get<int>();
        e.last_frame = f[1].get<int>();
      }
      if (s.contains("time_ms")) {
        const auto& t = s["time_ms"];
        if (!t.is_array() || t.size() != 2) return BadSession(e.id, "time_ms must be [from, to]");
        e.from_ms = t[0].get<std::int64_t>();
        e.to_ms = t[1].get<std::int64_t>();
      }
      e.source = s.value("source", std::string());
      e.exclude = s.value("exclude", std::string());
      e.sample_fps = s.value("sample_fps", 15.0);
      e.max_frames = s.value("max_frames", 150);
      e.synthesize = s.value("synthesize", std::string());
      e.notes = s.value("notes", std::string());
    } catch (const json::exception& ex) {
      return BadSession(e.id, std::string("missing or mistyped field: ") + ex.what());
    }
    if (e.kind != "video" && e.kind != "images" && e.kind != "image") return BadSession(e.id, "kind must be video, images or image");
    if (e.kind != "images" && e.media.empty()) return BadSession(e.id, "media is required");
    if (e.kind == "images" && e.images.empty()) return BadSession(e.id, "images is required for kind=images");
    if (e.kind == "image" && e.synthesize != "still" && e.synthesize != "planar_motion")
      return BadSession(e.id, "kind=image needs synthesize: still or planar_motion");
    if (e.sample_fps <= 0 || e.sample_fps > 120) return BadSession(e.id, "sample_fps must be in (0, 120]");
    if (e.max_frames < 1) return BadSession(e.id, "max_frames must be >= 1");
    if (e.first_frame && (*e.first_frame < 0 || *e.last_frame < *e.first_frame)) return BadSession(e.id, "bad frame range");
    if (e.from_ms && (*e.from_ms < 0 || *e.to_ms <= *e.from_ms)) return BadSession(e.id, "bad time_ms range");
    if (e.from_ms && e.kind != "video") return BadSession(e.id, "time_ms is for kind=video");
    for (const auto& prev : out) {
      if (prev.id == e.id) return BadSession(e.id, "duplicated id");
    }
    if (!s.contains("challenge")) return BadSession(e.id, "challenge is required");
    auto c = ChallengeFromJson(s["challenge"].dump());
    if (!c.ok()) return BadSession(e.id, c.status().reason() + ": " + c.status().message());
    e.challenge = *c;
    e.challenge.scripted = true;  // whatever the file says: it was written to match a recording
    if (e.from_ms) {
      // A window must open inside the session (the capture spans the
      // session; windows are relative to its first frame).
      for (const auto& st : e.challenge.steps) {
        if (st.start_ms >= *e.to_ms - *e.from_ms) return BadSession(e.id, "an action window starts after the session's end");
      }
    }
    out.push_back(std::move(e));
  }
  if (out.empty()) return Status::BadInput("manifest.bad_json", "the manifest has no session");
  return out;
}

Result<std::vector<EvalSession>> ParseEvalManifests(const std::vector<std::string>& texts) {
  std::vector<EvalSession> all;
  for (const auto& t : texts) {
    LG_ASSIGN_OR_RETURN(auto sessions, ParseEvalManifest(t));
    for (auto& s : sessions) {
      for (const auto& prev : all) {
        if (prev.id == s.id) return BadSession(s.id, "duplicated id across manifests");
      }
      all.push_back(std::move(s));
    }
  }
  if (all.empty()) return Status::BadInput("manifest.bad_json", "no manifest given");
  return all;
}

std::string SessionTier(const EvalSession& s) { return std::string(AsdTypeName(s.challenge.type)); }

Result<Capture> LoadEvalCapture(const EvalSession& s, const std::filesystem::path& root) {
  Capture cap;
  const double step_ms = 1000.0 / s.sample_fps;
  if (s.kind == "video") {
    double next_keep = -1;
    double t_first = -1;
    double t_clip = -1;  // the clip's (or frame range's) first timestamp: time_ms is relative to it
    double last_ts = -1;
    Status st = vision::ForEachVideoFrame(root / s.media, [&](const vision::VideoFrame& f) {
      if (s.first_frame && f.index < *s.first_frame) return true;
      if (s.last_frame && f.index > *s.last_frame) return false;
      double ts = f.timestamp_ms;
      if (ts <= last_ts) ts = last_ts + 1;  // some containers repeat stamps
      last_ts = ts;
      if (t_clip < 0) t_clip = ts;
      if (s.from_ms && ts - t_clip < double(*s.from_ms)) return true;
      if (s.to_ms && ts - t_clip > double(*s.to_ms)) return false;
      if (t_first < 0) t_first = ts;
      if (ts - t_first + 0.5 < next_keep) return true;
      next_keep = (next_keep < 0 ? 0 : next_keep) + step_ms;
      while (next_keep <= ts - t_first) next_keep += step_ms;
      cap.frames.push_back({std::int64_t(std::llround(ts - t_first)), f.bgr.clone()});
      return int(cap.frames.size()) < s.max_frames;
    });
    LG_RETURN_IF_ERROR(st);
  } else if (s.kind == "images") {
    for (std::size_t i = 0; i < s.images.size() && int(i) < s.max_frames; ++i) {
      LG_ASSIGN_OR_RETURN(cv::Mat img, vision::ReadImageFile(root / s.images[i]));
      cap.frames.push_back({std::int64_t(std::llround(double(i) * step_ms)), img});
    }
  } else {
    LG_ASSIGN_OR_RETURN(cv::Mat img, vision::ReadImageFile(root / s.media));
    // The presentation lasts as long as the challenge's capture (the last
    // window plus the server's slack), at least 4 s.
    std::int64_t end_ms = 4000;
    for (const auto& st : s.challenge.steps) end_ms = std::max<std::int64_t>(end_ms, st.end_ms + kEvalWindowSlackMs);
    const int n = std::min(s.max_frames, int(std::lround(double(end_ms) / 1000.0 * s.sample_fps)));
    auto frames = SynthesizePresentation(img, s.synthesize, s.challenge, n, step_ms);
    for (int i = 0; i < n; ++i) cap.frames.push_back({std::int64_t(std::llround(i * step_ms)), frames[i]});
  }
  if (cap.frames.empty()) return Status::BadInput("manifest.no_frames", "session '" + s.id + "' yields no frame");
  return cap;
}

}  // namespace livegate::judgement
