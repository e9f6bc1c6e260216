// See jpeg_decode.h.
#include "vision/jpeg_decode.h"

#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <vector>

#include <jpeglib.h>

namespace livegate::vision {
namespace {

// libjpeg reports a fatal error by calling error_exit, which must not
// return: it jumps back to the setjmp of the phase that was running.
// Warnings (corrupt data libjpeg carries on through) are counted; a warned
// file is left to OpenCV, so that it keeps exactly its old outcome.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
};

void OnError(j_common_ptr cinfo) {
  std::longjmp(reinterpret_cast<ErrorManager*>(cinfo->err)->jump, 1);
}

void OnMessage(j_common_ptr cinfo, int level) {
  if (level < 0) ++cinfo->err->num_warnings;  // trace messages (level >= 0) are ignored
}

// Only plain C state lives between setjmp and longjmp: the C++ objects (the
// output image) are made by the caller between the two phases.
struct Decoder {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  bool created = false;
  ~Decoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// Phase 1: header; true when the file is one this path decodes.
bool ReadHeader(Decoder& d, std::span<const std::uint8_t> bytes) {
  d.cinfo.err = jpeg_std_error(&d.err.pub);
  d.err.pub.error_exit = OnError;
  d.err.pub.emit_message = OnMessage;
  if (setjmp(d.err.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  d.created = true;
  jpeg_mem_src(&d.cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  if (jpeg_read_header(&d.cinfo, TRUE) != JPEG_HEADER_OK) return false;
  if (d.cinfo.num_components != 3 || d.cinfo.data_precision != 8 ||
      (d.cinfo.jpeg_color_space != JCS_YCbCr && d.cinfo.jpeg_color_space != JCS_RGB)) {
    return false;
  }
  d.cinfo.out_color_space = JCS_EXT_BGR;
  jpeg_calc_output_dimensions(&d.cinfo);  // the size, before anything is decoded or allocated
  return d.cinfo.output_components == 3 && d.err.pub.num_warnings == 0;
}

// Phase 2: the rows, straight into `rows` (output_height of them).
bool ReadRows(Decoder& d, std::uint8_t** rows) {
  if (setjmp(d.err.jump)) return false;
  if (!jpeg_start_decompress(&d.cinfo)) return false;
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    if (jpeg_read_scanlines(&d.cinfo, rows + d.cinfo.output_scanline,
                            d.cinfo.output_height - d.cinfo.output_scanline) == 0) {
      return false;  // suspended: cannot happen with a memory source, but never loop
    }
  }
  jpeg_finish_decompress(&d.cinfo);
  return d.err.pub.num_warnings == 0;
}

}  // namespace

std::optional<cv::Mat> DecodeCommonJpegToBgr(std::span<const std::uint8_t> bytes, std::uint64_t max_pixels) {
  if (bytes.empty()) return std::nullopt;
  Decoder d;  // setjmp lives in ReadHeader and ReadRows, which take it by reference
  if (!ReadHeader(d, bytes)) return std::nullopt;
  if (std::uint64_t{d.cinfo.output_width} * d.cinfo.output_height > max_pixels) return std::nullopt;
  cv::Mat out(static_cast<int>(d.cinfo.output_height), static_cast<int>(d.cinfo.output_width), CV_8UC3);
  std::vector<std::uint8_t*> rows(static_cast<std::size_t>(out.rows));
  for (int y = 0; y < out.rows; ++y) rows[static_cast<std::size_t>(y)] = out.ptr<std::uint8_t>(y);
  if (!ReadRows(d, rows.data())) return std::nullopt;
  return out;
}

}  // namespace livegate::vision
