// The direct JPEG decode (issue 16) gives the very bytes cv::imdecode gives,
// on every kind of JPEG a client or a data set sends; the files it does not
// take go to OpenCV and keep their old outcome.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "support/test_data.h"
#include "vision/image_io.h"
#include "vision/jpeg_decode.h"

namespace livegate::vision {
namespace {

constexpr std::uint64_t kNoLimit = ~std::uint64_t{0};

// A face-like test picture: gradients, edges, noise and saturated colours,
// so that every IDCT and upsampling branch has work.
cv::Mat Picture(int w, int h, int seed) {
  cv::Mat m(h, w, CV_8UC3);
  cv::RNG rng(static_cast<std::uint64_t>(seed));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      m.at<cv::Vec3b>(y, x) = {static_cast<std::uint8_t>((x * 255) / std::max(1, w - 1)),
                               static_cast<std::uint8_t>((y * 255) / std::max(1, h - 1)),
                               static_cast<std::uint8_t>(((x / 7 + y / 5) % 2) * 255)};
    }
  }
  cv::Mat noise(h, w, CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 40);
  m += noise;
  cv::circle(m, {w / 2, h / 2}, std::max(1, std::min(w, h) / 3), {30, 200, 250}, -1);
  return m;
}

// A JPEG written by libjpeg with the given chroma sampling (h, v of the luma
// component; chroma 1x1), progressive or not, restart interval in MCU rows.
std::vector<std::uint8_t> Encode(const cv::Mat& bgr, int h_samp, int v_samp, bool progressive, int restart_rows,
                                 int quality, J_COLOR_SPACE jpeg_space = JCS_YCbCr) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &out, &size);
  c.image_width = static_cast<JDIMENSION>(bgr.cols);
  c.image_height = static_cast<JDIMENSION>(bgr.rows);
  c.input_components = 3;
  c.in_color_space = JCS_EXT_BGR;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, jpeg_space);
  jpeg_set_quality(&c, quality, TRUE);
  c.comp_info[0].h_samp_factor = h_samp;
  c.comp_info[0].v_samp_factor = v_samp;
  c.restart_in_rows = restart_rows;
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(bgr.ptr<std::uint8_t>(static_cast<int>(c.next_scanline)));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<std::uint8_t> bytes(out, out + size);
  jpeg_destroy_compress(&c);
  std::free(out);
  return bytes;
}

cv::Mat OpenCvDecode(const std::vector<std::uint8_t>& bytes) {
  return cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<std::uint8_t*>(bytes.data())),
                      cv::IMREAD_UNCHANGED);
}

void ExpectSameBytes(const std::vector<std::uint8_t>& jpeg, const std::string& what) {
  const cv::Mat want = OpenCvDecode(jpeg);
  ASSERT_FALSE(want.empty()) << what;
  ASSERT_EQ(want.type(), CV_8UC3) << what;
  const std::optional<cv::Mat> got = DecodeCommonJpegToBgr(jpeg, kNoLimit);
  ASSERT_TRUE(got.has_value()) << what << ": the direct path did not take it";
  ASSERT_EQ(got->size(), want.size()) << what;
  ASSERT_EQ(got->type(), CV_8UC3) << what;
  EXPECT_EQ(cv::norm(*got, want, cv::NORM_INF), 0.0) << what << ": pixels differ from cv::imdecode";
}

TEST(JpegDecodeTest, SameBytesAsOpenCvForEverySamplingModeAndSize) {
  struct Mode {
    int h, v;
    const char* name;
  };
  const Mode modes[] = {{1, 1, "4:4:4"}, {2, 1, "4:2:2"}, {1, 2, "4:4:0"}, {2, 2, "4:2:0"}, {4, 1, "4:1:1"}};
  const cv::Size sizes[] = {{1, 1}, {7, 5}, {17, 33}, {64, 64}, {480, 360}, {361, 479}};
  int n = 0;
  for (const Mode& m : modes) {
    for (const cv::Size& s : sizes) {
      for (const bool progressive : {false, true}) {
        const cv::Mat pic = Picture(s.width, s.height, ++n);
        const std::string what = std::string(m.name) + " " + std::to_string(s.width) + "x" +
                                 std::to_string(s.height) + (progressive ? " progressive" : "");
        ExpectSameBytes(Encode(pic, m.h, m.v, progressive, 0, 85), what);
      }
    }
  }
  // Restart markers, extreme qualities, an RGB (not YCbCr) JPEG.
  const cv::Mat pic = Picture(200, 150, 99);
  ExpectSameBytes(Encode(pic, 2, 2, false, 1, 90), "restart every MCU row");
  ExpectSameBytes(Encode(pic, 2, 2, false, 0, 1), "quality 1");
  ExpectSameBytes(Encode(pic, 1, 1, false, 0, 100), "quality 100");
  ExpectSameBytes(Encode(pic, 1, 1, false, 0, 90, JCS_RGB), "RGB colour space");
  // What the C++ client sends: OpenCV's own encoder.
  std::vector<std::uint8_t> cv_jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", Picture(480, 480, 7), cv_jpeg, {cv::IMWRITE_JPEG_QUALITY, 90}));
  ExpectSameBytes(cv_jpeg, "cv::imencode quality 90");
}

