// A file cache of per-session observations for `livegate eval pad
// --obs-cache DIR` (issue 13): observing is the costly part of an
// evaluation (the face engine on every frame); judging cached observations
// under other thresholds is cheap (JudgeLiveness is pure).
//
// One file per session, named <id>-<key>.obs, where the key hashes what
// the observations depend on: the media bytes, the session's frame
// selection and challenge (the Iris runs only when a blink can matter), the
// policy, the model folder listing, and the FrameObservation layout.
//
// Layout guard: the serializer lists FrameObservation's fields by hand. It
// records the SHA-256 of src/judgement/types.h it was written for
// (kSerializedTypesSha256); CMake passes the current file's hash. When they
// differ (someone added a field), the cache is disabled with a message —
// never a silently incomplete observation. Update the serializer and the
// constant together.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "judgement/eval_session.h"
#include "judgement/policy.h"
#include "judgement/types.h"
#include "livegate/status.h"

namespace livegate::eval {

struct CachedObservations {
  std::vector<judgement::FrameObservation> observations;
  std::string quality_reason;  // the quality judgement's reason, for the report
  bool fta = false;
  int frames = 0;
};

// Empty when the cache can be used; else why not (types.h changed).
std::string ObservationCacheUnavailableReason();

// The cache key of a session (hex). Reasons: eval.cache_unreadable_media.
Result<std::string> ObservationCacheKey(const judgement::EvalSession& session, const std::filesystem::path& data_root,
                                        const judgement::Policy& policy, const std::filesystem::path& model_dir);

std::filesystem::path ObservationCachePath(const std::filesystem::path& dir, const judgement::EvalSession& session,
                                           const std::string& key);

// Reasons: eval.write_failed.
Status SaveObservations(const std::filesystem::path& path, const std::string& key, const CachedObservations& c);
// nullopt when missing, unreadable or written under another key.
std::optional<CachedObservations> LoadObservations(const std::filesystem::path& path, const std::string& key);

// The serialised form (tests: round trip).
std::string SerializeObservations(const std::string& key, const CachedObservations& c);
std::optional<CachedObservations> DeserializeObservations(const std::string& bytes, const std::string& key);

}  // namespace livegate::eval
