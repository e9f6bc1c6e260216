// Prometheus-style metrics for /metrics: counters and latency histograms,
// labelled. Thread-safe; cheap enough to call on every request.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace livegate::server {

class Metrics {
 public:
  // name: metric name; labels: already formatted `k="v",k2="v2"` (may be empty).
  void Increment(const std::string& name, const std::string& labels, std::uint64_t by = 1);
  void Observe(const std::string& name, const std::string& labels, double seconds);
  void SetGauge(const std::string& name, const std::string& labels, double value);
  std::uint64_t CounterValue(const std::string& name, const std::string& labels) const;
  // Text exposition format 0.0.4.
  std::string Render() const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // cumulative counts per kBounds entry
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::uint64_t>> counters_;
  std::map<std::string, std::map<std::string, Histogram>> histograms_;
  std::map<std::string, std::map<std::string, double>> gauges_;
};

}  // namespace livegate::server
