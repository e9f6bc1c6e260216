// Internal: the thin SQL layer both backends implement, so that every
// StoreOps operation is written once (sql_store_ops.cc) and the backends
// only differ in connection handling, transactions and DDL.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "livegate/status.h"
#include "storage/reference_store.h"

namespace livegate::storage::internal {

// NULL, integer, text, blob.
using SqlValue = std::variant<std::monostate, std::int64_t, std::string, Bytes>;
using SqlRow = std::vector<SqlValue>;
using SqlRows = std::vector<SqlRow>;

// Errors from Exec beyond the storage.* reasons of reference_store.h:
constexpr const char* kReasonUniqueViolation = "sql.unique_violation";  // AlreadyExists
constexpr const char* kReasonFkViolation = "sql.fk_violation";          // FailedPrecondition

// One connection inside one open transaction. SQL uses `?` placeholders;
// the PostgreSQL side rewrites them to $n.
class SqlConn {
 public:
  virtual ~SqlConn() = default;
  virtual Result<SqlRows> Exec(const std::string& sql, const std::vector<SqlValue>& params) = 0;
  // Holds other transactions that lock the same key until this transaction
  // ends (StoreOps::GuardAccount).
  virtual Status LockUntilTransactionEnd(std::int32_t key) = 0;
};

// The operations, over one SqlConn. Not thread-safe (one per transaction).
std::unique_ptr<StoreOps> MakeSqlStoreOps(SqlConn* conn, const Clock* clock);

// Base of both backends: every direct StoreOps call runs as its own
// transaction through RunTx.
class SqlReferenceStore : public ReferenceStore {
 public:
  explicit SqlReferenceStore(Clock clock) : clock_(std::move(clock)) {}

  Status Transact(const std::function<Status(StoreOps&)>& body) override {
    return RunTx(/*write=*/true, [&](SqlConn& c) {
      auto ops = MakeSqlStoreOps(&c, &clock_);
      return body(*ops);
    });
  }
  Result<int> PurgeExpired() override;
  Result<int> PurgeOrphanRiskEvents(Timestamp before) override;
  Result<int> SchemaVersion() override;
  Status RecordAuditHead(const AuditHeadRecord& record) override;
  Result<std::optional<AuditHeadRecord>> GetAuditHead(const std::string& genesis_hash) override;
  Result<std::vector<AuditHeadRecord>> ListAuditHeadsByPath(const std::string& log_path) override;

  Status CreateAccount(const Account& a) override { return W([&](StoreOps& o) { return o.CreateAccount(a); }); }
  Result<Account> GetAccount(const std::string& id) override { return R<Account>([&](StoreOps& o) { return o.GetAccount(id); }); }
  Status SetAccountState(const std::string& id, AccountState s) override { return W([&](StoreOps& o) { return o.SetAccountState(id, s); }); }
  Status SetAccountVerifier(const std::string& id, const Bytes& v, const Bytes& s, const std::string& g) override {
    return W([&](StoreOps& o) { return o.SetAccountVerifier(id, v, s, g); });
  }
  Result<int> RecordAccountFailure(const std::string& id) override { return RW<int>([&](StoreOps& o) { return o.RecordAccountFailure(id); }); }
  Status SetLockedUntil(const std::string& id, std::optional<Timestamp> u) override { return W([&](StoreOps& o) { return o.SetLockedUntil(id, u); }); }
  Status RecordAccountSuccess(const std::string& id, Timestamp at) override { return W([&](StoreOps& o) { return o.RecordAccountSuccess(id, at); }); }

  Status PutDevice(const Device& d) override { return W([&](StoreOps& o) { return o.PutDevice(d); }); }
  Result<Device> GetDevice(const std::string& id) override { return R<Device>([&](StoreOps& o) { return o.GetDevice(id); }); }
  Result<std::vector<Device>> ListDevices(const std::string& id) override { return R<std::vector<Device>>([&](StoreOps& o) { return o.ListDevices(id); }); }
  Status TouchDevice(const std::string& id, Timestamp t) override { return W([&](StoreOps& o) { return o.TouchDevice(id, t); }); }
  Status DeleteDevice(const std::string& id) override { return W([&](StoreOps& o) { return o.DeleteDevice(id); }); }

  Status PutReference(const Reference& r) override { return W([&](StoreOps& o) { return o.PutReference(r); }); }
  Result<Reference> GetReference(const std::string& a, const std::string& t) override { return R<Reference>([&](StoreOps& o) { return o.GetReference(a, t); }); }
  Result<std::vector<Reference>> ListReferences(const std::string& a) override { return R<std::vector<Reference>>([&](StoreOps& o) { return o.ListReferences(a); }); }
  Status DeleteReference(const std::string& a, const std::string& t) override { return W([&](StoreOps& o) { return o.DeleteReference(a, t); }); }

