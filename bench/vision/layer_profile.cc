// Per-layer-type profile of one tfjs network as the translator builds it
// (issue 16, "cost per authentication": where a FaceMesh / Iris forward
// pass spends its time). cv::dnn's Net::getPerfProfile gives each layer's
// time of the last forward; this takes its median over --runs forwards on a fixed
// pseudo-random input in [0, 1) (the models' input range) and prints, per
// cv::dnn layer type, the layer count, ms per forward and share, then the
// total and the wall time per forward (which includes cv::dnn's dispatch
// between layers). One thread unless --threads says otherwise.
//
// Run: build/bench/vision/livegate_layer_profile [--runs N] [--threads N]
//      [--layers] facemesh|iris|blazeface|antispoof|liveness ...
//   (models from LIVEGATE_MODELS; --layers also lists every layer)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>

#include "vision/models.h"
#include "vision/tfjs_to_dnn.h"

namespace lv = livegate::vision;

namespace {

struct ModelSpec {
  const char* file;
  int size;
  std::vector<std::string> outputs;
};

const std::map<std::string, ModelSpec>& Specs() {
  static const std::map<std::string, ModelSpec> specs = {
      {"facemesh", {"facemesh.json", 192, {"Identity_2", "Identity_1"}}},
      {"iris", {"iris.json", 64, {"Identity"}}},
      {"blazeface", {"blazeface.json", 256, {"Identity", "Identity_1", "Identity_2", "Identity_3"}}},
      {"antispoof", {"antispoof.json", 128, {"Identity"}}},
      {"liveness", {"liveness.json", 32, {"Identity"}}},
  };
  return specs;
}

int Profile(const std::string& name, int runs, bool list_layers) {
  auto it = Specs().find(name);
  if (it == Specs().end()) {
    std::fprintf(stderr, "layer_profile: unknown model %s\n", name.c_str());
    return 2;
  }
  const ModelSpec& spec = it->second;
  auto runner = lv::LoadTfjsDnn(lv::DefaultModelDir() / spec.file, {1, spec.size, spec.size, 3}, spec.outputs);
  if (!runner.ok()) {
    std::fprintf(stderr, "layer_profile: %s: %s\n", name.c_str(), runner.status().ToString().c_str());
    return 2;
  }
  const int dims[4] = {1, 3, spec.size, spec.size};
  cv::Mat input(4, dims, CV_32F);
  cv::RNG rng(16);
  rng.fill(input, cv::RNG::UNIFORM, 0.0, 1.0);
  cv::dnn::Net& net = runner->net();
  for (int i = 0; i < 10; ++i) (void)runner->Run(input);

  // Each layer's median over the runs (robust to the preemptions of a
  // shared machine), by index in getPerfProfile; the wall time likewise.
  std::vector<std::vector<double>> samples;
  std::vector<double> walls;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    auto out = runner->Run(input);
    walls.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!out.ok()) {
      std::fprintf(stderr, "layer_profile: %s: %s\n", name.c_str(), out.status().ToString().c_str());
      return 2;
    }
    std::vector<double> times;
    net.getPerfProfile(times);
    if (samples.empty()) samples.resize(times.size());
    for (size_t i = 0; i < times.size() && i < samples.size(); ++i) {
      samples[i].push_back(times[i] * 1000.0 / cv::getTickFrequency());
    }
  }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  std::vector<double> per_layer;
  for (const auto& s : samples) per_layer.push_back(median(s));
  const double wall_median = median(walls);
  // getPerfProfile lists the layers in id order, input layer excluded.
  const std::vector<std::string> names = net.getLayerNames();
  struct TypeSum {
    int layers = 0, fused = 0;
    double ms = 0;
  };
  std::map<std::string, TypeSum> by_type;
  double total = 0;
  std::vector<int> layer_ids;
  std::vector<std::vector<cv::dnn::MatShape>> in_shapes, out_shapes_all;
  net.getLayersShapes(cv::dnn::MatShape{1, 3, spec.size, spec.size}, layer_ids, in_shapes, out_shapes_all);
  // getLayersShapes includes the input layer (id 0) first.
  std::vector<std::vector<cv::dnn::MatShape>> out_shapes(out_shapes_all.begin() + (layer_ids.empty() || layer_ids[0] != 0 ? 0 : 1), out_shapes_all.end());
  for (size_t i = 0; i < per_layer.size() && i < names.size(); ++i) {
    const auto layer = net.getLayer(names[i]);
    const double ms = per_layer[i];
    TypeSum& s = by_type[layer->type];
    ++s.layers;
    if (ms == 0.0) ++s.fused;  // fused into its producer, or skipped
    s.ms += ms;
    total += ms;
    if (list_layers) {
      std::string shape;
      if (!layer->blobs.empty()) {
        const cv::Mat& w = layer->blobs[0];
        for (int d = 0; d < w.dims; ++d) shape += (d ? "x" : "w ") + std::to_string(w.size[d]);
      }
      if (i < out_shapes.size() && !out_shapes[i].empty()) {
        shape += " -> ";
        for (size_t d = 0; d < out_shapes[i][0].size(); ++d) shape += (d ? "x" : "") + std::to_string(out_shapes[i][0][d]);
      }
      std::printf("  %-24s %-17s %8.4f ms  %s\n", names[i].c_str(), layer->type.c_str(), ms, shape.c_str());
    }
  }
  std::printf("%s (%dx%d), medians of %d forwards, %d thread(s)\n", name.c_str(), spec.size, spec.size, runs,
              cv::getNumThreads());
  std::printf("  %-18s %7s %7s %9s %6s\n", "layer type", "layers", "at 0ms", "ms", "share");
  for (const auto& [type, s] : by_type) {
    std::printf("  %-18s %7d %7d %9.4f %5.1f%%\n", type.c_str(), s.layers, s.fused, s.ms,
                total > 0 ? 100.0 * s.ms / total : 0.0);
  }
  std::printf("  %-18s %7zu %7s %9.4f\n", "sum of layers", per_layer.size(), "", total);
  std::printf("  %-18s %7s %7s %9.4f\n", "wall per forward", "", "", wall_median);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 200, threads = 1;
  bool list_layers = false;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (a == "--threads" && i + 1 < argc) threads = std::max(1, std::atoi(argv[++i]));
    else if (a == "--layers") list_layers = true;
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "usage: %s [--runs N] [--threads N] [--layers] model...\n", argv[0]);
      return 2;
    } else models.push_back(a);
  }
  if (models.empty()) models = {"facemesh", "iris"};
  cv::setNumThreads(threads);
  int rc = 0;
  for (const auto& m : models) rc |= Profile(m, runs, list_layers);
  return rc;
}
