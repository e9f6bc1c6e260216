#include "hostile_images.h"

#include <zlib.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

namespace livegate::load {
namespace {

struct Segment {
  std::size_t begin, end;  // [begin, end): marker, its segment and (for SOS) the entropy data
  std::uint8_t marker;
};

// Splits a JPEG into marker segments; a scan's segment runs to the next
// marker that is not a stuffed FF 00 or a restart marker.
Result<std::vector<Segment>> SplitJpeg(const std::vector<std::uint8_t>& b) {
  std::vector<Segment> out;
  std::size_t pos = 2;
  while (pos + 1 < b.size()) {
    if (b[pos] != 0xFF) return Status::Internal("hostile.bad_jpeg", "expected a marker");
    const std::uint8_t m = b[pos + 1];
    const std::size_t begin = pos;
    if (m == 0xD9) {
      out.push_back({begin, pos + 2, m});
      return out;
    }
    const std::size_t len = (std::size_t{b[pos + 2]} << 8) | b[pos + 3];
    pos += 2 + len;
    if (m == 0xDA) {
      while (pos + 1 < b.size() && !(b[pos] == 0xFF && b[pos + 1] != 0x00 && (b[pos + 1] < 0xD0 || b[pos + 1] > 0xD7))) ++pos;
    }
    out.push_back({begin, pos, m});
  }
  return Status::Internal("hostile.bad_jpeg", "no end of image");
}

std::uint32_t Crc(const std::uint8_t* type_and_data, std::size_t n) {
  return static_cast<std::uint32_t>(crc32(0, type_and_data, static_cast<uInt>(n)));
}
void Be32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}
void Chunk(std::vector<std::uint8_t>& png, const char* type, const std::vector<std::uint8_t>& data) {
  Be32(png, static_cast<std::uint32_t>(data.size()));
  std::vector<std::uint8_t> td(type, type + 4);
  td.insert(td.end(), data.begin(), data.end());
  png.insert(png.end(), td.begin(), td.end());
  Be32(png, Crc(td.data(), td.size()));
}

}  // namespace

Result<JpegBomb> ProgressiveJpegBomb(int side, std::size_t max_bytes) {
  // A flat image: its AC scans are a single end-of-band run each, a few
  // bytes, yet the decoder visits every block for each of them.
  cv::Mat img(side, side, CV_8UC3, cv::Scalar(90, 120, 160));
  std::vector<std::uint8_t> base;
  if (!cv::imencode(".jpg", img, base,
                    {cv::IMWRITE_JPEG_QUALITY, 20, cv::IMWRITE_JPEG_PROGRESSIVE, 1, cv::IMWRITE_JPEG_OPTIMIZE, 1})) {
    return Status::Internal("hostile.encode", "cannot encode the base progressive JPEG");
  }
  LG_ASSIGN_OR_RETURN(auto segs, SplitJpeg(base));
  // The smallest AC scan (Ss > 0) of the first (luma, full-resolution)
  // component, with the Huffman tables defined right before it (optimised
  // tables are emitted per scan).
  int luma = -1;  // id of the frame's first component (SOF: FF Cn len P Y X Nf C1 ...)
  for (const auto& s : segs) {
    if (s.marker >= 0xC0 && s.marker <= 0xCF && s.marker != 0xC4 && s.marker != 0xC8 && s.marker != 0xCC) {
      luma = base[s.begin + 10];
      break;
    }
  }
  std::size_t last_sos = segs.size(), first = 0, best = SIZE_MAX;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].marker != 0xDA) continue;
    const std::size_t p = segs[i].begin;
    const int ns = base[p + 4];
    const int component = base[p + 5];
    const int ss = base[p + 5 + 2 * ns];
    std::size_t f = i;
    while (f > 0 && segs[f - 1].marker == 0xC4) --f;
    const std::size_t size = segs[i].end - segs[f].begin;
    if (ns == 1 && ss > 0 && component == luma && size < best) {
      best = size;
      last_sos = i;
      first = f;
    }
  }
  if (last_sos == segs.size()) return Status::Internal("hostile.bad_jpeg", "no AC scan of the first component");
  const std::vector<std::uint8_t> unit(base.begin() + static_cast<std::ptrdiff_t>(segs[first].begin),
                                       base.begin() + static_cast<std::ptrdiff_t>(segs[last_sos].end));
  const std::size_t eoi = segs.back().begin;
  int scans = 0;
  for (const auto& s : segs) scans += s.marker == 0xDA;
  JpegBomb bomb;
  bomb.bytes.assign(base.begin(), base.begin() + static_cast<std::ptrdiff_t>(eoi));
  while (bomb.bytes.size() + unit.size() + 2 <= max_bytes) {
    bomb.bytes.insert(bomb.bytes.end(), unit.begin(), unit.end());
    ++scans;
  }
  bomb.bytes.push_back(0xFF);
  bomb.bytes.push_back(0xD9);
  bomb.scans = scans;
  return bomb;
}

Result<std::vector<std::uint8_t>> HugeBlankPng(std::uint32_t width, std::uint32_t height) {
  // 1-bit grayscale rows, each with filter byte 0, all pixels 0.
  const std::size_t row = 1 + (std::size_t{width} + 7) / 8;
  z_stream z{};
  if (deflateInit(&z, 9) != Z_OK) return Status::Internal("hostile.zlib", "deflateInit");
  std::vector<std::uint8_t> zeros(row, 0), idat(1 << 16);
  std::vector<std::uint8_t> compressed;
  for (std::uint32_t y = 0; y <= height; ++y) {
    const bool last = y == height;
    z.next_in = last ? nullptr : zeros.data();
    z.avail_in = last ? 0 : static_cast<uInt>(row);
    do {
      z.next_out = idat.data();
      z.avail_out = static_cast<uInt>(idat.size());
      deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      compressed.insert(compressed.end(), idat.data(), idat.data() + (idat.size() - z.avail_out));
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  std::vector<std::uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  Be32(ihdr, width);
  Be32(ihdr, height);
  ihdr.insert(ihdr.end(), {1, 0, 0, 0, 0});  // bit depth 1, grayscale, deflate, filter 0, no interlace
  Chunk(png, "IHDR", ihdr);
  Chunk(png, "IDAT", compressed);
  Chunk(png, "IEND", {});
  return png;
}

}  // namespace livegate::load
