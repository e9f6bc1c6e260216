// Opening a fresh store on each backend for the storage tests.
// SQLite: a file in a fresh temporary folder. PostgreSQL: a fresh schema in
// the database named by LIVEGATE_PG_URI (scripts/pg-test-cluster start);
// when unset the PostgreSQL tests SKIP, or FAIL when CI=true.
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "storage/reference_store.h"
#include "support/test_data.h"

namespace livegate::storage::testing {

enum class Backend { kSqlite, kPostgres };
inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

inline const char* PgUri() { return std::getenv("LIVEGATE_PG_URI"); }

// A clock the test moves by hand.
struct ManualClock {
  std::shared_ptr<std::atomic<std::int64_t>> ms =
      std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000);
  Clock AsClock() const {
    auto p = ms;
    return [p] { return Timestamp(std::chrono::milliseconds(p->load())); };
  }
  Timestamp Now() const { return Timestamp(std::chrono::milliseconds(ms->load())); }
  void Advance(std::chrono::milliseconds d) { ms->fetch_add(d.count()); }
};

// One database location; Open() may be called several times to get
// independent store objects (separate connections, as two processes would).
class TestDatabase {
 public:
  explicit TestDatabase(Backend backend) : backend_(backend) {
    std::random_device rd;
    const auto tag = std::to_string(rd()) + std::to_string(rd() % 100000);
    if (backend_ == Backend::kSqlite) {
      dir_ = livegate::testing::MakeTempDir("lg_storage");
      path_ = (dir_ / "ref.db").string();
    } else {
      schema_ = "lg_test_" + tag;
    }
  }
  ~TestDatabase() {
    if (backend_ == Backend::kSqlite) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    } else if (PgUri() != nullptr) {
      try {
        pqxx::connection c(PgUri());
        pqxx::nontransaction n(c);
        n.exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
      } catch (const std::exception&) {
      }
    }
  }

  Result<std::unique_ptr<ReferenceStore>> Open(Clock clock = SystemClock()) const {
    if (backend_ == Backend::kSqlite) {
      SqliteOptions o;
      o.path = path_;
      o.clock = std::move(clock);
      return OpenSqliteStore(o);
    }
    PostgresOptions o;
    o.uri = PgUri();
    o.schema = schema_;
    o.clock = std::move(clock);
    return OpenPostgresStore(o);
  }

  // The database URI for a livegate-server process (its config's
  // database.uri): the SQLite file, or the cluster's database with this
  // schema chosen through libpq's `options` (the schema is created here).
  std::string ServerUri() const {
    if (backend_ == Backend::kSqlite) return "sqlite:" + path_;
    pqxx::connection c(PgUri());
    pqxx::nontransaction n(c);
    n.exec("CREATE SCHEMA IF NOT EXISTS " + schema_);
    const std::string base = PgUri();
    return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema_;
  }

  Backend backend() const { return backend_; }
  const std::string& sqlite_path() const { return path_; }
  const std::string& pg_schema() const { return schema_; }

 private:
  Backend backend_;
  std::filesystem::path dir_;
  std::string path_;
  std::string schema_;
};

}  // namespace livegate::storage::testing

// At the top of a parameterised test body (or SetUp): skip PostgreSQL when
// no cluster was given, fail instead under CI=true.
#define LG_REQUIRE_BACKEND(backend)                                                        \
  do {                                                                                     \
    if ((backend) == ::livegate::storage::testing::Backend::kPostgres &&                   \
        ::livegate::storage::testing::PgUri() == nullptr) {                                \
      if (::livegate::testing::RunningInCi()) {                                            \
        FAIL() << "LIVEGATE_PG_URI unset (CI=true makes this a failure); run "             \
                  "eval \"$(scripts/pg-test-cluster start)\"";                             \
      } else {                                                                             \
        GTEST_SKIP() << "LIVEGATE_PG_URI unset, skipping PostgreSQL; run "                 \
                        "eval \"$(scripts/pg-test-cluster start)\"";                       \
      }                                                                                    \
    }                                                                                      \
  } while (0)
