// Audit trail of server operations (R-SEC-SRV-4, decision 11.14): who, what,
// when, result, reason codes - never biometric data, keys or passwords.
// The server writes through this interface; the integrity-protected
// (hash-chained, signed) sink is crypto's audit log, adapted in main.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "livegate/status.h"

namespace livegate::server {

struct AuditEvent {
  std::string actor;       // "admin", "client", "server"
  std::string operation;   // "account.create", "flow.registration.capture", ...
  std::string account_id;
  std::string device_id;
  std::string flow_id;
  std::string outcome;     // "ok", "refused", "error", ...
  std::vector<std::string> reasons;
  std::string remote;      // peer address
  std::int64_t at_ms = 0;
  nlohmann::json ToJson() const;
};

class AuditTrail {
 public:
  virtual ~AuditTrail() = default;
  // A failure to audit fails the operation that asked for it.
  virtual Status Record(const AuditEvent& event) = 0;
  // The same, also giving the entry's sequence number in the tamper-evident
  // log (*seq stays 0 when this trail has none).
  virtual Status RecordNumbered(const AuditEvent& event, std::uint64_t* seq) {
    if (seq != nullptr) *seq = 0;
    return Record(event);
  }
};

// Passes each event to `next` (crypto's audit log in the server), writes a
// JSON log line {"event":"audit.recorded","audit_seq":N} naming the entry -
// never the payload: the audit log holds it once (issue 12, finding 6) - and
// keeps the last `keep` events in memory (tests read them). Not
// tamper-evident on its own: chain it in front of crypto's audit log for
// R-SEC-SRV-4.
class LogAuditTrail : public AuditTrail {
 public:
  explicit LogAuditTrail(std::size_t keep = 1000, AuditTrail* next = nullptr)
      : keep_(keep), next_(next) {}
  Status Record(const AuditEvent& event) override;
  std::vector<AuditEvent> Recent() const;

 private:
  std::size_t keep_;
  AuditTrail* next_;
  mutable std::mutex mu_;
  std::deque<AuditEvent> recent_;
};

}  // namespace livegate::server

namespace livegate::crypto {
class AuditLog;
}

namespace livegate::server {

// Forwards events to crypto's hash-chained, signed audit log (R-SEC-SRV-4),
// mapping fields onto its restricted character set.
class ChainedAuditTrail : public AuditTrail {
 public:
  explicit ChainedAuditTrail(crypto::AuditLog* log) : log_(log) {}
  Status Record(const AuditEvent& event) override { return RecordNumbered(event, nullptr); }
  Status RecordNumbered(const AuditEvent& event, std::uint64_t* seq) override;

 private:
  crypto::AuditLog* log_;
};

// Refusal aggregation (issue 12, finding 4; R-SEC-SRV-4 stays met): a
// flood of refused requests (wrong admin token, 429s, malformed requests)
// must not turn into one fsync'ed audit line each. Per (address, reason) and
// window: the first refusal is written as its own entry (the operator sees
// it at once, with its operation and details); the rest of the window is
// only counted, and one summary entry with the total count is written when
// the window ends (or at shutdown). Keys are bounded: beyond `max_keys`
// distinct (address, reason) pairs, new addresses share the address "*".
class RefusalAggregator {
 public:
  struct Summary {
    std::string address;
    std::string reason;
    std::uint64_t count = 0;  // every refusal of the window, the first included
    std::int64_t first_ms = 0;
    std::int64_t last_ms = 0;
  };
  explicit RefusalAggregator(std::int64_t window_ms = 60'000, std::size_t max_keys = 10'000)
      : window_ms_(window_ms), max_keys_(max_keys) {}
  // True when this refusal opens a window and must be written as its own
  // entry; false when it was counted into the window's summary.
  bool Admit(const std::string& address, const std::string& reason, std::int64_t now_ms);
  // Summaries of the windows that ended by `now_ms` (all open ones when
  // `all`), removed from the aggregator. A window with a single refusal
  // needs no summary and is dropped silently.
  std::vector<Summary> TakeDue(std::int64_t now_ms, bool all);
  std::int64_t window_ms() const { return window_ms_; }

 private:
  std::int64_t window_ms_;
  std::size_t max_keys_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Summary> open_;
};

// The audit event of a summary: operation "audit.refusals_aggregated",
// outcome "refused", reasons {reason, "count:N", "window_ms:W",
// "first_ms:T0", "last_ms:T1"}, remote = the address.
AuditEvent RefusalSummaryEvent(const RefusalAggregator::Summary& s, std::int64_t window_ms);

}  // namespace livegate::server
