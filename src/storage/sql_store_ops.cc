// Every StoreOps operation, written once over the SqlConn layer
// (R-SRV-DB-1, R-SRV-QJ-5, R-SEC-SRV-3, decision 11.11). Conflicts are
// detected with INSERT ... ON CONFLICT DO NOTHING RETURNING and
// UPDATE ... RETURNING, never by catching a failed statement: a failed
// statement aborts a PostgreSQL transaction, and these outcomes are normal.
#include <chrono>

#include "storage/sql_backend.h"

namespace livegate::storage {

Clock SystemClock() {
  return [] { return std::chrono::system_clock::now(); };
}

const char* AccountStateName(AccountState state) {
  switch (state) {
    case AccountState::kActive: return "active";
    case AccountState::kLocked: return "locked";
    case AccountState::kDeregistered: return "deregistered";
  }
  return "unknown";
}

namespace internal {

std::int64_t ToMillis(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
Timestamp FromMillis(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

namespace {

std::int64_t I(const SqlValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* s = std::get_if<std::string>(&v)) return std::stoll(*s);
  return 0;
}
std::string S(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* b = std::get_if<Bytes>(&v)) return std::string(b->begin(), b->end());
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  return {};
}
Bytes B(const SqlValue& v) {
  if (const auto* b = std::get_if<Bytes>(&v)) return *b;
  if (const auto* s = std::get_if<std::string>(&v)) return Bytes(s->begin(), s->end());
  return {};
}
bool IsNull(const SqlValue& v) { return std::holds_alternative<std::monostate>(v); }
SqlValue OptMs(std::optional<Timestamp> t) {
  if (!t) return std::monostate{};
  return ToMillis(*t);
}
std::optional<Timestamp> OptTs(const SqlValue& v) {
  if (IsNull(v)) return std::nullopt;
  return FromMillis(I(v));
}

Status Invalid(const std::string& what) {
  return Status::InvalidArgument("storage.invalid_argument", what);
}
Status NotFound(const char* reason, const std::string& what) { return Status::NotFound(reason, what); }
Status Exists(const char* reason, const std::string& what) {
  return Status(StatusCode::kAlreadyExists, reason, what);
}

constexpr const char* kAccountCols =
    "account_id, srp_verifier, srp_salt, srp_group, state, failure_count, locked_until_ms, "
    "last_success_ms, created_ms";
constexpr const char* kDeviceCols =
    "device_id, account_id, device_type, srp_verifier, srp_salt, srp_group, created_ms, last_seen_ms";
constexpr const char* kReferenceCols =
    "account_id, device_type, protected_template, transform_version, source, created_ms";
constexpr const char* kUserKeyCols =
    "account_id, wrapped_data_key, sealed_transform_key, transform_version, created_ms";
constexpr const char* kRiskCols =
    "account_id, device_id, event_type, success, network, platform, reason_codes, at_ms";
constexpr const char* kFlowCols =
    "flow_id, flow_type, step, account_id, channel_state, challenge_json, created_ms, expires_ms, version";

Account ToAccount(const SqlRow& r) {
  Account a;
  a.account_id = S(r[0]);
  a.srp_verifier = B(r[1]);
  a.srp_salt = B(r[2]);
  a.srp_group = S(r[3]);
  a.state = static_cast<AccountState>(I(r[4]));
  a.failure_count = static_cast<int>(I(r[5]));
  a.locked_until = OptTs(r[6]);
  a.last_success = OptTs(r[7]);
  a.created = FromMillis(I(r[8]));
  return a;
}
Device ToDevice(const SqlRow& r) {
  Device d;
  d.device_id = S(r[0]);
  d.account_id = S(r[1]);
  d.device_type = S(r[2]);
  d.srp_verifier = B(r[3]);
  d.srp_salt = B(r[4]);
  d.srp_group = S(r[5]);
  d.created = FromMillis(I(r[6]));
  d.last_seen = FromMillis(I(r[7]));
  return d;
}
Reference ToReference(const SqlRow& r) {
  Reference x;
  x.account_id = S(r[0]);
  x.device_type = S(r[1]);
  x.protected_template = B(r[2]);
  x.transform_version = static_cast<int>(I(r[3]));
  x.source = S(r[4]);
  x.created = FromMillis(I(r[5]));
  return x;
}
UserKey ToUserKey(const SqlRow& r) {
  UserKey k;
  k.account_id = S(r[0]);
  k.wrapped_data_key = B(r[1]);
  k.sealed_transform_key = B(r[2]);
  k.transform_version = static_cast<int>(I(r[3]));
  k.created = FromMillis(I(r[4]));
  return k;
}
RiskEvent ToRisk(const SqlRow& r) {
  RiskEvent e;
  e.account_id = S(r[0]);
  e.device_id = S(r[1]);
  e.event_type = S(r[2]);
  e.success = I(r[3]) != 0;
  e.network = S(r[4]);
  e.platform = S(r[5]);
  e.reason_codes = S(r[6]);
  e.at = FromMillis(I(r[7]));
  return e;
}
FlowState ToFlow(const SqlRow& r) {
  FlowState f;
  f.flow_id = S(r[0]);
  f.flow_type = S(r[1]);
  f.step = static_cast<int>(I(r[2]));
  f.account_id = S(r[3]);
  f.channel_state = B(r[4]);
  f.challenge_json = S(r[5]);
  f.created = FromMillis(I(r[6]));
  f.expires_at = FromMillis(I(r[7]));
  f.version = I(r[8]);
  return f;
}

class SqlStoreOps final : public StoreOps {
 public:
  SqlStoreOps(SqlConn* conn, const Clock* clock) : c_(*conn), clock_(*clock) {}

  Status CreateAccount(const Account& a) override {
    if (a.account_id.empty()) return Invalid("empty account id");
    LG_ASSIGN_OR_RETURN(
        auto rows,
        c_.Exec(std::string("INSERT INTO accounts (") + kAccountCols +
                    ") VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (account_id) DO NOTHING RETURNING 1",
                {a.account_id, a.srp_verifier, a.srp_salt, a.srp_group,
                 static_cast<std::int64_t>(a.state), static_cast<std::int64_t>(a.failure_count),
                 OptMs(a.locked_until), OptMs(a.last_success), CreatedMs(a.created)}));
    if (rows.empty()) return Exists("storage.account_exists", "account exists: " + a.account_id);
    return Status::Ok();
  }

  Result<Account> GetAccount(const std::string& id) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(std::string("SELECT ") + kAccountCols +
                                               " FROM accounts WHERE account_id = ?",
                                           {id}));
    if (rows.empty()) return NotFound("storage.account_not_found", "no account " + id);
    return ToAccount(rows[0]);
  }

