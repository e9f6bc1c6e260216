// Evaluation support (not part of the judgement proper): the session
// manifest of `livegate eval pad` and the loading of one session's capture
// from the shared data (videos, image sequences, single photos). The
// judgement functions never read files; this does, for the evaluation only.
//
// Manifest (JSON):
// {
//   "version": 1,
//   "description": "...",
//   "sessions": [
//     { "id": "d9-mouth-blink",
//       "label": "bona_fide" | "<attack type>" (e.g. "replay", "print", "photo"),
//       "media": "2_face_video/liveportrait/liveportrait_d9.mp4",   // relative to the data root
//       "kind": "video" | "images" | "image",
//       "images": ["a.png", ...],            // kind=images: relative paths, one frame each
//       "frames": [first, last],             // optional, inclusive source-frame range (video)
//       "sample_fps": 15,                    // optional: keep at most this many frames per second
//       "max_frames": 150,                   // optional: stop after this many kept frames
//       "synthesize": "still" | "planar_motion",  // kind=image: how a photo is presented
//       "challenge": { ...ChallengeToJson form, "scripted": true... },
//       "notes": "what the clip shows, why this script" }
//   ]
// }
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "judgement/types.h"
#include "livegate/status.h"

namespace livegate::judgement {

struct EvalSession {
  std::string id;
  std::string label;     // "bona_fide" or an attack type
  std::string media;
  std::string kind = "video";
  std::vector<std::string> images;
  std::optional<int> first_frame, last_frame;
  double sample_fps = 15.0;
  int max_frames = 150;
  std::string synthesize;  // for kind=image
  Challenge challenge;
  std::string notes;
  bool bona_fide() const { return label == "bona_fide"; }
};

// Reasons: manifest.bad_json, manifest.bad_session (names the session and field).
Result<std::vector<EvalSession>> ParseEvalManifest(std::string_view json);

// Loads the frames of one session. Timestamps: the container's, re-based to
// start at 0 (kind=images/image: 1000/sample_fps apart). Reasons: vision's
// image.* / video.*, manifest.no_frames, manifest.bad_session.
Result<Capture> LoadEvalCapture(const EvalSession& session, const std::filesystem::path& data_root);

}  // namespace livegate::judgement
