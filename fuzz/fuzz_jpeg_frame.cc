// The server's decoding of a capture frame (JPEG only, as the capture step
// allows): the header checks, the direct libjpeg-turbo path and OpenCV's
// decoder behind it never crash, and whatever the direct path decodes is
// byte for byte what cv::imdecode gives (a differential check of
// vision/jpeg_decode.h on arbitrary input).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "vision/image_io.h"
#include "vision/jpeg_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool once = [] {
    cv::setNumThreads(1);
    return true;
  }();
  (void)once;
  const std::span<const std::uint8_t> bytes(data, size);
  livegate::vision::ImageLimits limits;
  limits.formats = livegate::vision::kImageJpeg;
  limits.max_pixels = 1u << 20;  // as the server's frame limit: no huge allocations
  (void)livegate::vision::DecodeImage(bytes, limits);

  if (size == 0) return 0;
  const auto direct = livegate::vision::DecodeCommonJpegToBgr(bytes, 1u << 20);
  if (!direct) return 0;
  const cv::Mat want = cv::imdecode(cv::Mat(1, static_cast<int>(size), CV_8U, const_cast<std::uint8_t*>(data)),
                                    cv::IMREAD_UNCHANGED);
  if (want.empty() || want.size() != direct->size() || want.type() != direct->type() ||
      cv::norm(want, *direct, cv::NORM_INF) != 0.0) {
    std::abort();  // the direct path took a file and decoded it otherwise than OpenCV
  }
  return 0;
}
