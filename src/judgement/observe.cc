// Per-frame observations: the face analysis engine's measurements plus the
// image statistics the quality (ISO/IEC 29794-5 names) and replay
// (R-ASD-4 passive screen cues) checks need. Frames are read, never kept.
#include <algorithm>
#include <cmath>
#include <span>

#include <opencv2/imgproc.hpp>

#include "judgement/capture_rate.h"
#include "judgement/judgement.h"
#include "judgement/measures.h"
#include "vision/iris_eyes.h"
#include "vision/face_measures.h"

namespace livegate::judgement {

// Rigid-ish FaceMesh points (MediaPipe indices): nose ridge and tip, brow
// line, forehead, cheeks, face contour, chin, eye corners. Eyelids and lips
// are left out so blinks and mouth opening do not look like parallax.
const std::vector<int>& RigidMeshIndices() {
  static const std::vector<int> k = {1,   4,   5,   6,   168, 197, 195, 98,  327, 129, 358,
                                     10,  151, 9,   108, 337, 67,  297, 54,  284, 21,  251,
                                     127, 356, 234, 454, 93,  323, 132, 361, 58,  288, 172,
                                     397, 136, 365, 150, 379, 152, 148, 377, 33,  133, 362,
                                     263, 70,  300, 105, 334, 50,  280, 205, 425};
  return k;
}

namespace {

cv::Rect ClampRect(const cv::Rect2f& r, const cv::Size& size) {
  cv::Rect i(cvFloor(r.x), cvFloor(r.y), cvCeil(r.width), cvCeil(r.height));
  return i & cv::Rect(0, 0, size.width, size.height);
}

float OutsideFraction(const cv::Rect2f& box, const cv::Size& size) {
  const float area = box.area();
  if (area <= 0) return 1.0f;
  const cv::Rect2f inside = box & cv::Rect2f(0, 0, float(size.width), float(size.height));
  return std::clamp(1.0f - inside.area() / area, 0.0f, 1.0f);
}

// True when spectral bin `f` (cycles per `side` pixels, side a multiple of
// 8) lies within one bin of a multiple of side/8: a JPEG block frequency.
bool OnJpegGrid(int f, int side) {
  const int g = side / 8;
  const int r = ((f % g) + g) % g;
  if (g < 6) return r == 0;  // small patches: the exact bins only
  return r <= 1 || r >= g - 1;
}

}  // namespace

cv::Mat PatchMagnitudeSpectrum(const cv::Mat& grey_patch) {
  cv::Mat f;
  grey_patch.convertTo(f, CV_32F);
  cv::Scalar m = cv::mean(f);
  f -= m[0];
  // Hann window against edge leakage.
  cv::Mat win;
  cv::createHanningWindow(win, f.size(), CV_32F);
  f = f.mul(win);
  cv::Mat spec;
  cv::dft(f, spec, cv::DFT_COMPLEX_OUTPUT);
  cv::Mat mag(f.rows, f.cols, CV_32F);
  for (int y = 0; y < f.rows; ++y) {
    for (int x = 0; x < f.cols; ++x) {
      const cv::Vec2f c = spec.at<cv::Vec2f>(y, x);
      mag.at<float>(y, x) = std::sqrt(c[0] * c[0] + c[1] * c[1]);
    }
  }
  return mag;
}

float MoirePeak(const cv::Mat& grey_patch) {
  const int side = grey_patch.cols;
  // For each band bin its height over the mean of its 7x7 spectral
  // neighbourhood (centre 3x3 left out: the window spreads a line over +-1
  // bin). A screen's pixel grid beating with the camera's gives a narrow
  // line; faces, blur, resampling and up-scaled (soft) video give smooth
  // spectra, whose level is judged locally rather than against the whole
  // band (a soft frame has an empty top band, against which any
  // mid-frequency texture stood out).
  const cv::Mat mag = PatchMagnitudeSpectrum(grey_patch);
  // Box sums on the periodic spectrum through an integral image.
  cv::Mat wrapped, sums;
  cv::copyMakeBorder(mag, wrapped, 3, 3, 3, 3, cv::BORDER_WRAP);
  cv::integral(wrapped, sums, CV_64F);
  auto box = [&](int y, int x, int r) {  // sum over [y-r, y+r] x [x-r, x+r] of mag
    const int y0 = y + 3 - r, x0 = x + 3 - r, y1 = y + 3 + r + 1, x1 = x + 3 + r + 1;
    return sums.at<double>(y1, x1) - sums.at<double>(y0, x1) - sums.at<double>(y1, x0) + sums.at<double>(y0, x0);
  };
  float best = 0;
  const int h = side / 2;
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      const int fy = y < h ? y : y - side, fx = x < h ? x : x - side;
      const float rad = std::sqrt(float(fx * fx + fy * fy)) / h;
      if (rad < 0.35f || rad > 1.0f) continue;
      if (OnJpegGrid(fx, side) && OnJpegGrid(fy, side)) continue;
      const double ring = (box(y, x, 3) - box(y, x, 1)) / 40.0;
      best = std::max(best, float(mag.at<float>(y, x) / std::max(ring, 1e-3)));
    }
  }
  return std::log1p(best);
}

