#include "crypto/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "crypto/kdf.h"
#include "crypto/signing.h"

namespace livegate::crypto {
namespace {

constexpr std::size_t kMaxField = 128;
constexpr std::size_t kMaxReason = 64;
constexpr std::size_t kMaxReasons = 16;
constexpr std::size_t kMaxAttributes = 8;
constexpr std::size_t kMaxLine = 8192;

bool AllowedChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '/' || c == '[' ||
         c == ']';
}

bool ValidField(std::string_view s, std::size_t min, std::size_t max) {
  if (s.size() < min || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), AllowedChar);
}

void PutU64(Bytes& b, std::uint64_t v) {
  for (int sh = 56; sh >= 0; sh -= 8) b.push_back(static_cast<std::uint8_t>(v >> sh));
}
void PutLp(Bytes& b, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int sh = 24; sh >= 0; sh -= 8) b.push_back(static_cast<std::uint8_t>(n >> sh));
  b.insert(b.end(), s.begin(), s.end());
}

struct Entry {
  std::uint64_t seq = 0;
  std::int64_t time_ms = 0;
  std::string type;
  AuditEvent event;
  Bytes prev, sig, hash;
  std::string line;
};

Bytes EntryHash(const Entry& e) {
  Bytes b = ToBytes("livegate-audit-v1");
  b.insert(b.end(), e.prev.begin(), e.prev.end());
  PutU64(b, e.seq);
  PutU64(b, static_cast<std::uint64_t>(e.time_ms));
  PutLp(b, e.type);
  PutLp(b, e.event.actor);
  PutLp(b, e.event.action);
  PutLp(b, e.event.subject);
  PutLp(b, e.event.result);
  const auto n = static_cast<std::uint32_t>(e.event.reasons.size());
  for (int sh = 24; sh >= 0; sh -= 8) b.push_back(static_cast<std::uint8_t>(n >> sh));
  for (const auto& r : e.event.reasons) PutLp(b, r);
  const auto na = static_cast<std::uint32_t>(e.event.attributes.size());
  for (int sh = 24; sh >= 0; sh -= 8) b.push_back(static_cast<std::uint8_t>(na >> sh));
  for (const auto& [k, v] : e.event.attributes) {
    PutLp(b, k);
    PutLp(b, v);
  }
  PutLp(b, std::string_view(reinterpret_cast<const char*>(e.sig.data()), e.sig.size()));
  return Sha256(b);
}

Bytes CheckpointMessage(std::uint64_t seq, ByteView prev) {
  Bytes m = ToBytes("livegate-audit-checkpoint-v1");
  PutU64(m, seq);
  m.insert(m.end(), prev.begin(), prev.end());
  return m;
}

Status ValidateEvent(const AuditEvent& e) {
  auto bad = [](const std::string& what) {
    return Status::InvalidArgument("audit.bad_field",
                                   what + ": audit fields are short codes of [A-Za-z0-9._:@/-]");
  };
  if (!ValidField(e.actor, 1, kMaxField)) return bad("actor");
  if (!ValidField(e.action, 1, kMaxField)) return bad("action");
  if (!ValidField(e.subject, 0, kMaxField)) return bad("subject");
  if (!ValidField(e.result, 1, 32)) return bad("result");
  if (e.reasons.size() > kMaxReasons) return bad("reasons (at most 16)");
  for (const auto& r : e.reasons) {
    if (!ValidField(r, 1, kMaxReason)) return bad("reason");
  }
  if (e.attributes.size() > kMaxAttributes) return bad("attributes (at most 8)");
  for (const auto& [k, v] : e.attributes) {
    const bool key_ok = !k.empty() && k.size() <= 32 &&
                        std::all_of(k.begin(), k.end(), [](char c) {
                          return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                        });
    if (!key_ok) return bad("attribute key");
    if (!ValidField(v, 0, kMaxField)) return bad("attribute " + k);
  }
  return Status::Ok();
}

