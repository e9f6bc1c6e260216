// The livegate service: the versioned JSON API under /v1 (docs/API.md), the
// admin provisioning interface (R-FLOW-REG-0 precondition, R-SRV-REG-1/2),
// and the three flows of clause 8 (src/server/flows/). Holds no flow state
// in memory: every step reads and writes the database, so two Service
// objects (or processes) on one database serve one flow's steps alternately.
//
// Security (R-SEC-SRV-1..4): admin calls need the admin bearer token
// (its SHA-256 is in the configuration); rate limits per address, account
// and device; lockout per policy; every operation goes to the audit trail;
// every authentication failure answers the same 401 {"reason":"auth.failed"}.
#pragma once

#include <atomic>
#include <mutex>
#include <filesystem>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crypto/key_manager.h"
#include "judgement/policy.h"
#include "judgement/types.h"
#include "server/audit.h"
#include "server/capture_judge.h"
#include "server/config.h"
#include "server/decision_logic.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/rate_limiter.h"
#include "storage/reference_store.h"
#include "storage/template_protection.h"

namespace livegate::server {

// Draws the step-4 challenge. Production: judgement::DrawChallenge with a
// CSPRNG. Tests inject scripted challenges matching a recorded video (the
// judgement refuses those unless its policy allows scripted challenges).
using ChallengeSource = std::function<Result<judgement::Challenge>(
    const judgement::Policy& policy, judgement::AsdType type)>;

struct ServiceDeps {
  storage::ReferenceStore* store = nullptr;   // not owned
  const crypto::KeyManager* keys = nullptr;   // not owned
  AnalyzerPool* analyzers = nullptr;          // not owned
  AuditTrail* audit = nullptr;                // not owned
  Metrics* metrics = nullptr;                 // not owned
  Policy policy;                              // decision logic
  judgement::Policy judgement_policy;         // quality / ASD thresholds
  LimitOptions limits;
  SrpOptions srp;
  AdminOptions admin;
  MetricsOptions metrics_access;              // token; API listener or own
  std::int64_t audit_refusal_window_ms = 60'000;  // RefusalAggregator window
  // log.audit_failure: true ("refuse") = while the audit log cannot be
  // written, requests other than /healthz and /metrics get 503
  // audit.unavailable (Service::AuditGate).
  bool refuse_when_audit_fails = true;
  ChallengeSource challenge_source;           // empty: random (DrawChallenge)
  // Scripted-challenge hook for external test clients
  // (server/scripted_challenges.h); empty in production. Create() refuses it
  // unless judgement_policy.challenge.allow_scripted.
  std::filesystem::path scripted_challenges_dir;
  // Static files of the browser client served at /app/ (server/static_files.h);
  // empty: no /app/ route.
  std::filesystem::path web_static_dir;
  std::function<std::int64_t()> now_ms;       // empty: system clock
  // Test-only fault injection (crash test): called at named points of the
  // final transaction. Empty in production.
  std::function<void(const char* point)> fault_hook;
};

// Time spent per component, for the benchmark (bench/server).
struct ServiceTimings {
  std::atomic<std::uint64_t> vision_ns{0};
  std::atomic<std::uint64_t> crypto_ns{0};
  std::atomic<std::uint64_t> database_ns{0};
};

class Service {
 public:
  // Reasons: service.bad_deps.
  static Result<std::unique_ptr<Service>> Create(ServiceDeps deps);
  ~Service();

  // The API routes; /metrics too unless metrics_access has its own listener.
  void RegisterRoutes(HttpServer& http);
  // /metrics alone, for the separate metrics listener.
  void RegisterMetricsRoute(HttpServer& http);

  // Writes the audit summaries of the refusal windows that ended (all open
  // windows when `all`, at shutdown). livegate-server calls it every second.
  void FlushRefusalSummaries(bool all);

  // Endpoint handlers (public so tests and the benchmark can drive them).
  ApiResponse Health(const ApiRequest& r);
  ApiResponse MetricsText(const ApiRequest& r);
  ApiResponse AdminCreateAccount(const ApiRequest& r);
  ApiResponse AdminGetAccount(const ApiRequest& r);
  ApiResponse AdminDeleteBiometrics(const ApiRequest& r);
  ApiResponse AdminImportReference(const ApiRequest& r);
  ApiResponse StartFlow(const ApiRequest& r);
  ApiResponse VerifyFlow(const ApiRequest& r);
  ApiResponse RiskStep(const ApiRequest& r);
  ApiResponse CaptureStep(const ApiRequest& r);

  ServiceTimings& timings() { return timings_; }

