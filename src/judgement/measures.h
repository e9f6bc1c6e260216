// Internal helpers shared by the judgement's .cc files and its tests.
#pragma once

#include <array>
#include <filesystem>
#include <span>
#include <vector>

#include <opencv2/core.hpp>

#include "judgement/types.h"
#include "livegate/status.h"
#include "vision/face_analyzer.h"
#include "vision/models.h"

namespace livegate::judgement {

// FaceMesh indices kept in FrameObservation::landmarks (rigid points).
const std::vector<int>& RigidMeshIndices();

// Fills the image measures of `o` (sharpness, exposure, uniformity,
// blockiness, colours, moiré, border, glare) for the face `box`.
void MeasureFaceImage(const cv::Mat& bgr, const cv::Mat& grey, const cv::Rect2f& box,
                      FrameObservation& o, bool with_border = true);

// The moiré measure of MeasureFaceImage on one square grey patch (side a
// multiple of 8, >= 32; MeasureFaceImage reads a <= 64 px one at the face
// centre): log(1 + the strongest isolated spectral line in [0.35, 1]
// Nyquist over its 7x7 neighbourhood), the JPEG block frequencies left out.
float MoirePeak(const cv::Mat& grey_patch);
// Magnitude spectrum of a mean-removed, Hann-windowed grey patch (CV_32F,
// unshifted: bin (0, 0) is DC), as MoirePeak reads it.
cv::Mat PatchMagnitudeSpectrum(const cv::Mat& grey_patch);

// The Iris eye measure itself is vision::IrisEyeOpenness (vision/iris_eyes.h).

// Where the Iris eye measure runs (policy.action.iris_gate; issue 4 speed).
// `level[i]`: frame i's mesh eye openness (mean of both eyes), < 0 without
// a mesh. Runs on the kIrisBaselineFrames frames whose level is nearest the
// capture's open level (70th percentile), which give the per-eye Iris/mesh
// ratio that puts the other frames on the Iris scale, and on every frame
// below iris_gate x that open level (the mesh lids close only to ~0.55 of
// open on a shut eye, but they do move). A gate far above 1: every frame.
// Both lists sorted; `baseline` is a subset of `run`.
inline constexpr std::size_t kIrisBaselineFrames = 3;
struct IrisPlan {
  std::vector<int> run, baseline;
};
IrisPlan PlanIrisCascade(std::span<const float> level, float iris_gate);
// Mesh eye level per observation (mean of both eyes), -1 without a mesh.
std::vector<float> MeshEyeLevels(std::span<const FrameObservation> obs);
// Writes the Iris readings `iris[k]` ({right, left}) of frames plan.run[k]
// into `obs` (eyes_by_iris) and puts every other mesh frame on the Iris
// scale: times the per-eye median Iris/mesh ratio of the baseline frames.
void ApplyIrisCascade(const IrisPlan& plan, std::span<const std::array<float, 2>> iris,
                      std::vector<FrameObservation>& obs);

// The Iris model of `model_dir`, loaded once per thread (the analyzers of a
// pool each run on one thread at a time). Reasons: vision's model.*.
Result<vision::IrisModel*> ThreadIrisModel(const std::filesystem::path& model_dir);

// Builds an observation from the analyzer's faces (largest first); `main`
// is the index of the face being authenticated.
FrameObservation ObserveFrame(int index, std::int64_t timestamp_ms, const cv::Mat& bgr,
                              const std::vector<vision::FaceAnalysis>& faces, int main = 0);

// The largest width ratio (other / main) among the other faces that are
// near the main face: overlapping it or closer than `bystander_gap` main-face
// widths (box to box). Farther faces are bystanders. 0 when none.
float NearFaceRatio(const FrameObservation& o, float bystander_gap);

// Issue 13, speeds. Mean landmark displacement between two mesh frames in
// inter-eye distances (scale floored at 0.35 face widths: the eyes close up
// in profile). < 0 when the frames cannot be compared.
float LandmarkDisplacement(const FrameObservation& a, const FrameObservation& b);
// Frames whose mesh is a one- or two-frame mis-fit: they jump away from the
// mesh frames on both sides, which agree with each other (landmarks or yaw),
// and the fit is unreliable there (|yaw| >= glitch_min_yaw_deg on any of
// the frames involved, or mesh confidence below glitch_mesh_confidence).
// Per frame: kUnreliableMeshJump = left out of the speeds; kReliableMeshJump
// = the same jump between trusted frames (an injected frame, or a confident
// mis-fit), judged frame to frame; 0 otherwise.
inline constexpr char kUnreliableMeshJump = 1, kReliableMeshJump = 2;
std::vector<char> UnreliableMeshJumps(std::span<const FrameObservation> obs, float glitch_min_yaw_deg,
                                      float glitch_mesh_confidence);
// Peak speeds between mesh frames at least `window_ms` apart (each frame
// paired with the first later one that far), frames flagged kUnreliableMeshJump in `skip` and
// frames beyond +-max_abs_yaw left out. `yaw` gives each frame's yaw (the
// 3-frame median); landmark speed in inter-eye distances / s, yaw in deg/s.
// Judged frame to frame as well: frames flagged kReliableMeshJump, and
// consecutive frames whose landmarks moved >= step_ied (a cut).
struct PeakSpeeds {
  float landmark_ied_per_s = 0;
  float yaw_deg_per_s = 0;
};
PeakSpeeds WindowedPeakSpeeds(std::span<const FrameObservation> obs, std::span<const float> yaw,
                              const std::vector<char>& skip, std::int64_t window_ms, float max_abs_yaw,
                              float step_ied);

// Issue 13, screen cue: long straight edges that accompany the face across
// the capture. Per side (left, right, top, bottom) over the frames where the
// border was measured: the edge must be present on at least
// `min_persistence` of them (and >= 5), the face must move along that axis
// (10th-90th percentile range >= `min_face_motion` face widths: else the
// side is undecided), and the edge's offset from the face must vary less
// than `max_relative_motion` x the face's own motion: it moves with the
// face, as a screen's bezel or a phone's frame does around a replayed face,
// where a background edge stays put while the head moves.
struct EdgeFollowing {
  int sides_following = 0;   // sides whose edge moves with the face
  int sides_decided = 0;     // sides persistent enough with enough face motion
  float best_ratio = -1;     // the smallest relative/face motion ratio among decided sides
};
EdgeFollowing ScreenEdgeFollowsFace(std::span<const FrameObservation> obs, float min_persistence,
                                    float min_face_motion, float max_relative_motion);

// Residual RMS of the best homography mapping `a` to `b`, in units of
// `scale` (inter-eye distance). < 0 when it cannot be computed.
float PlanarityResidual(const std::vector<cv::Point2f>& a, const std::vector<cv::Point2f>& b,
                        float scale);

}  // namespace livegate::judgement