TEST(JpegDecodeTest, SameBytesAsOpenCvOnTheSharedDataPhotos) {
  LG_REQUIRE_TEST_DATA("1_face_identity");
  int checked = 0, taken = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(testing::TestDataDir())) {
    const std::string ext = e.path().extension().string();
    if (!e.is_regular_file() || (ext != ".jpg" && ext != ".jpeg" && ext != ".JPG")) continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Only JPEG data (some .jpg files of the data set are WebP).
    if (bytes.size() < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8) continue;
    const cv::Mat want = OpenCvDecode(bytes);
    if (want.type() != CV_8UC3) continue;  // grey or CMYK: OpenCV's
    ++checked;
    const std::optional<cv::Mat> got = DecodeCommonJpegToBgr(bytes, kNoLimit);
    if (!got) {
      ADD_FAILURE() << e.path() << ": a colour JPEG the direct path left to OpenCV";
      continue;
    }
    ++taken;
    ASSERT_EQ(got->size(), want.size()) << e.path();
    EXPECT_EQ(cv::norm(*got, want, cv::NORM_INF), 0.0) << e.path();
  }
  std::printf("%d colour JPEGs: %d the same bytes as cv::imdecode\n", checked, taken);
  EXPECT_GE(checked, 50) << "fewer JPEG files than expected under " << testing::TestDataDir();
  EXPECT_EQ(taken, checked) << "colour JPEGs the direct path left to OpenCV";
}

TEST(JpegDecodeTest, FilesItDoesNotTakeKeepTheirOpenCvOutcome) {
  const cv::Mat pic = Picture(64, 48, 3);
  // Grayscale: left to OpenCV; DecodeImage still gives 3-channel BGR.
  cv::Mat grey;
  cv::cvtColor(pic, grey, cv::COLOR_BGR2GRAY);
  std::vector<std::uint8_t> g;
  ASSERT_TRUE(cv::imencode(".jpg", grey, g));
  EXPECT_FALSE(DecodeCommonJpegToBgr(g, kNoLimit).has_value());
  auto decoded = DecodeImage(g);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->type(), CV_8UC3);

  // Corrupt entropy data (libjpeg warns and carries on): not taken.
  std::vector<std::uint8_t> jpeg = Encode(pic, 2, 2, false, 0, 90);
  std::vector<std::uint8_t> corrupt = jpeg;
  for (std::size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 40; ++i) corrupt[i] = 0xFF;
  EXPECT_FALSE(DecodeCommonJpegToBgr(corrupt, kNoLimit).has_value());
  // Garbage after the SOI marker: a fatal libjpeg error, caught.
  std::vector<std::uint8_t> garbage = {0xFF, 0xD8, 0xFF, 0x00, 0x12, 0x34};
  EXPECT_FALSE(DecodeCommonJpegToBgr(garbage, kNoLimit).has_value());
  EXPECT_FALSE(DecodeCommonJpegToBgr({}, kNoLimit).has_value());
  // Over the pixel limit: nothing decoded (DecodeImage refused it on the header already).
  EXPECT_FALSE(DecodeCommonJpegToBgr(jpeg, 64 * 48 - 1).has_value());
  EXPECT_TRUE(DecodeCommonJpegToBgr(jpeg, 64 * 48).has_value());
}

TEST(JpegDecodeTest, DecodeImageAppliesExifOrientationOnTheDirectPath) {
  // An EXIF APP1 with orientation 6 (rotate 90° clockwise) spliced after SOI.
  const cv::Mat pic = Picture(40, 20, 5);
  std::vector<std::uint8_t> jpeg = Encode(pic, 2, 2, false, 0, 95);
  const std::vector<std::uint8_t> app1 = {
      0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,                 // APP1, length 34
      'M', 'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,                    // TIFF header, IFD at 8
      0x00, 0x01,                                                      // one entry
      0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00,  // Orientation = 6
      0x00, 0x00, 0x00, 0x00};                                          // no next IFD
  jpeg.insert(jpeg.begin() + 2, app1.begin(), app1.end());
  ASSERT_TRUE(DecodeCommonJpegToBgr(jpeg, kNoLimit).has_value());
  auto decoded = DecodeImage(jpeg);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->cols, 20);
  EXPECT_EQ(decoded->rows, 40);
  cv::Mat rotated;
  cv::rotate(OpenCvDecode(jpeg), rotated, cv::ROTATE_90_CLOCKWISE);
  EXPECT_EQ(cv::norm(*decoded, rotated, cv::NORM_INF), 0.0);
}

}  // namespace
}  // namespace livegate::vision
