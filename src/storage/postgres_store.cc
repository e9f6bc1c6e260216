// PostgreSQL backend (libpqxx 6.4): for scale and for several server
// processes sharing one database. A small connection pool; each operation or
// Transact body runs in one READ COMMITTED transaction. Races are settled by
// the database itself: INSERT ... ON CONFLICT DO NOTHING for nonces and
// creates, UPDATE ... WHERE version = ? for flow steps.
#include <pqxx/pqxx>

#include <strings.h>

#include <condition_variable>
#include <cstring>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <vector>

#include "storage/sql_backend.h"

namespace livegate::storage {
namespace internal {
namespace {

constexpr pqxx::oid kByteaOid = 17;
constexpr pqxx::oid kInt8Oid = 20;
constexpr pqxx::oid kInt2Oid = 21;
constexpr pqxx::oid kInt4Oid = 23;

// `?` -> `$n` (our SQL never has `?` inside literals).
std::string Numbered(const std::string& sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (char ch : sql) {
    if (ch == '?') {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += ch;
    }
  }
  return out;
}

std::string HexBytea(const Bytes& b) {
  static const char* kHex = "0123456789abcdef";
  std::string s = "\\x";
  s.reserve(2 + 2 * b.size());
  for (std::uint8_t c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Bytes> UnhexBytea(const char* s, std::size_t n) {
  if (n < 2 || s[0] != '\\' || s[1] != 'x')
    return Status::Internal("storage.error", "bytea not in hex output format");
  Bytes out;
  out.reserve((n - 2) / 2);
  for (std::size_t i = 2; i + 1 < n; i += 2) {
    const int hi = HexVal(s[i]), lo = HexVal(s[i + 1]);
    if (hi < 0 || lo < 0) return Status::Internal("storage.error", "bad bytea hex");
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

Status MapPqxxError(const std::exception& e, bool* broken) {
  const std::string msg = std::string("postgresql: ") + e.what();
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) {
    if (broken) *broken = true;
    return Status(StatusCode::kUnavailable, "storage.unavailable", msg);
  }
  if (dynamic_cast<const pqxx::unique_violation*>(&e))
    return Status(StatusCode::kAlreadyExists, kReasonUniqueViolation, msg);
  if (dynamic_cast<const pqxx::foreign_key_violation*>(&e))
    return Status(StatusCode::kFailedPrecondition, kReasonFkViolation, msg);
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e))
    return Status(StatusCode::kUnavailable, "storage.busy", msg);
  if (const auto* se = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = se->sqlstate();
    if (state == "55P03") return Status(StatusCode::kUnavailable, "storage.busy", msg);
    // The server is shutting down or restarting (57P01 admin_shutdown,
    // 57P02 crash_shutdown, 57P03 cannot_connect_now) or the connection
    // failed (class 08): the database is unavailable, not our fault, and
    // this connection is finished (issue 12, PostgreSQL restarted in the
    // middle of flows: 503 storage.unavailable, never 500).
    if (state.rfind("57P0", 0) == 0 || state.rfind("08", 0) == 0) {
      if (broken) *broken = true;
      return Status(StatusCode::kUnavailable, "storage.unavailable", msg);
    }
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e))
    return Status(StatusCode::kUnavailable, "storage.unavailable", msg);
  return Status::Internal("storage.error", msg);
}

// First key of the per-account guard locks (StoreOps::GuardAccount).
constexpr std::int32_t kAccountGuardSpace = 727900002;

// Server-side prepared statements, per connection (issue 16: reference
// lookup at 1M users): parsed and planned once per pooled connection
// instead of on every call. DDL and other utility statements cannot be
// prepared; they go through exec_params as before.
struct PreparedCache {
  static constexpr std::size_t kMaxStatements = 256;  // SQL texts are code constants; bound anyway
  std::unordered_map<std::string, std::string> names;  // numbered SQL -> statement name
};

bool Preparable(const std::string& sql) {
  std::size_t i = 0;
  while (i < sql.size() && (sql[i] == ' ' || sql[i] == '\n')) ++i;
  for (const char* verb : {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}) {
    const std::size_t n = std::strlen(verb);
    if (sql.size() - i >= n && strncasecmp(sql.c_str() + i, verb, n) == 0) return true;
  }
  return false;
}

class PgConn final : public SqlConn {
 public:
  PgConn(pqxx::transaction_base* w, pqxx::connection* c = nullptr, PreparedCache* cache = nullptr)
      : w_(*w), c_(c), cache_(cache) {}

