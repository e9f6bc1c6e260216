// The Iris cascade (PlanIrisCascade, policy.action.iris_gate) against the
// Iris on every frame, on real captures (R-ASD-1 blink; issue 4 speed
// target). For every session of a PAD manifest whose challenge uses the
// Iris (a blink step, or passive), every `--window`-frame window (a server
// capture is ~30 frames) starting every `--step` frames is judged twice with
// a blink challenge over the whole window: with the Iris read on every frame
// ("full") and with the cascade (the Iris only where the plan says, read
// from the same full run, the other frames rescaled by ApplyIrisCascade).
// Prints: Iris frames per window, windows whose blink decision differs,
// closed frames of the full measure the cascade did not run the Iris on
// (must be 0), and the neutral's deviation. One core; ~3-4 min for the
// shared-data manifest.
//   livegate_eval_iris_cascade [--manifest eval/manifests/pad_shared_data.json]
//       [--data DIR] [--window 30] [--step 1] [--gate 0.9] [--json]
// Both the current plan and the one before 755dfe1 (every 5th frame +
// neighbours) are evaluated on the same observations.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "judgement/eval_session.h"
#include "judgement/judgement.h"
#include "judgement/measures.h"

namespace {

namespace lj = livegate::judgement;

float P70(const std::vector<lj::FrameObservation>& obs) {
  std::vector<float> v;
  for (const auto& o : obs) {
    if (o.has_mesh) v.push_back(0.5f * (o.left_eye_openness + o.right_eye_openness));
  }
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(0.7f * float(v.size() - 1) + 0.5f))];
}

bool BlinkSeen(const std::vector<lj::FrameObservation>& obs, const lj::Policy& policy) {
  lj::Challenge c;
  c.type = lj::AsdType::kActions;
  c.steps = {{lj::Action::kBlink, 0, 600000}};
  const lj::CheckResult* a = lj::JudgeLiveness(c, obs, policy).Find("actions");
  return a && a->passed;
}

// The plan before 755dfe1, for the before/after figures only: every 5th
// mesh frame as the baseline, plus the frames below the gate and their
// neighbours.
lj::IrisPlan PreviousPlan(const std::vector<float>& level, float iris_gate) {
  lj::IrisPlan plan;
  std::vector<float> open;
  std::vector<int> with_mesh;
  for (std::size_t i = 0; i < level.size(); ++i) {
    if (level[i] >= 0) with_mesh.push_back(int(i)), open.push_back(level[i]);
  }
  if (open.empty()) return plan;
  std::vector<float> sorted = open;
  std::sort(sorted.begin(), sorted.end());
  const float gate =
      iris_gate * sorted[std::min(sorted.size() - 1, std::size_t(0.7f * float(sorted.size() - 1) + 0.5f))];
  std::vector<char> run(level.size(), 0);
  for (std::size_t k = 0; k < with_mesh.size(); ++k) {
    const int i = with_mesh[k];
    if (k % 5 == 0) run[std::size_t(i)] = 1, plan.baseline.push_back(i);
    if (open[k] < gate) {
      for (int j = std::max(0, i - 1); j <= std::min(int(level.size()) - 1, i + 1); ++j) run[std::size_t(j)] = 1;
    }
  }
  for (std::size_t i = 0; i < run.size(); ++i) {
    if (run[i] && level[i] >= 0) plan.run.push_back(int(i));
  }
  return plan;
}

bool UsesIris(const lj::EvalSession& s) {
  if (s.challenge.type == lj::AsdType::kPassive || s.challenge.steps.empty()) return true;
  return std::any_of(s.challenge.steps.begin(), s.challenge.steps.end(),
                     [](const lj::ChallengeStep& st) { return st.action == lj::Action::kBlink; });
}

}  // namespace

