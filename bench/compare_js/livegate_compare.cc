// Side-by-side speed comparison, our half: full face analysis (BlazeFace
// detection + FaceMesh + pose/eye/mouth measures + alignment + 128-D
// descriptor, every face) on one thread, on images decoded ONCE up front
// (JPEG decode excluded). The same decoded pixels are written as raw RGB for
// the node runners (bench_js.mjs), so all three libraries see identical input.
//
//   compare_js_livegate --dump DIR [--seconds S] [--min-passes N]
//       [--frame-video V --frame-index I] [--max-faces K] [--detector D] [--json] IMAGE...
//   D: front_then_back (default), back_only, front_only (AnalyzerOptions::detector)
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <time.h>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "vision/face_analyzer.h"
#include "vision/image_io.h"

namespace {

// Process CPU time: robust to other load on a shared machine, where wall
// time is not.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct Frame {
  std::string name;
  cv::Mat bgr;
};

// Centre crop to 4:3, then resize to 640x480: a webcam-like frame.
cv::Mat To640x480(const cv::Mat& in) {
  int w = in.cols, h = in.rows;
  cv::Rect roi;
  if (w * 3 > h * 4) {
    const int cw = h * 4 / 3;
    roi = cv::Rect((w - cw) / 2, 0, cw, h);
  } else {
    const int ch = w * 3 / 4;
    roi = cv::Rect(0, (h - ch) / 2, w, ch);
  }
  cv::Mat out;
  cv::resize(in(roi), out, cv::Size(640, 480), 0, 0, cv::INTER_AREA);
  return out;
}

bool Dump(const std::string& dir, const std::string& set, const std::vector<Frame>& frames,
          nlohmann::json& index) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    cv::Mat rgb;
    cv::cvtColor(frames[i].bgr, rgb, cv::COLOR_BGR2RGB);
    const std::string file = set + "_" + std::to_string(i) + ".rgb";
    std::ofstream f(dir + "/" + file, std::ios::binary);
    for (int y = 0; y < rgb.rows; ++y) f.write(reinterpret_cast<const char*>(rgb.ptr(y)), rgb.cols * 3);
    if (!f) return false;
    index.push_back({{"set", set}, {"name", frames[i].name}, {"file", file}, {"width", rgb.cols},
                     {"height", rgb.rows}});
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dump_dir, frame_video, detector = "front_then_back";
  int frame_index = 30, min_passes = 3, max_faces = 20;
  double seconds = 10;
  bool json = false;
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value after " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dump") dump_dir = next();
    else if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--min-passes") min_passes = std::stoi(next());
    else if (a == "--frame-video") frame_video = next();
    else if (a == "--frame-index") frame_index = std::stoi(next());
    else if (a == "--max-faces") max_faces = std::stoi(next());
    else if (a == "--detector") detector = next();
    else if (a == "--json") json = true;
    else images.push_back(a);
  }
  cv::setNumThreads(1);  // single-threaded, like the node runners

  std::vector<std::pair<std::string, std::vector<Frame>>> sets;
  std::vector<Frame> stills;
  for (const auto& p : images) {
    auto img = livegate::vision::ReadImageFile(p);
    if (!img.ok()) {
      std::cerr << p << ": " << img.status().reason() << "\n";
      return 3;
    }
    stills.push_back({std::filesystem::path(p).filename().string(), *img});
  }
  if (!stills.empty()) sets.push_back({"stills", stills});
  if (!frame_video.empty()) {
    cv::Mat picked;
    auto st = livegate::vision::ForEachVideoFrame(frame_video, [&](const livegate::vision::VideoFrame& f) {
      picked = f.bgr.clone();
      return f.index < frame_index;
    });
    if (!st.ok() || picked.empty()) {
      std::cerr << frame_video << ": " << st.reason() << "\n";
      return 3;
    }
    sets.push_back({"frame640x480",
                    {{std::filesystem::path(frame_video).filename().string() + "#" + std::to_string(frame_index),
                      To640x480(picked)}}});
  }
  if (sets.empty()) {
    std::cerr << "no images\n";
    return 2;
  }
  if (!dump_dir.empty()) {
    std::filesystem::create_directories(dump_dir);
    nlohmann::json index = nlohmann::json::array();
    for (const auto& [name, frames] : sets) {
      if (!Dump(dump_dir, name, frames, index)) {
        std::cerr << "cannot write " << dump_dir << "\n";
        return 3;
      }
    }
    std::ofstream(dump_dir + "/frames.json") << index.dump(1) << "\n";
  }

  livegate::vision::AnalyzerOptions options;
  options.max_faces = max_faces;
  const auto choice = livegate::vision::ParseDetectorChoice(detector);
  if (!choice) {
    std::cerr << "unknown --detector " << detector << " (front_then_back, back_only, front_only)\n";
    return 2;
  }
  options.detector = *choice;
  auto analyzer = livegate::vision::FaceAnalyzer::Create(options);
  if (!analyzer.ok()) {
    std::cerr << "analyzer: " << analyzer.status().reason() << ": " << analyzer.status().message() << "\n";
    return 4;
  }
  nlohmann::json out = {{"library", "livegate"},
                        {"config", "BlazeFace (" + detector + ") + FaceMesh + pose/eyes/mouth + alignment + descriptor, "
                                   "max_faces " + std::to_string(max_faces) + ", cv::setNumThreads(1)"},
                        {"sets", nlohmann::json::array()}};
  for (const auto& [name, frames] : sets) {
    // Warm-up pass (first-run allocations), then timed passes.
    int faces = 0;
    std::vector<int> per_image;
    for (const auto& f : frames) {
      auto r = (*analyzer)->Analyze(f.bgr);
      per_image.push_back(r.ok() ? static_cast<int>(r->size()) : -1);
      faces += r.ok() ? static_cast<int>(std::count_if(r->begin(), r->end(), [](const auto& a) {
                          return a.descriptor.has_value();
                        }))
                      : 0;
    }
    int passes = 0;
    const double c0 = CpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (passes < min_passes || elapsed < seconds) {
      for (const auto& f : frames) {
        auto r = (*analyzer)->Analyze(f.bgr);
        if (!r.ok()) {
          std::cerr << f.name << ": " << r.status().reason() << "\n";
          return 5;
        }
      }
      ++passes;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    const double cpu = CpuSeconds() - c0;
    const double n = static_cast<double>(passes) * frames.size();
    out["sets"].push_back({{"set", name},
                           {"cpu_seconds", cpu},
                           {"images_per_cpu_second", n / cpu},
                           {"cpu_ms_per_image", 1000.0 * cpu / n},
                           {"faces_per_cpu_second", passes * faces / cpu},
                           {"images", frames.size()},
                           {"passes", passes},
                           {"seconds", elapsed},
                           {"images_per_second", n / elapsed},
                           {"ms_per_image", 1000.0 * elapsed / n},
                           {"faces_with_descriptor", faces},
                           {"faces_per_image", per_image}});
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& s : out["sets"]) {
      std::cout << "livegate " << s["set"].get<std::string>() << ": " << s["images_per_second"].get<double>()
                << " images/s (" << s["ms_per_image"].get<double>() << " ms/image, "
                << s["faces_with_descriptor"].get<int>() << " faces; CPU " << s["cpu_ms_per_image"].get<double>()
                << " ms/image)\n";
    }
  }
  return 0;
}
