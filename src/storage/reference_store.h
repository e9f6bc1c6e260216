// The reference database (X.1279 7.3.6, R-SRV-DB-1): accounts and their
// password SRP verifiers, device credentials, biometric references (one per
// device type, R-SRV-QJ-5; created only through registration, R-SRV-CMP-2),
// per-user wrapped data keys (R-SEC-STO-3, decision 11.5), risk history for
// the decision logic (R-SRV-DL-2), flow state and single-use nonces
// (R-SEC-SRV-3), and atomic multi-record operations (decision 11.11:
// deregistration shreds references, device credentials and the data key
// together).
//
// The store keeps bytes. It never sees a plaintext template: callers go
// through the template protection layer (storage/template_protection.h),
// which transforms and encrypts before anything reaches a backend
// (R-SRV-SM-2, R-SEC-STO-3/4).
//
// Backends: SQLite (embedded default) and PostgreSQL. Both pass
// tests/storage/conformance_store_test.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "livegate/status.h"

namespace livegate::storage {

using Bytes = std::vector<std::uint8_t>;
// Stored with millisecond resolution (int64 ms since the Unix epoch).
using Timestamp = std::chrono::system_clock::time_point;
// Injected clock: expiry of flows is judged against it (tests advance it).
using Clock = std::function<Timestamp()>;
Clock SystemClock();

// Stable reasons (Status::reason()) returned by every backend:
//   storage.account_not_found, storage.account_exists      NotFound / AlreadyExists
//   storage.device_not_found, storage.device_exists        NotFound / AlreadyExists
//   storage.reference_not_found                            NotFound
//   storage.user_key_not_found, storage.user_key_exists    NotFound / AlreadyExists
//   storage.user_key_conflict  FailedPrecondition: user key changed since it was read
//   storage.flow_not_found, storage.flow_exists            NotFound / AlreadyExists
//   storage.flow_expired                                   Expired
//   storage.flow_conflict   FailedPrecondition: flow changed since it was read
//   storage.nonce_used      Replay: the nonce was consumed before (R-SEC-SRV-3)
//   storage.invalid_argument InvalidArgument: empty id, bad value
//   storage.unavailable     Unavailable: cannot connect / open
//   storage.busy            Unavailable: lock not obtained within busy timeout
//   storage.corrupt         DataLoss: the database file is not a valid database
//   storage.schema_too_new  Unsupported: written by a newer livegate
//   storage.error           Internal: anything else from the engine

enum class AccountState { kActive = 0, kLocked = 1, kDeregistered = 2 };
const char* AccountStateName(AccountState state);

struct Account {
  std::string account_id;
  Bytes srp_verifier;          // password SRP-6a verifier (R-SRP-3)
  Bytes srp_salt;
  std::string srp_group;       // e.g. "modp/srp/3072"
  AccountState state = AccountState::kActive;
  int failure_count = 0;       // consecutive failures since the last success
  std::optional<Timestamp> locked_until;  // lockout (decision 11.9)
  std::optional<Timestamp> last_success;
  Timestamp created{};
};

struct Device {
  std::string device_id;
  std::string account_id;
  std::string device_type;     // reported by the client (decision 11.13)
  Bytes srp_verifier;          // per-device secret verifier (decision 11.6)
  Bytes srp_salt;
  std::string srp_group;
  Timestamp created{};
  Timestamp last_seen{};
};

// One reference per (account, device type) (R-SRV-QJ-5). The template is
// opaque here: transformed + AES-256-GCM sealed by the protection layer.
struct Reference {
  std::string account_id;
  std::string device_type;
  Bytes protected_template;
  int transform_version = 0;   // which per-user transform key produced it
  std::string source;          // "capture", "batch:<name>" (R-SRV-REG-1)
  Timestamp created{};
};

// Per-user keys (decision 11.5): the data key wrapped by the master key,
// and the transform key sealed under the data key. Deleting this record is
// the crypto-shred.
struct UserKey {
  std::string account_id;
  Bytes wrapped_data_key;
  Bytes sealed_transform_key;
  int transform_version = 1;
  Timestamp created{};
};

// Risk history (R-SRV-DL-2, decision 11.3): one row per flow outcome.
struct RiskEvent {
  std::string account_id;
  std::string device_id;       // empty when unknown
  std::string event_type;      // "registration", "authentication", "deregistration", ...
  bool success = false;
  std::string network;         // caller-chosen network label (e.g. /24 prefix)
  std::string platform;        // platform / OS / app version string
  std::string reason_codes;    // comma-separated decision reasons
  Timestamp at{};
};

// Server-side state of one flow step by step (two server processes can
// serve alternate steps of one flow).
struct FlowState {
  std::string flow_id;
  std::string flow_type;       // "registration", "authentication", "deregistration"
  int step = 0;                // R-FLOW-*-n reached
  std::string account_id;
  Bytes channel_state;         // serialized SRP / channel state
  std::string challenge_json;
  Timestamp created{};
  Timestamp expires_at{};
  // Optimistic concurrency: set by the store. UpdateFlow succeeds only when
  // it equals the stored version, and then increments it.
  std::int64_t version = 0;
};

// Where the server's audit log stood (issue 12, finding 8), kept in the
// database so that cutting the log file cannot hide what it held:
// `livegate-admin audit verify --database` compares the log with this.
// One row per log, named by the hash of its first entry.
struct AuditHeadRecord {
  std::string genesis_hash;            // hex hash of entry 0
  std::string log_path;                // where the server wrote it (absolute)
  std::int64_t checkpoint_seq = -1;    // last signed checkpoint; -1 none yet
  std::string checkpoint_hash;
  std::int64_t head_seq = -1;          // last entry written
  std::string head_hash;
  Timestamp updated{};
};

// Every operation a caller can perform; used both directly on the store
// (each call is its own transaction) and inside Transact (all or nothing).
class StoreOps {
 public:
  virtual ~StoreOps() = default;

