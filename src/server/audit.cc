#include "server/audit.h"

#include "server/json_log.h"

namespace livegate::server {

nlohmann::json AuditEvent::ToJson() const {
  return nlohmann::json{{"actor", actor},     {"operation", operation}, {"account_id", account_id},
                        {"device_id", device_id}, {"flow_id", flow_id}, {"outcome", outcome},
                        {"reasons", reasons}, {"remote", remote},       {"at_ms", at_ms}};
}

Status LogAuditTrail::Record(const AuditEvent& event) {
  std::uint64_t seq = 0;
  if (next_ != nullptr) LG_RETURN_IF_ERROR(next_->RecordNumbered(event, &seq));
  // The entry's id only: the payload lives once, in the audit log.
  if (next_ != nullptr) LogEvent(LogLevel::kInfo, "audit.recorded", {{"audit_seq", seq}});
  std::lock_guard<std::mutex> lock(mu_);
  recent_.push_back(event);
  while (recent_.size() > keep_) recent_.pop_front();
  return Status::Ok();
}

std::vector<AuditEvent> LogAuditTrail::Recent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {recent_.begin(), recent_.end()};
}

}  // namespace livegate::server

#include "crypto/audit_log.h"

namespace livegate::server {
namespace {
std::string Clean(const std::string& s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '/';
    out += ok ? c : '_';
  }
  return out;
}
}  // namespace

Status ChainedAuditTrail::RecordNumbered(const AuditEvent& e, std::uint64_t* seq) {
  crypto::AuditEvent c;
  if (e.actor == "admin") {
    c.actor = "operator:admin";
  } else if (!e.device_id.empty()) {
    c.actor = "device:" + Clean(e.device_id, 120);
  } else if (!e.account_id.empty()) {
    c.actor = "account:" + Clean(e.account_id, 119);
  } else {
    c.actor = e.actor.empty() ? "anonymous" : Clean(e.actor, 128);
  }
  c.action = Clean(e.operation, 128);
  c.subject = Clean(e.account_id, 128);
  c.result = Clean(e.outcome.empty() ? "ok" : e.outcome, 32);
  for (const auto& r : e.reasons) {
    if (c.reasons.size() >= 13) break;
    if (!r.empty()) c.reasons.push_back(Clean(r, 64));
  }
  if (!e.flow_id.empty()) c.reasons.push_back(Clean("flow:" + e.flow_id, 64));
  if (!e.remote.empty()) c.reasons.push_back(Clean("remote:" + e.remote, 64));
  return log_->Append(c, seq);
}

bool RefusalAggregator::Admit(const std::string& address, const std::string& reason,
                              std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(address, reason);
  auto it = open_.find(key);
  // A window past its end keeps counting until TakeDue writes its summary
  // (housekeeping runs every second): nothing is lost in between.
  if (it == open_.end() && open_.size() >= max_keys_) {
    key.first = "*";
    it = open_.find(key);
  }
  if (it == open_.end()) {
    Summary s{key.first, reason, 1, now_ms, now_ms};
    open_.emplace(key, std::move(s));
    return true;
  }
  ++it->second.count;
  it->second.last_ms = now_ms;
  return false;
}

std::vector<RefusalAggregator::Summary> RefusalAggregator::TakeDue(std::int64_t now_ms, bool all) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Summary> out;
  for (auto it = open_.begin(); it != open_.end();) {
    if (all || now_ms - it->second.first_ms >= window_ms_) {
      if (it->second.count > 1) out.push_back(it->second);
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

AuditEvent RefusalSummaryEvent(const RefusalAggregator::Summary& s, std::int64_t window_ms) {
  AuditEvent e;
  e.actor = "server";
  e.operation = "audit.refusals_aggregated";
  e.outcome = "refused";
  e.reasons = {s.reason, "count:" + std::to_string(s.count), "window_ms:" + std::to_string(window_ms),
               "first_ms:" + std::to_string(s.first_ms), "last_ms:" + std::to_string(s.last_ms)};
  e.remote = s.address;
  return e;
}

}  // namespace livegate::server
