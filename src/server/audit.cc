#include "server/audit.h"

#include "server/json_log.h"

namespace livegate::server {

nlohmann::json AuditEvent::ToJson() const {
  return nlohmann::json{{"actor", actor},     {"operation", operation}, {"account_id", account_id},
                        {"device_id", device_id}, {"flow_id", flow_id}, {"outcome", outcome},
                        {"reasons", reasons}, {"remote", remote},       {"at_ms", at_ms}};
}

Status LogAuditTrail::Record(const AuditEvent& event) {
  if (next_ != nullptr) LG_RETURN_IF_ERROR(next_->Record(event));
  LogEvent(LogLevel::kInfo, "audit", event.ToJson());
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

Status ChainedAuditTrail::Record(const AuditEvent& e) {
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
  return log_->Append(c);
}

}  // namespace livegate::server
