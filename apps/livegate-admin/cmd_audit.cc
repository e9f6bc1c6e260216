// `livegate-admin audit verify --log FILE --public-key FILE
//      [--database URI | --config server.json] [--json]`
// (R-SEC-SRV-4): checks the audit log's hash chain, sequence numbers and
// Ed25519 checkpoint signatures and reports the first entry that was
// modified, deleted, inserted or reordered. With the reference database
// (issue 12, finding 8) it also checks that the log still reaches the last
// signed checkpoint and the last entry the server recorded there, so a log
// cut short - tail cut, entries removed after the last checkpoint, the file
// replaced by a shorter valid prefix, or emptied - is reported as
// "truncated" (a different log in its place as "replaced", a log the
// database never saw as "unrecorded"). Exit 0 intact, 1 tampered or
// truncated, 3 unreadable input.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "command.h"
#include "crypto/audit_log.h"
#include "crypto/signing.h"
#include "server/config.h"
#include "storage/reference_store.h"

namespace {

struct AuditVerifyOptions {
  std::string log;
  std::string public_key;
  std::string database;
  std::string config;
  bool json = false;
};

int Fail(const livegate::Status& st, bool json) {
  if (json) {
    std::cout << nlohmann::json{{"ok", false}, {"error", st.reason()}, {"message", st.message()}}.dump(2)
              << "\n";
  } else {
    std::cerr << "livegate-admin audit verify: " << st.ToString() << "\n";
  }
  return livegate::cli::kExitBadInput;
}

std::string AbsolutePath(const std::string& p) {
  std::error_code ec;
  auto a = std::filesystem::absolute(p, ec);
  return (ec ? std::filesystem::path(p) : a).lexically_normal().string();
}

livegate::crypto::RecordedAuditHead FromStore(const livegate::storage::AuditHeadRecord& r) {
  return {r.genesis_hash, r.log_path, r.checkpoint_seq, r.checkpoint_hash, r.head_seq, r.head_hash};
}

int RunAuditVerify(AuditVerifyOptions o) {
  using namespace livegate;
  if (!o.config.empty() && o.database.empty()) {
    auto cfg = server::LoadServerConfig(o.config);
    if (!cfg.ok()) return Fail(cfg.status(), o.json);
    o.database = cfg->database.uri;
  }
  std::ifstream pem_in(o.public_key);
  if (!pem_in) return Fail(Status::NotFound("audit.no_public_key", "cannot read " + o.public_key), o.json);
  const std::string pem((std::istreambuf_iterator<char>(pem_in)), std::istreambuf_iterator<char>());
  auto pub = crypto::Ed25519PublicKeyFromPem(pem);
  if (!pub.ok()) return Fail(pub.status(), o.json);
  auto lines = crypto::ReadAuditLines(o.log);
  if (!lines.ok()) return Fail(lines.status(), o.json);

  // What the database recorded about this log: by its first entry, else
  // (an emptied or replaced file) by the path the server wrote it at.
  std::optional<crypto::RecordedAuditHead> recorded;
  std::string db_problem, db_detail;
  if (!o.database.empty()) {
    auto store = storage::OpenStore(o.database);
    if (!store.ok()) return Fail(store.status(), o.json);
    const std::string genesis = crypto::AuditGenesisHash(*lines);
    if (!genesis.empty()) {
      auto rec = (*store)->GetAuditHead(genesis);
      if (!rec.ok()) return Fail(rec.status(), o.json);
      if (rec->has_value()) recorded = FromStore(**rec);
    }
    if (!recorded) {
      auto by_path = (*store)->ListAuditHeadsByPath(AbsolutePath(o.log));
      if (!by_path.ok()) return Fail(by_path.status(), o.json);
      if (!by_path->empty()) {
        recorded = FromStore(by_path->front());
      } else if (!lines->empty()) {
        db_problem = "unrecorded";
        db_detail = "the database has no record of this log (neither its first entry nor its path): "
                    "it was not written by a server on this database, or the database lost the record";
      }
    }
  }
  crypto::AuditVerifyReport r =
      crypto::VerifyAuditLogAgainst(*lines, *pub, recorded ? &*recorded : nullptr);
  if (r.intact && !db_problem.empty()) {
    r.intact = false;
    r.problem = db_problem;
    r.first_bad_index = 0;
    r.detail = db_detail;
  }
  const bool against_db = !o.database.empty();
  if (o.json) {
    nlohmann::ordered_json j;
    j["ok"] = r.intact;
    j["entries"] = r.entries;
    j["checkpoints"] = r.checkpoints;
    j["unsigned_tail"] = r.unsigned_tail;
    j["checked_against_database"] = against_db;
    if (recorded) {
      j["recorded_checkpoint_seq"] = recorded->checkpoint_seq;
      j["recorded_head_seq"] = recorded->head_seq;
    }
    if (!r.intact) {
      j["problem"] = r.problem;
      j["first_bad_index"] = r.first_bad_index;
      j["first_bad_line"] = r.first_bad_index + 1;
      j["detail"] = r.detail;
    }
    std::cout << j.dump(2) << "\n";
  } else if (r.intact) {
    std::cout << "audit log intact: " << r.entries << " entries, " << r.checkpoints
              << " signed checkpoints, " << r.unsigned_tail
              << " entries after the last checkpoint (chained, not yet signed)\n";
    if (against_db && recorded) {
      std::cout << "reaches what the database recorded: checkpoint seq " << recorded->checkpoint_seq
                << ", last entry seq " << recorded->head_seq << "\n";
    } else if (!against_db) {
      std::cout << "not checked against the database (pass --database or --config to detect a log "
                   "cut short)\n";
    }
  } else if (r.problem == "truncated" || r.problem == "replaced" || r.problem == "unrecorded") {
    std::string upper = r.problem;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::cout << "audit log " << upper << ": " << r.detail << "\n";
  } else {
    std::cout << "audit log TAMPERED: entry " << r.first_bad_index << " (line "
              << r.first_bad_index + 1 << ") " << r.problem << ": " << r.detail << "\n";
  }
  return r.intact ? cli::kExitOk : cli::kExitRefused;
}

livegate::cli::Registration reg([](CLI::App& app) {
  auto* audit = app.add_subcommand("audit", "Audit log tools (R-SEC-SRV-4)");
  audit->require_subcommand(1);
  auto* verify = audit->add_subcommand(
      "verify", "Verify an audit log's hash chain and signed checkpoints; report the first bad entry");
  auto o = std::make_shared<AuditVerifyOptions>();
  verify->add_option("--log", o->log, "Audit log file (JSON lines)")->required();
  verify->add_option("--public-key", o->public_key, "Ed25519 public key PEM (audit_signing.pub.pem)")
      ->required();
  verify->add_option("--database", o->database,
                     "Reference database URI (sqlite:PATH or postgresql://...): also detect a log cut "
                     "short against the checkpoint and last entry recorded there");
  verify->add_option("--config", o->config, "Server configuration: its database.uri (when no --database)");
  verify->add_flag("--json", o->json, "Machine-readable report");
  verify->callback([o] { livegate::cli::SetExitCode(RunAuditVerify(*o)); });
});

}  // namespace
