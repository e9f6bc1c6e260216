// Timing classes of authentication failures (R-SEC-SRV-1, decision 11.9:
// "every authentication failure looks the same to the caller"). Drives the
// Service handlers directly (no TLS, whose noise is the same for both) on a
// real database and prints, for a known and an unknown account id:
//   - locked:  POST /v1/flows while the account id is locked out (429);
//   - failed:  POST /v1/flows/{id}/verify with a wrong proof (401), for a
//              known account with a wrong password and an unknown account.
// Calls of the two kinds are interleaved so that machine load hits both.
//
//   livegate_bench_lockout [--database sqlite:PATH|postgresql://...] [--n 200] [--json]
//   (default: SQLite in a temp folder; LIVEGATE_PG_URI is not read implicitly)
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "crypto/kdf.h"
#include "crypto/key_manager.h"
#include "crypto/srp6a.h"
#include "protocol/messages.h"
#include "server/audit.h"
#include "server/decision_logic.h"
#include "server/json_log.h"
#include "server/metrics.h"
#include "server/service.h"
#include "storage/reference_store.h"

using namespace livegate;
using protocol::FlowType;

namespace {

struct Stats {
  double p50_us = 0, p90_us = 0, p99_us = 0;
  int n = 0;
};

Stats Summarise(std::vector<double> v) {
  Stats s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]; };
  s.p50_us = at(0.5);
  s.p90_us = at(0.9);
  s.p99_us = at(0.99);
  return s;
}

