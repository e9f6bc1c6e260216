// Reference lookup latency (p50 / p99) with N enrolled users (default
// 1,000,000) on SQLite and PostgreSQL, through the ReferenceStore interface;
// plus the template protection cost (unseal + transform) per comparison.
//
//   livegate_bench_storage [--benchmark_format=json]
//   env: LIVEGATE_BENCH_USERS (default 1000000)
//        LIVEGATE_BENCH_DIR   (default /tmp/livegate-bench-storage; the SQLite file)
//        LIVEGATE_PG_URI      (PostgreSQL; skipped when unset; schema bench_storage)
// The databases are bulk-loaded once and reused by later runs.
#include <benchmark/benchmark.h>
#include <pqxx/pqxx>
#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "crypto/aead.h"
#include "crypto/key_manager.h"
#include "storage/reference_store.h"
#include "storage/template_protection.h"

namespace lgs = livegate::storage;

namespace {

constexpr std::size_t kBlobSize = 12 + 512 + 16;  // a sealed 128-float template

long Users() {
  const char* v = std::getenv("LIVEGATE_BENCH_USERS");
  return v ? std::atol(v) : 1000000;
}
std::string UserId(long i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user%08ld", i);
  return buf;
}
std::string BenchDir() {
  const char* v = std::getenv("LIVEGATE_BENCH_DIR");
  return v ? v : "/tmp/livegate-bench-storage";
}

std::unique_ptr<lgs::ReferenceStore> OpenSqlite(long users) {
  std::filesystem::create_directories(BenchDir());
  const std::string path = BenchDir() + "/refs-" + std::to_string(users) + ".db";
  {
    lgs::SqliteOptions o;
    o.path = path;
    auto s = lgs::OpenSqliteStore(o);  // creates the schema
    if (!s.ok()) {
      std::fprintf(stderr, "sqlite: %s\n", s.status().ToString().c_str());
      return nullptr;
    }
  }
  SQLite::Database db(path, SQLite::OPEN_READWRITE);
  if (db.execAndGet("SELECT COUNT(*) FROM accounts").getInt64() < users) {
    const auto t0 = std::chrono::steady_clock::now();
    db.exec("PRAGMA synchronous = OFF");
    db.exec("DELETE FROM biometric_references; DELETE FROM accounts;");
    SQLite::Transaction tx(db);
    SQLite::Statement acc(db,
                          "INSERT INTO accounts (account_id, srp_verifier, srp_salt, srp_group, state, "
                          "failure_count, created_ms) VALUES (?, ?, ?, 'modp/srp/3072', 0, 0, 0)");
    SQLite::Statement ref(db,
                          "INSERT INTO biometric_references (account_id, device_type, protected_template, "
                          "transform_version, source, created_ms) VALUES (?, 'android', ?, 1, 'capture', 0)");
    std::mt19937_64 rng(1);
    std::vector<std::uint64_t> blob(kBlobSize / 8 + 1), verifier(384 / 8);
    for (long i = 0; i < users; ++i) {
      for (auto& w : blob) w = rng();
      for (auto& w : verifier) w = rng();
      const std::string id = UserId(i);
      acc.bind(1, id);
      acc.bind(2, verifier.data(), 384);
      acc.bind(3, blob.data(), 16);
      acc.exec();
      acc.reset();
      ref.bind(1, id);
      ref.bind(2, blob.data(), static_cast<int>(kBlobSize));
      ref.exec();
      ref.reset();
    }
    tx.commit();
    std::fprintf(stderr, "sqlite: loaded %ld users in %.1f s\n", users,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  lgs::SqliteOptions o;
  o.path = path;
  return lgs::OpenSqliteStore(o).ok() ? std::move(lgs::OpenSqliteStore(o)).value() : nullptr;
}

std::unique_ptr<lgs::ReferenceStore> OpenPostgres(long users) {
  const char* uri = std::getenv("LIVEGATE_PG_URI");
  if (!uri) return nullptr;
  lgs::PostgresOptions o;
  o.uri = uri;
  o.schema = "bench_storage_" + std::to_string(users);
  auto s = lgs::OpenPostgresStore(o);
  if (!s.ok()) {
    std::fprintf(stderr, "postgres: %s\n", s.status().ToString().c_str());
    return nullptr;
  }
  pqxx::connection c(uri);
  pqxx::work w(c);
  w.exec("SET search_path TO " + o.schema);
  if (w.exec("SELECT COUNT(*) FROM accounts")[0][0].as<long>() < users) {
    const auto t0 = std::chrono::steady_clock::now();
    w.exec("DELETE FROM biometric_references; DELETE FROM accounts;");
    // Generated server-side: pseudo-random bytes from md5 chains, 540 bytes.
    w.exec("INSERT INTO accounts (account_id, srp_verifier, srp_salt, srp_group, state, failure_count, "
           "created_ms) SELECT 'user' || lpad(i::text, 8, '0'), "
           "decode(repeat(md5(i::text), 24), 'hex'), decode(md5('s' || i), 'hex'), 'modp/srp/3072', "
           "0, 0, 0 FROM generate_series(0, " + std::to_string(users - 1) + ") i");
    w.exec("INSERT INTO biometric_references (account_id, device_type, protected_template, "
           "transform_version, source, created_ms) SELECT 'user' || lpad(i::text, 8, '0'), 'android', "
           "substring(decode(string_agg(md5(i::text || '-' || k), ''), 'hex') from 1 for 540), 1, "
           "'capture', 0 FROM generate_series(0, " + std::to_string(users - 1) + ") i, "
           "generate_series(1, 34) k GROUP BY i");
    w.exec("ANALYZE accounts; ANALYZE biometric_references");
    std::fprintf(stderr, "postgres: loaded %ld users in %.1f s\n", users,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  w.commit();
  return std::move(s).value();
}

void Percentiles(benchmark::State& state, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()))]; };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["max_us"] = us.back();
  state.counters["users"] = static_cast<double>(Users());
}

void LookupLatency(benchmark::State& state, lgs::ReferenceStore* store) {
  if (!store) {
    state.SkipWithError("backend unavailable (PostgreSQL needs LIVEGATE_PG_URI)");
    return;
  }
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<long> pick(0, Users() - 1);
  std::vector<double> us;
  us.reserve(200000);
  for (auto _ : state) {
    const std::string id = UserId(pick(rng));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = store->GetReference(id, "android");
    const auto t1 = std::chrono::steady_clock::now();
    if (!r.ok() || r->protected_template.size() < 512) {
      state.SkipWithError(("lookup failed: " + r.status().ToString()).c_str());
      return;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  Percentiles(state, us);
}

void BM_ReferenceLookup_Sqlite(benchmark::State& state) {
  static auto store = OpenSqlite(Users());
  LookupLatency(state, store.get());
}
void BM_ReferenceLookup_Postgres(benchmark::State& state) {
  static auto store = OpenPostgres(Users());
  LookupLatency(state, store.get());
}

// The protection layer's share of a comparison: unwrap the data key, open
// the transform key, derive (or find cached) the rotation, open the
// template, rotate the probe. 1,000 enrolled users on SQLite; arg 0 = no
// transform cache, arg 1 = cache large enough for all users.
lgs::ReferenceStore* ProtectedStore(lgs::TemplateProtector& protector) {
  static std::unique_ptr<lgs::ReferenceStore> store = [&] {
    std::filesystem::create_directories(BenchDir());
    const std::string path = BenchDir() + "/protected-1000.db";
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    lgs::SqliteOptions o;
    o.path = path;
    auto s = std::move(lgs::OpenSqliteStore(o)).value();
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0.f, 0.1f);
    (void)s->Transact([&](lgs::StoreOps& tx) {
      for (int i = 0; i < 1000; ++i) {
        lgs::Account a;
        a.account_id = UserId(i);
        a.srp_verifier = {1};
        a.srp_salt = {1};
        a.srp_group = "modp/srp/3072";
        LG_RETURN_IF_ERROR(tx.CreateAccount(a));
        lgs::Template t;
        for (auto& v : t) v = n(rng);
        LG_RETURN_IF_ERROR(protector.Enroll(tx, a.account_id, "android", t, "capture"));
      }
      return livegate::Status::Ok();
    });
    return s;
  }();
  return store.get();
}

void BM_PrepareComparison_Sqlite(benchmark::State& state) {
  static auto keys = livegate::crypto::KeyManager::FromKeys(livegate::crypto::RandomBytes(32)).value();
  lgs::TemplateProtectorOptions options;
  options.transform_cache_entries = state.range(0) ? 1024 : 0;
  lgs::TemplateProtector protector(&keys, options);
  lgs::ReferenceStore* store = ProtectedStore(protector);
  std::mt19937_64 rng(5);
  lgs::Template probe{};
  if (state.range(0)) {  // warm the cache: returning users
    for (int i = 0; i < 1000; ++i) (void)protector.PrepareComparison(*store, UserId(i), "android", probe);
  }
  std::vector<double> us;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = protector.PrepareComparison(*store, UserId(static_cast<long>(rng() % 1000)), "android", probe);
    const auto t1 = std::chrono::steady_clock::now();
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  Percentiles(state, us);
  state.counters["users"] = 1000;
}

}  // namespace

BENCHMARK(BM_ReferenceLookup_Sqlite)->Iterations(100000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReferenceLookup_Postgres)->Iterations(20000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PrepareComparison_Sqlite)->Arg(0)->Arg(1)->Iterations(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