  // --- accounts ---
  virtual Status CreateAccount(const Account& account) = 0;
  virtual Result<Account> GetAccount(const std::string& account_id) = 0;
  virtual Status SetAccountState(const std::string& account_id, AccountState state) = 0;
  virtual Status SetAccountVerifier(const std::string& account_id, const Bytes& verifier,
                                    const Bytes& salt, const std::string& group) = 0;
  // Atomically increments the failure counter and returns its new value.
  virtual Result<int> RecordAccountFailure(const std::string& account_id) = 0;
  // Sets (or clears, with nullopt) the lockout end.
  virtual Status SetLockedUntil(const std::string& account_id,
                                std::optional<Timestamp> until) = 0;
  // Resets the failure counter and lockout; records the time.
  virtual Status RecordAccountSuccess(const std::string& account_id, Timestamp at) = 0;

  // --- devices ---
  virtual Status PutDevice(const Device& device) = 0;  // new device_id only
  virtual Result<Device> GetDevice(const std::string& device_id) = 0;
  virtual Result<std::vector<Device>> ListDevices(const std::string& account_id) = 0;
  virtual Status TouchDevice(const std::string& device_id, Timestamp last_seen) = 0;
  virtual Status DeleteDevice(const std::string& device_id) = 0;

  // --- references (one per account and device type; Put replaces) ---
  virtual Status PutReference(const Reference& reference) = 0;
  virtual Result<Reference> GetReference(const std::string& account_id,
                                         const std::string& device_type) = 0;
  virtual Result<std::vector<Reference>> ListReferences(const std::string& account_id) = 0;
  virtual Status DeleteReference(const std::string& account_id,
                                 const std::string& device_type) = 0;

  // --- per-user keys ---
  virtual Status PutUserKey(const UserKey& key) = 0;       // new account only
  virtual Status ReplaceUserKey(const UserKey& key) = 0;   // key renewal
  virtual Result<UserKey> GetUserKey(const std::string& account_id) = 0;
  // Master-key rotation (R-SEC-STO-1/2): the accounts holding a user key,
  // ascending by account_id, strictly after `after` ("" = from the start),
  // at most `limit` (1..10000) - page with the last id returned.
  virtual Result<std::vector<std::string>> ListUserKeyAccounts(const std::string& after,
                                                               int limit) = 0;
  // Compare-and-set of the wrapped data key alone: replaces it only while
  // the row still holds `expected` (a concurrent key renewal is never
  // overwritten). FailedPrecondition(storage.user_key_conflict) when the row
  // changed, NotFound(storage.user_key_not_found) when it went.
  virtual Status RewrapUserKey(const std::string& account_id, const Bytes& expected,
                               const Bytes& replacement) = 0;

  // Deregistration (R-FLOW-DER-10, decision 11.11): deletes every reference,
  // every device credential and the user key of the account. Account row and
  // risk history stay (the account state is the caller's decision).
  virtual Status DeleteUserBiometrics(const std::string& account_id) = 0;

  // --- risk history ---
  virtual Status AppendRiskEvent(const RiskEvent& event) = 0;
  // Newest first, at most `limit`, at or after `since`.
  virtual Result<std::vector<RiskEvent>> ListRiskEvents(const std::string& account_id,
                                                        Timestamp since, int limit) = 0;
  // Failures at or after `since`; restricted to one device when device_id is
  // non-empty (lockout per account and per device, decision 11.9).
  virtual Result<int> CountFailures(const std::string& account_id,
                                    const std::string& device_id, Timestamp since) = 0;

