#include "load_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

namespace livegate::load {

Percentiles ComputePercentiles(std::vector<double> ms) {
  Percentiles p;
  p.n = ms.size();
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ms.size()))) - 1;
    return ms[std::min(i, ms.size() - 1)];
  };
  p.p50 = rank(0.50);
  p.p95 = rank(0.95);
  p.p99 = rank(0.99);
  p.max = ms.back();
  p.mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  return p;
}

void Recorder::Latency(const std::string& step, double ms) {
  std::lock_guard<std::mutex> l(mu_);
  latencies_[step].push_back(ms);
}
void Recorder::Outcome(const std::string& flow, const std::string& outcome) {
  std::lock_guard<std::mutex> l(mu_);
  ++outcomes_[flow + " " + outcome];
}
void Recorder::Error(const std::string& step, int http_status, const std::string& reason) {
  std::lock_guard<std::mutex> l(mu_);
  ++errors_[step + " " + (http_status > 0 ? std::to_string(http_status) : std::string("-")) + " " + reason];
  if (http_status >= 500) ++server_errors_;
  if (http_status >= 500 && http_status != 503) ++internal_errors_;
}
void Recorder::Interrupted(const std::string& flow, const std::string& step, const std::string& retry) {
  std::lock_guard<std::mutex> l(mu_);
  ++interruptions_[flow + " " + step + " -> " + retry];
}
void Recorder::Count(const std::string& what, std::int64_t n) {
  std::lock_guard<std::mutex> l(mu_);
  counters_[what] += n;
}
std::int64_t Recorder::Counter(const std::string& what) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = counters_.find(what);
  return it == counters_.end() ? 0 : it->second;
}
std::int64_t Recorder::ServerErrors() const {
  std::lock_guard<std::mutex> l(mu_);
  return server_errors_;
}
std::int64_t Recorder::InternalErrors() const {
  std::lock_guard<std::mutex> l(mu_);
  return internal_errors_;
}

nlohmann::json Recorder::ToJson(double wall_s) const {
  std::lock_guard<std::mutex> l(mu_);
  nlohmann::json j;
  j["wall_s"] = wall_s;
  std::int64_t sessions = 0;
  for (const auto& [k, n] : outcomes_) sessions += n;
  j["sessions"] = sessions;
  j["sessions_per_s"] = wall_s > 0 ? static_cast<double>(sessions) / wall_s : 0.0;
  j["steps"] = nlohmann::json::object();
  for (const auto& [step, v] : latencies_) {
    const auto p = ComputePercentiles(v);
    j["steps"][step] = {{"n", p.n}, {"p50_ms", p.p50}, {"p95_ms", p.p95}, {"p99_ms", p.p99},
                        {"max_ms", p.max}, {"mean_ms", p.mean}};
  }
  j["outcomes"] = outcomes_;
  j["errors"] = errors_;
  j["server_errors"] = server_errors_;      // every answer >= 500
  j["internal_errors"] = internal_errors_;  // >= 500 except 503
  j["interruptions"] = interruptions_;
  j["counters"] = counters_;
  return j;
}

std::string Recorder::ToText(double wall_s) const {
  const auto j = ToJson(wall_s);
  std::ostringstream o;
  char buf[256];
  std::snprintf(buf, sizeof buf, "wall %.1f s, sessions %lld, sessions/s %.3f\n", wall_s,
                static_cast<long long>(j["sessions"].get<std::int64_t>()), j["sessions_per_s"].get<double>());
  o << buf;
  std::snprintf(buf, sizeof buf, "%-26s %6s %9s %9s %9s %9s\n", "step", "n", "p50 ms", "p95 ms", "p99 ms", "max ms");
  o << buf;
  for (const auto& [step, s] : j["steps"].items()) {
    std::snprintf(buf, sizeof buf, "%-26s %6lld %9.1f %9.1f %9.1f %9.1f\n", step.c_str(),
                  static_cast<long long>(s["n"].get<std::int64_t>()), s["p50_ms"].get<double>(),
                  s["p95_ms"].get<double>(), s["p99_ms"].get<double>(), s["max_ms"].get<double>());
    o << buf;
  }
  auto section = [&](const char* title, const nlohmann::json& m) {
    o << title << (m.empty() ? " none\n" : "\n");
    for (const auto& [k, n] : m.items()) o << "  " << n.get<std::int64_t>() << "  " << k << "\n";
  };
  section("outcomes:", j["outcomes"]);
  section("errors (step status reason):", j["errors"]);
  o << "server errors (5xx): " << j["server_errors"].get<std::int64_t>()
    << ", of which not 503: " << j["internal_errors"].get<std::int64_t>() << "\n";
  if (!j["interruptions"].empty()) section("interrupted steps (flow step -> retry of the same request):", j["interruptions"]);
  if (!j["counters"].empty()) section("counters:", j["counters"]);
  return o.str();
}

}  // namespace livegate::load
