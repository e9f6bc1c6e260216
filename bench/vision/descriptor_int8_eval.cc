// The int8 speed experiment of issue 2 (MODELS.md, "int8"): float vs int8
// (cv::dnn::Net::quantize) face descriptor on the SAME aligned chips, so the
// only difference is the quantisation. Prints, per source, all within-source
// pairs (no same-photo exclusion, unlike `livegate eval verify`), the EER and
// the errors at dlib's 0.6 for both, how far the int8 descriptor moves, and
// the descriptor's thread CPU time (median of 30 calls) for both. --json.
//
//   livegate_descriptor_int8_eval [--data DIR] [--johns DIR] [--json]
//
// Calibration chips come from sources that are not evaluated
// (facenet_pytorch, openface, facenet_lfw); johns crops are fed as chips.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/face_analyzer.h"
#include "vision/image_io.h"
#include "vision/models.h"

namespace lv = livegate::vision;
namespace fs = std::filesystem;

namespace {

constexpr double kThreshold = 0.6;

struct Chip {
  std::string identity;
  cv::Mat rgb;  // 150x150
};

template <typename T>
T Must(livegate::Result<T> r, const std::string& what) {
  if (!r.ok()) {
    std::cerr << "descriptor_int8_eval: " << what << ": " << r.status().ToString() << "\n";
    std::exit(2);
  }
  return std::move(r).value();
}

// Identity folders of one source (folders starting with '_' skipped), each
// image's largest measurable face's chip, or the image itself (`direct`).
std::vector<Chip> Chips(lv::FaceAnalyzer& analyzer, const fs::path& source, bool direct, int* failed) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(source)) {
    const std::string ext = e.path().extension().string();
    const std::string parent = e.path().parent_path().filename().string();
    if ((ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".pgm") && !parent.empty() && parent[0] != '_' &&
        e.path().parent_path() != source) {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<Chip> chips;
  for (const auto& p : files) {
    cv::Mat bgr;
    if (direct) {
      bgr = cv::imread(p.string());
      if (bgr.size() != cv::Size(150, 150)) bgr.release();
    } else if (auto img = lv::ReadImageFile(p); img.ok()) {
      if (auto faces = analyzer.Analyze(*img); faces.ok()) {
        for (const auto& f : *faces) {
          if (!f.chip.empty()) {
            bgr = f.chip;
            break;
          }
        }
      }
    }
    if (bgr.empty()) {
      ++*failed;
      continue;
    }
    Chip c{p.parent_path().filename().string(), {}};
    cv::cvtColor(bgr, c.rgb, cv::COLOR_BGR2RGB);
    chips.push_back(std::move(c));
  }
  return chips;
}

struct Scores {
  size_t genuine = 0, impostor = 0;
  double eer = 0;  // at the threshold where |FNMR - FMR| is smallest: their mean
  size_t false_non_matches = 0, false_matches = 0;  // at 0.6 (same if distance < 0.6)
  double genuine_max = 0, impostor_min = 0;
};

double Distance(const lv::Descriptor& a, const lv::Descriptor& b) { return lv::DescriptorDistance(a, b); }

Scores Score(const std::vector<Chip>& chips, const std::vector<lv::Descriptor>& d) {
  std::vector<double> g, im;
  for (size_t i = 0; i < chips.size(); ++i) {
    for (size_t j = i + 1; j < chips.size(); ++j) {
      (chips[i].identity == chips[j].identity ? g : im).push_back(Distance(d[i], d[j]));
    }
  }
  std::sort(g.begin(), g.end());
  std::sort(im.begin(), im.end());
  Scores s;
  s.genuine = g.size();
  s.impostor = im.size();
  if (g.empty() || im.empty()) return s;
  std::vector<double> thresholds = g;
  thresholds.insert(thresholds.end(), im.begin(), im.end());
  double best_gap = 2;
  for (double t : thresholds) {  // same when distance <= t
    const double fnmr = double(g.end() - std::upper_bound(g.begin(), g.end(), t)) / g.size();
    const double fmr = double(std::upper_bound(im.begin(), im.end(), t) - im.begin()) / im.size();
    if (std::abs(fnmr - fmr) < best_gap) {
      best_gap = std::abs(fnmr - fmr);
      s.eer = (fnmr + fmr) / 2;
    }
  }
  s.false_non_matches = static_cast<size_t>(g.end() - std::lower_bound(g.begin(), g.end(), kThreshold));
  s.false_matches = static_cast<size_t>(std::lower_bound(im.begin(), im.end(), kThreshold) - im.begin());
  s.genuine_max = g.back();
  s.impostor_min = im.front();
  return s;
}

nlohmann::json ScoresJson(const Scores& s) {
  return {{"genuine_pairs", s.genuine},           {"impostor_pairs", s.impostor},
          {"eer", s.eer},                         {"false_non_matches_at_0_6", s.false_non_matches},
          {"false_matches_at_0_6", s.false_matches}, {"genuine_max", s.genuine_max},
          {"impostor_min", s.impostor_min}};
}

double ThreadCpuMs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

double MedianRunMs(lv::DescriptorModel& m, const cv::Mat& rgb) {
  for (int i = 0; i < 3; ++i) (void)m.Run(rgb);
  std::vector<double> v;
  for (int i = 0; i < 30; ++i) {
    const double t0 = ThreadCpuMs();
    (void)m.Run(rgb);
    v.push_back(ThreadCpuMs() - t0);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const char* env_data = std::getenv("LIVEGATE_TEST_DATA");
  fs::path data = fs::path(env_data && *env_data ? env_data : LIVEGATE_TEST_DATA_DEFAULT) / "1_face_identity";
  fs::path johns = "/usr/share/doc/libdlib19.1/examples/johns";
  bool json_out = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json_out = true;
    } else if ((a == "--data" || a == "--johns") && i + 1 < argc) {
      (a == "--data" ? data : johns) = argv[++i];
    } else {
      std::cerr << "usage: livegate_descriptor_int8_eval [--data DIR] [--johns DIR] [--json]\n";
      return 2;
    }
  }
  cv::setNumThreads(1);
  const fs::path models = lv::DefaultModelDir();
  auto analyzer = Must(lv::FaceAnalyzer::Create(lv::AnalyzerOptions{}), "analyzer");

  std::vector<cv::Mat> calibration;
  int failed = 0;
  for (const char* s : {"facenet_pytorch", "openface", "facenet_lfw"}) {
    if (!fs::exists(data / s)) continue;
    for (auto& c : Chips(*analyzer, data / s, false, &failed)) calibration.push_back(c.rgb);
  }
  if (calibration.empty()) {
    std::cerr << "descriptor_int8_eval: no calibration chips under " << data << "\n";
    return 2;
  }
  auto float_model = Must(lv::DescriptorModel::Load(models), "descriptor");
  auto int8_model = Must(lv::DescriptorModel::LoadQuantized(models, calibration), "descriptor int8");

  nlohmann::json out = {{"calibration_chips", calibration.size()}, {"threshold", kThreshold}};
  out["thread_cpu_ms_float"] = MedianRunMs(*float_model, calibration[0]);
  out["thread_cpu_ms_int8"] = MedianRunMs(*int8_model, calibration[0]);
  if (!json_out) {
    std::printf("descriptor, thread CPU median of 30 calls: float %.2f ms, int8 %.2f ms (calibration: %zu chips)\n",
                out["thread_cpu_ms_float"].get<double>(), out["thread_cpu_ms_int8"].get<double>(),
                calibration.size());
    std::printf("%-18s %6s %9s %9s | %-8s %-14s %-16s | %-8s %-14s %-16s | %s\n", "source", "chips", "genuine",
                "impostor", "EER f32", "f32 FNM/FM@0.6", "f32 gmax/imin", "EER int8", "int8 FNM/FM@0.6",
                "int8 gmax/imin", "max shift");
  }
  struct Source {
    std::string name;
    fs::path dir;
    bool direct;
  };
  std::vector<Source> sources = {{"johns (chips)", johns, true}};
  for (const char* s : {"deepface", "face_recognition", "orl_att"}) sources.push_back({s, data / s, false});
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& src : sources) {
    if (!fs::exists(src.dir)) continue;
    int fta = 0;
    const std::vector<Chip> chips = Chips(*analyzer, src.dir, src.direct, &fta);
    std::vector<lv::Descriptor> df, dq;
    double max_shift = 0;
    for (const auto& c : chips) {
      df.push_back(Must(float_model->Run(c.rgb), "descriptor"));
      dq.push_back(Must(int8_model->Run(c.rgb), "descriptor int8"));
      max_shift = std::max(max_shift, Distance(df.back(), dq.back()));
    }
    const Scores sf = Score(chips, df), sq = Score(chips, dq);
    rows.push_back({{"source", src.name},
                    {"chips", chips.size()},
                    {"failed_to_acquire", fta},
                    {"float", ScoresJson(sf)},
                    {"int8", ScoresJson(sq)},
                    {"max_descriptor_shift", max_shift}});
    if (!json_out) {
      std::printf("%-18s %6zu %9zu %9zu | %6.2f %% %5zu/%-8zu %.3f/%.3f      | %6.2f %% %5zu/%-8zu %.3f/%.3f      | %.3f\n",
                  src.name.c_str(), chips.size(), sf.genuine, sf.impostor, sf.eer * 100, sf.false_non_matches,
                  sf.false_matches, sf.genuine_max, sf.impostor_min, sq.eer * 100, sq.false_non_matches,
                  sq.false_matches, sq.genuine_max, sq.impostor_min, max_shift);
    }
  }
  out["sources"] = rows;
  if (json_out) std::cout << out.dump(2) << "\n";
  return 0;
}
