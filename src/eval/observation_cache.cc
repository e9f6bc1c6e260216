// Observation file cache (see observation_cache.h).
#include "eval/observation_cache.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "eval/report.h"
#include "judgement/judgement.h"

#ifndef LIVEGATE_TYPES_H_SHA256
#define LIVEGATE_TYPES_H_SHA256 "unknown"
#endif

namespace livegate::eval {
namespace {

namespace lj = livegate::judgement;

// src/judgement/types.h as the serializer below knows it.
constexpr const char* kSerializedTypesSha256 = "613383da3e6b1a2046a4de9e0223c27c91a25d2f6b0419e9873150106855b375";
constexpr const char* kMagic = "LGOBS1\n";
constexpr int kCacheVersion = 2;  // 2: blink_extra, border_edge

// FNV-1a 64: a content fingerprint for cache keys (not a security hash).
struct Fnv {
  std::uint64_t h = 1469598103934665603ull;
  void Add(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void Add(const std::string& s) {
    Add(s.data(), s.size());
    const char sep = '\x1f';
    Add(&sep, 1);
  }
  std::string Hex() const {
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h));
    return b;
  }
};

bool AddFile(Fnv& f, const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    f.Add(buf.data(), std::size_t(in.gcount()));
  }
  return true;
}

class Writer {
 public:
  template <class T>
    requires std::is_arithmetic_v<T>
  void Put(T v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void Put(const std::string& s) {
    Put(std::uint32_t(s.size()));
    out_ += s;
  }
  void Put(const cv::Point2f& p) { Put(p.x), Put(p.y); }
  void Put(const cv::Rect2f& r) { Put(r.x), Put(r.y), Put(r.width), Put(r.height); }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  template <class T>
    requires std::is_arithmetic_v<T>
  bool Get(T& v) {
    if (pos_ + sizeof v > s_.size()) return false;
    std::memcpy(&v, s_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return true;
  }
  bool Get(std::string& v) {
    std::uint32_t n = 0;
    if (!Get(n) || pos_ + n > s_.size()) return false;
    v.assign(s_, pos_, n);
    pos_ += n;
    return true;
  }
  bool Get(cv::Point2f& p) { return Get(p.x) && Get(p.y); }
  bool Get(cv::Rect2f& r) { return Get(r.x) && Get(r.y) && Get(r.width) && Get(r.height); }
  bool done() const { return pos_ == s_.size(); }

 private:
  const std::string& s_;
  std::size_t pos_ = 0;
};

// The fields of FrameObservation, in declaration order. Keep in step with
// src/judgement/types.h (kSerializedTypesSha256 guards it).
template <class IO, class Obs>
bool Fields(IO& io, Obs& o) {
  bool ok = true;
  auto f = [&](auto& v) { ok = ok && io(v); };
  f(o.index), f(o.timestamp_ms), f(o.decodable), f(o.blink_extra), f(o.image_width), f(o.image_height);
  f(o.face_count), f(o.second_face_ratio), f(o.other_faces), f(o.has_face), f(o.has_mesh), f(o.box);
  f(o.detector_score), f(o.mesh_confidence), f(o.box_outside_fraction);
  f(o.pose.yaw_deg), f(o.pose.pitch_deg), f(o.pose.roll_deg);
  f(o.left_eye_openness), f(o.right_eye_openness), f(o.eyes_by_iris), f(o.mouth_openness), f(o.inter_eye_distance);
  f(o.landmarks), f(o.align_points), f(o.descriptor), f(o.antispoof_score), f(o.liveness_score), f(o.pad_live_score);
  f(o.sharpness), f(o.mean_luma), f(o.underexposed), f(o.overexposed), f(o.illumination_uniformity), f(o.blockiness);
  f(o.face_r), f(o.face_g), f(o.face_b), f(o.bg_r), f(o.bg_g), f(o.bg_b);
  f(o.moire), f(o.border), f(o.border_edge), f(o.glare), f(o.frame_difference);
  return ok;
}

struct Saver {
  Writer& w;
  template <class T>
    requires std::is_arithmetic_v<T>
  bool operator()(const T& v) { w.Put(v); return true; }
  bool operator()(const cv::Point2f& p) { w.Put(p); return true; }
  bool operator()(const cv::Rect2f& r) { w.Put(r); return true; }
  template <class T>
  bool operator()(const std::vector<T>& v) {
    w.Put(std::uint32_t(v.size()));
    for (const auto& e : v) (*this)(e);
    return true;
  }
  template <class T, std::size_t N>
  bool operator()(const std::array<T, N>& v) {
    for (const auto& e : v) (*this)(e);
    return true;
  }
  template <class T>
  bool operator()(const std::optional<T>& v) {
    w.Put(std::uint8_t(v.has_value()));
    if (v) (*this)(*v);
    return true;
  }
};

struct Loader {
  Reader& r;
  template <class T>
    requires std::is_arithmetic_v<T>
  bool operator()(T& v) { return r.Get(v); }
  bool operator()(cv::Point2f& p) { return r.Get(p); }
  bool operator()(cv::Rect2f& x) { return r.Get(x); }
  template <class T>
  bool operator()(std::vector<T>& v) {
    std::uint32_t n = 0;
    if (!r.Get(n) || n > 100000) return false;
    v.resize(n);
    for (auto& e : v) {
      if (!(*this)(e)) return false;
    }
    return true;
  }
  template <class T, std::size_t N>
  bool operator()(std::array<T, N>& v) {
    for (auto& e : v) {
      if (!(*this)(e)) return false;
    }
    return true;
  }
  template <class T>
  bool operator()(std::optional<T>& v) {
    std::uint8_t has = 0;
    if (!r.Get(has)) return false;
    if (!has) {
      v.reset();
      return true;
    }
    v.emplace();
    return (*this)(*v);
  }
};

}  // namespace

std::string ObservationCacheUnavailableReason() {
  if (std::string(LIVEGATE_TYPES_H_SHA256) != kSerializedTypesSha256) {
    return "src/judgement/types.h changed since the observation serializer was written (SHA-256 " +
           std::string(LIVEGATE_TYPES_H_SHA256).substr(0, 12) + " vs " + std::string(kSerializedTypesSha256).substr(0, 12) +
           "): update src/eval/observation_cache.cc; observing without the cache";
  }
  return {};
}

Result<std::string> ObservationCacheKey(const lj::EvalSession& s, const std::filesystem::path& root,
                                        const lj::Policy& policy, const std::filesystem::path& model_dir) {
  Fnv f;
  f.Add("livegate-obs-cache " + std::to_string(kCacheVersion) + " " + kSerializedTypesSha256);
  std::vector<std::filesystem::path> media;
  if (s.kind == "images") {
    for (const auto& i : s.images) media.push_back(root / i);
  } else {
    media.push_back(root / s.media);
  }
  for (const auto& m : media) {
    if (!AddFile(f, m)) return Status::BadInput("eval.cache_unreadable_media", "cannot read " + m.string());
  }
  f.Add(s.kind), f.Add(s.synthesize);
  f.Add(std::to_string(s.first_frame.value_or(-1)) + "," + std::to_string(s.last_frame.value_or(-1)));
  f.Add(std::to_string(s.from_ms.value_or(-1)) + "," + std::to_string(s.to_ms.value_or(-1)));
  f.Add(std::to_string(s.sample_fps) + "," + std::to_string(s.max_frames));
  f.Add(lj::ChallengeToJson(s.challenge));
  f.Add(lj::PolicyToJson(policy));
  // The weights: names, sizes and modification times of the model folder.
  std::error_code ec;
  std::vector<std::string> listing;
  for (const auto& e : std::filesystem::recursive_directory_iterator(model_dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    listing.push_back(e.path().string() + " " + std::to_string(e.file_size(ec)) + " " +
                      std::to_string(e.last_write_time(ec).time_since_epoch().count()));
  }
  std::sort(listing.begin(), listing.end());
  for (const auto& l : listing) f.Add(l);
  return f.Hex();
}

std::filesystem::path ObservationCachePath(const std::filesystem::path& dir, const lj::EvalSession& s,
                                           const std::string& key) {
  return dir / (s.id + "-" + key + ".obs");
}

std::string SerializeObservations(const std::string& key, const CachedObservations& c) {
  Writer w;
  w.str() += kMagic;
  w.Put(key);
  w.Put(c.quality_reason);
  w.Put(std::uint8_t(c.fta));
  w.Put(std::int32_t(c.frames));
  w.Put(std::uint32_t(c.observations.size()));
  Saver put{w};
  for (const auto& o : c.observations) Fields(put, o);
  return std::move(w.str());
}

std::optional<CachedObservations> DeserializeObservations(const std::string& bytes, const std::string& key) {
  const std::size_t m = std::strlen(kMagic);
  if (bytes.size() < m || bytes.compare(0, m, kMagic) != 0) return std::nullopt;
  const std::string body = bytes.substr(m);
  Reader r(body);
  std::string k;
  CachedObservations c;
  std::uint8_t fta = 0;
  std::int32_t frames = 0;
  std::uint32_t n = 0;
  if (!r.Get(k) || k != key || !r.Get(c.quality_reason) || !r.Get(fta) || !r.Get(frames) || !r.Get(n) || n > 100000) {
    return std::nullopt;
  }
  c.fta = fta != 0;
  c.frames = frames;
  c.observations.resize(n);
  Loader get{r};
  for (auto& o : c.observations) {
    if (!Fields(get, o)) return std::nullopt;
  }
  if (!r.done()) return std::nullopt;
  return c;
}

Status SaveObservations(const std::filesystem::path& path, const std::string& key, const CachedObservations& c) {
  return WriteTextFile(path, SerializeObservations(key, c));
}

std::optional<CachedObservations> LoadObservations(const std::filesystem::path& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return DeserializeObservations(ss.str(), key);
}

}  // namespace livegate::eval
