// `livegate-admin audit verify --log FILE --public-key FILE [--json]`
// (R-SEC-SRV-4): checks the audit log's hash chain, sequence numbers and
// Ed25519 checkpoint signatures and reports the first entry that was
// modified, deleted, inserted or reordered. Exit 0 intact, 1 tampered,
// 3 unreadable input.
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "command.h"
#include "crypto/audit_log.h"
#include "crypto/signing.h"

namespace {

struct AuditVerifyOptions {
  std::string log;
  std::string public_key;
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

int RunAuditVerify(const AuditVerifyOptions& o) {
  using namespace livegate;
  std::ifstream pem_in(o.public_key);
  if (!pem_in) return Fail(Status::NotFound("audit.no_public_key", "cannot read " + o.public_key), o.json);
  const std::string pem((std::istreambuf_iterator<char>(pem_in)), std::istreambuf_iterator<char>());
  auto pub = crypto::Ed25519PublicKeyFromPem(pem);
  if (!pub.ok()) return Fail(pub.status(), o.json);
  auto lines = crypto::ReadAuditLines(o.log);
  if (!lines.ok()) return Fail(lines.status(), o.json);
  const crypto::AuditVerifyReport r = crypto::VerifyAuditLog(*lines, *pub);
  if (o.json) {
    nlohmann::ordered_json j;
    j["ok"] = r.intact;
    j["entries"] = r.entries;
    j["checkpoints"] = r.checkpoints;
    j["unsigned_tail"] = r.unsigned_tail;
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
  verify->add_flag("--json", o->json, "Machine-readable report");
  verify->callback([o] { livegate::cli::SetExitCode(RunAuditVerify(*o)); });
});

}  // namespace
