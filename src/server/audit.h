// Audit trail of server operations (R-SEC-SRV-4, decision 11.14): who, what,
// when, result, reason codes - never biometric data, keys or passwords.
// The server writes through this interface; the integrity-protected
// (hash-chained, signed) sink is crypto's audit log, adapted in main.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
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
};

// Writes each event as a JSON log line (event "audit") and keeps the last
// `keep` in memory (tests and /metrics read them). Not tamper-evident on its
// own: chain it in front of crypto's audit log for R-SEC-SRV-4.
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
  Status Record(const AuditEvent& event) override;

 private:
  crypto::AuditLog* log_;
};

}  // namespace livegate::server
