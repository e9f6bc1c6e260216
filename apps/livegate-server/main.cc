// livegate-server: loads one configuration file (validated at start-up,
// src/server/config.h), the decision policy, the master key, the reference
// database, TLS material and the audit log, then serves the /v1 API over
// HTTPS until SIGINT/SIGTERM.
//
//   livegate-server --config /etc/livegate/server.json
//   livegate-server --config server.json --check   # validate and exit
//   livegate-server --config server.json --master-key-file /run/secrets/kek
//   livegate-server --config server.json --master-key-fd 3 3< <(secret-tool ...)
//
// Files (issue 12, finding 6): the process runs with umask 077, and every
// file it creates (database, -wal, -shm, logs, keys, audit log) is made
// owner-only explicitly as well; directories it creates are 0700.
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "crypto/audit_log.h"
#include "crypto/key_manager.h"
#include "crypto/key_store.h"
#include "crypto/signing.h"
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
#include "vision/passive_pad_model.h"
#include "storage/reference_store.h"

#include <filesystem>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Fail(const livegate::Status& st, const char* what) {
  std::cerr << "livegate-server: " << what << ": " << st.ToString() << "\n";
  livegate::server::LogEvent(livegate::server::LogLevel::kError, "startup.failed",
                             {{"stage", what}, {"reason", st.reason()}, {"message", st.message()}});
  return st.code() == livegate::StatusCode::kUnavailable ? 4 : 3;
}

// SQLite creates -wal and -shm with the database file's mode; make all
// three owner-only whatever the umask was when they were first created.
void MakeSqliteFilesPrivate(const std::string& db_path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string p = db_path + suffix;
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0 && (st.st_mode & 077) != 0) ::chmod(p.c_str(), 0600);
  }
}

