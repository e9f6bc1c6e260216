// Eye openness for the blink action (R-ASD-1, R-ASD-5 "a still picture
// cannot blink"), measured on real frames: the 468-point FaceMesh eyelids
// do not close, MediaPipe Iris's eye contour does. Frames of LivePortrait d6
// (eval/manifests/pad_shared_data.json, lp-d6): source frame 200 has both
// eyes open, frame 208 (6.93 s) both eyes shut (contact sheet of
// `livegate eval pad --inspect`).
#include <algorithm>
#include <cstdio>

#include <gtest/gtest.h>

#include "judgement/eval_session.h"
#include "judgement/judgement.h"
#include "judgement/measures.h"
#include "support/test_data.h"
#include "vision/iris_eyes.h"

namespace livegate::judgement {
namespace {

using livegate::testing::TestDataDir;

constexpr const char* kClip = "2_face_video/liveportrait/liveportrait_d6.mp4";

struct Eyes {
  float mesh = 0, iris = 0;  // mean of both eyes
};

class IrisEyeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = vision::FaceAnalyzer::Create({});
    if (a.ok()) analyzer_ = std::move(*a);
  }
  // Eye openness of source frame `frame` by both measures.
  Eyes Measure(int frame) {
    EvalSession s;
    s.id = "eyes";
    s.media = kClip;
    s.first_frame = frame;
    s.last_frame = frame;
    auto c = LoadEvalCapture(s, TestDataDir());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok() || c->frames.empty()) return {};
    const cv::Mat& bgr = c->frames.front().bgr;
    auto faces = analyzer_->Analyze(bgr);
    EXPECT_TRUE(faces.ok());
    if (!faces.ok() || faces->empty() || faces->front().mesh.size() != 468) {
      ADD_FAILURE() << "no face mesh on frame " << frame;
      return {};
    }
    auto iris = ThreadIrisModel(analyzer_->options().model_dir);
    EXPECT_TRUE(iris.ok()) << iris.status().ToString();
    if (!iris.ok()) return {};
    auto eyes = vision::IrisEyeOpenness(bgr, faces->front().mesh, **iris);
    EXPECT_TRUE(eyes.ok()) << eyes.status().ToString();
    if (!eyes.ok()) return {};
    const auto& f = faces->front();
    return {0.5f * (f.left_eye_openness + f.right_eye_openness), 0.5f * ((*eyes)[0] + (*eyes)[1])};
  }
  std::unique_ptr<vision::FaceAnalyzer> analyzer_;
};

TEST_F(IrisEyeTest, ClosedEyesReadClosedOnTheIrisContourNotOnTheMesh) {
  LG_REQUIRE_TEST_DATA(kClip);
  LG_REQUIRE_MODELS();
  ASSERT_TRUE(analyzer_);
  const Eyes open = Measure(200), shut = Measure(208);
  std::printf("open: mesh %.3f iris %.3f; shut: mesh %.3f iris %.3f\n", open.mesh, open.iris, shut.mesh,
              shut.iris);
  // Open eyes: both measures agree (~0.35-0.45).
  EXPECT_GT(open.iris, 0.30f);
  EXPECT_GT(open.mesh, 0.30f);
  // Shut eyes: the iris contour closes (measured 0.08), the mesh keeps more
  // than half of its open reading (measured 0.21 of 0.37).
  EXPECT_LT(shut.iris, 0.15f);
  EXPECT_LT(shut.iris, 0.4f * open.iris);
  EXPECT_GT(shut.mesh, 0.45f * open.mesh);
}

// The Iris runs only when a blink may be judged: a challenge of actions
// without a blink keeps the mesh's lids (the closure depth is unused, two
// network runs per frame saved); a blink challenge and no challenge use it.
TEST_F(IrisEyeTest, ObserveCaptureUsesTheIrisWhenABlinkIsJudged) {
  LG_REQUIRE_TEST_DATA(kClip);
  LG_REQUIRE_MODELS();
  ASSERT_TRUE(analyzer_);
  EvalSession s;
  s.id = "eyes";
  s.media = kClip;
  s.first_frame = 200;
  s.last_frame = 210;  // 15 fps: source frames 200, 202, ..., 210; 208 is shut
  auto cap = LoadEvalCapture(s, TestDataDir());
  ASSERT_TRUE(cap.ok()) << cap.status().ToString();
  ASSERT_EQ(cap->frames.size(), 6u);
  Policy policy;
  Challenge blink, mouth;
  blink.steps = {{Action::kBlink, 0, 60000}};
  mouth.steps = {{Action::kOpenMouth, 0, 60000}};
  auto shut = [&](const Challenge* c) {
    auto obs = ObserveCapture(*cap, *analyzer_, policy, c);
    EXPECT_TRUE(obs.ok()) << obs.status().ToString();
    if (!obs.ok() || obs->size() != 6u || !(*obs)[4].has_mesh) return -1.0f;
    return 0.5f * ((*obs)[4].left_eye_openness + (*obs)[4].right_eye_openness);
  };
  EXPECT_LT(shut(&blink), 0.15f);
  EXPECT_LT(shut(nullptr), 0.15f);
  EXPECT_GT(shut(&mouth), 0.15f);  // the mesh's lids
  policy.action.eye_openness_from_iris = false;
  EXPECT_GT(shut(&blink), 0.15f);
}