int main(int argc, char** argv) {
  std::string manifest = "eval/manifests/pad_shared_data.json";
  const char* env = std::getenv("LIVEGATE_TEST_DATA");
  std::string data = env ? env : "/work/shared/data";
  int window = 30, step = 1;
  float gate = lj::Policy().action.iris_gate;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--manifest")
      manifest = next();
    else if (a == "--data")
      data = next();
    else if (a == "--window")
      window = std::atoi(next().c_str());
    else if (a == "--step")
      step = std::atoi(next().c_str());
    else if (a == "--gate")
      gate = float(std::atof(next().c_str()));
    else if (a == "--json")
      json = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (window < 8 || step < 1) {
    std::fprintf(stderr, "--window must be >= 8 and --step >= 1\n");
    return 2;
  }
  cv::setNumThreads(1);
  std::ifstream in(manifest);
  std::stringstream text;
  text << in.rdbuf();
  auto sessions = lj::ParseEvalManifest(text.str());
  if (!sessions.ok()) {
    std::fprintf(stderr, "%s: %s\n", manifest.c_str(), sessions.status().ToString().c_str());
    return 1;
  }
  auto analyzer = livegate::vision::FaceAnalyzer::Create({});
  if (!analyzer.ok()) {
    std::fprintf(stderr, "%s\n", analyzer.status().ToString().c_str());
    return 1;
  }
  lj::Policy mesh_policy, full_policy, cascade_policy;
  mesh_policy.action.eye_openness_from_iris = false;
  full_policy.action.iris_gate = 100.0f;  // every frame
  cascade_policy.action.iris_gate = gate;
  struct Stats {
    long windows = 0, iris_frames = 0, frames = 0, blinks_full = 0, blinks_cascade = 0, differ = 0, closed = 0,
         closed_missed = 0;
    std::vector<float> deviation;
  };
  Stats stats[2];  // [0] current rule, [1] previous rule
  int used = 0;
  for (const auto& s : *sessions) {
    if (!UsesIris(s)) continue;
    auto cap = lj::LoadEvalCapture(s, data);
    if (!cap.ok()) {
      std::fprintf(stderr, "%s: %s\n", s.id.c_str(), cap.status().ToString().c_str());
      return 1;
    }
    auto mesh = lj::ObserveCapture(*cap, **analyzer, mesh_policy, nullptr);
    auto full = lj::ObserveCapture(*cap, **analyzer, full_policy, nullptr);
    if (!mesh.ok() || !full.ok() || mesh->size() != full->size()) {
      std::fprintf(stderr, "%s: observation failed\n", s.id.c_str());
      return 1;
    }
    ++used;
    const int n = int(mesh->size());
    for (int a = 0; a + window <= std::max(n, window) && a < n; a += step) {
      const int b = std::min(n, a + window);
      const std::vector<lj::FrameObservation> f(full->begin() + a, full->begin() + b);
      for (int rule = 0; rule < 2; ++rule) {
        Stats& st = stats[rule];
        std::vector<lj::FrameObservation> c(mesh->begin() + a, mesh->begin() + b);
        const std::vector<float> level = lj::MeshEyeLevels(c);
        const lj::IrisPlan plan = rule == 1 ? PreviousPlan(level, gate) : lj::PlanIrisCascade(level, gate);
        std::vector<std::array<float, 2>> eyes;
        for (int i : plan.run)
          eyes.push_back({f[std::size_t(i)].right_eye_openness, f[std::size_t(i)].left_eye_openness});
        lj::ApplyIrisCascade(plan, eyes, c);
        ++st.windows;
        st.frames += b - a;
        st.iris_frames += long(plan.run.size());
        const bool bf = BlinkSeen(f, full_policy), bc = BlinkSeen(c, cascade_policy);
        st.blinks_full += bf, st.blinks_cascade += bc, st.differ += bf != bc;
        const float nf = P70(f), nc = P70(c);
        if (nf > 0) st.deviation.push_back(std::abs(nc / nf - 1.0f));
        for (std::size_t i = 0; i < f.size(); ++i) {
          if (!f[i].has_mesh) continue;
          if (0.5f * (f[i].left_eye_openness + f[i].right_eye_openness) > full_policy.action.blink_closed_ratio * nf)
            continue;
          ++st.closed;
          st.closed_missed += c[i].eyes_by_iris ? 0 : 1;
        }
      }
      if (b == n) break;
    }
    std::fprintf(stderr, "%s: %d frames\n", s.id.c_str(), n);
  }
  for (int rule = 0; rule < 2; ++rule) {
    Stats& st = stats[rule];
    const char* name = rule == 0 ? "current" : "previous";
    std::sort(st.deviation.begin(), st.deviation.end());
    auto q = [&](float p) {
      return st.deviation.empty()
                 ? 0.0f
                 : st.deviation[std::min(st.deviation.size() - 1, std::size_t(p * float(st.deviation.size() - 1)))];
    };
    const double w = st.windows ? double(st.windows) : 1.0;
    if (json) {
      std::printf(
          "%s{\"rule\": \"%s\", \"sessions\": %d, \"window\": %d, \"step\": %d, \"gate\": %.3f, \"windows\": %ld, "
          "\"frames_per_window\": %.2f, \"iris_frames_per_window\": %.2f, \"blink_windows_full\": %ld, "
          "\"blink_windows_cascade\": %ld, \"blink_decisions_differ\": %ld, \"closed_frames\": %ld, "
          "\"closed_frames_without_iris\": %ld, \"neutral_deviation_p50\": %.4f, \"neutral_deviation_p95\": %.4f, "
          "\"neutral_deviation_max\": %.4f}%s\n",
          rule == 0 ? "[" : " ", name, used, window, step, gate, st.windows, double(st.frames) / w,
          double(st.iris_frames) / w, st.blinks_full, st.blinks_cascade, st.differ, st.closed, st.closed_missed,
          q(0.5f), q(0.95f), q(1.0f), rule == 0 ? "," : "]");
    } else {
      std::printf(
          "Iris cascade, %s rule (gate %.2f) vs the Iris on every frame: %d sessions, %ld windows of %d frames (step "
          "%d)\n",
          name, gate, used, st.windows, window, step);
      std::printf("  Iris frames per window     %.2f of %.2f\n", double(st.iris_frames) / w, double(st.frames) / w);
      std::printf("  windows with a blink        full %ld, cascade %ld; decisions differ in %ld\n", st.blinks_full,
                  st.blinks_cascade, st.differ);
      std::printf("  closed frames (full)        %ld, of which without the Iris in the cascade %ld\n", st.closed,
                  st.closed_missed);
      std::printf("  neutral deviation           p50 %.1f %%, p95 %.1f %%, max %.1f %%\n", 100 * q(0.5f),
                  100 * q(0.95f), 100 * q(1.0f));
    }
  }
  return 0;
}