  Status SetAccountState(const std::string& id, AccountState s) override {
    return UpdateAccount("UPDATE accounts SET state = ? WHERE account_id = ? RETURNING 1",
                         {static_cast<std::int64_t>(s), id}, id);
  }
  Status SetAccountVerifier(const std::string& id, const Bytes& v, const Bytes& s,
                            const std::string& g) override {
    return UpdateAccount(
        "UPDATE accounts SET srp_verifier = ?, srp_salt = ?, srp_group = ? WHERE account_id = ? "
        "RETURNING 1",
        {v, s, g, id}, id);
  }
  Result<int> RecordAccountFailure(const std::string& id) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec("UPDATE accounts SET failure_count = failure_count + 1 "
                                           "WHERE account_id = ? RETURNING failure_count",
                                           {id}));
    if (rows.empty()) return NotFound("storage.account_not_found", "no account " + id);
    return static_cast<int>(I(rows[0][0]));
  }
  Status SetLockedUntil(const std::string& id, std::optional<Timestamp> u) override {
    return UpdateAccount("UPDATE accounts SET locked_until_ms = ? WHERE account_id = ? RETURNING 1",
                         {OptMs(u), id}, id);
  }
  Status RecordAccountSuccess(const std::string& id, Timestamp at) override {
    return UpdateAccount(
        "UPDATE accounts SET failure_count = 0, locked_until_ms = NULL, last_success_ms = ? "
        "WHERE account_id = ? RETURNING 1",
        {ToMillis(at), id}, id);
  }

  Status PutDevice(const Device& d) override {
    if (d.device_id.empty() || d.account_id.empty() || d.device_type.empty())
      return Invalid("device needs device_id, account_id and device_type");
    LG_RETURN_IF_ERROR(RequireAccount(d.account_id));
    const std::int64_t created = CreatedMs(d.created);
    const std::int64_t seen = d.last_seen == Timestamp{} ? created : ToMillis(d.last_seen);
    LG_ASSIGN_OR_RETURN(
        auto rows, c_.Exec(std::string("INSERT INTO devices (") + kDeviceCols +
                               ") VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (device_id) DO NOTHING RETURNING 1",
                           {d.device_id, d.account_id, d.device_type, d.srp_verifier, d.srp_salt,
                            d.srp_group, created, seen}));
    if (rows.empty()) return Exists("storage.device_exists", "device exists: " + d.device_id);
    return Status::Ok();
  }
  Result<Device> GetDevice(const std::string& id) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(std::string("SELECT ") + kDeviceCols +
                                               " FROM devices WHERE device_id = ?",
                                           {id}));
    if (rows.empty()) return NotFound("storage.device_not_found", "no device " + id);
    return ToDevice(rows[0]);
  }
  Result<std::vector<Device>> ListDevices(const std::string& id) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(std::string("SELECT ") + kDeviceCols +
                                               " FROM devices WHERE account_id = ? ORDER BY device_id",
                                           {id}));
    std::vector<Device> out;
    for (const auto& r : rows) out.push_back(ToDevice(r));
    return out;
  }
  Status TouchDevice(const std::string& id, Timestamp t) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec("UPDATE devices SET last_seen_ms = ? WHERE device_id = ? "
                                           "RETURNING 1",
                                           {ToMillis(t), id}));
    if (rows.empty()) return NotFound("storage.device_not_found", "no device " + id);
    return Status::Ok();
  }
  Status DeleteDevice(const std::string& id) override {
    LG_ASSIGN_OR_RETURN(auto rows,
                        c_.Exec("DELETE FROM devices WHERE device_id = ? RETURNING 1", {id}));
    if (rows.empty()) return NotFound("storage.device_not_found", "no device " + id);
    return Status::Ok();
  }

  Status PutReference(const Reference& r) override {
    if (r.account_id.empty() || r.device_type.empty() || r.protected_template.empty())
      return Invalid("reference needs account_id, device_type and a template");
    LG_RETURN_IF_ERROR(RequireAccount(r.account_id));
    // One reference per device type (R-SRV-QJ-5): a new one replaces it.
    return c_.Exec(std::string("INSERT INTO biometric_references (") + kReferenceCols +
                       ") VALUES (?,?,?,?,?,?) ON CONFLICT (account_id, device_type) DO UPDATE SET "
                       "protected_template = excluded.protected_template, "
                       "transform_version = excluded.transform_version, source = excluded.source, "
                       "created_ms = excluded.created_ms",
                   {r.account_id, r.device_type, r.protected_template,
                    static_cast<std::int64_t>(r.transform_version), r.source, CreatedMs(r.created)})
        .status();
  }
  Result<Reference> GetReference(const std::string& a, const std::string& t) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(std::string("SELECT ") + kReferenceCols +
                                               " FROM biometric_references WHERE account_id = ? AND "
                                               "device_type = ?",
                                           {a, t}));
    if (rows.empty())
      return NotFound("storage.reference_not_found", "no reference for " + a + " / " + t);
    return ToReference(rows[0]);
  }
  Result<std::vector<Reference>> ListReferences(const std::string& a) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(std::string("SELECT ") + kReferenceCols +
                                               " FROM biometric_references WHERE account_id = ? "
                                               "ORDER BY device_type",
                                           {a}));
    std::vector<Reference> out;
    for (const auto& r : rows) out.push_back(ToReference(r));
    return out;
  }
  Status DeleteReference(const std::string& a, const std::string& t) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec("DELETE FROM biometric_references WHERE account_id = ? "
                                           "AND device_type = ? RETURNING 1",
                                           {a, t}));
    if (rows.empty())
      return NotFound("storage.reference_not_found", "no reference for " + a + " / " + t);
    return Status::Ok();
  }

  Status PutUserKey(const UserKey& k) override {
    if (k.account_id.empty() || k.wrapped_data_key.empty()) return Invalid("user key incomplete");
    LG_RETURN_IF_ERROR(RequireAccount(k.account_id));
    LG_ASSIGN_OR_RETURN(
        auto rows,
        c_.Exec(std::string("INSERT INTO user_keys (") + kUserKeyCols +
                    ") VALUES (?,?,?,?,?) ON CONFLICT (account_id) DO NOTHING RETURNING 1",
                {k.account_id, k.wrapped_data_key, k.sealed_transform_key,
                 static_cast<std::int64_t>(k.transform_version), CreatedMs(k.created)}));
    if (rows.empty()) return Exists("storage.user_key_exists", "user key exists: " + k.account_id);
    return Status::Ok();
  }
  Status ReplaceUserKey(const UserKey& k) override {
    LG_ASSIGN_OR_RETURN(
        auto rows,
        c_.Exec("UPDATE user_keys SET wrapped_data_key = ?, sealed_transform_key = ?, "
                "transform_version = ?, created_ms = ? WHERE account_id = ? RETURNING 1",
                {k.wrapped_data_key, k.sealed_transform_key,
                 static_cast<std::int64_t>(k.transform_version), CreatedMs(k.created), k.account_id}));
    if (rows.empty()) return NotFound("storage.user_key_not_found", "no user key " + k.account_id);
    return Status::Ok();
  }
  Result<UserKey> GetUserKey(const std::string& a) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(std::string("SELECT ") + kUserKeyCols +
                                               " FROM user_keys WHERE account_id = ?",
                                           {a}));
    if (rows.empty()) return NotFound("storage.user_key_not_found", "no user key " + a);
    return ToUserKey(rows[0]);
  }
  Result<std::vector<std::string>> ListUserKeyAccounts(const std::string& after,
                                                       int limit) override {
    if (limit < 1 || limit > 10000) return Invalid("limit must be 1..10000");
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec("SELECT account_id FROM user_keys WHERE account_id > ? "
                                           "ORDER BY account_id LIMIT ?",
                                           {after, static_cast<std::int64_t>(limit)}));
    std::vector<std::string> out;
    out.reserve(rows.size());
    for (const auto& r : rows) out.push_back(S(r[0]));
    return out;
  }
  Status RewrapUserKey(const std::string& a, const Bytes& expected,
                       const Bytes& replacement) override {
    if (a.empty() || replacement.empty()) return Invalid("rewrap without account or key");
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec("UPDATE user_keys SET wrapped_data_key = ? "
                                           "WHERE account_id = ? AND wrapped_data_key = ? RETURNING 1",
                                           {replacement, a, expected}));
    if (!rows.empty()) return Status::Ok();
    // Tell "gone" from "changed" (both are normal under concurrency).
    LG_ASSIGN_OR_RETURN(auto still, c_.Exec("SELECT 1 FROM user_keys WHERE account_id = ?", {a}));
    if (still.empty()) return NotFound("storage.user_key_not_found", "no user key " + a);
    return Status(StatusCode::kFailedPrecondition, "storage.user_key_conflict",
                  "user key of " + a + " changed during rotation");
  }
  Status DeleteUserBiometrics(const std::string& a) override {
    LG_RETURN_IF_ERROR(RequireAccount(a));
    // Decision 11.11: references of every device type, device credentials
    // and the data key go together (the caller's transaction, if any, or
    // this call's own).
    LG_RETURN_IF_ERROR(c_.Exec("DELETE FROM biometric_references WHERE account_id = ?", {a}).status());
    LG_RETURN_IF_ERROR(c_.Exec("DELETE FROM devices WHERE account_id = ?", {a}).status());
    return c_.Exec("DELETE FROM user_keys WHERE account_id = ?", {a}).status();
  }

  Status AppendRiskEvent(const RiskEvent& e) override {
    if (e.account_id.empty()) return Invalid("risk event without account");
    return c_.Exec(std::string("INSERT INTO risk_events (") + kRiskCols + ") VALUES (?,?,?,?,?,?,?,?)",
                   {e.account_id, e.device_id, e.event_type, static_cast<std::int64_t>(e.success),
                    e.network, e.platform, e.reason_codes, CreatedMs(e.at)})
        .status();
  }
  Result<std::vector<RiskEvent>> ListRiskEvents(const std::string& a, Timestamp since,
                                                int limit) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(std::string("SELECT ") + kRiskCols +
                                               " FROM risk_events WHERE account_id = ? AND at_ms >= ? "
                                               "ORDER BY at_ms DESC, id DESC LIMIT ?",
                                           {a, ToMillis(since), static_cast<std::int64_t>(limit)}));
    std::vector<RiskEvent> out;
    for (const auto& r : rows) out.push_back(ToRisk(r));
    return out;
  }
  Result<int> CountFailures(const std::string& a, const std::string& d, Timestamp since) override {
    std::string sql = "SELECT COUNT(*) FROM risk_events WHERE account_id = ? AND success = 0 AND at_ms >= ?";
    std::vector<SqlValue> params = {a, ToMillis(since)};
    if (!d.empty()) {
      sql += " AND device_id = ?";
      params.push_back(d);
    }
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(sql, params));
    return static_cast<int>(I(rows.at(0).at(0)));
  }

  Result<std::int64_t> CreateFlow(const FlowState& f) override {
    if (f.flow_id.empty()) return Invalid("empty flow id");
    LG_ASSIGN_OR_RETURN(
        auto rows,
        c_.Exec(std::string("INSERT INTO flows (") + kFlowCols +
                    ") VALUES (?,?,?,?,?,?,?,?,1) ON CONFLICT (flow_id) DO NOTHING RETURNING version",
                {f.flow_id, f.flow_type, static_cast<std::int64_t>(f.step), f.account_id,
                 f.channel_state, f.challenge_json, CreatedMs(f.created), ToMillis(f.expires_at)}));
    if (rows.empty()) return Exists("storage.flow_exists", "flow exists: " + f.flow_id);
    return I(rows[0][0]);
  }
  Result<FlowState> GetFlow(const std::string& id) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(std::string("SELECT ") + kFlowCols +
                                               " FROM flows WHERE flow_id = ?",
                                           {id}));
    if (rows.empty()) return NotFound("storage.flow_not_found", "no flow " + id);
    FlowState f = ToFlow(rows[0]);
    if (clock_() >= f.expires_at)
      return Status(StatusCode::kExpired, "storage.flow_expired", "flow expired: " + id);
    return f;
  }
  Result<std::int64_t> UpdateFlow(const FlowState& f) override {
    LG_ASSIGN_OR_RETURN(
        auto rows,
        c_.Exec("UPDATE flows SET flow_type = ?, step = ?, account_id = ?, channel_state = ?, "
                "challenge_json = ?, expires_ms = ?, version = version + 1 "
                "WHERE flow_id = ? AND version = ? AND expires_ms > ? RETURNING version",
                {f.flow_type, static_cast<std::int64_t>(f.step), f.account_id, f.channel_state,
                 f.challenge_json, ToMillis(f.expires_at), f.flow_id, f.version,
                 ToMillis(clock_())}));
    if (!rows.empty()) return I(rows[0][0]);
    // Tell apart the three refusals for the caller.
    LG_ASSIGN_OR_RETURN(auto cur, c_.Exec("SELECT version, expires_ms FROM flows WHERE flow_id = ?",
                                          {f.flow_id}));
    if (cur.empty()) return NotFound("storage.flow_not_found", "no flow " + f.flow_id);
    if (ToMillis(clock_()) >= I(cur[0][1]))
      return Status(StatusCode::kExpired, "storage.flow_expired", "flow expired: " + f.flow_id);
    return Status(StatusCode::kFailedPrecondition, "storage.flow_conflict",
                  "flow " + f.flow_id + " is at version " + std::to_string(I(cur[0][0])) +
                      ", not " + std::to_string(f.version));
  }
  Status DeleteFlow(const std::string& id) override {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec("DELETE FROM flows WHERE flow_id = ? RETURNING 1", {id}));
    if (rows.empty()) return NotFound("storage.flow_not_found", "no flow " + id);
    return Status::Ok();
  }

  Result<int> CountOpenFlows(const std::string& a, const std::vector<int>& steps) override {
    std::string sql = "SELECT COUNT(*) FROM flows WHERE account_id = ? AND expires_ms > ?";
    std::vector<SqlValue> params = {a, ToMillis(clock_())};
    if (!steps.empty()) {
      sql += " AND step IN (";
      for (std::size_t i = 0; i < steps.size(); ++i) {
        sql += i == 0 ? "?" : ",?";
        params.push_back(static_cast<std::int64_t>(steps[i]));
      }
      sql += ")";
    }
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(sql, params));
    return static_cast<int>(I(rows.at(0).at(0)));
  }

  Status GuardAccount(const std::string& a) override {
    if (a.empty()) return Invalid("empty account id");
    // FNV-1a of the id: two ids sharing a key only wait for each other.
    std::uint32_t h = 2166136261u;
    for (unsigned char ch : a) h = (h ^ ch) * 16777619u;
    return c_.LockUntilTransactionEnd(static_cast<std::int32_t>(h));
  }

  Status ConsumeNonce(const std::string& scope, const std::string& nonce,
                      Timestamp expires_at) override {
    if (nonce.empty()) return Invalid("empty nonce");
    // The primary key makes this atomic across connections and processes:
    // of two concurrent inserts, the second waits for the first to commit
    // and then inserts nothing.
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec("INSERT INTO nonces (scope, nonce, expires_ms) VALUES (?,?,?) "
                                           "ON CONFLICT (scope, nonce) DO NOTHING RETURNING 1",
                                           {scope, nonce, ToMillis(expires_at)}));
    if (rows.empty())
      return Status(StatusCode::kReplay, "storage.nonce_used", "nonce already used in " + scope);
    return Status::Ok();
  }

 private:
  std::int64_t CreatedMs(Timestamp t) const { return ToMillis(t == Timestamp{} ? clock_() : t); }

  Status RequireAccount(const std::string& id) {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec("SELECT 1 FROM accounts WHERE account_id = ?", {id}));
    if (rows.empty()) return NotFound("storage.account_not_found", "no account " + id);
    return Status::Ok();
  }
  Status UpdateAccount(const char* sql, std::vector<SqlValue> params, const std::string& id) {
    LG_ASSIGN_OR_RETURN(auto rows, c_.Exec(sql, params));
    if (rows.empty()) return NotFound("storage.account_not_found", "no account " + id);
    return Status::Ok();
  }

  SqlConn& c_;
  const Clock& clock_;
};

}  // namespace

