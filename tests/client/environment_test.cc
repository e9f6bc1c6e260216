// R-CLI-ENV-1: each capture condition is detected and explained.
#include "client/environment.h"

#include <algorithm>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

namespace livegate::client {
namespace {

// A 640x480 scene: background grey level `bg`, a "face" rectangle of level `face_level`.
cv::Mat Scene(const cv::Rect& face, int bg, int face_level) {
  cv::Mat img(480, 640, CV_8UC3, cv::Scalar(bg, bg, bg));
  img(face).setTo(cv::Scalar(face_level, face_level, face_level));
  return img;
}

std::vector<std::string> Codes(const EnvironmentReport& r) {
  std::vector<std::string> c;
  for (const auto& i : r.issues) c.push_back(i.code);
  return c;
}

bool Has(const EnvironmentReport& r, const std::string& code) {
  const auto c = Codes(r);
  return std::find(c.begin(), c.end(), code) != c.end();
}

const cv::Rect kGoodFace(240, 150, 160, 200);  // centred, 25% of the width

TEST(EnvironmentTest, GoodConditionsPassOnlyOnceSteady) {
  EnvironmentChecker checker;
  const cv::Mat img = Scene(kGoodFace, 110, 140);
  for (int i = 0; i < 3; ++i) {
    const auto r = checker.Check(img, {cv::Rect2f(kGoodFace)});
    EXPECT_FALSE(r.ok) << "frame " << i;
    EXPECT_EQ(Codes(r), std::vector<std::string>{"env.moving"});
  }
  const auto r = checker.Check(img, {cv::Rect2f(kGoodFace)});
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(r.issues.empty());
  EXPECT_NEAR(r.face_brightness, 140, 0.5);
  EXPECT_NEAR(r.face_width, 0.25, 1e-6);
}

TEST(EnvironmentTest, NoFace) {
  EnvironmentChecker checker;
  const auto r = checker.Check(Scene(kGoodFace, 110, 140), {});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(Codes(r), std::vector<std::string>{"env.no_face"});
  EXPECT_FALSE(r.issues[0].advice.empty());
}

TEST(EnvironmentTest, DarkAndBacklit) {
  EnvironmentChecker checker;
  const auto dark = checker.Check(Scene(kGoodFace, 40, 30), {cv::Rect2f(kGoodFace)});
  EXPECT_TRUE(Has(dark, "env.too_dark"));
  EXPECT_FALSE(Has(dark, "env.backlit"));
  const auto backlit = checker.Check(Scene(kGoodFace, 240, 100), {cv::Rect2f(kGoodFace)});
  EXPECT_TRUE(Has(backlit, "env.backlit"));
  EXPECT_FALSE(Has(backlit, "env.too_dark"));
  const auto bright = checker.Check(Scene(kGoodFace, 230, 250), {cv::Rect2f(kGoodFace)});
  EXPECT_TRUE(Has(bright, "env.too_bright"));
}

TEST(EnvironmentTest, SizeAndCentring) {
  EnvironmentChecker checker;
  const cv::Rect tiny(300, 220, 50, 60);
  EXPECT_TRUE(Has(checker.Check(Scene(tiny, 110, 140), {cv::Rect2f(tiny)}), "env.too_far"));
  const cv::Rect huge(20, 0, 600, 480);
  EXPECT_TRUE(Has(checker.Check(Scene(huge, 110, 140), {cv::Rect2f(huge)}), "env.too_close"));
  const cv::Rect corner(10, 10, 160, 200);
  const auto r = checker.Check(Scene(corner, 110, 140), {cv::Rect2f(corner)});
  EXPECT_TRUE(Has(r, "env.off_centre"));
  EXPECT_GT(r.centre_offset, 0.22);
}

TEST(EnvironmentTest, MovementResetsSteadiness) {
  EnvironmentChecker checker;
  for (int i = 0; i < 4; ++i) {
    (void)checker.Check(Scene(kGoodFace, 110, 140), {cv::Rect2f(kGoodFace)});
  }
  const cv::Rect moved = kGoodFace + cv::Point(40, 0);  // 6% of the width in one frame
  const auto r = checker.Check(Scene(moved, 110, 140), {cv::Rect2f(moved)});
  EXPECT_EQ(Codes(r), std::vector<std::string>{"env.moving"});
  EXPECT_NEAR(r.motion, 40.0 / 640, 1e-6);
}

TEST(EnvironmentTest, SecondLargeFace) {
  EnvironmentChecker checker;
  const cv::Rect other(20, 150, 140, 180);
  const auto r = checker.Check(Scene(kGoodFace, 110, 140), {cv::Rect2f(kGoodFace), cv::Rect2f(other)});
  EXPECT_TRUE(Has(r, "env.many_faces"));
}

}  // namespace
}  // namespace livegate::client