std::string AbsolutePath(const std::filesystem::path& p) {
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return (ec ? p : a).lexically_normal().string();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace livegate;
  CLI::App app("livegate-server - X.1279 remote face authentication server");
  // Before anything is created: owner-only files and directories.
  ::umask(077);
  std::string config_path;
  std::string master_key_file;
  int master_key_fd = -1;
  bool check_only = false;
  app.add_option("--config,-c", config_path, "configuration file (JSON)")->required();
  app.add_flag("--check", check_only, "validate the configuration and policy, then exit");
  app.add_option("--master-key-file", master_key_file,
                 "read the master key from this file (mode 0600; overrides master_key in the config)");
  app.add_option("--master-key-fd", master_key_fd,
                 "read the master key from this open file descriptor, then close it (overrides "
                 "master_key in the config)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  if (!master_key_file.empty() && master_key_fd >= 0) {
    std::cerr << "livegate-server: give at most one of --master-key-file and --master-key-fd\n";
    return 2;
  }

  auto config = server::LoadServerConfig(config_path);
  if (!config.ok()) return Fail(config.status(), "configuration");
  if (!master_key_file.empty() || master_key_fd >= 0) {
    // The command line names the current key; an env setting in the
    // config is still scrubbed (LoadMasterKeys wipes only what it reads).
    if (!config->master_key.env.empty()) server::ScrubEnvironmentVariable(config->master_key.env);
    config->master_key.file = master_key_file;
    config->master_key.env.clear();
    config->master_key.fd = master_key_fd;
  }
  auto policy = server::LoadPolicy(config->policy_file);
  if (!policy.ok()) return Fail(policy.status(), "policy");
  // The judgement policy, and the rule that the scripted-challenge hook
  // needs challenge.allow_scripted (config.scripted_not_allowed).
  auto jpolicy = server::LoadJudgementPolicy(*config);
  if (!jpolicy.ok()) return Fail(jpolicy.status(), "judgement policy");
  // The optional passive PAD model: read and checked against its pin now,
  // so a wrong file stops the server here (model.pin_mismatch), not at the
  // first capture; one network is built to prove cv::dnn can run it.
  std::shared_ptr<const vision::PassivePadWeights> pad_weights;
  if (config->pad_model.enabled()) {
    vision::PassivePadOptions po;
    po.file = config->pad_model.file;
    po.sha256 = config->pad_model.sha256;
    po.input_size = config->pad_model.input_size;
    po.crop_scale = static_cast<float>(config->pad_model.crop_scale);
    po.live_index = config->pad_model.live_index;
    auto w = vision::ReadPinnedPassivePad(po);
    if (!w.ok()) return Fail(w.status(), "pad_model");
    auto probe = vision::PassivePadModel::Create(*w);
    if (!probe.ok()) return Fail(probe.status(), "pad_model");
    pad_weights = *w;
    std::cerr << "livegate-server: passive PAD model " << po.file.string() << " (sha256 " << pad_weights->options.sha256
              << ") fused by the judgement policy's combine section\n";
  }
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
  if (config->database.is_sqlite()) MakeSqliteFilesPrivate(config->database.sqlite_path());

  crypto::TlsOptions to;
  to.cert_file = config->tls.cert_path.string();
  to.key_file = config->tls.key_path.string();
  to.key_dir = config->tls.generated_dir.string();
  auto tls = crypto::LoadOrCreateTlsMaterial(to, *keys);
  if (!tls.ok()) return Fail(tls.status(), "TLS material");
  for (const auto& w : tls->warnings) server::LogEvent(server::LogLevel::kWarn, "tls.warning", {{"message", w}});

  auto signing = crypto::LoadOrCreateAuditSigningKey(config->tls.generated_dir.string(), *keys);
  if (!signing.ok()) return Fail(signing.status(), "audit signing key");
  // Issue 12, finding 8: the database keeps where the audit log stood (its
  // last signed checkpoint and last entry), out of reach of a cut of the
  // file. A log that no longer reaches what the database recorded is not
  // continued (that would bury the cut under new entries): the operator
  // verifies and archives it first.
  const std::string audit_path = AbsolutePath(config->log.audit_file);
  if (auto lines = crypto::ReadAuditLines(audit_path); lines.ok() && !lines->empty()) {
    // An unparseable first line is AuditLog::Open's to refuse (tampered).
    const std::string genesis = crypto::AuditGenesisHash(*lines);
    auto rec = (*store)->GetAuditHead(genesis);
    if (!rec.ok()) return Fail(rec.status(), "audit log");
    if (!genesis.empty() && rec->has_value()) {
      auto pub = crypto::Ed25519PublicFromPrivate(signing->private_key);
      if (!pub.ok()) return Fail(pub.status(), "audit log");
      crypto::RecordedAuditHead r{(*rec)->genesis_hash, (*rec)->log_path, (*rec)->checkpoint_seq,
                                  (*rec)->checkpoint_hash, (*rec)->head_seq, (*rec)->head_hash};
      const auto report = crypto::VerifyAuditLogAgainst(*lines, *pub, &r);
      if (!report.intact) {
        return Fail(Status(StatusCode::kDataLoss, "audit.truncated",
                           "audit log " + audit_path + " " + report.problem + ": " + report.detail +
                               "; check it with `livegate-admin audit verify`, move it aside and restart"),
                    "audit log");
      }
    }
  }
  auto sink = crypto::FileAuditSink::Open(audit_path);
  if (!sink.ok()) return Fail(sink.status(), "audit log");
  crypto::AuditLogOptions audit_options;
  storage::ReferenceStore* head_store = store->get();
  audit_options.on_append = [head_store, audit_path](const crypto::AuditHead& h) {
    storage::AuditHeadRecord rec;
    rec.genesis_hash = h.genesis_hash;
    rec.log_path = audit_path;
    rec.head_seq = static_cast<std::int64_t>(h.seq);
    rec.head_hash = h.hash;
    if (h.checkpoint) {
      rec.checkpoint_seq = rec.head_seq;
      rec.checkpoint_hash = h.hash;
    }
    return head_store->RecordAuditHead(rec);
  };
  auto audit_log = crypto::AuditLog::Open(std::move(sink).value(), signing->private_key, audit_options);
  if (!audit_log.ok()) return Fail(audit_log.status(), "audit log");
  server::ChainedAuditTrail chained(audit_log->get());
  server::LogAuditTrail audit(100, &chained);

  server::Metrics metrics;
  vision::AnalyzerOptions ao;
  server::AnalyzerPool analyzers(config->limits.thread_pool_size, ao, pad_weights);

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
  deps.metrics_access = config->metrics;
  deps.audit_refusal_window_ms = static_cast<std::int64_t>(config->log.audit_refusal_window_seconds) * 1000;
  deps.refuse_when_audit_fails = config->log.audit_failure == "refuse";
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
  ho.trusted_proxies = config->listen.trusted_proxies;
  auto http = server::HttpServer::Create(ho, &metrics);
  if (!http.ok()) return Fail(http.status(), "HTTPS");
  (*service)->RegisterRoutes(**http);
  if (auto st = (*http)->Start(); !st.ok()) return Fail(st, "listen");

  // /metrics on its own listener (metrics.listen), when configured.
  std::unique_ptr<server::HttpServer> metrics_http;
  if (config->metrics.separate_listener()) {
    server::HttpServerOptions mo = ho;
    mo.address = config->metrics.listen_address;
    mo.port = config->metrics.listen_port;
    mo.thread_pool_size = 2;
    mo.trusted_proxies.clear();  // monitoring connects directly, never through the balancer
    auto mh = server::HttpServer::Create(mo, nullptr);
    if (!mh.ok()) return Fail(mh.status(), "metrics HTTPS");
    metrics_http = std::move(mh).value();
    (*service)->RegisterMetricsRoute(*metrics_http);
    if (auto st = metrics_http->Start(); !st.ok()) return Fail(st, "metrics listen");
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  server::LogEvent(server::LogLevel::kInfo, "server.started",
                   {{"address", ho.address}, {"port", (*http)->port()},
                    {"database", (*store)->backend_name()}, {"threads", ho.thread_pool_size},
                    {"tls_generated", tls->generated}});
  std::cout << "livegate-server listening on https://" << ho.address << ":" << (*http)->port()
            << std::endl;
  if (metrics_http) {
    std::cout << "livegate-server metrics on https://" << config->metrics.listen_address << ":"
              << metrics_http->port() << "/metrics" << std::endl;
  }
  // Housekeeping once a minute: expired flows and nonces, and the failure
  // events of unknown account ids once the lockout no longer needs them
  // (bounded tables under an account-id spraying attack).
  auto next_purge = std::chrono::steady_clock::now();
  auto next_summary = std::chrono::steady_clock::now();
  while (!g_stop) {
    if (std::chrono::steady_clock::now() >= next_summary) {
      (*service)->FlushRefusalSummaries(false);  // windows that ended
      next_summary = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
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
  if (metrics_http) metrics_http->Stop();
  (*service)->FlushRefusalSummaries(true);  // nothing counted is lost
  if (auto st = (*audit_log)->Checkpoint(); !st.ok()) {
    server::LogEvent(server::LogLevel::kError, "audit.checkpoint_failed", {{"reason", st.reason()}});
  }
  server::LogEvent(server::LogLevel::kInfo, "server.stopped", {});
  return 0;
}