  Result<SqlRows> Exec(const std::string& sql, const std::vector<SqlValue>& params) override {
    std::vector<std::string> text(params.size());
    std::vector<const char*> ptrs(params.size(), nullptr);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const SqlValue& p = params[i];
      if (std::holds_alternative<std::monostate>(p)) continue;  // NULL
      if (const auto* v = std::get_if<std::int64_t>(&p)) text[i] = std::to_string(*v);
      else if (const auto* s = std::get_if<std::string>(&p)) text[i] = *s;
      else text[i] = HexBytea(std::get<Bytes>(p));
      ptrs[i] = text[i].c_str();
    }
    try {
      const std::string numbered = Numbered(sql);
      const std::string* name = PreparedName(numbered);
      pqxx::result r = name ? w_.exec_prepared(*name, pqxx::prepare::make_dynamic_params(ptrs))
                            : w_.exec_params(numbered, pqxx::prepare::make_dynamic_params(ptrs));
      SqlRows rows;
      rows.reserve(r.size());
      const auto ncols = r.columns();
      std::vector<pqxx::oid> types(ncols);
      for (pqxx::row_size_type c = 0; c < ncols; ++c) types[c] = r.column_type(c);
      for (const auto& row : r) {
        SqlRow out;
        out.reserve(ncols);
        for (pqxx::row_size_type c = 0; c < ncols; ++c) {
          const pqxx::field f = row[c];
          if (f.is_null()) {
            out.emplace_back(std::monostate{});
          } else if (types[c] == kByteaOid) {
            LG_ASSIGN_OR_RETURN(Bytes b, UnhexBytea(f.c_str(), f.size()));
            out.emplace_back(std::move(b));
          } else if (types[c] == kInt8Oid || types[c] == kInt4Oid || types[c] == kInt2Oid) {
            out.emplace_back(static_cast<std::int64_t>(std::stoll(f.c_str())));
          } else {
            out.emplace_back(std::string(f.c_str(), f.size()));
          }
        }
        rows.push_back(std::move(out));
      }
      return rows;
    } catch (const std::exception& e) {
      return MapPqxxError(e, &broken_);
    }
  }
  Status LockUntilTransactionEnd(std::int32_t key) override {
    // The two-int4 form of the advisory lock: a key space of its own, apart
    // from the single-bigint key the migrations take. Released at commit
    // or rollback; waits at most lock_timeout (then storage.busy).
    return Exec("SELECT 1 FROM (SELECT pg_advisory_xact_lock(?::int4, ?::int4)) AS guard",
                {static_cast<std::int64_t>(kAccountGuardSpace), static_cast<std::int64_t>(key)})
        .status();
  }
  bool broken() const { return broken_; }

 private:
  // The statement's name on this connection, preparing it on first use;
  // nullptr: run it unprepared.
  const std::string* PreparedName(const std::string& numbered) {
    if (c_ == nullptr || cache_ == nullptr || !Preparable(numbered)) return nullptr;
    auto it = cache_->names.find(numbered);
    if (it != cache_->names.end()) return &it->second;
    if (cache_->names.size() >= PreparedCache::kMaxStatements) return nullptr;
    std::string name = "lg" + std::to_string(cache_->names.size());
    c_->prepare(name, numbered);
    return &cache_->names.emplace(numbered, std::move(name)).first->second;
  }

  pqxx::transaction_base& w_;
  pqxx::connection* c_;
  PreparedCache* cache_;
  bool broken_ = false;
};

bool ValidSchemaName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return !(s[0] >= '0' && s[0] <= '9');
}

class PostgresStore final : public SqlReferenceStore {
 public:
  explicit PostgresStore(PostgresOptions options)
      : SqlReferenceStore(options.clock), options_(std::move(options)) {}

  const char* backend_name() const override { return "postgresql"; }

  Result<std::unique_ptr<pqxx::connection>> Connect() {
    try {
      auto c = std::make_unique<pqxx::connection>(options_.uri);
      pqxx::nontransaction n(*c);
      n.exec("SET lock_timeout = " + std::to_string(options_.lock_timeout_ms));
      if (!options_.schema.empty()) {
        n.exec("CREATE SCHEMA IF NOT EXISTS " + options_.schema);
        n.exec("SET search_path TO " + options_.schema);
      }
      n.commit();
      return c;
    } catch (const pqxx::unique_violation&) {
      // Two connections creating the same schema at once: the other won.
      return Connect();
    } catch (const std::exception& e) {
      return Status(StatusCode::kUnavailable, "storage.unavailable",
                    std::string("cannot connect to PostgreSQL: ") + e.what());
    }
  }