std::unique_ptr<StoreOps> MakeSqlStoreOps(SqlConn* conn, const Clock* clock) {
  return std::make_unique<SqlStoreOps>(conn, clock);
}

Result<int> SqlReferenceStore::PurgeExpired() {
  int n = 0;
  Status s = RunTx(true, [&](SqlConn& c) {
    const std::int64_t now = ToMillis(clock_());
    LG_ASSIGN_OR_RETURN(auto a, c.Exec("DELETE FROM flows WHERE expires_ms <= ? RETURNING 1", {now}));
    LG_ASSIGN_OR_RETURN(auto b, c.Exec("DELETE FROM nonces WHERE expires_ms <= ? RETURNING 1", {now}));
    n = static_cast<int>(a.size() + b.size());
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return n;
}

Result<int> SqlReferenceStore::PurgeOrphanRiskEvents(Timestamp before) {
  int n = 0;
  Status s = RunTx(true, [&](SqlConn& c) {
    LG_ASSIGN_OR_RETURN(
        auto rows, c.Exec("DELETE FROM risk_events WHERE at_ms < ? AND NOT EXISTS "
                          "(SELECT 1 FROM accounts a WHERE a.account_id = risk_events.account_id) "
                          "RETURNING 1",
                          {ToMillis(before)}));
    n = static_cast<int>(rows.size());
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return n;
}

Result<int> SqlReferenceStore::SchemaVersion() {
  int v = 0;
  Status s = RunTx(false, [&](SqlConn& c) {
    LG_ASSIGN_OR_RETURN(auto rows, c.Exec("SELECT MAX(version) FROM schema_version", {}));
    v = rows.empty() ? 0 : static_cast<int>(I(rows[0][0]));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return v;
}

namespace {
AuditHeadRecord AuditHeadFromRow(const SqlRow& r) {
  AuditHeadRecord h;
  h.genesis_hash = S(r[0]);
  h.log_path = S(r[1]);
  h.checkpoint_seq = I(r[2]);
  h.checkpoint_hash = S(r[3]);
  h.head_seq = I(r[4]);
  h.head_hash = S(r[5]);
  h.updated = FromMillis(I(r[6]));
  return h;
}
constexpr const char* kAuditHeadColumns =
    "SELECT genesis_hash, log_path, checkpoint_seq, checkpoint_hash, head_seq, head_hash, updated_ms "
    "FROM audit_heads ";
}  // namespace

Status SqlReferenceStore::RecordAuditHead(const AuditHeadRecord& rec) {
  if (rec.genesis_hash.empty()) {
    return Status::InvalidArgument("storage.invalid_argument", "audit head without a genesis hash");
  }
  const std::int64_t now = ToMillis(clock()());
  return RunTx(true, [&](SqlConn& c) {
    LG_ASSIGN_OR_RETURN(auto rows, c.Exec(std::string(kAuditHeadColumns) + "WHERE genesis_hash = ?",
                                          {rec.genesis_hash}));
    AuditHeadRecord cur;
    if (!rows.empty()) cur = AuditHeadFromRow(rows[0]);
    if (rec.checkpoint_seq > cur.checkpoint_seq) {
      cur.checkpoint_seq = rec.checkpoint_seq;
      cur.checkpoint_hash = rec.checkpoint_hash;
    }
    if (rec.head_seq > cur.head_seq) {
      cur.head_seq = rec.head_seq;
      cur.head_hash = rec.head_hash;
    }
    if (rows.empty()) {
      return c.Exec("INSERT INTO audit_heads (genesis_hash, log_path, checkpoint_seq, checkpoint_hash, "
                    "head_seq, head_hash, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    {rec.genesis_hash, rec.log_path, cur.checkpoint_seq, cur.checkpoint_hash,
                     cur.head_seq, cur.head_hash, now})
          .status();
    }
    return c.Exec("UPDATE audit_heads SET log_path = ?, checkpoint_seq = ?, checkpoint_hash = ?, "
                  "head_seq = ?, head_hash = ?, updated_ms = ? WHERE genesis_hash = ?",
                  {rec.log_path, cur.checkpoint_seq, cur.checkpoint_hash, cur.head_seq, cur.head_hash,
                   now, rec.genesis_hash})
        .status();
  });
}

Result<std::optional<AuditHeadRecord>> SqlReferenceStore::GetAuditHead(const std::string& genesis_hash) {
  std::optional<AuditHeadRecord> out;
  Status s = RunTx(false, [&](SqlConn& c) {
    LG_ASSIGN_OR_RETURN(auto rows, c.Exec(std::string(kAuditHeadColumns) + "WHERE genesis_hash = ?",
                                          {genesis_hash}));
    if (!rows.empty()) out = AuditHeadFromRow(rows[0]);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<AuditHeadRecord>> SqlReferenceStore::ListAuditHeadsByPath(const std::string& log_path) {
  std::vector<AuditHeadRecord> out;
  Status s = RunTx(false, [&](SqlConn& c) {
    LG_ASSIGN_OR_RETURN(auto rows,
                        c.Exec(std::string(kAuditHeadColumns) + "WHERE log_path = ? ORDER BY updated_ms DESC",
                               {log_path}));
    for (const auto& r : rows) out.push_back(AuditHeadFromRow(r));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace internal
}  // namespace livegate::storage
