// Accuracy cost of the template transform on real descriptors (issue 5: the
// transform must not raise FNMR at the operating point by more than 0.5
// points; R-SEC-STO-5, ISO/IEC 24745). Reads a folder of subject folders
// of aligned 150x150 face chips (default: dlib's johns examples), computes
// descriptors with src/vision's DescriptorModel, and compares decisions
// before and after each subject's random keyed transform.
//
//   livegate_storage_transform_accuracy [--dir D] [--threshold 0.6] [--detect] [--fuse K] [--json]
// --fuse K: each subject's descriptors (in file order) are cut into runs of
// K and each run averaged into one template - the server's multi-frame
// template (mean of several frames' descriptors, issue 14) - before the
// pairs are compared; a subject's trailing run shorter than K is dropped.
// --detect: the images are not chips; run the full FaceAnalyzer (detection,
// alignment, descriptor of the largest face) - e.g. for
// $LIVEGATE_TEST_DATA/1_face_identity/orl_att.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "storage/template_protection.h"
#include "vision/face_analyzer.h"
#include "vision/image_io.h"
#include "vision/models.h"

namespace fs = std::filesystem;
namespace lgs = livegate::storage;

int main(int argc, char** argv) {
  std::string dir = "/usr/share/doc/libdlib19.1/examples/johns";
  float threshold = 0.6f;
  bool json = false;
  bool detect = false;
  int fuse = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!std::strcmp(argv[i], "--threshold") && i + 1 < argc) threshold = std::stof(argv[++i]);
    else if (!std::strcmp(argv[i], "--json")) json = true;
    else if (!std::strcmp(argv[i], "--detect")) detect = true;
    else if (!std::strcmp(argv[i], "--fuse") && i + 1 < argc) fuse = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [--dir D] [--threshold T] [--detect] [--fuse K] [--json]\n", argv[0]);
      return 2;
    }
  }
  auto model = livegate::vision::DescriptorModel::Load(livegate::vision::DefaultModelDir());
  if (!model.ok()) {
    std::fprintf(stderr, "descriptor model: %s\n", model.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<livegate::vision::FaceAnalyzer> analyzer;
  if (detect) {
    auto a = livegate::vision::FaceAnalyzer::Create();
    if (!a.ok()) {
      std::fprintf(stderr, "face analyzer: %s\n", a.status().ToString().c_str());
      return 1;
    }
    analyzer = std::move(a).value();
  }
  int skipped = 0;
  std::vector<lgs::LabelledTemplate> samples;
  std::vector<fs::path> subjects;
  for (const auto& e : fs::directory_iterator(dir)) {
    // _multi / _edge folders are not identities (data README).
    if (e.is_directory() && e.path().filename().string()[0] != '_') subjects.push_back(e.path());
  }
  std::sort(subjects.begin(), subjects.end());
  for (const auto& s : subjects) {
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(s))
      if (f.is_regular_file()) files.push_back(f.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto bgr = livegate::vision::ReadImageFile(f);
      if (!bgr.ok()) {
        std::fprintf(stderr, "skip %s: %s\n", f.c_str(), bgr.status().ToString().c_str());
        continue;
      }
      if (analyzer) {
        auto faces = analyzer->Analyze(*bgr);
        if (!faces.ok() || faces->empty() || !faces->front().descriptor) {
          ++skipped;
          continue;
        }
        samples.push_back({s.filename().string(), *faces->front().descriptor});
        continue;
      }
      cv::Mat rgb;
      cv::cvtColor(*bgr, rgb, cv::COLOR_BGR2RGB);
      if (rgb.cols != 150 || rgb.rows != 150) cv::resize(rgb, rgb, cv::Size(150, 150));
      auto d = (*model)->Run(rgb);
      if (!d.ok()) {
        std::fprintf(stderr, "skip %s: %s\n", f.c_str(), d.status().ToString().c_str());
        continue;
      }
      samples.push_back({s.filename().string(), *d});
    }
  }
  if (fuse > 1) {
    std::vector<lgs::LabelledTemplate> fused;
    for (std::size_t i = 0; i < samples.size();) {
      std::size_t j = i;
      while (j < samples.size() && samples[j].subject == samples[i].subject) ++j;
      for (std::size_t k = i; k + std::size_t(fuse) <= j; k += std::size_t(fuse)) {
        lgs::LabelledTemplate t{samples[k].subject, {}};
        for (std::size_t m = k; m < k + std::size_t(fuse); ++m) {
          for (std::size_t d = 0; d < t.features.size(); ++d) t.features[d] += samples[m].features[d] / float(fuse);
        }
        fused.push_back(t);
      }
      i = j;
    }
    std::fprintf(json ? stderr : stdout, "fused %zu descriptors into %zu templates of %d\n", samples.size(),
                 fused.size(), fuse);
    samples = std::move(fused);
  }
  const lgs::TransformAccuracyCost c = lgs::MeasureTransformAccuracyCost(samples, threshold);
  if (json) {
    std::printf(
        "{\"dir\":\"%s\",\"samples\":%zu,\"subjects\":%zu,\"threshold\":%.4f,\"genuine_pairs\":%d,"
        "\"impostor_pairs\":%d,\"fnmr_before\":%.6f,\"fnmr_after\":%.6f,\"fmr_before\":%.6f,"
        "\"fmr_after\":%.6f,\"fnmr_change_points\":%.4f,\"max_abs_distance_change\":%.3g,"
        "\"decisions_changed\":%d,\"images_without_face\":%d}\n",
        dir.c_str(), samples.size(), subjects.size(), c.threshold, c.genuine_pairs, c.impostor_pairs,
        c.fnmr_before, c.fnmr_after, c.fmr_before, c.fmr_after, 100 * (c.fnmr_after - c.fnmr_before),
        c.max_abs_distance_change, c.decisions_changed, skipped);
  } else {
    if (skipped) std::printf("images without a usable face (skipped): %d\n", skipped);
    std::printf("descriptors: %zu from %zu subjects in %s\n", samples.size(), subjects.size(), dir.c_str());
    std::printf("threshold %.3f: genuine pairs %d, impostor pairs %d\n", c.threshold, c.genuine_pairs,
                c.impostor_pairs);
    std::printf("FNMR before %.4f%%  after %.4f%%  (change %+.4f points; limit 0.5)\n",
                100 * c.fnmr_before, 100 * c.fnmr_after, 100 * (c.fnmr_after - c.fnmr_before));
    std::printf("FMR  before %.4f%%  after %.4f%%\n", 100 * c.fmr_before, 100 * c.fmr_after);
    std::printf("max |distance change| %.3g, decisions changed %d\n", c.max_abs_distance_change,
                c.decisions_changed);
  }
  return std::abs(c.fnmr_after - c.fnmr_before) <= 0.005 ? 0 : 3;
}
