// Makes the golden-test inputs (raw 8-bit RGB, row-major HWC, no header) from
// Debian's dlib example images, so that our C++ and the node reference read
// identical bytes. Build and run (see tools/golden/README.md):
//   g++ -std=c++17 -O1 make_inputs.cc -o /tmp/make_inputs $(pkg-config --cflags --libs opencv4)
//   /tmp/make_inputs /usr/share/doc/libdlib19.1/examples tests/vision/golden
#include <cstdio>
#include <fstream>
#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace {

void Save(const cv::Mat& bgr, int size, const std::string& path) {
  cv::Mat resized, rgb;
  cv::resize(bgr, resized, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  cv::cvtColor(resized, rgb, cv::COLOR_BGR2RGB);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(rgb.data), static_cast<std::streamsize>(rgb.total() * 3));
  std::printf("%s %dx%d\n", path.c_str(), size, size);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_inputs DLIB_EXAMPLES_DIR OUT_DIR\n");
    return 2;
  }
  const std::string ex = argv[1], out = argv[2];
  // 2008_001009.jpg (360x480): face box left 125 top 214 90x91 in dlib's
  // training_with_face_landmarks.xml; right eye = parts 36..41 around (150,240).
  cv::Mat img = cv::imread(ex + "/faces/2008_001009.jpg");
  if (img.empty()) return 1;
  cv::Mat square(480, 480, CV_8UC3, cv::Scalar(0, 0, 0));  // letterbox, pad right
  img.copyTo(square(cv::Rect(0, 0, img.cols, img.rows)));
  Save(square, 256, out + "/blazeface_input.rgb");
  Save(square, 128, out + "/blazeface_front_input.rgb");  // the front (short-range) BlazeFace's input
  Save(img(cv::Rect(102, 192, 135, 135)), 192, out + "/facemesh_input.rgb");  // box x1.5
  Save(img(cv::Rect(136, 226, 28, 28)), 64, out + "/iris_input.rgb");         // eye x2.3
  Save(img(cv::Rect(125, 214, 90, 90)), 128, out + "/antispoof_input.rgb");
  Save(img(cv::Rect(125, 214, 90, 90)), 32, out + "/liveness_input.rgb");
  // dlib-aligned 150x150 chips of two different people.
  Save(cv::imread(ex + "/johns/John_Salley/000179_02159509.jpg"), 150, out + "/descriptor_input_a.rgb");
  Save(cv::imread(ex + "/johns/John_Savage/000264_01099001.jpg"), 150, out + "/descriptor_input_b.rgb");
  return 0;
}