namespace {

// The main face follows the person authenticating: the face overlapping the
// previous main face most (IoU >= 0.3), else the largest. A bystander who
// comes closer does not take over the measures; a real change of person is
// the identity and motion checks' job.
int MainFace(const std::vector<vision::FaceAnalysis>& faces, const cv::Rect2f& prev) {
  int best = -1;
  float best_iou = 0.3f;
  if (prev.area() > 0) {
    for (std::size_t k = 0; k < faces.size(); ++k) {
      if (faces[k].tiny) continue;
      const float inter = (faces[k].box & prev).area();
      const float iou = inter / std::max(1e-3f, faces[k].box.area() + prev.area() - inter);
      if (iou >= best_iou) best_iou = iou, best = int(k);
    }
  }
  return best >= 0 ? best : 0;
}

}  // namespace

Result<vision::IrisModel*> ThreadIrisModel(const std::filesystem::path& model_dir) {
  thread_local std::filesystem::path loaded_dir;
  thread_local std::unique_ptr<vision::IrisModel> model;
  if (!model || loaded_dir != model_dir) {
    model.reset();
    LG_ASSIGN_OR_RETURN(model, vision::IrisModel::Load(model_dir));
    loaded_dir = model_dir;
  }
  return model.get();
}

void MeasureFaceImage(const cv::Mat& bgr, const cv::Mat& grey, const cv::Rect2f& box,
                      FrameObservation& o, bool with_border) {
  const cv::Rect face = ClampRect(box, bgr.size());
  if (face.width < 8 || face.height < 8) return;
  const cv::Mat face_grey = grey(face);

  // Sharpness: variance of the Laplacian on a 128-px-wide copy (scale-free).
  cv::Mat small;
  const double scale = 128.0 / face.width;
  cv::resize(face_grey, small, cv::Size(128, std::max(8, int(std::lround(face.height * scale)))), 0, 0,
             scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  cv::Mat lap;
  cv::Laplacian(small, lap, CV_32F, 3);
  cv::Scalar mu, sd;
  cv::meanStdDev(lap, mu, sd);
  o.sharpness = float(sd[0] * sd[0]);

  // Exposure over the face.
  cv::meanStdDev(small, mu, sd);
  o.mean_luma = float(mu[0]);
  const double n = double(small.total());
  o.underexposed = float(cv::countNonZero(small <= 15) / n);
  o.overexposed = float(cv::countNonZero(small >= 245) / n);
  // Illumination uniformity: left vs right half luma (ISO/IEC 29794-5).
  const cv::Mat left = small(cv::Rect(0, 0, small.cols / 2, small.rows));
  const cv::Mat right = small(cv::Rect(small.cols / 2, 0, small.cols - small.cols / 2, small.rows));
  const double l = cv::mean(left)[0], r = cv::mean(right)[0];
  o.illumination_uniformity = (l + r) > 1 ? float(1.0 - std::abs(l - r) / (l + r)) : 0.0f;
  // Glare: small saturated specular spots on the central face.
  const cv::Rect centre(small.cols / 4, small.rows / 4, small.cols / 2, small.rows / 2);
  o.glare = float(cv::countNonZero(small(centre) >= 250) / double(centre.area()));

  // Compression: 8x8 block-boundary gradient energy vs elsewhere, on the
  // native-resolution grid (JPEG blocks are aligned to the image origin).
  {
    double on = 0, off = 0;
    int n_on = 0, n_off = 0;
    for (int y = face.y; y < face.y + face.height; y += 2) {
      const std::uint8_t* row = grey.ptr<std::uint8_t>(y);
      for (int x = std::max(1, face.x); x < face.x + face.width; ++x) {
        const int d = std::abs(int(row[x]) - int(row[x - 1]));
        if (x % 8 == 0) {
          on += d;
          ++n_on;
        } else {
          off += d;
          ++n_off;
        }
      }
    }
    o.blockiness = (n_on > 0 && n_off > 0 && off > 0) ? float((on / n_on) / (off / n_off)) : 1.0f;
  }

  // Colour of the face centre and of a ring around the face (colour
  // response to the screen light, R-ASD-4).
  {
    cv::Rect2f c(box.x + box.width * 0.25f, box.y + box.height * 0.3f, box.width * 0.5f, box.height * 0.45f);
    const cv::Rect ci = ClampRect(c, bgr.size());
    if (ci.area() > 0) {
      const cv::Scalar m = cv::mean(bgr(ci));
      o.face_b = float(m[0]), o.face_g = float(m[1]), o.face_r = float(m[2]);
    }
    cv::Rect2f ring(box.x - box.width * 0.4f, box.y - box.height * 0.3f, box.width * 1.8f, box.height * 1.6f);
    const cv::Rect ri = ClampRect(ring, bgr.size());
    const cv::Rect fi = ClampRect(box, bgr.size());
    if (ri.area() > fi.area()) {
      // Ring minus face, summed over the four strips around the face when
      // the face lies inside the ring (always, but for slivers): the face's
      // pixels are then read zero times instead of twice. 8-bit sums are
      // exact integers either way, so the colour is bit-identical.
      cv::Scalar sum_ring;
      if ((ri & fi) == fi) {
        const cv::Rect strips[4] = {
            {ri.x, ri.y, ri.width, fi.y - ri.y},                                    // above
            {ri.x, fi.y + fi.height, ri.width, ri.y + ri.height - fi.y - fi.height},  // below
            {ri.x, fi.y, fi.x - ri.x, fi.height},                                   // left
            {fi.x + fi.width, fi.y, ri.x + ri.width - fi.x - fi.width, fi.height}};  // right
        for (const cv::Rect& r : strips) {
          if (r.area() > 0) sum_ring += cv::sum(bgr(r));
        }
      } else {
        sum_ring = cv::sum(bgr(ri)) - cv::sum(bgr(fi));
      }
      const double cnt = double(ri.area() - fi.area());
      o.bg_b = float(sum_ring[0] / cnt), o.bg_g = float(sum_ring[1] / cnt), o.bg_r = float(sum_ring[2] / cnt);
    }
  }

  // Moiré: the strongest isolated peak of the high-frequency spectrum of
  // a native-resolution patch (cheek/nose), relative to the band's median.
  // JPEG's 8x8 blocks (the client sends JPEG frames, decision 11.4) put
  // peaks at multiples of 1/8 cycle/pixel whatever the content: with a
  // patch side that is a multiple of 8 those fall on known bins, which are
  // left out (with their neighbours, for the window's leakage).
  {
    const int side = std::min({64, face.width / 8 * 8, face.height / 8 * 8});
    if (side >= 32) {
      const cv::Rect patch(face.x + (face.width - side) / 2, face.y + (face.height - side) / 2, side, side);
      o.moire = MoirePeak(grey(patch));
    }
  }

  // Border: long straight edges around (not inside) the face, as the frame
  // of a phone, a screen or a sheet of paper makes. 0..1 = sides found / 4.
  // The costliest measure (Canny + Hough, ~1.5 ms): callers may skip it on
  // some frames (-1 = not measured).
  o.border = with_border ? 0.0f : -1.0f;
  if (with_border) {
    cv::Rect2f around(box.x - box.width * 0.9f, box.y - box.height * 0.9f, box.width * 2.8f, box.height * 2.8f);
    const cv::Rect ai = ClampRect(around, bgr.size());
    if (ai.area() > face.area()) {
      cv::Mat region = grey(ai), scaled;
      const double s = std::min(1.0, 256.0 / std::max(ai.width, ai.height));
      cv::resize(region, scaled, cv::Size(), s, s, cv::INTER_AREA);
      cv::Mat edges;
      cv::Canny(scaled, edges, 60, 150);
      std::vector<cv::Vec4i> lines;
      const double min_len = 0.8 * std::min(box.width, box.height) * s;
      cv::HoughLinesP(edges, lines, 1, CV_PI / 180, 40, min_len, 4);
      const float fx0 = float((face.x - ai.x) * s), fy0 = float((face.y - ai.y) * s);
      const float fx1 = fx0 + float(face.width * s), fy1 = fy0 + float(face.height * s);
      bool side_found[4] = {false, false, false, false};  // left, right, top, bottom
      // The edge nearest the face on each side, back in image pixels.
      auto keep_nearest = [&](int side, float pos_scaled, float face_edge_scaled) {
        const float pos = float(side < 2 ? ai.x : ai.y) + pos_scaled / float(s);
        float& e = o.border_edge[std::size_t(side)];
        const float face_edge = float(side < 2 ? ai.x : ai.y) + face_edge_scaled / float(s);
        if (e < 0 || std::abs(pos - face_edge) < std::abs(e - face_edge)) e = pos;
      };
      for (const auto& L : lines) {
        const float dx = float(L[2] - L[0]), dy = float(L[3] - L[1]);
        const float mx = (L[0] + L[2]) * 0.5f, my = (L[1] + L[3]) * 0.5f;
        const bool vertical = std::abs(dx) < 0.25f * std::abs(dy);
        const bool horizontal = std::abs(dy) < 0.25f * std::abs(dx);
        // Lines must span the face's extent, not merely touch the image edge.
        const float margin = 2.0f;
        if (vertical && my > fy0 && my < fy1 && mx > margin && mx < scaled.cols - margin) {
          if (mx < fx0) side_found[0] = true, keep_nearest(0, mx, fx0);
          if (mx > fx1) side_found[1] = true, keep_nearest(1, mx, fx1);
        }
        if (horizontal && mx > fx0 && mx < fx1 && my > margin && my < scaled.rows - margin) {
          if (my < fy0) side_found[2] = true, keep_nearest(2, my, fy0);
          if (my > fy1) side_found[3] = true, keep_nearest(3, my, fy1);
        }
      }
      o.border = float(side_found[0] + side_found[1] + side_found[2] + side_found[3]) / 4.0f;
    }
  }
}

FrameObservation ObserveFrame(int index, std::int64_t timestamp_ms, const cv::Mat& bgr,
                              const std::vector<vision::FaceAnalysis>& faces, int main) {
  FrameObservation o;
  o.index = index;
  o.timestamp_ms = timestamp_ms;
  o.image_width = bgr.cols;
  o.image_height = bgr.rows;
  int counted = 0;
  for (const auto& f : faces) counted += f.tiny ? 0 : 1;
  o.face_count = counted;
  if (main < 0 || main >= int(faces.size()) || faces[std::size_t(main)].tiny) return o;
  const vision::FaceAnalysis& f = faces[std::size_t(main)];
  for (std::size_t k = 0; k < faces.size(); ++k) {
    if (int(k) == main || faces[k].tiny) continue;
    o.other_faces.push_back(faces[k].box);
    if (f.box.width > 0) o.second_face_ratio = std::max(o.second_face_ratio, faces[k].box.width / f.box.width);
  }
  o.has_face = true;
  o.box = f.box;
  o.detector_score = f.detector_score;
  o.box_outside_fraction = OutsideFraction(f.box, bgr.size());
  if (f.mesh.size() == 468) {
    o.has_mesh = true;
    o.mesh_confidence = f.mesh_confidence;
    o.pose = f.pose;
    o.left_eye_openness = f.left_eye_openness;
    o.right_eye_openness = f.right_eye_openness;
    o.mouth_openness = f.mouth_openness;
    o.inter_eye_distance = f.inter_eye_distance;
    o.align_points = vision::DlibFivePoints(f.mesh);
    o.landmarks.reserve(RigidMeshIndices().size());
    for (int i : RigidMeshIndices()) o.landmarks.emplace_back(f.mesh[i].x, f.mesh[i].y);
  }
  o.descriptor = f.descriptor;
  o.antispoof_score = f.antispoof_score;
  o.liveness_score = f.liveness_score;
  return o;
}

float NearFaceRatio(const FrameObservation& o, float bystander_gap) {
  if (!o.has_face || o.box.width <= 0) return 0;
  // No positions known (e.g. synthetic observations): every other face is near.
  if (o.other_faces.empty()) return o.face_count > 1 ? o.second_face_ratio : 0.0f;
  float ratio = 0;
  for (const auto& b : o.other_faces) {
    const float dx = std::max({0.0f, b.x - (o.box.x + o.box.width), o.box.x - (b.x + b.width)});
    const float dy = std::max({0.0f, b.y - (o.box.y + o.box.height), o.box.y - (b.y + b.height)});
    if (std::hypot(dx, dy) < bystander_gap * o.box.width) ratio = std::max(ratio, b.width / o.box.width);
  }
  return ratio;
}

// The Iris eye measure (two 64x64 network runs, ~7 ms a frame) only where
// a blink can be decided (issue 4 speed target; cascade rule in measures.h).
IrisPlan PlanIrisCascade(std::span<const float> level, float iris_gate) {
  IrisPlan plan;
  std::vector<int> with_mesh;
  std::vector<float> open;
  for (std::size_t i = 0; i < level.size(); ++i) {
    if (level[i] >= 0) with_mesh.push_back(int(i)), open.push_back(level[i]);
  }
  if (with_mesh.empty()) return plan;
  std::vector<float> sorted = open;
  std::sort(sorted.begin(), sorted.end());
  const float p70 = sorted[std::min(sorted.size() - 1, std::size_t(0.7f * float(sorted.size() - 1) + 0.5f))];
  const float gate = iris_gate * p70;
  // Baseline: the frames whose mesh level is nearest the open level (70th
  // percentile): the neutral the blink rule divides by is read there, so
  // the Iris/mesh ratio is taken where it matters (earlier: every 5th
  // frame, whose ratio at squinting or turned frames moved the neutral).
  std::vector<int> by_distance = with_mesh;
  std::stable_sort(by_distance.begin(), by_distance.end(), [&](int a, int b) {
    return std::abs(level[std::size_t(a)] - p70) < std::abs(level[std::size_t(b)] - p70);
  });
  by_distance.resize(std::min<std::size_t>(by_distance.size(), kIrisBaselineFrames));
  plan.baseline = by_distance;
  std::sort(plan.baseline.begin(), plan.baseline.end());
  std::vector<char> run(level.size(), 0);
  for (int i : plan.baseline) run[std::size_t(i)] = 1;
  // Frames the mesh sees closing. No neighbours: over every 30-frame window
  // of the PAD manifest's sessions that use the Iris (2,498 closed-frame
  // instances by the full measure), each closed frame is below the gate by
  // its own mesh level (docs/PERFORMANCE.md, judgement).
  for (int i : with_mesh) {
    if (level[std::size_t(i)] < gate) run[std::size_t(i)] = 1;
  }
  for (std::size_t i = 0; i < run.size(); ++i) {
    if (run[i]) plan.run.push_back(int(i));
  }
  return plan;
}

std::vector<float> MeshEyeLevels(std::span<const FrameObservation> obs) {
  std::vector<float> level(obs.size(), -1.0f);
  for (std::size_t i = 0; i < obs.size(); ++i) {
    if (obs[i].has_mesh) level[i] = 0.5f * (obs[i].left_eye_openness + obs[i].right_eye_openness);
  }
  return level;
}

void ApplyIrisCascade(const IrisPlan& plan, std::span<const std::array<float, 2>> iris,
                      std::vector<FrameObservation>& obs) {
  auto median = [](std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, std::size_t(0.5f * float(v.size() - 1) + 0.5f))];
  };
  std::vector<float> ratio_right, ratio_left;
  std::vector<char> ran(obs.size(), 0);
  for (std::size_t k = 0; k < plan.run.size() && k < iris.size(); ++k) {
    const std::size_t i = std::size_t(plan.run[k]);
    if (i >= obs.size()) continue;
    FrameObservation& o = obs[i];
    const bool baseline = std::binary_search(plan.baseline.begin(), plan.baseline.end(), int(i));
    if (baseline && o.right_eye_openness > 1e-3f && o.left_eye_openness > 1e-3f) {
      ratio_right.push_back(iris[k][0] / o.right_eye_openness);
      ratio_left.push_back(iris[k][1] / o.left_eye_openness);
    }
    o.right_eye_openness = iris[k][0], o.left_eye_openness = iris[k][1];
    o.eyes_by_iris = true;
    ran[i] = 1;
  }
  const float kr = ratio_right.empty() ? 1.0f : median(ratio_right);
  const float kl = ratio_left.empty() ? 1.0f : median(ratio_left);
  for (std::size_t i = 0; i < obs.size(); ++i) {
    if (!obs[i].has_mesh || ran[i]) continue;
    obs[i].right_eye_openness *= kr, obs[i].left_eye_openness *= kl;
  }
}