std::string ToLine(const Entry& e) {
  nlohmann::ordered_json j;
  j["seq"] = e.seq;
  j["time_ms"] = e.time_ms;
  j["type"] = e.type;
  j["actor"] = e.event.actor;
  j["action"] = e.event.action;
  j["subject"] = e.event.subject;
  j["result"] = e.event.result;
  j["reasons"] = e.event.reasons;
  j["attrs"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : e.event.attributes) j["attrs"][k] = v;
  j["prev"] = HexEncode(e.prev);
  j["sig"] = HexEncode(e.sig);
  j["hash"] = HexEncode(e.hash);
  return j.dump();
}

// Strict parse of one line; nullopt if anything is off.
std::optional<Entry> ParseLine(const std::string& line) {
  if (line.size() > kMaxLine) return std::nullopt;
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.size() != 12) return std::nullopt;
  auto str = [&](const char* k, std::string& out) {
    auto it = j.find(k);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  Entry e;
  std::string prev, sig, hash;
  auto seq = j.find("seq");
  auto time = j.find("time_ms");
  auto reasons = j.find("reasons");
  auto attrs = j.find("attrs");
  if (attrs == j.end() || !attrs->is_object() || attrs->size() > kMaxAttributes) return std::nullopt;
  for (auto it = attrs->begin(); it != attrs->end(); ++it) {
    if (!it->is_string()) return std::nullopt;
    e.event.attributes[it.key()] = it->get<std::string>();
  }
  if (seq == j.end() || !seq->is_number_unsigned() || time == j.end() ||
      !time->is_number_integer() || reasons == j.end() || !reasons->is_array() ||
      reasons->size() > kMaxReasons) {
    return std::nullopt;
  }
  e.seq = seq->get<std::uint64_t>();
  e.time_ms = time->get<std::int64_t>();
  if (!str("type", e.type) || !str("actor", e.event.actor) || !str("action", e.event.action) ||
      !str("subject", e.event.subject) || !str("result", e.event.result) || !str("prev", prev) ||
      !str("sig", sig) || !str("hash", hash)) {
    return std::nullopt;
  }
  for (const auto& r : *reasons) {
    if (!r.is_string()) return std::nullopt;
    e.event.reasons.push_back(r.get<std::string>());
  }
  if (e.type != "event" && e.type != "checkpoint") return std::nullopt;
  if (!ValidateEvent(e.event).ok()) return std::nullopt;
  auto p = HexDecode(prev);
  auto s = HexDecode(sig);
  auto h = HexDecode(hash);
  if (!p.ok() || !s.ok() || !h.ok() || p->size() != 32 || h->size() != 32) return std::nullopt;
  if ((e.type == "checkpoint") != (s->size() == kEd25519SignatureSize)) return std::nullopt;
  if (e.type == "event" && !s->empty()) return std::nullopt;
  e.prev = std::move(*p);
  e.sig = std::move(*s);
  e.hash = std::move(*h);
  e.line = line;
  return e;
}

}  // namespace

// ---- file sink --------------------------------------------------------------

Result<std::unique_ptr<FileAuditSink>> FileAuditSink::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  // Owner-only even when the file was created by someone else's umask.
  if (fd >= 0 && ::fchmod(fd, 0600) != 0) {
    ::close(fd);
    return Status(StatusCode::kUnavailable, "audit.open_failed",
                  "cannot make audit log " + path + " owner-only: " + std::strerror(errno));
  }
  if (fd < 0) {
    return Status(StatusCode::kUnavailable, "audit.open_failed",
                  "cannot open audit log " + path + ": " + std::strerror(errno));
  }
  auto sink = std::unique_ptr<FileAuditSink>(new FileAuditSink());
  sink->path_ = path;
  sink->fd_ = fd;
  return sink;
}

