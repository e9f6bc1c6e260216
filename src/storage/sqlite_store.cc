// SQLite backend (the embedded default). One connection per store object,
// serialised by a mutex; several processes (or store objects) share a file
// through SQLite's own locking: WAL, BEGIN IMMEDIATE for writers and a busy
// timeout. synchronous=FULL by default (see SqliteOptions); secure_delete=ON
// so that deleted references and shredded keys are overwritten in the file
// rather than left in free pages (decision 11.11).
#include <sqlite3.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <map>
#include <memory>
#include <mutex>

#include "storage/sql_backend.h"

namespace livegate::storage {
namespace internal {
namespace {

Status MapSqliteError(const SQLite::Exception& e, const std::string& what) {
  const int code = e.getErrorCode() & 0xff;
  const int ext = e.getExtendedErrorCode();
  const std::string msg = what + ": " + e.what();
  switch (code) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status(StatusCode::kDataLoss, "storage.corrupt",
                    "the SQLite database is damaged or not a database (" + msg + ")");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status(StatusCode::kUnavailable, "storage.busy", msg);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
      return Status(StatusCode::kUnavailable, "storage.unavailable", msg);
    case SQLITE_FULL:
      // Disk full (issue 12): the transaction was rolled back, nothing is
      // half-written; 503 with its own reason so operators see the cause.
      return Status(StatusCode::kUnavailable, "storage.full", "the database disk is full (" + msg + ")");
    case SQLITE_CONSTRAINT:
      if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        return Status(StatusCode::kAlreadyExists, kReasonUniqueViolation, msg);
      if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
        return Status(StatusCode::kFailedPrecondition, kReasonFkViolation, msg);
      return Status::InvalidArgument("storage.invalid_argument", msg);
    default:
      return Status::Internal("storage.error", msg);
  }
}

class SqliteConn final : public SqlConn {
 public:
  explicit SqliteConn(SQLite::Database* db) : db_(*db) {}

  Result<SqlRows> Exec(const std::string& sql, const std::vector<SqlValue>& params) override {
    try {
      SQLite::Statement& st = Prepare(sql);
      for (std::size_t i = 0; i < params.size(); ++i) {
        const int idx = static_cast<int>(i) + 1;
        const SqlValue& p = params[i];
        if (std::holds_alternative<std::monostate>(p)) {
          st.bind(idx);
        } else if (const auto* v = std::get_if<std::int64_t>(&p)) {
          st.bind(idx, static_cast<int64_t>(*v));
        } else if (const auto* s = std::get_if<std::string>(&p)) {
          st.bind(idx, *s);
        } else {
          const Bytes& b = std::get<Bytes>(p);
          static const std::uint8_t kEmpty = 0;  // non-null pointer: empty blob, not NULL
          st.bind(idx, b.empty() ? &kEmpty : b.data(), static_cast<int>(b.size()));
        }
      }
      SqlRows rows;
      while (st.executeStep()) {
        SqlRow row;
        const int n = st.getColumnCount();
        row.reserve(n);
        for (int c = 0; c < n; ++c) {
          SQLite::Column col = st.getColumn(c);
          switch (col.getType()) {
            case SQLITE_INTEGER: row.emplace_back(static_cast<std::int64_t>(col.getInt64())); break;
            case SQLITE_TEXT: row.emplace_back(col.getString()); break;
            case SQLITE_BLOB: {
              const auto* p = static_cast<const std::uint8_t*>(col.getBlob());
              row.emplace_back(Bytes(p, p + col.getBytes()));
              break;
            }
            case SQLITE_FLOAT: row.emplace_back(static_cast<std::int64_t>(col.getDouble())); break;
            default: row.emplace_back(std::monostate{}); break;
          }
        }
        rows.push_back(std::move(row));
      }
      st.reset();
      st.clearBindings();
      return rows;
    } catch (const SQLite::Exception& e) {
      Forget(sql);
      return MapSqliteError(e, "sqlite");
    } catch (const std::exception& e) {
      Forget(sql);
      return Status::Internal("storage.error", std::string("sqlite: ") + e.what());
    }
  }