  // --- flow state ---
  // Stores a new flow (version becomes 1); returns the stored version.
  virtual Result<std::int64_t> CreateFlow(const FlowState& flow) = 0;
  // Expired(storage.flow_expired) once the injected clock reaches expires_at.
  virtual Result<FlowState> GetFlow(const std::string& flow_id) = 0;
  // Compare-and-set on flow.version; returns the new version.
  // FailedPrecondition(storage.flow_conflict) when someone else advanced it.
  virtual Result<std::int64_t> UpdateFlow(const FlowState& flow) = 0;
  virtual Status DeleteFlow(const std::string& flow_id) = 0;
  // Unexpired flows of `account_id` whose step is one of `steps` (any step
  // when empty). Counts in the database, so every server process sees the
  // same number (the open-flow cap and the lockout's in-flight guesses,
  // R-SEC-SRV-1).
  virtual Result<int> CountOpenFlows(const std::string& account_id, const std::vector<int>& steps) = 0;

  // --- per-account serialisation ---
  // Inside Transact: every other transaction that guards the same account
  // id waits until this one ends (commit or rollback), across connections
  // and processes, so "read the lockout or count the flows, then write" is
  // atomic per account. PostgreSQL: a transaction-scoped advisory lock;
  // SQLite: writers are serialised already (BEGIN IMMEDIATE). Outside
  // Transact it guards nothing.
  virtual Status GuardAccount(const std::string& account_id) = 0;

  // --- nonces (R-SEC-SRV-3) ---
  // Records `nonce` in `scope`; Replay(storage.nonce_used) when it was
  // already consumed - atomic across connections and processes.
  // The record is kept until `expires_at`; callers must refuse messages
  // older than that by timestamp.
  virtual Status ConsumeNonce(const std::string& scope, const std::string& nonce,
                              Timestamp expires_at) = 0;
};

// A backend. Thread-safe: calls may come from many threads.
class ReferenceStore : public StoreOps {
 public:
  // Runs `body` in one transaction: commits when it returns OK, rolls back
  // when it returns an error (which is returned) or throws. Inside `body`,
  // use only the StoreOps it receives (valid only during the call, on the
  // calling thread); never call the outer store (it would wait for itself).
  virtual Status Transact(const std::function<Status(StoreOps&)>& body) = 0;

  // Deletes expired flows and nonces; returns how many rows went.
  virtual Result<int> PurgeExpired() = 0;
  // Deletes risk events older than `before` whose account id names no
  // account (failures against unknown account ids, kept only as long as the
  // lockout needs them: bounded table). Returns how many rows went.
  virtual Result<int> PurgeOrphanRiskEvents(Timestamp before) = 0;

  // Schema version now in the database (after migrations at open).
  virtual Result<int> SchemaVersion() = 0;

  // --- audit-log heads (schema version 3) ---
  // Creates or advances the row of `record.genesis_hash`: head_seq/hash
  // move only forward; checkpoint_* are kept when record.checkpoint_seq is
  // -1 and move only forward otherwise; log_path is replaced.
  virtual Status RecordAuditHead(const AuditHeadRecord& record) = 0;
  // nullopt: no row for this log.
  virtual Result<std::optional<AuditHeadRecord>> GetAuditHead(const std::string& genesis_hash) = 0;
  // The rows whose log_path is `log_path`, newest first.
  virtual Result<std::vector<AuditHeadRecord>> ListAuditHeadsByPath(const std::string& log_path) = 0;
  // "sqlite" or "postgresql".
  virtual const char* backend_name() const = 0;
};

// Highest schema version this code knows (migrations 1..kSchemaVersion).
constexpr int kSchemaVersion = 3;

struct SqliteOptions {
  std::string path;                   // database file; created if missing
  Clock clock = SystemClock();
  int busy_timeout_ms = 5000;         // wait for a concurrent writer this long
  // synchronous=FULL by default: with WAL, NORMAL may lose the last
  // committed transactions on power loss, and a registration reported as
  // done must survive (crash-safety over a few hundred microseconds).
  bool synchronous_full = true;
  bool check_integrity_on_open = false;  // PRAGMA quick_check (slow on big files)
};
Result<std::unique_ptr<ReferenceStore>> OpenSqliteStore(const SqliteOptions& options);

struct PostgresOptions {
  std::string uri;                    // libpq URI, e.g. postgresql://u@127.0.0.1:5432/db
  Clock clock = SystemClock();
  std::string schema;                 // empty: the connection's default search_path
  int pool_size = 4;                  // connections kept open
  int lock_timeout_ms = 5000;         // like SQLite's busy timeout
};
Result<std::unique_ptr<ReferenceStore>> OpenPostgresStore(const PostgresOptions& options);

// "sqlite:<path>" or a path ending in .db/.sqlite -> SQLite;
// "postgresql://..." or "postgres://..." -> PostgreSQL.
Result<std::unique_ptr<ReferenceStore>> OpenStore(const std::string& uri, Clock clock = SystemClock());

}  // namespace livegate::storage
