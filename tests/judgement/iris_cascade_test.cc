// Where the Iris eye measure runs (PlanIrisCascade; R-ASD-1 blink, issue 4
// speed target): the frames whose mesh eye level is nearest the capture's
// open level (the baseline for the Iris/mesh ratio) and every frame the
// mesh sees closing below iris_gate x that level - nothing else.
#include <vector>

#include <gtest/gtest.h>

#include "judgement/measures.h"

namespace livegate::judgement {
namespace {

// 30 frames open at 0.35 with small differences, a dip at 12..14, frame 20
// without a mesh.
std::vector<float> Levels() {
  std::vector<float> v(30);
  for (int i = 0; i < 30; ++i) v[std::size_t(i)] = 0.34f + 0.001f * float(i % 7);
  v[12] = 0.30f, v[13] = 0.18f, v[14] = 0.29f;
  v[20] = -1.0f;
  return v;
}

TEST(IrisCascadeTest, RunsOnTheClosingFramesAndThreeFramesAtTheOpenLevelOnly) {
  const std::vector<float> level = Levels();
  // Open level = 70th percentile of the 29 mesh levels: 0.344 (frames 4,
  // 11, 18, 25 hold it; the first three by index are the baseline).
  const IrisPlan plan = PlanIrisCascade(level, 0.9f);
  EXPECT_EQ(plan.baseline, (std::vector<int>{4, 11, 18}));
  // 0.9 x 0.344 = 0.3096: frames 12, 13, 14 are below; their neighbours 11
  // (baseline anyway) and 15 are not run for being neighbours.
  EXPECT_EQ(plan.run, (std::vector<int>{4, 11, 12, 13, 14, 18}));
}

TEST(IrisCascadeTest, AGateFarAboveOneRunsEveryFrameWithAMesh) {
  const std::vector<float> level = Levels();
  const IrisPlan plan = PlanIrisCascade(level, 100.0f);
  ASSERT_EQ(plan.run.size(), 29u);
  for (int i : plan.run) EXPECT_NE(i, 20) << "frame 20 has no mesh";
  EXPECT_EQ(plan.baseline.size(), kIrisBaselineFrames);
}

TEST(IrisCascadeTest, FewOrNoMeshFrames) {
  EXPECT_TRUE(PlanIrisCascade(std::vector<float>{}, 0.9f).run.empty());
  EXPECT_TRUE(PlanIrisCascade(std::vector<float>{-1.0f, -1.0f}, 0.9f).run.empty());
  const IrisPlan two = PlanIrisCascade(std::vector<float>{0.3f, -1.0f, 0.35f}, 0.9f);
  EXPECT_EQ(two.baseline, (std::vector<int>{0, 2}));
  EXPECT_EQ(two.run, (std::vector<int>{0, 2}));
}

}  // namespace
}  // namespace livegate::judgement