FileAuditSink::~FileAuditSink() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileAuditSink::Append(std::string_view line) {
  std::string data(line);
  data.push_back('\n');
  // One write() of a whole line with O_APPEND: lines never interleave.
  // AuditLog serialises appends, so the end of the file is ours.
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  const ssize_t n = ::write(fd_, data.data(), data.size());
  if (n != static_cast<ssize_t>(data.size()) || ::fsync(fd_) != 0) {
    const int err = errno;
    // Disk full or I/O error (issue 12): take back whatever part of the
    // line reached the file. A cut line would make the log fail
    // verification, and the server refuse to start on it; the chain does
    // not advance (AppendLocked), so the next line links to the last whole one.
    if (before >= 0) (void)!::ftruncate(fd_, before);
    return Status(StatusCode::kUnavailable, "audit.write_failed",
                  "cannot append to audit log " + path_ + ": " + std::strerror(err ? err : ENOSPC));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> FileAuditSink::ReadAll() const { return ReadAuditLines(path_); }

Result<std::vector<std::string>> ReadAuditLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("audit.no_log", "cannot read audit log " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// ---- writer -----------------------------------------------------------------

Result<std::unique_ptr<AuditLog>> AuditLog::Open(std::unique_ptr<AuditSink> sink, Bytes signing_key,
                                                 const AuditLogOptions& options, Clock clock) {
  LG_ASSIGN_OR_RETURN(Bytes pub, Ed25519PublicFromPrivate(signing_key));
  LG_ASSIGN_OR_RETURN(std::vector<std::string> lines, sink->ReadAll());
  const AuditVerifyReport report = VerifyAuditLog(lines, pub);
  if (!report.intact) {
    return Status(StatusCode::kDataLoss, "audit.tampered",
                  "existing audit log failed verification at entry " +
                      std::to_string(report.first_bad_index) + " (" + report.problem + "): " +
                      report.detail);
  }
  auto log = std::unique_ptr<AuditLog>(new AuditLog());
  log->sink_ = std::move(sink);
  log->key_ = std::move(signing_key);
  log->options_ = options;
  log->clock_ = clock ? std::move(clock) : SystemClock();
  if (!lines.empty()) {
    auto last = ParseLine(lines.back());
    log->next_seq_ = last->seq + 1;
    log->prev_hash_ = last->hash;
    log->since_checkpoint_ = report.unsigned_tail;
    log->last_is_checkpoint_ = last->type == "checkpoint";
    log->genesis_hash_ = HexEncode(ParseLine(lines.front())->hash);
  }
  return log;
}

std::uint64_t AuditLog::next_seq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_;
}

Status AuditLog::AppendLocked(const std::string& type, const AuditEvent& ev, const Bytes& sig) {
  Entry e;
  e.seq = next_seq_;
  e.time_ms = clock_();
  e.type = type;
  e.event = ev;
  e.prev = prev_hash_;
  e.sig = sig;
  e.hash = EntryHash(e);
  LG_RETURN_IF_ERROR(sink_->Append(ToLine(e)));
  prev_hash_ = e.hash;
  if (e.seq == 0) genesis_hash_ = HexEncode(e.hash);
  last_is_checkpoint_ = type == "checkpoint";
  ++next_seq_;
  if (options_.on_append) {
    AuditHead h{genesis_hash_, e.seq, HexEncode(e.hash), last_is_checkpoint_};
    // The line is written and chained: a failed record is reported by the
    // caller (Append / Checkpoint), not allowed to break the chain logic.
    Status st = options_.on_append(h);
    if (!st.ok() && hook_error_.ok()) {
      hook_error_ = Status(st.code(), "audit.head_not_recorded",
                           "entry " + std::to_string(e.seq) + " is in the log, its record failed: " + st.reason() +
                               ": " + st.message());
    }
  }
  return Status::Ok();
}

Status AuditLog::TakeHookError() {
  Status st = hook_error_;
  hook_error_ = Status::Ok();
  return st;
}

AuditHead AuditLog::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (next_seq_ == 0) return {};
  return {genesis_hash_, next_seq_ - 1, HexEncode(prev_hash_), last_is_checkpoint_};
}

Status AuditLog::Append(const AuditEvent& event, std::uint64_t* seq) {
  LG_RETURN_IF_ERROR(ValidateEvent(event));
  std::lock_guard<std::mutex> lock(mu_);
  if (seq != nullptr) *seq = next_seq_;
  LG_RETURN_IF_ERROR(AppendLocked("event", event, {}));
  if (++since_checkpoint_ >= options_.checkpoint_every) {
    LG_ASSIGN_OR_RETURN(Bytes sig, Ed25519Sign(key_, CheckpointMessage(next_seq_, prev_hash_)));
    LG_RETURN_IF_ERROR(AppendLocked("checkpoint", {"audit", "audit.checkpoint", "", "ok", {}}, sig));
    since_checkpoint_ = 0;
  }
  return TakeHookError();
}

Status AuditLog::Checkpoint() {
  std::lock_guard<std::mutex> lock(mu_);
  LG_ASSIGN_OR_RETURN(Bytes sig, Ed25519Sign(key_, CheckpointMessage(next_seq_, prev_hash_)));
  LG_RETURN_IF_ERROR(AppendLocked("checkpoint", {"audit", "audit.checkpoint", "", "ok", {}}, sig));
  since_checkpoint_ = 0;
  return TakeHookError();
}

// ---- verifier ---------------------------------------------------------------

AuditVerifyReport VerifyAuditLog(const std::vector<std::string>& lines, ByteView public_key) {
  AuditVerifyReport rep;
  rep.entries = lines.size();
  std::vector<std::optional<Entry>> parsed;
  parsed.reserve(lines.size());
  for (const auto& l : lines) parsed.push_back(ParseLine(l));

  auto fail = [&](std::string problem, std::size_t index, std::string detail) {
    rep.intact = false;
    rep.problem = std::move(problem);
    rep.first_bad_index = static_cast<std::int64_t>(index);
    rep.detail = std::move(detail);
    return rep;
  };
  auto seq_later = [&](std::size_t from, std::uint64_t seq) {
    for (std::size_t j = from; j < parsed.size(); ++j) {
      if (parsed[j] && parsed[j]->seq == seq) return true;
    }
    return false;
  };

  std::uint64_t expected = 0;
  Bytes prev(32, 0);
  Bytes prev_prev(32, 0);  // hash before the last accepted entry
  std::size_t since_checkpoint = 0;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    if (!parsed[i]) return fail("malformed", i, "line is not a well-formed audit entry");
    const Entry& e = *parsed[i];
    if (e.seq > expected) {
      if (seq_later(i + 1, expected)) {
        return fail("reordered", i, "entry seq " + std::to_string(e.seq) + " appears where seq " +
                                        std::to_string(expected) + " belongs; seq " +
                                        std::to_string(expected) + " comes later");
      }
      return fail("deleted", i, "entries seq " + std::to_string(expected) + ".." +
                                    std::to_string(e.seq - 1) + " are missing before this line");
    }
    if (e.seq < expected) {
      // An exact copy of the line before it: the later one is the insertion.
      if (e.seq + 1 == expected && i >= 1 && lines[i] != lines[i - 1]) {
        // Two lines claim the same seq: the genuine one is the one the next
        // entry's prev points to.
        const Entry* next = (i + 1 < parsed.size() && parsed[i + 1]) ? &*parsed[i + 1] : nullptr;
        if (next != nullptr && next->prev == e.hash && EntryHash(e) == e.hash && e.prev == prev_prev) {
          return fail("inserted", i - 1,
                      "an extra entry claims seq " + std::to_string(e.seq) +
                          "; the chain continues from the following line");
        }
      }
      return fail("inserted", i, "entry seq " + std::to_string(e.seq) +
                                     " duplicates an earlier sequence number (expected " +
                                     std::to_string(expected) + ")");
    }
    // e.seq == expected
    const bool self_consistent = EntryHash(e) == e.hash;
    if (e.prev != prev) {
      if (self_consistent && i >= 1) {
        return fail("modified", i - 1,
                    "entry was rewritten: the next entry does not commit to its hash");
      }
      return fail("modified", i, "entry does not commit to the previous entry's hash");
    }
    if (!self_consistent) return fail("modified", i, "entry content does not match its hash");
    if (e.type == "checkpoint") {
      if (!Ed25519Verify(public_key, CheckpointMessage(e.seq, e.prev), e.sig)) {
        return fail("modified", i,
                    "checkpoint signature is invalid: entries since the previous checkpoint "
                    "(or the checkpoint) were rewritten, or the wrong public key was given");
      }
      ++rep.checkpoints;
      since_checkpoint = 0;
    } else {
      ++since_checkpoint;
    }
    prev_prev = prev;
    prev = e.hash;
    ++expected;
  }
  rep.intact = true;
  rep.unsigned_tail = since_checkpoint;
  return rep;
}