namespace {

// The blink rule looks for the reopening up to 1 s past a window
// (liveness.cc FindAction); the closure itself must lie in the window plus
// the slack. The margin keeps the Iris on the reopening frames too.
constexpr std::int64_t kIrisWindowMarginMs = 1000;

// `in_blink_window` (empty: every frame): frames where a closure can count
// for a blink step. Outside them the Iris runs only for the baseline; the
// other frames keep rescaled mesh levels, as the cascade's open frames do
// (issue 16: a realistic challenge has one blink window in three).
Status IrisEyesWhereNeeded(const Capture& capture, const std::vector<std::vector<cv::Point3f>>& meshes,
                           const std::filesystem::path& model_dir, float iris_gate,
                           const std::vector<char>& in_blink_window, std::vector<FrameObservation>& obs) {
  std::vector<float> level = MeshEyeLevels(obs);
  for (std::size_t i = 0; i < level.size(); ++i) {
    if (i >= meshes.size() || meshes[i].empty()) level[i] = -1.0f;
  }
  IrisPlan plan = PlanIrisCascade(level, iris_gate);
  if (!in_blink_window.empty()) {
    std::vector<int> run;
    for (int i : plan.run) {
      if (in_blink_window[std::size_t(i)] || std::binary_search(plan.baseline.begin(), plan.baseline.end(), i)) {
        run.push_back(i);
      }
    }
    plan.run = std::move(run);
  }
  if (plan.run.empty()) return Status::Ok();
  LG_ASSIGN_OR_RETURN(vision::IrisModel * iris, ThreadIrisModel(model_dir));
  std::vector<std::array<float, 2>> eyes;
  eyes.reserve(plan.run.size());
  for (int i : plan.run) {
    LG_ASSIGN_OR_RETURN(auto e, vision::IrisEyeOpenness(capture.frames[std::size_t(i)].bgr, meshes[std::size_t(i)], *iris));
    eyes.push_back(e);
  }
  ApplyIrisCascade(plan, eyes, obs);
  return Status::Ok();
}

}  // namespace

