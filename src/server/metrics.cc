#include "server/metrics.h"

#include <array>
#include <cstdio>
#include <sstream>

namespace livegate::server {
namespace {
constexpr std::array<double, 12> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

std::string Braced(const std::string& labels, const std::string& extra = {}) {
  std::string all = labels;
  if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
  return all.empty() ? std::string() : "{" + all + "}";
}

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace

void Metrics::Increment(const std::string& name, const std::string& labels, std::uint64_t by) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_[name][labels] += by;
}

void Metrics::Observe(const std::string& name, const std::string& labels, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& h = histograms_[name][labels];
  if (h.buckets.empty()) h.buckets.assign(kBounds.size(), 0);
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::SetGauge(const std::string& name, const std::string& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_[name][labels] = value;
}

std::uint64_t Metrics::CounterValue(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(name);
  if (it == counters_.end()) return 0;
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? 0 : jt->second;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream out;
  for (const auto& [name, series] : counters_) {
    out << "# TYPE " << name << " counter\n";
    for (const auto& [labels, v] : series) out << name << Braced(labels) << ' ' << v << '\n';
  }
  for (const auto& [name, series] : gauges_) {
    out << "# TYPE " << name << " gauge\n";
    for (const auto& [labels, v] : series) out << name << Braced(labels) << ' ' << Num(v) << '\n';
  }
  for (const auto& [name, series] : histograms_) {
    out << "# TYPE " << name << " histogram\n";
    for (const auto& [labels, h] : series) {
      for (std::size_t i = 0; i < kBounds.size(); ++i) {
        out << name << "_bucket" << Braced(labels, "le=\"" + Num(kBounds[i]) + "\"") << ' '
            << h.buckets[i] << '\n';
      }
      out << name << "_bucket" << Braced(labels, "le=\"+Inf\"") << ' ' << h.count << '\n';
      out << name << "_sum" << Braced(labels) << ' ' << Num(h.sum) << '\n';
      out << name << "_count" << Braced(labels) << ' ' << h.count << '\n';
    }
  }
  return out.str();
}

}  // namespace livegate::server