// ---- truncation, against a record kept outside the file ---------------------

std::string AuditGenesisHash(const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  auto first = ParseLine(lines.front());
  if (!first || first->seq != 0) return "";
  return HexEncode(first->hash);
}

AuditVerifyReport VerifyAuditLogAgainst(const std::vector<std::string>& lines, ByteView public_key,
                                        const RecordedAuditHead* recorded) {
  AuditVerifyReport rep = VerifyAuditLog(lines, public_key);
  if (!rep.intact || recorded == nullptr) return rep;
  // Intact means entry i has seq i.
  const std::int64_t last = static_cast<std::int64_t>(lines.size()) - 1;
  auto hash_at = [&](std::int64_t seq) { return HexEncode(ParseLine(lines[static_cast<std::size_t>(seq)])->hash); };
  auto fail = [&](const char* problem, std::int64_t index, std::string detail) {
    rep.intact = false;
    rep.problem = problem;
    rep.first_bad_index = index;
    rep.detail = std::move(detail);
    return rep;
  };
  const std::string genesis = AuditGenesisHash(lines);
  if (!recorded->genesis_hash.empty() && !genesis.empty() && genesis != recorded->genesis_hash) {
    return fail("replaced", 0,
                "the log's first entry is not the one the database recorded for this log "
                "(another log was put in its place)");
  }
  const std::string ends = last < 0 ? std::string("the log is empty")
                                    : "the log ends at seq " + std::to_string(last);
  if (recorded->checkpoint_seq >= 0) {
    if (last < recorded->checkpoint_seq) {
      return fail("truncated", last + 1,
                  ends + ", but the database recorded a signed checkpoint at seq " +
                      std::to_string(recorded->checkpoint_seq) + ": entries seq " +
                      std::to_string(last + 1) + ".." + std::to_string(recorded->checkpoint_seq) +
                      " and any after were cut");
    }
    if (hash_at(recorded->checkpoint_seq) != recorded->checkpoint_hash) {
      return fail("replaced", recorded->checkpoint_seq,
                  "the entry at seq " + std::to_string(recorded->checkpoint_seq) +
                      " is not the signed checkpoint the database recorded");
    }
  }
  if (recorded->head_seq >= 0) {
    if (last < recorded->head_seq) {
      return fail("truncated", last + 1,
                  ends + ", but the database recorded entry seq " + std::to_string(recorded->head_seq) +
                      " (after the last signed checkpoint): entries seq " + std::to_string(last + 1) +
                      ".." + std::to_string(recorded->head_seq) + " were cut");
    }
    if (hash_at(recorded->head_seq) != recorded->head_hash) {
      return fail("replaced", recorded->head_seq,
                  "the entry at seq " + std::to_string(recorded->head_seq) +
                      " is not the one the database recorded");
    }
  }
  return rep;
}

}  // namespace livegate::crypto
