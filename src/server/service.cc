// Service core: construction, routes, health/metrics, security checks and
// the admin interface (R-FLOW-REG-0, R-SRV-REG-1/2, R-SEC-SRV-1/4).
// The flows live in flows/flow_engine.cc.
#include "server/service.h"

#include <chrono>

#include "crypto/kdf.h"
#include "crypto/srp6a.h"
#include "protocol/codec.h"
#include "server/json_log.h"
#include "server/scripted_challenges.h"
#include "server/static_files.h"
#include "vision/image_io.h"

namespace livegate::server {

using nlohmann::json;

namespace {
// How often a failing audit log is tried again (Service::AuditWritable);
// also the Retry-After of audit.unavailable.
constexpr std::int64_t kAuditProbeIntervalMs = 1000;
}  // namespace

Service::Service(ServiceDeps deps)
    : deps_(std::move(deps)),
      per_address_(deps_.limits.rate_per_address_per_minute),
      per_account_(deps_.limits.rate_per_account_per_minute),
      per_device_(deps_.limits.rate_per_device_per_minute),
      per_admin_address_(deps_.admin.rate_per_address_per_minute),
      per_admin_failure_(deps_.admin.failures_per_address_per_minute),
      refusals_(deps_.audit_refusal_window_ms) {}

Service::~Service() = default;

Result<std::unique_ptr<Service>> Service::Create(ServiceDeps deps) {
  if (deps.store == nullptr || deps.keys == nullptr || deps.audit == nullptr ||
      deps.metrics == nullptr) {
    return Status::InvalidArgument("service.bad_deps", "store, keys, audit and metrics are required");
  }
  // Defence in depth: the same rule as start-up (config.scripted_not_allowed).
  LG_RETURN_IF_ERROR(CheckScriptedChallengesAllowed(deps.scripted_challenges_dir, deps.judgement_policy));
  if (!deps.scripted_challenges_dir.empty()) {
    LogEvent(LogLevel::kWarn, "testing.scripted_challenges_enabled",
             {{"dir", deps.scripted_challenges_dir.string()},
              {"message", "SCRIPTED CHALLENGES ARE ENABLED: this server is for tests and evaluation "
                          "only, never for production"}});
  }
  std::unique_ptr<Service> s(new Service(std::move(deps)));
  s->protector_ = std::make_unique<storage::TemplateProtector>(s->deps_.keys);
  // Flow state in the database is sealed under a key derived from the
  // master key, so every process on the same database can open it and a
  // database copy alone reveals no channel keys.
  s->flow_state_key_ = s->deps_.keys->DeriveSecret("livegate server flow state");
  s->fake_srp_secret_ = s->deps_.keys->DeriveSecret("srp fake salt");
  s->started_ms_ = s->NowMs();
  s->deps_.metrics->SetGauge("livegate_audit_failing", "", 0);
  return s;
}

std::int64_t Service::NowMs() const {
  if (deps_.now_ms) return deps_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

storage::Timestamp Service::Now() const {
  return storage::Timestamp(std::chrono::milliseconds(NowMs()));
}

void Service::RegisterRoutes(HttpServer& http) {
  auto bind = [this](ApiResponse (Service::*fn)(const ApiRequest&)) {
    return [this, fn](const ApiRequest& r) { return (this->*fn)(r); };
  };
  // Every account-data route waits for a writable audit trail (AuditGate);
  // /healthz, /metrics and the static files do not: the operator and the
  // balancer must still see the failure.
  auto gated = [this](ApiResponse (Service::*fn)(const ApiRequest&)) {
    return [this, fn](const ApiRequest& r) {
      if (Status st = AuditGate(); !st.ok()) {
        ApiResponse answer = ErrorResponse(st);
        answer.headers.emplace_back("Retry-After", std::to_string(kAuditProbeIntervalMs / 1000));
        return answer;
      }
      return (this->*fn)(r);
    };
  };
  http.Route("GET", "/healthz", bind(&Service::Health));
  if (!deps_.metrics_access.separate_listener()) RegisterMetricsRoute(http);
  http.Route("POST", "/v1/admin/accounts", gated(&Service::AdminCreateAccount));
  http.Route("GET", "/v1/admin/accounts/([A-Za-z0-9._@:-]{1,128})", gated(&Service::AdminGetAccount));
  http.Route("DELETE", "/v1/admin/accounts/([A-Za-z0-9._@:-]{1,128})/biometrics",
             gated(&Service::AdminDeleteBiometrics));
  // Slow routes (seconds of vision work) leave one worker to the others,
  // /healthz included (RouteCost, docs/DEPLOY.md "Health").
  http.Route("POST", "/v1/admin/references", gated(&Service::AdminImportReference), RequestBody::kJson,
             RouteCost::kSlow);
  http.Route("POST", "/v1/flows", gated(&Service::StartFlow));
  http.Route("POST", "/v1/flows/([0-9a-f]{32})/verify", gated(&Service::VerifyFlow));
  // Steps 3-11 carry sealed binary messages, the others JSON.
  http.Route("POST", "/v1/flows/([0-9a-f]{32})/risk", gated(&Service::RiskStep), RequestBody::kOctetStream);
  http.Route("POST", "/v1/flows/([0-9a-f]{32})/capture", gated(&Service::CaptureStep),
             RequestBody::kOctetStream, RouteCost::kSlow);
  if (!deps_.web_static_dir.empty()) RegisterStaticFiles(http, {deps_.web_static_dir});
}

void Service::RegisterMetricsRoute(HttpServer& http) {
  http.Route("GET", "/metrics", [this](const ApiRequest& r) { return MetricsText(r); });
}

ApiResponse Service::Health(const ApiRequest&) {
  // Healthy = the database answers and the audit trail can be written (a
  // balancer then drains a process whose audit disk is full; AuditGate
  // tries the trail again at most once a second).
  auto v = deps_.store->SchemaVersion();
  if (!v.ok()) return ErrorResponse(Status(StatusCode::kUnavailable, "health.database", "database unavailable"));
  const bool audit_ok = AuditWritable();
  if (!audit_ok && deps_.refuse_when_audit_fails) {
    return ErrorResponse(Status(StatusCode::kUnavailable, "health.audit", "the audit log cannot be written"));
  }
  return JsonResponse(200, json{{"status", "ok"},
                                {"database", deps_.store->backend_name()},
                                {"schema_version", *v},
                                {"audit", audit_ok ? "ok" : "failing"},
                                {"uptime_s", (NowMs() - started_ms_) / 1000}}
                               .dump());
}

ApiResponse Service::MetricsText(const ApiRequest& req) {
  // Issue 12, finding 3: the exposition tells about traffic and refusals,
  // so by default only the operator (admin token) reads it; the admin rate
  // limit applies like on every admin call.
  if (deps_.metrics_access.require_admin_token) {
    if (auto st = CheckAdmin(req); !st.ok()) return Refuse(st, "admin.metrics.read", req);
  }
  ApiResponse r;
  r.content_type = "text/plain; version=0.0.4";
  deps_.metrics->SetCounter("livegate_processing_seconds_total", "part=\"vision\"",
                            timings_.vision_ns.load() / 1e9);
  deps_.metrics->SetCounter("livegate_processing_seconds_total", "part=\"crypto\"",
                            timings_.crypto_ns.load() / 1e9);
  deps_.metrics->SetCounter("livegate_processing_seconds_total", "part=\"database\"",
                            timings_.database_ns.load() / 1e9);
  deps_.metrics->SetGauge("livegate_uptime_seconds", "", static_cast<double>(NowMs() - started_ms_) / 1000.0);
  r.body = deps_.metrics->Render();
  return r;
}

Status Service::CheckAdmin(const ApiRequest& r) {
  // Issue 12, finding 4: admin requests are rate-limited per address
  // before the token is looked at, and an address that sent too many wrong
  // tokens gets 429 until its failure bucket refills: guessing or flooding
  // costs one counted refusal, not an audit line each.
  LG_RETURN_IF_ERROR(CheckRate(per_admin_address_, r.remote_addr, "admin"));
  if (!per_admin_failure_.Available(r.remote_addr)) {
    deps_.metrics->Increment("livegate_rate_limited_total", "scope=\"admin\"");
    return Status(StatusCode::kResourceExhausted, "rate.limited",
                  "too many failed admin authentications; wait a minute and try again");
  }
  Status st = CheckAdminToken(r);
  if (!st.ok()) (void)per_admin_failure_.Allow(r.remote_addr);  // takes a failure token
  return st;
}

Status Service::CheckAdminToken(const ApiRequest& r) const {
  // Admin authentication: a bearer token whose SHA-256 is configured
  // (docs/API.md explains the choice over mutual TLS).
  const std::string auth = r.Header("authorization");
  const std::string prefix = "Bearer ";
  if (deps_.admin.token_sha256_hex.empty() || auth.rfind(prefix, 0) != 0) {
    return Status::Unauthenticated("auth.failed", "authentication failed");
  }
  const auto got = crypto::Sha256(crypto::AsBytes(std::string_view(auth).substr(prefix.size())));
  auto want = crypto::HexDecode(deps_.admin.token_sha256_hex);
  if (!want.ok() || !crypto::ConstantTimeEqual(got, *want)) {
    return Status::Unauthenticated("auth.failed", "authentication failed");
  }
  return Status::Ok();
}

Status Service::CheckRate(RateLimiter& limiter, const std::string& key, const char* what) {
  if (limiter.Allow(key)) return Status::Ok();
  deps_.metrics->Increment("livegate_rate_limited_total", std::string("scope=\"") + what + "\"");
  return Status(StatusCode::kResourceExhausted, "rate.limited",
                "too many requests; wait a minute and try again");
}

void Service::Audit(AuditEvent e) {
  if (e.at_ms == 0) e.at_ms = NowMs();
  const Status st = deps_.audit->Record(e);
  if (st.ok()) return;
  if (st.reason() == "audit.head_not_recorded") {
    // The entry is in the log and chained; only the database's record of
    // the head lags (it catches up at the next append that reaches it).
    LogEvent(LogLevel::kWarn, "audit.head_not_recorded", {{"message", st.message()}});
    return;
  }
  // Nothing is lost: the event (metadata only - the audit trail's character
  // set keeps biometric data out) goes whole to the server log, and the
  // trail is marked failing until an append works again.
  deps_.metrics->Increment("livegate_audit_write_failures_total", "");
  audit_lost_.fetch_add(1);
  if (!audit_failing_.exchange(true)) audit_failing_since_ms_.store(e.at_ms);
  deps_.metrics->SetGauge("livegate_audit_failing", "", 1);
  LogEvent(LogLevel::kError, "audit.write_failed",
           {{"reason", st.reason()}, {"message", st.message()}, {"audit_event", e.ToJson()}});
}

bool Service::AuditWritable() {
  if (!audit_failing_.load()) return true;
  // One probe at a time, at most one a second: a flood of refused requests
  // does not turn into a flood of failing writes.
  std::unique_lock<std::mutex> lock(audit_probe_mu_, std::try_to_lock);
  const std::int64_t now = NowMs();
  if (!lock.owns_lock() || now < audit_next_probe_ms_) return false;
  audit_next_probe_ms_ = now + kAuditProbeIntervalMs;
  const std::uint64_t lost = audit_lost_.load();
  AuditEvent resumed{"server", "audit.resumed", "", "", "", "ok",
                     {"lost:" + std::to_string(lost),
                      "failing_since_ms:" + std::to_string(audit_failing_since_ms_.load())},
                     ""};
  resumed.at_ms = now;
  if (const Status st = deps_.audit->Record(resumed); !st.ok() && st.reason() != "audit.head_not_recorded") {
    return false;
  }
  // Cleared before the count is taken back: an append failing meanwhile
  // sets the flag again and keeps its own count.
  audit_failing_.store(false);
  audit_lost_.fetch_sub(lost);
  deps_.metrics->SetGauge("livegate_audit_failing", "", audit_failing_.load() ? 1 : 0);
  LogEvent(LogLevel::kWarn, "audit.resumed", {{"lost", lost}});
  return true;
}

Status Service::AuditGate() {
  if (AuditWritable() || !deps_.refuse_when_audit_fails) return Status::Ok();
  deps_.metrics->Increment("livegate_refusals_total", "reason=\"audit.unavailable\"");
  return Status(StatusCode::kUnavailable, "audit.unavailable",
                "the audit log cannot be written; this server refuses requests until it can");
}

ApiResponse Service::Refuse(const Status& st, const std::string& operation, const ApiRequest& r,
                            const std::string& account, const std::string& flow) {
  deps_.metrics->Increment("livegate_refusals_total", "reason=\"" + st.reason() + "\"");
  // Issue 12, finding 4: a refusal that names an account (a lockout, a
  // step of that account's flow, an admin call on it) is a decision about
  // that account and is written on its own (R-SEC-SRV-4); the per-address
  // rate limit bounds how many there can be. Every other refusal - 429s,
  // wrong admin tokens, malformed or unknown-flow requests - is aggregated
  // per (address, reason): the first of a window is written, the rest
  // counted into one summary entry (FlushRefusalSummaries).
  const bool rate_limited = st.reason() == "rate.limited";
  ApiResponse answer = ErrorResponse(st);
  // The limits are per minute (RFC 9110 section 10.2.3 Retry-After).
  if (rate_limited) answer.headers.emplace_back("Retry-After", "60");
  const bool about_an_account = !account.empty() && !rate_limited;
  if (!about_an_account && !refusals_.Admit(r.remote_addr, st.reason(), NowMs())) {
    deps_.metrics->Increment("livegate_audit_refusals_aggregated_total", "");
    return answer;
  }
  AuditEvent e;
  e.actor = operation.rfind("admin.", 0) == 0 ? "admin" : "client";
  e.operation = operation;
  e.account_id = account;
  e.flow_id = flow;
  e.outcome = "refused";
  e.reasons = {st.reason()};
  e.remote = r.remote_addr;
  Audit(std::move(e));
  return answer;
}

void Service::FlushRefusalSummaries(bool all) {
  for (const auto& s : refusals_.TakeDue(NowMs(), all)) Audit(RefusalSummaryEvent(s, refusals_.window_ms()));
}

// ---------------------------------------------------------------- admin

ApiResponse Service::AdminCreateAccount(const ApiRequest& r) {
  const char* op = "admin.account.create";
  if (auto st = CheckAdmin(r); !st.ok()) return Refuse(st, op, r);
  protocol::JsonLimits jl;
  jl.max_bytes = 16u << 10;
  auto doc = protocol::ParseJsonObject(r.body, jl);
  if (!doc.ok()) return Refuse(doc.status(), op, r);
  protocol::ObjectReader rd(*doc, "account");
  storage::Account a;
  auto id = rd.String("account_id", 1, 128);
  auto group = rd.String("srp_group", 1, 64);
  auto hash = rd.String("srp_hash", 1, 32);
  auto salt = rd.Base64Url("salt", 64, 16);
  auto verifier = rd.Base64Url("verifier", 1024, 1);
  for (const Status* st : {&id.status(), &group.status(), &hash.status(), &salt.status(), &verifier.status()}) {
    if (!st->ok()) return Refuse(*st, op, r);
  }
  if (auto st = rd.Finish(); !st.ok()) return Refuse(st, op, r);
  crypto::SrpPolicy sp;
  sp.allowed_groups = deps_.srp.allowed_groups;
  sp.allowed_hashes = {deps_.srp.hash};
  if (auto st = sp.Check({*group, *hash}); !st.ok()) return Refuse(st, op, r, *id);
  a.account_id = *id;
  a.srp_group = *group;
  a.srp_salt = *salt;
  a.srp_verifier = *verifier;
  a.created = Now();
  if (auto st = deps_.store->CreateAccount(a); !st.ok()) return Refuse(st, op, r, *id);
  Audit({"admin", op, *id, "", "", "ok", {}, r.remote_addr});
  return JsonResponse(201, json{{"account_id", *id}, {"state", "active"}}.dump());
}

ApiResponse Service::AdminGetAccount(const ApiRequest& r) {
  const char* op = "admin.account.get";
  if (auto st = CheckAdmin(r); !st.ok()) return Refuse(st, op, r);
  const std::string& id = r.captures.at(0);
  auto a = deps_.store->GetAccount(id);
  if (!a.ok()) return Refuse(a.status(), op, r, id);
  auto devices = deps_.store->ListDevices(id);
  auto refs = deps_.store->ListReferences(id);
  auto key = deps_.store->GetUserKey(id);
  if (!devices.ok()) return Refuse(devices.status(), op, r, id);
  if (!refs.ok()) return Refuse(refs.status(), op, r, id);
  json jd = json::array(), jr = json::array();
  for (const auto& d : *devices) jd.push_back({{"device_id", d.device_id}, {"device_type", d.device_type}});
  for (const auto& ref : *refs) {
    jr.push_back({{"device_type", ref.device_type}, {"source", ref.source},
                  {"transform_version", ref.transform_version}});
  }
  auto locked_until = LockedUntil(id);  // decision 11.9, from the failure events
  if (!locked_until.ok()) return Refuse(locked_until.status(), op, r, id);
  const bool locked = locked_until->has_value();
  Audit({"admin", op, id, "", "", "ok", {}, r.remote_addr});
  return JsonResponse(200, json{{"account_id", id},
                                {"state", storage::AccountStateName(a->state)},
                                {"locked", locked},
                                {"failure_count", a->failure_count},
                                {"devices", jd},
                                {"references", jr},
                                {"has_user_key", key.ok()}}
                               .dump());
}

ApiResponse Service::AdminDeleteBiometrics(const ApiRequest& r) {
  // The audited operator path of decision 11.11 (crypto-shredding).
  const char* op = "admin.account.delete_biometrics";
  if (auto st = CheckAdmin(r); !st.ok()) return Refuse(st, op, r);
  const std::string& id = r.captures.at(0);
  if (auto a = deps_.store->GetAccount(id); !a.ok()) return Refuse(a.status(), op, r, id);
  Status st = deps_.store->Transact([&](storage::StoreOps& ops) {
    LG_RETURN_IF_ERROR(ops.DeleteUserBiometrics(id));
    storage::RiskEvent ev;
    ev.account_id = id;
    ev.event_type = "operator_deregistration";
    ev.success = true;
    ev.at = Now();
    return ops.AppendRiskEvent(ev);
  });
  if (!st.ok()) return Refuse(st, op, r, id);
  Audit({"admin", op, id, "", "", "ok", {"deregistration.operator"}, r.remote_addr});
  return JsonResponse(200, json{{"account_id", id}, {"outcome", "deregistered"}}.dump());
}

ApiResponse Service::AdminImportReference(const ApiRequest& r) {
  // Batch import (R-SRV-REG-1/2, decision 11.12): quality-judged, marked
  // with its source, audited; the same protection as a captured reference.
  const char* op = "admin.reference.import";
  if (auto st = CheckAdmin(r); !st.ok()) return Refuse(st, op, r);
  protocol::JsonLimits jl;
  jl.max_bytes = deps_.limits.max_body_bytes;
  auto doc = protocol::ParseJsonObject(r.body, jl);
  if (!doc.ok()) return Refuse(doc.status(), op, r);
  protocol::ObjectReader rd(*doc, "import");
  auto id = rd.String("account_id", 1, 128);
  if (!id.ok()) return Refuse(id.status(), op, r);
  auto device_type = rd.String("device_type", 1, 128);
  if (!device_type.ok()) return Refuse(device_type.status(), op, r, *id);
  auto source = rd.String("source", 1, 64);
  if (!source.ok()) return Refuse(source.status(), op, r, *id);
  auto images = rd.Array("images", 16);
  if (!images.ok()) return Refuse(images.status(), op, r, *id);
  if (auto st = rd.Finish(); !st.ok()) return Refuse(st, op, r, *id);
  if ((*images)->empty()) {
    return Refuse(Status::BadInput("import.no_images", "at least one image is required"), op, r, *id);
  }
  if (auto a = deps_.store->GetAccount(*id); !a.ok()) return Refuse(a.status(), op, r, *id);
  if (deps_.analyzers == nullptr) {
    return Refuse(Status(StatusCode::kUnavailable, "vision.unavailable", "face analysis is not available"),
                  op, r, *id);
  }
  judgement::Capture capture;
  vision::ImageLimits il;
  il.max_bytes = deps_.limits.max_body_bytes;
  il.max_pixels = 16'000'000;
  // Reference photos from a batch: JPEG or PNG, nothing else is decoded.
  il.formats = vision::kImageJpeg | vision::kImagePng;
  for (std::size_t i = 0; i < (*images)->size(); ++i) {
    const auto& e = (**images)[i];
    if (!e.is_string()) {
      return Refuse(Status::BadInput("codec.wrong_type", "import.images holds base64url strings"), op, r, *id);
    }
    auto bytes = crypto::Base64UrlDecode(e.get<std::string>());
    if (!bytes.ok()) return Refuse(bytes.status(), op, r, *id);
    auto img = vision::DecodeImage(*bytes, il);
    if (!img.ok()) return Refuse(img.status(), op, r, *id);
    capture.frames.push_back({static_cast<std::int64_t>(i) * 100, std::move(img).value()});
  }
  auto judged = JudgeImagesWithPool(*deps_.analyzers, capture, deps_.judgement_policy,
                                    deps_.policy.low.min_quality * 100.0);
  if (!judged.ok()) return Refuse(judged.status(), op, r, *id);
  if (!judged->quality.accepted || !judged->descriptor) {
    std::string reason = judged->quality.reason.empty() ? "quality.failed" : judged->quality.reason;
    AuditEvent e{"admin", op, *id, "", "", "refused", {reason}, r.remote_addr};
    for (const auto& m : judged->quality.failed_measures) e.reasons.push_back("quality.measure." + m);
    Audit(e);
    json j;
    j["error"]["reason"] = "import.quality_rejected";
    j["error"]["message"] = "the images do not meet the quality policy (" + reason + ")";
    j["error"]["failed_measures"] = judged->quality.failed_measures;
    return JsonResponse(422, j.dump());
  }
  const std::string src = "batch:" + *source;
  Status st = deps_.store->Transact([&](storage::StoreOps& ops) {
    LG_RETURN_IF_ERROR(protector_->Enroll(ops, *id, *device_type, *judged->descriptor, src));
    storage::RiskEvent ev;
    ev.account_id = *id;
    ev.event_type = "batch_import";
    ev.success = true;
    ev.reason_codes = src;
    ev.at = Now();
    return ops.AppendRiskEvent(ev);
  });
  if (!st.ok()) return Refuse(st, op, r, *id);
  Audit({"admin", op, *id, "", "", "ok", {"import.source:" + *source}, r.remote_addr});
  return JsonResponse(201, json{{"account_id", *id},
                                {"device_type", *device_type},
                                {"source", src},
                                {"quality_score", judged->best_quality_score}}
                               .dump());
}

}  // namespace livegate::server
