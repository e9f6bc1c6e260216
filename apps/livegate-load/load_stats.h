// What livegate-load measures: latency per step (start, verify, risk,
// capture, ...) and per whole flow, outcomes, errors by reason, and the
// outages seen in fault mode (which step was interrupted, what the retry of
// the same request got). Thread-safe; one Recorder for the whole run.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace livegate::load {

struct Percentiles {
  std::size_t n = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;  // milliseconds
};
// Nearest-rank percentiles of `ms` (sorted inside).
Percentiles ComputePercentiles(std::vector<double> ms);

class Recorder {
 public:
  void Latency(const std::string& step, double ms);
  void Outcome(const std::string& flow, const std::string& outcome);
  // An answer that is not the flow's normal course: "<step> <status> <reason>".
  void Error(const std::string& step, int http_status, const std::string& reason);
  // Fault mode: `step` of `flow` was cut by an outage; `retry` is what the
  // same request got once the server answered /healthz again:
  // "completed", "refused <status> <reason>", "server_error <status> <reason>".
  void Interrupted(const std::string& flow, const std::string& step, const std::string& retry);
  void Count(const std::string& what, std::int64_t n = 1);

  std::int64_t Counter(const std::string& what) const;
  std::int64_t ServerErrors() const;  // answers >= 500 (503 included)
  std::int64_t InternalErrors() const;  // answers 500..502, 504+ (not the 503 of an outage)
  nlohmann::json ToJson(double wall_s) const;
  std::string ToText(double wall_s) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<double>> latencies_;
  std::map<std::string, std::int64_t> outcomes_, errors_, interruptions_, counters_;
  std::int64_t server_errors_ = 0, internal_errors_ = 0;
};

using SteadyClock = std::chrono::steady_clock;
inline double MsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

}  // namespace livegate::load