  Status PutUserKey(const UserKey& k) override { return W([&](StoreOps& o) { return o.PutUserKey(k); }); }
  Status ReplaceUserKey(const UserKey& k) override { return W([&](StoreOps& o) { return o.ReplaceUserKey(k); }); }
  Result<UserKey> GetUserKey(const std::string& a) override { return R<UserKey>([&](StoreOps& o) { return o.GetUserKey(a); }); }
  Result<std::vector<std::string>> ListUserKeyAccounts(const std::string& after, int limit) override {
    return R<std::vector<std::string>>([&](StoreOps& o) { return o.ListUserKeyAccounts(after, limit); });
  }
  Status RewrapUserKey(const std::string& a, const Bytes& e, const Bytes& r) override {
    return W([&](StoreOps& o) { return o.RewrapUserKey(a, e, r); });
  }
  Status DeleteUserBiometrics(const std::string& a) override { return W([&](StoreOps& o) { return o.DeleteUserBiometrics(a); }); }

  Status AppendRiskEvent(const RiskEvent& e) override { return W([&](StoreOps& o) { return o.AppendRiskEvent(e); }); }
  Result<std::vector<RiskEvent>> ListRiskEvents(const std::string& a, Timestamp since, int limit) override {
    return R<std::vector<RiskEvent>>([&](StoreOps& o) { return o.ListRiskEvents(a, since, limit); });
  }
  Result<int> CountFailures(const std::string& a, const std::string& d, Timestamp since) override {
    return R<int>([&](StoreOps& o) { return o.CountFailures(a, d, since); });
  }

  Result<std::int64_t> CreateFlow(const FlowState& f) override { return RW<std::int64_t>([&](StoreOps& o) { return o.CreateFlow(f); }); }
  Result<FlowState> GetFlow(const std::string& id) override { return R<FlowState>([&](StoreOps& o) { return o.GetFlow(id); }); }
  Result<std::int64_t> UpdateFlow(const FlowState& f) override { return RW<std::int64_t>([&](StoreOps& o) { return o.UpdateFlow(f); }); }
  Status DeleteFlow(const std::string& id) override { return W([&](StoreOps& o) { return o.DeleteFlow(id); }); }
  Result<int> CountOpenFlows(const std::string& a, const std::vector<int>& steps) override {
    return R<int>([&](StoreOps& o) { return o.CountOpenFlows(a, steps); });
  }
  Status GuardAccount(const std::string& a) override { return W([&](StoreOps& o) { return o.GuardAccount(a); }); }
  Status ConsumeNonce(const std::string& s, const std::string& n, Timestamp e) override {
    return W([&](StoreOps& o) { return o.ConsumeNonce(s, n, e); });
  }

 protected:
  // Opens a transaction (write: takes the write lock at once), runs `fn`,
  // commits on OK, rolls back otherwise.
  virtual Status RunTx(bool write, const std::function<Status(SqlConn&)>& fn) = 0;
  const Clock& clock() const { return clock_; }

 private:
  Status Run(bool write, const std::function<Status(StoreOps&)>& body) {
    return RunTx(write, [&](SqlConn& c) {
      auto ops = MakeSqlStoreOps(&c, &clock_);
      return body(*ops);
    });
  }
  template <typename F>
  Status W(F f) { return Run(true, f); }
  template <typename T, typename F>
  Result<T> Run(bool write, F f) {
    std::optional<Result<T>> out;
    Status s = Run(write, [&](StoreOps& o) {
      out.emplace(f(o));
      return out->ok() ? Status::Ok() : out->status();
    });
    if (!s.ok()) return s;
    return std::move(*out);
  }
  template <typename T, typename F>
  Result<T> R(F f) { return Run<T>(false, f); }
  template <typename T, typename F>
  Result<T> RW(F f) { return Run<T>(true, f); }

  Clock clock_;
};

// Schema migrations, ordered; migration i (1-based) brings the schema to
// version i. Each is a list of statements for the dialect.
enum class Dialect { kSqlite, kPostgres };
const std::vector<std::vector<std::string>>& Migrations(Dialect dialect);
// Applies missing migrations inside the caller's (write) transaction.
// Unsupported(storage.schema_too_new) for a newer database.
Status Migrate(SqlConn& conn, Dialect dialect, const Clock& clock);

std::int64_t ToMillis(Timestamp t);
Timestamp FromMillis(std::int64_t ms);

}  // namespace livegate::storage::internal
