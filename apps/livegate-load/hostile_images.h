// Hostile capture frames for the reliability campaign (docs/RELIABILITY.md
// "Hostile images"), crafted at run time, never stored:
//  - a progressive-JPEG CPU bomb: a valid progressive JPEG whose last AC
//    scan is repeated until the file fills `max_bytes`. Each repeated scan
//    is tiny (an end-of-band run covers every block) but makes the decoder
//    walk every block again, so decoding costs (number of scans) x (blocks):
//    thousands of scans in a file that passes every size and pixel limit.
//  - a decompression-bomb PNG: a real, decodable 1-bit grayscale PNG of
//    width x height pixels (all zero, so it deflates to almost nothing).
#pragma once

#include <cstdint>
#include <vector>

#include "livegate/status.h"

namespace livegate::load {

struct JpegBomb {
  std::vector<std::uint8_t> bytes;
  int scans = 0;  // scans in the file (the original ones + the copies)
};
// side x side pixels, at most max_bytes.
Result<JpegBomb> ProgressiveJpegBomb(int side, std::size_t max_bytes);

Result<std::vector<std::uint8_t>> HugeBlankPng(std::uint32_t width, std::uint32_t height);

}  // namespace livegate::load
