// The JPEG scan limit (issue 12, docs/RELIABILITY.md "Hostile images"): a
// progressive JPEG costs libjpeg (scans x blocks) to decode, so DecodeImage
// counts the start-of-scan markers on the bytes and refuses more than
// ImageLimits::max_jpeg_scans before decoding.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "vision/image_header.h"
#include "vision/image_io.h"

namespace livegate::vision {
namespace {

std::vector<std::uint8_t> Encode(bool progressive) {
  cv::Mat img(96, 128, CV_8UC3);
  cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(255));
  std::vector<std::uint8_t> out;
  EXPECT_TRUE(cv::imencode(".jpg", img, out, {cv::IMWRITE_JPEG_QUALITY, 80, cv::IMWRITE_JPEG_PROGRESSIVE, progressive ? 1 : 0}));
  return out;
}

// Start-of-scan markers counted independently: markers walked segment by
// segment, entropy-coded data skipped (FF 00 and restart markers).
int CountScans(const std::vector<std::uint8_t>& b) {
  int scans = 0;
  std::size_t pos = 2;
  while (pos + 3 < b.size() && b[pos] == 0xFF && b[pos + 1] != 0xD9) {
    const std::uint8_t m = b[pos + 1];
    pos += 2 + ((std::size_t{b[pos + 2]} << 8) | b[pos + 3]);
    if (m == 0xDA) {
      ++scans;
      while (pos + 1 < b.size() && !(b[pos] == 0xFF && b[pos + 1] != 0 && (b[pos + 1] < 0xD0 || b[pos + 1] > 0xD7))) ++pos;
    }
  }
  return scans;
}

TEST(JpegScanLimitTest, HeaderCountsEveryScan) {
  const auto baseline = Encode(false), progressive = Encode(true);
  auto hb = ReadImageHeader(baseline);
  auto hp = ReadImageHeader(progressive);
  ASSERT_TRUE(hb.ok() && hp.ok());
  EXPECT_EQ(hb->jpeg_scans, 1);
  EXPECT_EQ(hp->jpeg_scans, CountScans(progressive));
  EXPECT_GT(hp->jpeg_scans, 5);  // libjpeg's progressive script: 10 scans for colour
}

TEST(JpegScanLimitTest, OrdinaryProgressiveJpegDecodesUnderTheDefaultLimit) {
  const auto progressive = Encode(true);
  auto img = DecodeImage(progressive);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->cols, 128);
}

TEST(JpegScanLimitTest, MoreScansThanTheLimitRefusedBeforeDecoding) {
  const auto progressive = Encode(true);
  const int scans = CountScans(progressive);
  ImageLimits limits;
  limits.max_jpeg_scans = scans - 1;
  auto refused = DecodeImage(progressive, limits);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "image.too_many_scans");
  EXPECT_EQ(refused.status().code(), StatusCode::kTooLarge);
  limits.max_jpeg_scans = scans;  // exactly at the limit: accepted
  EXPECT_TRUE(DecodeImage(progressive, limits).ok());
}

}  // namespace
}  // namespace livegate::vision
