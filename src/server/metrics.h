// Prometheus metrics for /metrics: counters, gauges and latency histograms.
// Thread-safe; cheap enough to call on every request.
//
// Issue 12 (finding 3): only the metrics of a fixed catalogue exist (name,
// type, HELP text, label names; Metrics::Catalogue()), and every label value
// comes from a fixed set: a value outside its label's set becomes "other"
// (reason-code labels accept short [a-z0-9_.] codes, at most
// kMaxSeriesPerMetric series a metric, then "other"). No request data can
// become a metric name or grow memory without bound, and the exposition
// always parses (`promtool check metrics` runs on it in
// tests/server/security_ops_test.cc).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace livegate::server {

enum class MetricType { kCounter, kGauge, kHistogram };

struct MetricLabel {
  std::string name;
  // Allowed values; empty = a reason code ([a-z0-9_.], 1..64 characters).
  std::vector<std::string> values;
};

struct MetricSpec {
  std::string name;
  MetricType type;
  std::string help;
  std::vector<MetricLabel> labels;  // rendered in this order
};

class Metrics {
 public:
  // Distinct label sets a metric may hold; further ones fold into "other".
  static constexpr std::size_t kMaxSeriesPerMetric = 256;
  // The value every unknown label value becomes.
  static constexpr const char* kOther = "other";

  // Every metric the server may expose.
  static const std::vector<MetricSpec>& Catalogue();

  // name: a catalogue name of the right type (anything else is dropped and
  // counted in livegate_metrics_rejected_samples_total); labels: formatted
  // `k="v",k2="v2"` in any order (may be empty). Values are checked against
  // the catalogue; a malformed label string counts with every label "other".
  void Increment(const std::string& name, const std::string& labels, std::uint64_t by = 1);
  // A counter accumulated elsewhere (e.g. CPU seconds): sets its value; a
  // smaller value than the current one is ignored (counters never go down).
  void SetCounter(const std::string& name, const std::string& labels, double value);
  void Observe(const std::string& name, const std::string& labels, double seconds);
  void SetGauge(const std::string& name, const std::string& labels, double value);
  // The value of a counter series (labels as passed to Increment); 0 if none.
  double CounterValue(const std::string& name, const std::string& labels) const;
  // Text exposition format 0.0.4 with HELP and TYPE for every metric.
  std::string Render() const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> buckets;  // cumulative counts per bound
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct Series {
    std::map<std::vector<std::string>, double> values;  // counters and gauges
    std::map<std::vector<std::string>, Histogram> histograms;
    std::size_t size() const { return values.size() + histograms.size(); }
  };
  // Label values in catalogue order, normalised; nullptr spec = unknown name.
  const MetricSpec* Resolve(const std::string& name, MetricType type, const std::string& labels,
                            std::vector<std::string>* values);
  void RejectLocked();

  mutable std::mutex mu_;
  std::map<std::string, Series> series_;  // by metric name
};

}  // namespace livegate::server