  Status LockUntilTransactionEnd(std::int32_t) override {
    // Every write transaction holds SQLite's write lock from BEGIN IMMEDIATE
    // to its end, across connections and processes: already serialised.
    return Status::Ok();
  }

 private:
  SQLite::Statement& Prepare(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) {
      it->second->reset();
      it->second->clearBindings();
      return *it->second;
    }
    auto st = std::make_unique<SQLite::Statement>(db_, sql);
    return *cache_.emplace(sql, std::move(st)).first->second;
  }
  void Forget(const std::string& sql) { cache_.erase(sql); }

  SQLite::Database& db_;
  std::map<std::string, std::unique_ptr<SQLite::Statement>> cache_;
};

class SqliteStore final : public SqlReferenceStore {
 public:
  SqliteStore(SqliteOptions options, std::unique_ptr<SQLite::Database> db)
      : SqlReferenceStore(options.clock), options_(std::move(options)), db_(std::move(db)),
        conn_(db_.get()) {}

  const char* backend_name() const override { return "sqlite"; }

  Status RunTx(bool write, const std::function<Status(SqlConn&)>& fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    // Writers take the write lock at BEGIN (waiting up to busy_timeout), so
    // two processes never both read-then-write the same rows.
    if (Status s = Raw(write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED"); !s.ok()) return s;
    Status result;
    try {
      result = fn(conn_);
    } catch (...) {
      (void)Raw("ROLLBACK");
      throw;
    }
    if (!result.ok()) {
      (void)Raw("ROLLBACK");
      return result;
    }
    if (Status s = Raw("COMMIT"); !s.ok()) {
      (void)Raw("ROLLBACK");
      return s;
    }
    return Status::Ok();
  }

  Status Raw(const char* sql) {
    try {
      db_->exec(sql);
      return Status::Ok();
    } catch (const SQLite::Exception& e) {
      return MapSqliteError(e, sql);
    }
  }

 private:
  SqliteOptions options_;
  std::unique_ptr<SQLite::Database> db_;
  SqliteConn conn_;
  std::mutex mu_;
};

}  // namespace
}  // namespace internal

Result<std::unique_ptr<ReferenceStore>> OpenSqliteStore(const SqliteOptions& options) {
  using internal::MapSqliteError;
  if (options.path.empty())
    return Status::InvalidArgument("storage.invalid_argument", "SQLite path is empty");
  std::unique_ptr<SQLite::Database> db;
  try {
    db = std::make_unique<SQLite::Database>(options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                                            options.busy_timeout_ms);
  } catch (const SQLite::Exception& e) {
    return MapSqliteError(e, "opening " + options.path);
  }
  try {
    // journal_mode is the first statement that reads the header: a file
    // that is not a database fails here with NOTADB -> storage.corrupt.
    db->exec("PRAGMA journal_mode = WAL");
    db->exec("PRAGMA foreign_keys = ON");
    db->exec(options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    db->exec("PRAGMA secure_delete = ON");
    if (options.check_integrity_on_open) {
      SQLite::Statement q(*db, "PRAGMA quick_check");
      if (q.executeStep() && q.getColumn(0).getString() != "ok") {
        return Status(StatusCode::kDataLoss, "storage.corrupt",
                      "SQLite quick_check failed on " + options.path + ": " +
                          q.getColumn(0).getString());
      }
    }
  } catch (const SQLite::Exception& e) {
    return MapSqliteError(e, "opening " + options.path);
  }
  auto store = std::make_unique<internal::SqliteStore>(options, std::move(db));
  Status s = store->RunTx(true, [&](internal::SqlConn& c) {
    return internal::Migrate(c, internal::Dialect::kSqlite, options.clock);
  });
  if (!s.ok()) return s;
  return std::unique_ptr<ReferenceStore>(std::move(store));
}

}  // namespace livegate::storage
