// livegate-server: loads one configuration file (validated at start-up,
// src/server/config.h), the decision policy, the master key, the reference
// database, TLS material and the audit log, then serves the /v1 API over
// HTTPS until SIGINT/SIGTERM.
//
//   livegate-server --config /etc/livegate/server.json
//   livegate-server --config server.json --check   # validate and exit
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "crypto/audit_log.h"
#include "crypto/key_manager.h"
#include "crypto/key_store.h"
#include "judgement/policy.h"
#include "server/audit.h"
#include "server/capture_judge.h"
#include "server/config.h"
#include "server/decision_logic.h"
#include "server/http_server.h"
#include "server/json_log.h"
#include "server/master_key.h"
#include "server/scripted_challenges.h"
#include "server/service.h"
#include "storage/reference_store.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(const livegate::Status& st, const char* what) {
  std::cerr << "livegate-server: " << what << ": " << st.ToString() << "\n";
  livegate::server::LogEvent(livegate::server::LogLevel::kError, "startup.failed",
                             {{"stage", what}, {"reason", st.reason()}, {"message", st.message()}});
  return st.code() == livegate::StatusCode::kUnavailable ? 4 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace livegate;
  CLI::App app("livegate-server - X.1279 remote face authentication server");
  std::string config_path;
  bool check_only = false;
  app.add_option("--config,-c", config_path, "configuration file (JSON)")->required();
  app.add_flag("--check", check_only, "validate the configuration and policy, then exit");
  CLI11_PARSE(app, argc, argv);

  auto config = server::LoadServerConfig(config_path);
  if (!config.ok()) return Fail(config.status(), "configuration");
  auto policy = server::LoadPolicy(config->policy_file);
  if (!policy.ok()) return Fail(policy.status(), "policy");
  // The judgement policy, and the rule that the scripted-challenge hook
  // needs challenge.allow_scripted (config.scripted_not_allowed).
  auto jpolicy = server::LoadJudgementPolicy(*config);
  if (!jpolicy.ok()) return Fail(jpolicy.status(), "judgement policy");
  if (check_only) {
    std::cout << "configuration and policy are valid\n";
    return 0;
  }
  if (auto st = server::ConfigureJsonLog(config->log.level, config->log.file); !st.ok()) {
    return Fail(st, "logging");
  }

  // Current KEK and, during rotation, the previous one (master_key.previous_*).
  auto keys = server::LoadMasterKeys(config->master_key);
  if (!keys.ok()) return Fail(keys.status(), "master key");
  if (keys->has_previous()) {
    server::LogEvent(server::LogLevel::kInfo, "keys.rotation",
                     {{"current_kek", keys->current_kek_id()}, {"previous_kek", keys->previous_kek_id()}});
  }

  auto store = storage::OpenStore(config->database.uri);
  if (!store.ok()) return Fail(store.status(), "database");

  crypto::TlsOptions to;
  to.cert_file = config->tls.cert_path.string();
  to.key_file = config->tls.key_path.string();
  to.key_dir = config->tls.generated_dir.string();
  auto tls = crypto::LoadOrCreateTlsMaterial(to, *keys);
  if (!tls.ok()) return Fail(tls.status(), "TLS material");
  for (const auto& w : tls->warnings) server::LogEvent(server::LogLevel::kWarn, "tls.warning", {{"message", w}});

  auto signing = crypto::LoadOrCreateAuditSigningKey(config->tls.generated_dir.string(), *keys);
  if (!signing.ok()) return Fail(signing.status(), "audit signing key");
  auto sink = crypto::FileAuditSink::Open(config->log.audit_file.string());
  if (!sink.ok()) return Fail(sink.status(), "audit log");
  auto audit_log = crypto::AuditLog::Open(std::move(sink).value(), signing->private_key);
  if (!audit_log.ok()) return Fail(audit_log.status(), "audit log");
  server::ChainedAuditTrail chained(audit_log->get());
  server::LogAuditTrail audit(100, &chained);

  server::Metrics metrics;
  vision::AnalyzerOptions ao;
  server::AnalyzerPool analyzers(config->limits.thread_pool_size, ao);

  server::ServiceDeps deps;
  deps.store = store->get();
  deps.keys = &*keys;
  deps.analyzers = &analyzers;
  deps.audit = &audit;
  deps.metrics = &metrics;
  deps.policy = *policy;
  deps.judgement_policy = *jpolicy;
  deps.scripted_challenges_dir = config->testing.scripted_challenges_dir;
  if (!deps.scripted_challenges_dir.empty()) {
    std::cerr << "livegate-server: WARNING: scripted challenges are enabled from "
              << deps.scripted_challenges_dir << " - tests and evaluation only, never production\n";
  }
  deps.limits = config->limits;
  deps.srp = config->srp;
  deps.admin = config->admin;
  if (config->web.enabled) deps.web_static_dir = config->web.static_dir;
  auto service = server::Service::Create(deps);
  if (!service.ok()) return Fail(service.status(), "service");

  server::HttpServerOptions ho;
  ho.address = config->listen.address;
  ho.port = config->listen.port;
  ho.cert_pem = tls->cert_pem;
  ho.key_pem = tls->key_pem;
  ho.max_body_bytes = config->limits.max_body_bytes;
  ho.max_header_bytes = config->limits.max_header_bytes;
  ho.max_header_count = config->limits.max_header_count;
  ho.header_timeout_ms = config->limits.header_timeout_ms;
  ho.body_timeout_ms = config->limits.body_timeout_ms;
  ho.read_timeout_ms = config->limits.read_timeout_ms;
  ho.idle_timeout_ms = config->limits.idle_timeout_ms;
  ho.write_timeout_ms = config->limits.write_timeout_ms;
  ho.keep_alive_max_count = config->limits.keep_alive_max_count;
  ho.thread_pool_size = config->limits.thread_pool_size;
  ho.max_connections = config->limits.max_connections;
  ho.max_connections_per_address = config->limits.max_connections_per_address;
  auto http = server::HttpServer::Create(ho, &metrics);
  if (!http.ok()) return Fail(http.status(), "HTTPS");
  (*service)->RegisterRoutes(**http);
  if (auto st = (*http)->Start(); !st.ok()) return Fail(st, "listen");

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  server::LogEvent(server::LogLevel::kInfo, "server.started",
                   {{"address", ho.address}, {"port", (*http)->port()},
                    {"database", (*store)->backend_name()}, {"threads", ho.thread_pool_size},
                    {"tls_generated", tls->generated}});
  std::cout << "livegate-server listening on https://" << ho.address << ":" << (*http)->port()
            << std::endl;
  // Housekeeping once a minute: expired flows and nonces, and the failure
  // events of unknown account ids once the lockout no longer needs them
  // (bounded tables under an account-id spraying attack).
  auto next_purge = std::chrono::steady_clock::now();
  while (!g_stop) {
    if (std::chrono::steady_clock::now() >= next_purge) {
      auto purged = (*service)->PurgeExpired();
      if (!purged.ok()) {
        server::LogEvent(server::LogLevel::kWarn, "purge.failed", {{"reason", purged.status().reason()}});
      } else if (*purged > 0) {
        server::LogEvent(server::LogLevel::kInfo, "purge.done", {{"rows", *purged}});
      }
      next_purge = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  (*http)->Stop();
  (void)(*audit_log)->Checkpoint();
  server::LogEvent(server::LogLevel::kInfo, "server.stopped", {});
  return 0;
}
