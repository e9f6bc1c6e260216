// A direct libjpeg-turbo decode of the common JPEG (8-bit, three components,
// YCbCr or RGB) straight into BGR (issue 16, cost per authentication).
// OpenCV 4.6's decoder asks libjpeg for RGB and swaps every pixel to BGR in
// a byte-by-byte loop: two thirds of a 480-px client frame's decoding time
// (perf of the capture-rate authentication). libjpeg-turbo writes BGR
// itself (JCS_EXT_BGR) with the same IDCT, upsampling and colour
// arithmetic, so the pixels are the same bytes (tests/vision
// jpeg_decode_test compares them with cv::imdecode).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include <opencv2/core/mat.hpp>

namespace livegate::vision {

// The decoded image, or nullopt when this path does not take the file
// (grayscale, CMYK, 12-bit, or anything libjpeg errors or warns about:
// corrupt or cut data, more than `max_pixels`) - the caller then decodes
// with OpenCV as before, which gives such files their usual result or
// reason. Nothing is allocated for the pixels before their count is known
// to be within `max_pixels`.
std::optional<cv::Mat> DecodeCommonJpegToBgr(std::span<const std::uint8_t> bytes, std::uint64_t max_pixels);

}  // namespace livegate::vision
