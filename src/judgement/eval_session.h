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
//       "time_ms": [from, to],               // optional, the clip's time range (video; after "frames"):
//                                            // a session cut where a real capture would start
//       "source": "liveportrait",            // the clip's origin (data set / recording set; clips
//                                            // of one footage or person share it): leave-one-
//                                            // source-out CV holds out by it and refuses a session
//                                            // without one (the shipped manifest has one on all)
//       "exclude": "why",                    // optional: listed, loaded by no run, counted nowhere
//       "sample_fps": 15,                    // optional: keep at most this many frames per second
//       "max_frames": 150,                   // optional: stop after this many kept frames
//       "synthesize": "still" | "planar_motion",  // kind=image: how a photo is presented, for the
//                                            // challenge's length (last window + 750 ms slack,
//                                            // >= 4 s); planar_motion swings the sheet in the turn windows
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

// The server's accepted lateness past a window (ChallengePolicy::
// window_slack_ms default): a synthesised presentation lasts until the last
// window's end plus this.
inline constexpr std::int64_t kEvalWindowSlackMs = 750;

struct EvalSession {
  std::string id;
  std::string label;     // "bona_fide" or an attack type
  std::string media;
  std::string kind = "video";
  std::vector<std::string> images;
  std::optional<int> first_frame, last_frame;
  std::optional<std::int64_t> from_ms, to_ms;  // clip time range (video)
  std::string source;   // origin of the clip (leave-one-source-out CV)
  std::string exclude;  // non-empty: not evaluated, with this reason
  double sample_fps = 15.0;
  int max_frames = 150;
  std::string synthesize;  // for kind=image
  Challenge challenge;
  std::string notes;
  bool bona_fide() const { return label == "bona_fide"; }
};

// Reasons: manifest.bad_json, manifest.bad_session (names the session and
// field; also a duplicated id, an action window that does not start
// inside the session's time range).
Result<std::vector<EvalSession>> ParseEvalManifest(std::string_view json);

// The sessions of several manifests in order; ids must stay unique across
// them (manifest.bad_session names the duplicate).
Result<std::vector<EvalSession>> ParseEvalManifests(const std::vector<std::string>& texts);

// The presentation tier of a session: "passive", "actions" or
// "actions+light" (the challenge type).
std::string SessionTier(const EvalSession& session);

// Loads the frames of one session. Timestamps: the container's, re-based to
// start at 0 (kind=images/image: 1000/sample_fps apart). Reasons: vision's
// image.* / video.*, manifest.no_frames, manifest.bad_session.
Result<Capture> LoadEvalCapture(const EvalSession& session, const std::filesystem::path& data_root);

}  // namespace livegate::judgement