// The Iris cascade (policy.action.iris_gate, PlanIrisCascade; issue 4 speed) against the
// Iris on every frame (gate 100), over d6 source frames 150-330 (12 s at
// 15 fps: winks, the shut eyes at 208, expressions): every frame the full
// measure reads as closed (<= blink_closed_ratio of its neutral) carries
// the very same Iris value in the cascade, the neutral (70th percentile)
// moves by less than 10 %, and a blink challenge gets the same verdict.
TEST_F(IrisEyeTest, CascadeKeepsEveryClosedFrameOfTheFullIrisMeasure) {
  LG_REQUIRE_TEST_DATA(kClip);
  LG_REQUIRE_MODELS();
  ASSERT_TRUE(analyzer_);
  EvalSession s;
  s.id = "cascade";
  s.media = kClip;
  s.first_frame = 150;
  s.last_frame = 330;
  auto cap = LoadEvalCapture(s, TestDataDir());
  ASSERT_TRUE(cap.ok()) << cap.status().ToString();
  Policy full, cascade;
  full.action.iris_gate = 100.0f;
  Challenge blink;
  blink.type = AsdType::kActions;
  blink.steps = {{Action::kBlink, 0, 60000}};
  auto a = ObserveCapture(*cap, *analyzer_, full, &blink);
  auto b = ObserveCapture(*cap, *analyzer_, cascade, &blink);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  auto eye = [](const FrameObservation& o) { return 0.5f * (o.left_eye_openness + o.right_eye_openness); };
  auto p70 = [&](const std::vector<FrameObservation>& obs) {
    std::vector<float> v;
    for (const auto& o : obs) if (o.has_mesh) v.push_back(eye(o));
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0f : v[std::size_t(0.7 * double(v.size() - 1) + 0.5)];
  };
  const float neutral_full = p70(*a), neutral_cascade = p70(*b);
  EXPECT_NEAR(neutral_cascade, neutral_full, 0.1f * neutral_full);
  int closed = 0;
  for (std::size_t i = 0; i < a->size(); ++i) {
    if (!(*a)[i].has_mesh || eye((*a)[i]) > full.action.blink_closed_ratio * neutral_full) continue;
    ++closed;
    EXPECT_FLOAT_EQ((*b)[i].left_eye_openness, (*a)[i].left_eye_openness) << "frame " << i;
    EXPECT_FLOAT_EQ((*b)[i].right_eye_openness, (*a)[i].right_eye_openness) << "frame " << i;
  }
  EXPECT_GE(closed, 1) << "the segment shows shut eyes (source frame 208)";
  EXPECT_EQ(JudgeLiveness(blink, *a, full).reason, JudgeLiveness(blink, *b, cascade).reason);
}

TEST_F(IrisEyeTest, NoMeshIsAClearErrorNotACrash) {
  LG_REQUIRE_MODELS();
  ASSERT_TRUE(analyzer_);
  auto iris = ThreadIrisModel(analyzer_->options().model_dir);
  ASSERT_TRUE(iris.ok()) << iris.status().ToString();
  const cv::Mat grey_frame(240, 320, CV_8UC3, cv::Scalar(128, 128, 128));
  auto r = vision::IrisEyeOpenness(grey_frame, {}, **iris);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "vision.no_mesh");
  // All corners at one point: no eye to crop.
  auto d = vision::IrisEyeOpenness(grey_frame, std::vector<cv::Point3f>(468, cv::Point3f(10, 10, 0)), **iris);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().reason(), "vision.no_mesh");
}

TEST_F(IrisEyeTest, MissingIrisWeightsAreAModelError) {
  auto iris = ThreadIrisModel("/nonexistent-livegate-models");
  ASSERT_FALSE(iris.ok());
  EXPECT_EQ(iris.status().reason().rfind("model.", 0), 0u) << iris.status().reason();
}

}  // namespace
}  // namespace livegate::judgement
