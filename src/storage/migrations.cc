// Schema migrations: an ordered list per dialect, applied at open inside one
// write transaction; a database newer than the code is refused.
// The schema is documented in docs/STORAGE.md.
#include <string>
#include <vector>

#include "storage/sql_backend.h"

namespace livegate::storage::internal {
namespace {

// Version 1. `bin`/`int` differ per dialect; everything else is shared SQL.
std::vector<std::string> V1(Dialect d) {
  const std::string bin = d == Dialect::kSqlite ? "BLOB" : "BYTEA";
  const std::string i64 = d == Dialect::kSqlite ? "INTEGER" : "BIGINT";
  const std::string serial =
      d == Dialect::kSqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY";
  return {
      "CREATE TABLE accounts ("
      " account_id TEXT PRIMARY KEY,"
      " srp_verifier " + bin + " NOT NULL,"
      " srp_salt " + bin + " NOT NULL,"
      " srp_group TEXT NOT NULL,"
      " state " + i64 + " NOT NULL CHECK (state IN (0, 1, 2)),"
      " failure_count " + i64 + " NOT NULL DEFAULT 0,"
      " locked_until_ms " + i64 + ","
      " last_success_ms " + i64 + ","
      " created_ms " + i64 + " NOT NULL)",

      "CREATE TABLE devices ("
      " device_id TEXT PRIMARY KEY,"
      " account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,"
      " device_type TEXT NOT NULL,"
      " srp_verifier " + bin + " NOT NULL,"
      " srp_salt " + bin + " NOT NULL,"
      " srp_group TEXT NOT NULL,"
      " created_ms " + i64 + " NOT NULL,"
      " last_seen_ms " + i64 + " NOT NULL)",
      "CREATE INDEX devices_by_account ON devices (account_id)",

      // One reference per account and device type (R-SRV-QJ-5).
      "CREATE TABLE biometric_references ("
      " account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,"
      " device_type TEXT NOT NULL,"
      " protected_template " + bin + " NOT NULL,"
      " transform_version " + i64 + " NOT NULL,"
      " source TEXT NOT NULL,"
      " created_ms " + i64 + " NOT NULL,"
      " PRIMARY KEY (account_id, device_type))",

      "CREATE TABLE user_keys ("
      " account_id TEXT PRIMARY KEY REFERENCES accounts (account_id) ON DELETE CASCADE,"
      " wrapped_data_key " + bin + " NOT NULL,"
      " sealed_transform_key " + bin + " NOT NULL,"
      " transform_version " + i64 + " NOT NULL,"
      " created_ms " + i64 + " NOT NULL)",

      // No foreign key: failures against unknown accounts are risk data too.
      "CREATE TABLE risk_events ("
      " id " + serial + ","
      " account_id TEXT NOT NULL,"
      " device_id TEXT NOT NULL,"
      " event_type TEXT NOT NULL,"
      " success " + i64 + " NOT NULL,"
      " network TEXT NOT NULL,"
      " platform TEXT NOT NULL,"
      " reason_codes TEXT NOT NULL,"
      " at_ms " + i64 + " NOT NULL)",
      "CREATE INDEX risk_events_by_account ON risk_events (account_id, at_ms)",

      "CREATE TABLE flows ("
      " flow_id TEXT PRIMARY KEY,"
      " flow_type TEXT NOT NULL,"
      " step " + i64 + " NOT NULL,"
      " account_id TEXT NOT NULL,"
      " channel_state " + bin + " NOT NULL,"
      " challenge_json TEXT NOT NULL,"
      " created_ms " + i64 + " NOT NULL,"
      " expires_ms " + i64 + " NOT NULL,"
      " version " + i64 + " NOT NULL)",
      "CREATE INDEX flows_by_expiry ON flows (expires_ms)",

      "CREATE TABLE nonces ("
      " scope TEXT NOT NULL,"
      " nonce TEXT NOT NULL,"
      " expires_ms " + i64 + " NOT NULL,"
      " PRIMARY KEY (scope, nonce))",
      "CREATE INDEX nonces_by_expiry ON nonces (expires_ms)",
  };
}

// Version 2: open flows are counted per account at every flow start and
// every SRP proof (the open-flow cap and the lockout's in-flight guesses,
// R-SEC-SRV-1): an index, so the count does not scan the table.
std::vector<std::string> V2(Dialect) {
  return {"CREATE INDEX flows_by_account ON flows (account_id, expires_ms)"};
}

// Version 3 (issue 12, finding 8): where each audit log stood - its last
// signed checkpoint and its last entry - out of reach of a truncation of
// the log file (livegate-admin audit verify --database).
std::vector<std::string> V3(Dialect d) {
  const std::string i64 = d == Dialect::kSqlite ? "INTEGER" : "BIGINT";
  return {
      "CREATE TABLE audit_heads ("
      " genesis_hash TEXT PRIMARY KEY,"
      " log_path TEXT NOT NULL,"
      " checkpoint_seq " + i64 + " NOT NULL,"
      " checkpoint_hash TEXT NOT NULL,"
      " head_seq " + i64 + " NOT NULL,"
      " head_hash TEXT NOT NULL,"
      " updated_ms " + i64 + " NOT NULL)",
      "CREATE INDEX audit_heads_by_path ON audit_heads (log_path, updated_ms)",
  };
}

}  // namespace

const std::vector<std::vector<std::string>>& Migrations(Dialect dialect) {
  static const std::vector<std::vector<std::string>> sqlite = {V1(Dialect::kSqlite), V2(Dialect::kSqlite),
                                                               V3(Dialect::kSqlite)};
  static const std::vector<std::vector<std::string>> postgres = {V1(Dialect::kPostgres), V2(Dialect::kPostgres),
                                                                 V3(Dialect::kPostgres)};
  return dialect == Dialect::kSqlite ? sqlite : postgres;
}

Status Migrate(SqlConn& conn, Dialect dialect, const Clock& clock) {
  const auto& migrations = Migrations(dialect);
  static_assert(kSchemaVersion == 3, "add the migration to Migrations() and bump kSchemaVersion");
  LG_RETURN_IF_ERROR(conn.Exec("CREATE TABLE IF NOT EXISTS schema_version ("
                               " version INTEGER PRIMARY KEY,"
                               " applied_ms BIGINT NOT NULL)",
                               {})
                         .status());
  LG_ASSIGN_OR_RETURN(auto rows, conn.Exec("SELECT COALESCE(MAX(version), 0) FROM schema_version", {}));
  std::int64_t current = 0;
  if (!rows.empty()) {
    if (const auto* v = std::get_if<std::int64_t>(&rows[0][0])) current = *v;
  }
  if (current > static_cast<std::int64_t>(migrations.size())) {
    return Status(StatusCode::kUnsupported, "storage.schema_too_new",
                  "database schema version " + std::to_string(current) +
                      " is newer than this livegate knows (" + std::to_string(migrations.size()) +
                      "); upgrade livegate");
  }
  for (std::size_t v = static_cast<std::size_t>(current) + 1; v <= migrations.size(); ++v) {
    for (const auto& stmt : migrations[v - 1]) LG_RETURN_IF_ERROR(conn.Exec(stmt, {}).status());
    LG_RETURN_IF_ERROR(conn.Exec("INSERT INTO schema_version (version, applied_ms) VALUES (?, ?)",
                                 {static_cast<std::int64_t>(v), ToMillis(clock())})
                           .status());
  }
  return Status::Ok();
}

}  // namespace livegate::storage::internal
