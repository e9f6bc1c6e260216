// Makes the fake camera's video for the browser tests: frames [start, end)
// of a clip from the shared test data as an uncompressed YUV4MPEG2 (4:2:0)
// file — the only format Chromium's --use-file-for-fake-video-capture reads
// besides MJPEG. Scaled down (aspect kept, even sizes) to at most MAX_WIDTH.
// Usage: livegate_make_y4m IN OUT START END [MAX_WIDTH=640]
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: livegate_make_y4m IN OUT START END [MAX_WIDTH]\n";
    return 2;
  }
  const int start = std::stoi(argv[3]), end = std::stoi(argv[4]);
  const int max_width = argc > 5 ? std::stoi(argv[5]) : 640;
  cv::VideoCapture in(argv[1]);
  if (!in.isOpened()) {
    std::cerr << "cannot open " << argv[1] << "\n";
    return 1;
  }
  double fps = in.get(cv::CAP_PROP_FPS);
  if (!(fps > 1 && fps < 121)) fps = 30;
  std::ofstream out(argv[2], std::ios::binary);
  cv::Mat frame, scaled, yuv;
  int index = 0, written = 0, w = 0, h = 0;
  while (index < end && in.read(frame)) {
    if (index++ < start) continue;
    if (w == 0) {
      const double s = std::min(1.0, double(max_width) / frame.cols);
      w = static_cast<int>(frame.cols * s) & ~1;
      h = static_cast<int>(frame.rows * s) & ~1;
      // Frame rate as a ratio of integers (29.97 -> 30000:1001).
      out << "YUV4MPEG2 W" << w << " H" << h << " F" << static_cast<long>(fps * 1000 + 0.5) << ":1000 Ip A1:1 C420jpeg\n";
    }
    cv::resize(frame, scaled, cv::Size(w, h), 0, 0, cv::INTER_AREA);
    cv::cvtColor(scaled, yuv, cv::COLOR_BGR2YUV_I420);
    out << "FRAME\n";
    out.write(reinterpret_cast<const char*>(yuv.data), static_cast<std::streamsize>(yuv.total() * yuv.elemSize()));
    ++written;
  }
  if (!out || written == 0) {
    std::cerr << "no frame written (" << argv[1] << " has " << index << " frames)\n";
    return 1;
  }
  std::cout << "wrote " << written << " frames " << w << "x" << h << " at " << fps << " fps to " << argv[2] << "\n";
  return 0;
}