template <typename F>
double TimeUs(F f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

server::ApiRequest Req(std::string body, std::vector<std::string> captures = {}) {
  server::ApiRequest r;
  r.method = "POST";
  r.body = std::move(body);
  r.remote_addr = "127.0.0.1";
  r.captures = std::move(captures);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string uri;
  int n = 200;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--database" && i + 1 < argc) uri = argv[++i];
    else if (a == "--n" && i + 1 < argc) n = std::max(10, std::atoi(argv[++i]));
    else if (a == "--json") json = true;
    else {
      std::cerr << "usage: livegate_bench_lockout [--database URI] [--n N] [--json]\n";
      return 2;
    }
  }
  (void)server::ConfigureJsonLog("error", "");
  const auto dir = std::filesystem::temp_directory_path() / ("lg_bench_lockout_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  if (uri.empty()) uri = "sqlite:" + (dir / "bench.db").string();
  auto store = storage::OpenStore(uri);
  auto keys = crypto::KeyManager::FromKeys(crypto::RandomBytes(32));
  if (!store.ok() || !keys.ok()) {
    std::cerr << "cannot open " << (store.ok() ? "keys" : store.status().ToString()) << "\n";
    return 4;
  }
  auto policy = server::LoadPolicy(std::filesystem::path(LIVEGATE_SOURCE_DIR) / "config/policy.default.json");
  if (!policy.ok()) return 5;
  server::LogAuditTrail audit(10);
  server::Metrics metrics;
  server::ServiceDeps deps;
  deps.store = store->get();
  deps.keys = &*keys;
  deps.audit = &audit;
  deps.metrics = &metrics;
  deps.policy = *policy;
  deps.limits.rate_per_account_per_minute = 0;
  deps.limits.rate_per_device_per_minute = 0;
  deps.limits.rate_per_address_per_minute = 0;
  deps.srp.allowed_groups = {"modp/srp/3072"};
  deps.srp.default_group = "modp/srp/3072";
  auto service = server::Service::Create(deps);
  if (!service.ok()) return 6;
  server::Service& svc = **service;

  const std::string run = crypto::HexEncode(crypto::RandomBytes(4));  // fresh ids on a shared database
  auto g = crypto::SrpGroup::Create({"modp/srp/3072", "SHA-256"});
  auto make_account = [&](const std::string& id) {
    auto v = crypto::MakeSrpVerifier(*g, id, "right password");
    storage::Account a;
    a.account_id = id;
    a.srp_group = "modp/srp/3072";
    a.srp_salt = v->salt;
    a.srp_verifier = v->verifier;
    a.created = storage::SystemClock()();
    return (*store)->CreateAccount(a);
  };
  // One failed SRP attempt; returns the server time of the verify call.
  auto fail_once = [&](const std::string& id, int* status) {
    auto s = svc.StartFlow(Req(protocol::ToJson(protocol::StartFlowRequest{FlowType::kRegistration, id, "dev"})));
    auto start = protocol::ParseStartFlowResponse(s.body);
    if (s.status != 200 || !start.ok()) {
      *status = s.status;
      return 0.0;
    }
    auto c = crypto::SrpClientSession::Respond(*g, id, "wrong password", start->salt, start->B);
    const std::string body = protocol::ToJson(protocol::VerifyRequest{c->A(), c->M1()});
    server::ApiResponse r;
    const double us = TimeUs([&] { r = svc.VerifyFlow(Req(body, {start->flow_id})); });
    *status = r.status;
    return us;
  };

  // 1. Failed verify: known (wrong password) vs unknown, one attempt per id
  //    (so no lockout interferes), interleaved.
  const int nverify = std::max(10, n / 5);
  std::vector<double> fk, fu;
  std::string body_k, body_u;
  for (int i = 0; i < nverify; ++i) {
    const std::string k = "k" + run + "-" + std::to_string(i), u = "u" + run + "-" + std::to_string(i);
    if (!make_account(k).ok()) return 7;
    int sk = 0, su = 0;
    if (i % 2 == 0) {  // alternate the order: no class always runs second
      fk.push_back(fail_once(k, &sk));
      fu.push_back(fail_once(u, &su));
    } else {
      fu.push_back(fail_once(u, &su));
      fk.push_back(fail_once(k, &sk));
    }
    if (sk != 401 || su != 401) {
      std::cerr << "unexpected verify status " << sk << " / " << su << "\n";
      return 8;
    }
  }
  // 2. Locked start: one known and one unknown id, each locked by
  //    max_failures failed attempts, then n interleaved starts each.
  const std::string lk = "lk" + run, lu = "lu" + run;
  if (!make_account(lk).ok()) return 7;
  for (int i = 0; i < policy->lockout.max_failures; ++i) {
    int st = 0;
    fail_once(lk, &st);
    fail_once(lu, &st);
  }
  std::vector<double> lkt, lut;
  const std::string sk = protocol::ToJson(protocol::StartFlowRequest{FlowType::kRegistration, lk, "dev"});
  const std::string su = protocol::ToJson(protocol::StartFlowRequest{FlowType::kRegistration, lu, "dev"});
  bool same = true;
  for (int i = 0; i < n; ++i) {
    server::ApiResponse a, b;
    if (i % 2 == 0) {
      lkt.push_back(TimeUs([&] { a = svc.StartFlow(Req(sk)); }));
      lut.push_back(TimeUs([&] { b = svc.StartFlow(Req(su)); }));
    } else {
      lut.push_back(TimeUs([&] { b = svc.StartFlow(Req(su)); }));
      lkt.push_back(TimeUs([&] { a = svc.StartFlow(Req(sk)); }));
    }
    same &= a.status == 429 && b.status == 429 && a.body == b.body;
  }
  const Stats a = Summarise(fk), b = Summarise(fu), c = Summarise(lkt), d = Summarise(lut);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (json) {
    auto j = [](const Stats& s) {
      return nlohmann::json{{"n", s.n}, {"p50_us", s.p50_us}, {"p90_us", s.p90_us}, {"p99_us", s.p99_us}};
    };
    std::cout << nlohmann::json{{"database", (*store)->backend_name()},
                                {"failed_verify_known", j(a)},
                                {"failed_verify_unknown", j(b)},
                                {"locked_start_known", j(c)},
                                {"locked_start_unknown", j(d)},
                                {"locked_answers_identical", same}}
                     .dump(2)
              << "\n";
  } else {
    auto line = [](const char* what, const Stats& s) {
      std::printf("%-28s n=%4d  p50 %8.0f us  p90 %8.0f us  p99 %8.0f us\n", what, s.n, s.p50_us,
                  s.p90_us, s.p99_us);
    };
    std::printf("database: %s\n", (*store)->backend_name());
    line("failed verify, known", a);
    line("failed verify, unknown", b);
    line("locked start, known", c);
    line("locked start, unknown", d);
    std::printf("locked answers identical (status 429, same body): %s\n", same ? "yes" : "NO");
  }
  return same ? 0 : 1;
}