  Status RunTx(bool write, const std::function<Status(SqlConn&)>& fn) override {
    LG_ASSIGN_OR_RETURN(auto conn, Acquire());
    bool broken = false;
    Status result;
    try {
      // Reads are single SELECTs (atomic on their own): autocommit saves the
      // BEGIN and COMMIT round trips. Writes get a real transaction.
      std::unique_ptr<pqxx::transaction_base> w;
      if (write) {
        w = std::make_unique<pqxx::work>(*conn);
      } else {
        w = std::make_unique<pqxx::nontransaction>(*conn);
      }
      PgConn pc(w.get(), conn.get(), CacheOf(conn.get()));
      try {
        result = fn(pc);
      } catch (...) {
        w.reset();
        Release(std::move(conn), pc.broken());
        throw;
      }
      broken = pc.broken();
      if (result.ok()) {
        w->commit();
      } else {
        w->abort();
      }
    } catch (const pqxx::failure& e) {
      result = MapPqxxError(e, &broken);
    } catch (const pqxx::usage_error& e) {
      result = MapPqxxError(e, &broken);
    }
    if (conn) Release(std::move(conn), broken);
    return result;
  }

 private:
  Result<std::unique_ptr<pqxx::connection>> Acquire() {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !idle_.empty() || open_ < options_.pool_size; });
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      ++open_;
    }
    auto c = Connect();
    if (!c.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
      cv_.notify_one();
    }
    return c;
  }
  PreparedCache* CacheOf(pqxx::connection* c) {
    std::lock_guard<std::mutex> lock(mu_);
    return &caches_[c];  // element addresses are stable in an unordered_map
  }
  void Release(std::unique_ptr<pqxx::connection> c, bool broken) {
    std::lock_guard<std::mutex> lock(mu_);
    if (broken || !c->is_open()) {
      caches_.erase(c.get());
      for (const auto& idle : idle_) caches_.erase(idle.get());
      --open_;
      // A broken connection usually means the server restarted: the idle
      // ones are dead too. Dropping them now makes the next requests
      // connect afresh instead of each failing once on a dead socket.
      open_ -= static_cast<int>(idle_.size());
      idle_.clear();
    } else {
      idle_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

  PostgresOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  // The statements each open connection has prepared (by connection).
  std::unordered_map<pqxx::connection*, PreparedCache> caches_;
  int open_ = 0;
};

}  // namespace
}  // namespace internal

Result<std::unique_ptr<ReferenceStore>> OpenPostgresStore(const PostgresOptions& options) {
  if (options.uri.empty())
    return Status::InvalidArgument("storage.invalid_argument", "PostgreSQL URI is empty");
  if (!options.schema.empty() && !internal::ValidSchemaName(options.schema))
    return Status::InvalidArgument("storage.invalid_argument",
                                   "schema name must be [a-z_][a-z0-9_]*: " + options.schema);
  if (options.pool_size < 1)
    return Status::InvalidArgument("storage.invalid_argument", "pool_size must be >= 1");
  auto store = std::make_unique<internal::PostgresStore>(options);
  Status s = store->RunTx(true, [&](internal::SqlConn& c) {
    // Serialise migrations of concurrently starting servers.
    LG_RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock(727900001)", {}).status());
    return internal::Migrate(c, internal::Dialect::kPostgres, options.clock);
  });
  if (!s.ok()) return s;
  return std::unique_ptr<ReferenceStore>(std::move(store));
}

Result<std::unique_ptr<ReferenceStore>> OpenStore(const std::string& uri, Clock clock) {
  auto starts = [&](const char* p) { return uri.rfind(p, 0) == 0; };
  if (starts("postgresql://") || starts("postgres://")) {
    PostgresOptions o;
    o.uri = uri;
    o.clock = std::move(clock);
    return OpenPostgresStore(o);
  }
  SqliteOptions o;
  o.path = starts("sqlite:") ? uri.substr(7) : uri;
  o.clock = std::move(clock);
  return OpenSqliteStore(o);
}

}  // namespace livegate::storage
