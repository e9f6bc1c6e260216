// Candidate screen-recapture cues (issue 13, "replay <= 10 % with a matching
// script"): image measures on and around the face that might separate a
// face recaptured from a display from a live face, measured by
// `livegate eval screen-cues` per frame and per session, and cross-validated
// leave-one-source-out with the project's calibration rule
// (eval/calibration.h) before any of them may enter the judgement.
//
// Every candidate is oriented so that a HIGHER value is more screen-like
// (a candidate whose raw measure is lower on screens is negated; its name
// starts with '-'). Evaluation only: the judgement reads none of these.
#pragma once

#include <array>
#include <span>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace livegate::eval {

// Per-frame candidates, in this order (ScreenCandidateNames()).
inline constexpr int kFrameCandidates = 11;
// Per-session (temporal) candidates, appended after the frame ones.
inline constexpr int kSessionCandidates = 4;
// Capture-rate candidates: every frame of the source video over the
// session's time span (the rate a client camera records at), appended last.
inline constexpr int kNativeCandidates = 3;
inline constexpr int kScreenCandidates = kFrameCandidates + kSessionCandidates + kNativeCandidates;

const std::array<std::string, kScreenCandidates>& ScreenCandidateNames();
const std::array<std::string, kScreenCandidates>& ScreenCandidateMeaning();

// Measures the frame candidates on `bgr` for the face `box` (image px).
// `with_surround`: the region around the face is measured too (false for
// tight face crops, whose surround is not in the image: those candidates
// are NaN). NaN = not measurable on this frame.
std::array<float, kFrameCandidates> MeasureScreenCandidates(const cv::Mat& bgr, const cv::Rect2f& box,
                                                            bool with_surround);

// The temporal candidates of a capture, from per-frame mean face luma and
// face-region frame differences (FrameObservation::frame_difference; < 0 =
// none) of consecutive kept frames. NaN when too few frames.
std::array<float, kSessionCandidates> TemporalScreenCandidates(std::span<const float> face_luma,
                                                               std::span<const float> frame_difference,
                                                               std::span<const float> centre_luma,
                                                               std::span<const float> frame_luma);

// The capture-rate candidates from consecutive whole frames (grey, any
// size, the same for all): duplicated frames, blended frames (a frame that
// is the mean of its neighbours, as a display showing a lower frame rate
// through a blending camera, or a refresh beat, gives), and whole-frame
// luma flicker. NaN when fewer than 8 frames.
std::array<float, kNativeCandidates> NativeRateCandidates(const std::vector<cv::Mat>& grey_frames);

}  // namespace livegate::eval