  // Housekeeping (livegate-server runs it every minute): expired flows and
  // nonces, and failure events of unknown account ids the lockout no longer
  // needs. Returns the number of rows deleted.
  Result<int> PurgeExpired();

 private:
  struct FlowContext;
  explicit Service(ServiceDeps deps);
  std::int64_t NowMs() const;
  storage::Timestamp Now() const;
  Status CheckAdmin(const ApiRequest& r);  // rate limits, then the token
  Status CheckAdminToken(const ApiRequest& r) const;
  Status CheckRate(RateLimiter& limiter, const std::string& key, const char* what);
  // Appends to the audit trail; a failed append goes whole to the server
  // log and marks the trail failing (see AuditGate).
  void Audit(AuditEvent e);
  // True while the audit trail is writable. While it is failing, at most
  // once a second one append is tried (an audit.resumed entry counting the
  // events lost since): if it works the trail is writable again.
  bool AuditWritable();
  // OK when AuditWritable() or log.audit_failure is "continue"; else 503
  // audit.unavailable.
  Status AuditGate();
  ApiResponse Refuse(const Status& st, const std::string& operation, const ApiRequest& r,
                     const std::string& account = {}, const std::string& flow = {});

  // Flow plumbing (flows/flow_state.cc).
  Result<FlowContext> LoadFlow(const std::string& flow_id);
  // Restores the flow's sealed channel and opens the step's sealed body
  // (R-SEC-SRV-3, R-SEC-COM-4): a tampered, replayed or reordered message
  // stops here and nothing is written.
  struct OpenedStep;
  Result<OpenedStep> OpenSealedStep(const nlohmann::json& channel_state, const std::string& body);
  Result<crypto::Bytes> SealFlowState(const std::string& flow_id, const nlohmann::json& state);
  Result<nlohmann::json> OpenFlowState(const std::string& flow_id, const crypto::Bytes& sealed);
  // Records one failed attempt (decision 11.9). With `spent_flow`, the same
  // transaction moves that flow from `verifying` to `spent` (compare-and-set
  // on its version), so the failure and the end of the in-flight guess are
  // seen together.
  Status RecordFailure(const std::string& account_id, const std::string& device_id,
                       const std::string& flow_type, const std::vector<std::string>& reasons,
                       const std::string& remote, const storage::FlowState* spent_flow = nullptr);
  Result<bool> IsLockedOut(const std::string& account_id);
  // OK, or the lockout refusal (auth.locked_out, the answer a locked start
  // gets), or the database error: the check of every flow step after the
  // start (R-SEC-SRV-1).
  Status CheckNotLockedOut(const std::string& account_id);
  // Decision 11.9: the end of the lockout of `account_id` (known or not),
  // derived from the failure events in the database; nullopt = not locked.
  Result<std::optional<storage::Timestamp>> LockedUntil(const std::string& account_id);
  // The same over `ops` (inside a transaction), counting `in_flight` proofs
  // being checked right now as failures at the current time.
  Result<std::optional<storage::Timestamp>> LockedUntilIn(storage::StoreOps& ops,
                                                          const std::string& account_id,
                                                          int in_flight);
  // Takes `flow` for one credential check - its SRP proof (started ->
  // verifying) or a capture's judgement (challenge -> judging) - unless the
  // account id is locked out, counting its checks in flight as failures
  // (R-SEC-SRV-1). `not_waiting` is the answer when the flow is not at
  // `from` (or another request took it first). On OK, flow->step and
  // flow->version are the taken row's.
  Status TakeFlowForCheck(storage::FlowState* flow, int from, int to, const Status& not_waiting);
  // Ends a taken flow that cannot go on (spent), so it stops counting as a
  // check in flight; logs a failure to do so.
  void SpendFlow(storage::FlowState flow);

  ServiceDeps deps_;
  std::unique_ptr<storage::TemplateProtector> protector_;
  RateLimiter per_address_;
  RateLimiter per_account_;
  RateLimiter per_device_;
  RateLimiter per_admin_address_;
  RateLimiter per_admin_failure_;  // wrong admin tokens per address
  RefusalAggregator refusals_;
  crypto::Bytes flow_state_key_;
  crypto::Bytes fake_srp_secret_;
  ServiceTimings timings_;
  std::int64_t started_ms_ = 0;
  // Audit failure state (AuditGate).
  std::atomic<bool> audit_failing_{false};
  std::atomic<std::uint64_t> audit_lost_{0};
  std::atomic<std::int64_t> audit_failing_since_ms_{0};
  std::mutex audit_probe_mu_;
  std::int64_t audit_next_probe_ms_ = 0;  // guarded by audit_probe_mu_
};

}  // namespace livegate::server