Result<std::vector<FrameObservation>> ObserveCapture(const Capture& capture,
                                                     vision::FaceAnalyzer& analyzer,
                                                     const Policy& policy,
                                                     const Challenge* challenge) {
  bool eyes_from_iris = policy.action.eye_openness_from_iris;
  if (challenge != nullptr && challenge->type != AsdType::kPassive && !challenge->steps.empty()) {
    eyes_from_iris = std::any_of(challenge->steps.begin(), challenge->steps.end(),
                                 [](const ChallengeStep& s) { return s.action == Action::kBlink; }) &&
                     eyes_from_iris;
  }
  std::vector<FrameObservation> out;
  out.reserve(capture.frames.size());
  // One capture = one video: the mesh follows the face from frame to frame
  // and the detector runs only now and then (issue 4 speed target).
  analyzer.ResetTracking();
  cv::Mat prev_thumb;
  cv::Rect2f prev_main;  // the main face of the previous frame (empty: none yet)
  std::vector<std::vector<cv::Point3f>> meshes(eyes_from_iris ? capture.frames.size() : 0);
  // Issue 13/16: inside blink windows the frames above the ~15 fps grid are
  // read for the eyes only (capture_rate.h); elsewhere every frame is whole.
  std::vector<FrameRole> roles(capture.frames.size(), FrameRole::kFull);
  if (challenge != nullptr) {
    std::vector<std::int64_t> ts;
    ts.reserve(capture.frames.size());
    for (const auto& f : capture.frames) ts.push_back(f.timestamp_ms);
    roles = PlanFrameRoles(ts, *challenge, policy.challenge.window_slack_ms, policy.capture.sparse_grid_gap_ms);
  }
  for (std::size_t i = 0; i < capture.frames.size(); ++i) {
    const CaptureFrame& cf = capture.frames[i];
    FrameObservation o;
    if (roles[i] == FrameRole::kSkipped) {
      // Closer than any camera a user holds: not analysed (nor decoded by
      // the server), kept for the structural timing check only.
      o.index = int(i);
      o.timestamp_ms = cf.timestamp_ms;
      o.blink_extra = true;
      out.push_back(std::move(o));
      continue;
    }
    if (cf.bgr.empty() || cf.bgr.type() != CV_8UC3 || cf.bgr.cols < 16 || cf.bgr.rows < 16) {
      o.index = int(i);
      o.timestamp_ms = cf.timestamp_ms;
      o.decodable = false;
      out.push_back(std::move(o));
      prev_thumb.release();
      continue;
    }
    // Blink-only frames do not advance the detector's cadence (issue 16).
    auto analysed = roles[i] == FrameRole::kBlinkExtra ? analyzer.AnalyzeVideoFrameBetween(cf.bgr)
                                                       : analyzer.AnalyzeVideoFrame(cf.bgr);
    if (!analysed.ok()) {
      analyzer.ResetTracking();
      return analysed.status();
    }
    const std::vector<vision::FaceAnalysis>& faces = *analysed;
    const int main = MainFace(faces, prev_main);
    o = ObserveFrame(int(i), cf.timestamp_ms, cf.bgr, faces, main);
    if (o.has_face) prev_main = o.box;
    if (o.has_mesh && eyes_from_iris) meshes[i] = faces[std::size_t(main)].mesh;
    if (roles[i] == FrameRole::kBlinkExtra) {
      // Mesh and eyes only: no image measures, and the frame-change
      // thumbnail keeps comparing grid frames (the frozen/slideshow rule's
      // scale is the 15 fps grid).
      o.blink_extra = true;
      out.push_back(std::move(o));
      continue;
    }
    cv::Mat grey;
    cv::cvtColor(cf.bgr, grey, cv::COLOR_BGR2GRAY);
    if (o.has_face) {
      const int every = std::max(1, policy.replay.border_every_n_frames);
      MeasureFaceImage(cf.bgr, grey, o.box, o, int(i) % every == 0);
    }
    // Whole-frame change (slideshow / frozen detection), on a 64x64 thumbnail.
    // Area-averaged by a whole factor first (OpenCV's fast INTER_AREA path),
    // then to 64x64: the fractional 512x480 -> 64x64 in one step cost
    // 3.7 M instructions a frame, ~3 % of a capture's judgement.
    cv::Mat thumb;
    const int k = std::max(1, std::min(grey.cols, grey.rows) / 64);
    if (k >= 2) {
      const cv::Rect whole(0, 0, grey.cols / k * k, grey.rows / k * k);
      cv::Mat coarse;
      cv::resize(grey(whole), coarse, cv::Size(whole.width / k, whole.height / k), 0, 0, cv::INTER_AREA);
      cv::resize(coarse, thumb, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
    } else {
      cv::resize(grey, thumb, cv::Size(64, 64), 0, 0, cv::INTER_AREA);
    }
    if (!prev_thumb.empty()) {
      cv::Mat d;
      cv::absdiff(thumb, prev_thumb, d);
      o.frame_difference = float(cv::mean(d)[0]);
    }
    prev_thumb = thumb;
    out.push_back(std::move(o));
  }
  analyzer.ResetTracking();  // the analyzer goes back to a pool
  std::vector<char> in_blink_window;
  if (eyes_from_iris && challenge != nullptr && challenge->type != AsdType::kPassive && !challenge->steps.empty() &&
      !capture.frames.empty()) {
    in_blink_window.resize(capture.frames.size());
    const std::int64_t t0 = capture.frames.front().timestamp_ms;
    for (std::size_t i = 0; i < capture.frames.size(); ++i) {
      in_blink_window[i] = InBlinkWindow(*challenge, double(capture.frames[i].timestamp_ms - t0),
                                         policy.challenge.window_slack_ms + kIrisWindowMarginMs);
    }
  }
  if (eyes_from_iris) LG_RETURN_IF_ERROR(IrisEyesWhereNeeded(capture, meshes, analyzer.options().model_dir,
                                                          policy.action.iris_gate, in_blink_window, out));
  return out;
}

}  // namespace livegate::judgement
