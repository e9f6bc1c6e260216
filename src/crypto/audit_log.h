// Tamper-evident audit log (R-SEC-SRV-4; X.1279 section 11 decision 14):
// append-only JSON lines, each committing to the previous entry's hash,
// with an Ed25519-signed checkpoint every N entries. Entries hold structured
// fields only (who, what, on what, when, result, reason codes) drawn from a
// restricted character set and short lengths, so no biometric sample,
// template or free text can be logged.
//
// Line (one JSON object, keys in this order):
//   {"seq":N,"time_ms":T,"type":"event"|"checkpoint","actor":..,"action":..,
//    "subject":..,"result":..,"reasons":[..],"attrs":{..},"prev":hex32,
//    "sig":hex64|"","hash":hex32}
// hash = SHA-256("livegate-audit-v1" | prev | u64 seq | i64 time_ms |
//        lp(type) | lp(actor) | lp(action) | lp(subject) | lp(result) |
//        u32 count | lp(reason)... | u32 count | (lp(key) | lp(value))... |
//        lp(sig))     (lp = u32 length | bytes; attributes in key order)
// A checkpoint's sig = Ed25519("livegate-audit-checkpoint-v1" | u64 seq | prev),
// i.e. it signs the hash of everything before it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/aead.h"
#include "crypto/sealed_channel.h"  // Clock
#include "livegate/status.h"

namespace livegate::crypto {

struct AuditEvent {
  AuditEvent() = default;
  AuditEvent(std::string actor_, std::string action_, std::string subject_, std::string result_,
             std::vector<std::string> reasons_ = {},
             std::map<std::string, std::string> attributes_ = {})
      : actor(std::move(actor_)), action(std::move(action_)), subject(std::move(subject_)),
        result(std::move(result_)), reasons(std::move(reasons_)),
        attributes(std::move(attributes_)) {}

  std::string actor;    // who: account id, device id, "operator:<name>", "system"
  std::string action;   // what: "auth.verify", "enrol.commit", "keys.rotate", ...
  std::string subject;  // on what (optional): an account or device id
  std::string result;   // "ok", "refused", "error"
  std::vector<std::string> reasons;  // reason codes, e.g. "pad.replay_detected"
  // Further structured identifiers (at most 8), e.g. {"device_id": "d-1",
  // "flow_id": "f-9", "remote": "[::1]:5000"}. Keys [a-z0-9_]{1,32}.
  std::map<std::string, std::string> attributes;
};

// Where lines go. The file sink is the default; the server may provide a
// database-backed sink with the same contract (append one line atomically,
// durably; read all lines in order).
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual Status Append(std::string_view line) = 0;
  virtual Result<std::vector<std::string>> ReadAll() const = 0;
};

// JSON lines in a file opened O_APPEND (mode 0600), fsync'd after each line.
class FileAuditSink : public AuditSink {
 public:
  static Result<std::unique_ptr<FileAuditSink>> Open(const std::string& path);
  ~FileAuditSink() override;
  Status Append(std::string_view line) override;
  Result<std::vector<std::string>> ReadAll() const override;

 private:
  std::string path_;
  int fd_ = -1;
};

// Reads a log file's lines (for verification). Error: NotFound(audit.no_log).
Result<std::vector<std::string>> ReadAuditLines(const std::string& path);

// Where the log stands after an append: what a store out of the log
// file's reach records so that a truncated file is detected (issue 12,
// finding 8; VerifyAuditLogAgainst).
struct AuditHead {
  std::string genesis_hash;   // hex hash of entry 0: names the log
  std::uint64_t seq = 0;      // the last entry written
  std::string hash;           // its hex hash
  bool checkpoint = false;    // the last entry is a signed checkpoint
};

struct AuditLogOptions {
  // A signed checkpoint after this many events. Default 100.
  std::size_t checkpoint_every = 100;
  // Called (under the log's lock) after every line reached the sink; an
  // error is reported by the append that caused it as
  // audit.head_not_recorded, after the line is written (the line stays:
  // the chain is intact).
  std::function<Status(const AuditHead&)> on_append;
};

class AuditLog {
 public:
  // Verifies what the sink already holds (refusing a tampered log with
  // DataLoss(audit.tampered)) and continues its chain.
  static Result<std::unique_ptr<AuditLog>> Open(std::unique_ptr<AuditSink> sink,
                                                Bytes signing_key,
                                                const AuditLogOptions& options = {},
                                                Clock clock = {});
  // Error: InvalidArgument(audit.bad_field) for a field outside the allowed
  // character set or length (this is what keeps biometric data out).
  // `seq`, when given, receives the entry's sequence number.
  Status Append(const AuditEvent& event, std::uint64_t* seq = nullptr);
  // Writes a signed checkpoint now (e.g. at shutdown).
  Status Checkpoint();
  std::uint64_t next_seq() const;
  // Where the log stands now (seq/hash of the last entry; empty genesis for
  // an empty log).
  AuditHead head() const;

 private:
  Status AppendLocked(const std::string& type, const AuditEvent& e, const Bytes& sig);
  Status TakeHookError();
  std::unique_ptr<AuditSink> sink_;
  Bytes key_;
  AuditLogOptions options_;
  Clock clock_;
  mutable std::mutex mu_;
  std::uint64_t next_seq_ = 0;
  Bytes prev_hash_ = Bytes(32, 0);
  std::size_t since_checkpoint_ = 0;
  std::string genesis_hash_;
  bool last_is_checkpoint_ = false;
  Status hook_error_;
};

struct AuditVerifyReport {
  bool intact = false;
  std::size_t entries = 0;
  std::size_t checkpoints = 0;
  // Entries after the last valid checkpoint: chained but not yet signed.
  std::size_t unsigned_tail = 0;
  // "", "modified", "deleted", "inserted", "reordered", "malformed".
  std::string problem;
  std::int64_t first_bad_index = -1;  // 0-based line index of the first bad entry
  std::string detail;
};

// Checks the chain, the sequence numbers and every checkpoint signature and
// classifies the first problem found.
AuditVerifyReport VerifyAuditLog(const std::vector<std::string>& lines, ByteView public_key);

// What a store outside the log file recorded about the log (the database's
// audit_heads row): the last signed checkpoint and the last entry written.
struct RecordedAuditHead {
  std::string genesis_hash;
  std::string log_path;
  std::int64_t checkpoint_seq = -1;   // -1: no checkpoint recorded yet
  std::string checkpoint_hash;
  std::int64_t head_seq = -1;
  std::string head_hash;
};

// VerifyAuditLog, then checks that the log still reaches what was recorded:
// a log cut short (tail cut, whole entries removed after the last
// checkpoint, the file replaced by a shorter valid prefix) is reported as
// problem "truncated"; a log whose entry at the recorded seq has another
// hash as "replaced". `recorded` = nullptr: VerifyAuditLog alone.
AuditVerifyReport VerifyAuditLogAgainst(const std::vector<std::string>& lines, ByteView public_key,
                                        const RecordedAuditHead* recorded);

// The genesis hash (hex hash of entry 0) of a log's lines, "" when empty or
// unparseable.
std::string AuditGenesisHash(const std::vector<std::string>& lines);

}  // namespace livegate::crypto
