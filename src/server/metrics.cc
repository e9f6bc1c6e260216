#include "server/metrics.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <sstream>

namespace livegate::server {
namespace {

constexpr std::array<double, 12> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1.0,  2.5,   5.0};
constexpr const char* kRejected = "livegate_metrics_rejected_samples_total";

const std::vector<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                                           "other"};
const std::vector<std::string> kCodes = {"200", "201", "204", "301", "400", "401", "403", "404", "405",
                                         "408", "409", "410", "411", "413", "415", "417", "422", "429",
                                         "431", "500", "501", "503", "505", "507", "other"};
const std::vector<std::string> kFlows = {"registration", "authentication", "deregistration", "other"};

std::string Num(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<std::int64_t>(v)) && v < 1e15 && v > -1e15) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

// A reason code as the server writes them ("auth.failed", "rate.limited").
bool IsReasonCode(const std::string& v) {
  if (v.empty() || v.size() > 64) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

// `k="v",k2="v2"` -> pairs; false when malformed (a value holding a quote,
// a repeated key, garbage between pairs).
bool ParseLabels(const std::string& s, std::vector<std::pair<std::string, std::string>>* out) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t eq = s.find('=', i);
    if (eq == std::string::npos || eq == i || eq + 1 >= s.size() || s[eq + 1] != '"') return false;
    std::string key = s.substr(i, eq - i);
    if (!std::all_of(key.begin(), key.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; })) {
      return false;
    }
    const std::size_t close = s.find('"', eq + 2);
    if (close == std::string::npos) return false;
    std::string value = s.substr(eq + 2, close - eq - 2);
    for (const auto& [k, v] : *out) {
      if (k == key) return false;
    }
    out->emplace_back(std::move(key), std::move(value));
    i = close + 1;
    if (i == s.size()) break;
    if (s[i] != ',') return false;
    ++i;
    if (i == s.size()) return false;
  }
  return true;
}

// Label values are drawn from fixed sets, but escape anyway: the
// exposition must parse whatever happens.
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Braced(const MetricSpec& spec, const std::vector<std::string>& values,
                   const std::string& extra = {}) {
  std::string all;
  for (std::size_t i = 0; i < spec.labels.size() && i < values.size(); ++i) {
    if (!all.empty()) all += ',';
    all += spec.labels[i].name + "=\"" + Escape(values[i]) + "\"";
  }
  if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
  return all.empty() ? std::string() : "{" + all + "}";
}

const char* TypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

const std::vector<MetricSpec>& Metrics::Catalogue() {
  // Prometheus naming: counters end in _total, units in the name
  // (_seconds), no other name ends in _total.
  static const std::vector<MetricSpec> kCatalogue = {
      {"livegate_http_requests_total", MetricType::kCounter,
       "HTTP requests answered, by method and status code.",
       {{"method", kMethods}, {"code", kCodes}}},
      {"livegate_http_request_seconds", MetricType::kHistogram,
       "Time to answer an HTTP request, by method.",
       {{"method", kMethods}}},
      {"livegate_flows_started_total", MetricType::kCounter,
       "Flows started (SRP step 2a answered), by flow type.",
       {{"flow", kFlows}}},
      {"livegate_flow_outcomes_total", MetricType::kCounter,
       "Flows finished, by flow type and outcome.",
       {{"flow", kFlows},
        {"outcome", {"registered", "authenticated", "deregistered", "recapture", "refused", "other"}}}},
      {"livegate_decisions_total", MetricType::kCounter,
       "Decision-logic results (step 4), by risk tier.",
       {{"tier", {"low", "medium", "high", "other"}}}},
      {"livegate_refusals_total", MetricType::kCounter,
       "Requests refused, by reason code.",
       {{"reason", {}}}},
      {"livegate_rate_limited_total", MetricType::kCounter,
       "Requests refused by a rate limit (429), by what was limited.",
       {{"scope", {"address", "account", "device", "admin", "other"}}}},
      {"livegate_audit_refusals_aggregated_total", MetricType::kCounter,
       "Refusals folded into a per-window summary entry of the audit log instead of an entry each.",
       {}},
      {"livegate_audit_write_failures_total", MetricType::kCounter,
       "Audit events that could not be appended to the audit log (each is in the server log whole).",
       {}},
      {"livegate_audit_failing", MetricType::kGauge,
       "1 while the audit log cannot be written (log.audit_failure refuse: requests get 503), else 0.",
       {}},
      {"livegate_processing_seconds_total", MetricType::kCounter,
       "Time spent in a part of request processing, summed over requests.",
       {{"part", {"vision", "crypto", "database", "other"}}}},
      {"livegate_uptime_seconds", MetricType::kGauge, "Seconds since the server started.", {}},
      // The HTTP front (http_server.cc): connections refused at accept and
      // requests cut by a deadline (slowloris defence, issue 12).
      {"livegate_http_connections_refused_total", MetricType::kCounter,
       "Connections closed at accept because a connection cap was reached, by cap.",
       {{"limit", {"total", "per_address", "other"}}}},
      {"livegate_http_timeouts_total", MetricType::kCounter,
       "Connections closed because a request, response or idle deadline passed, by phase.",
       {{"phase", {"proxy_header", "handshake", "header", "body", "idle", "handler", "write", "linger", "other"}}}},
      // PROXY protocol (docs/DEPLOY.md): connections refused before TLS.
      {"livegate_http_proxy_refused_total", MetricType::kCounter,
       "Connections closed before TLS over a PROXY protocol header: sent by an address that is not a "
       "trusted proxy, missing from a trusted proxy's connection, malformed, too large or unsupported.",
       {{"reason", {"proxy.untrusted_source", "proxy.missing_header", "proxy.bad_header", "proxy.too_large",
                    "proxy.unsupported", "other"}}}},
      {"livegate_http_connections_open", MetricType::kGauge, "HTTPS connections open now.", {}},
      {kRejected, MetricType::kCounter,
       "Metric samples dropped (unknown metric) or with label values replaced by \"other\".",
       {}},
  };
  return kCatalogue;
}

void Metrics::RejectLocked() { series_[kRejected].values[{}] += 1; }

const MetricSpec* Metrics::Resolve(const std::string& name, MetricType type, const std::string& labels,
                                   std::vector<std::string>* values) {
  const auto& cat = Catalogue();
  const auto it = std::find_if(cat.begin(), cat.end(), [&](const MetricSpec& s) { return s.name == name; });
  if (it == cat.end() || it->type != type) {
    RejectLocked();
    return nullptr;
  }
  const MetricSpec& spec = *it;
  values->assign(spec.labels.size(), kOther);
  std::vector<std::pair<std::string, std::string>> pairs;
  const bool parsed = ParseLabels(labels, &pairs);
  bool clean = parsed && pairs.size() == spec.labels.size();
  if (clean) {
    for (const auto& [k, v] : pairs) {
      const auto lt = std::find_if(spec.labels.begin(), spec.labels.end(),
                                   [&](const MetricLabel& l) { return l.name == k; });
      if (lt == spec.labels.end()) {
        clean = false;
        break;
      }
      const bool allowed = lt->values.empty()
                               ? IsReasonCode(v)
                               : std::find(lt->values.begin(), lt->values.end(), v) != lt->values.end();
      if (allowed) {
        (*values)[static_cast<std::size_t>(lt - spec.labels.begin())] = v;
      } else {
        clean = false;
      }
    }
  }
  if (!clean) {
    // Keep the values that were valid only when the string parsed; a
    // malformed string (an injection attempt) counts as all-"other".
    if (!parsed) values->assign(spec.labels.size(), kOther);
    RejectLocked();
  }
  // Bound the series a metric holds (reason-code labels are open-ended).
  const Series& s = series_[name];
  const bool known = s.values.count(*values) != 0 || s.histograms.count(*values) != 0;
  if (!known && s.size() >= kMaxSeriesPerMetric) {
    values->assign(spec.labels.size(), kOther);
    RejectLocked();
  }
  return &spec;
}

void Metrics::Increment(const std::string& name, const std::string& labels, std::uint64_t by) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> values;
  if (Resolve(name, MetricType::kCounter, labels, &values) == nullptr) return;
  series_[name].values[values] += static_cast<double>(by);
}

void Metrics::SetCounter(const std::string& name, const std::string& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> values;
  if (Resolve(name, MetricType::kCounter, labels, &values) == nullptr) return;
  double& v = series_[name].values[values];
  v = std::max(v, value);
}

void Metrics::Observe(const std::string& name, const std::string& labels, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> values;
  if (Resolve(name, MetricType::kHistogram, labels, &values) == nullptr) return;
  auto& h = series_[name].histograms[values];
  if (h.buckets.empty()) h.buckets.assign(kBounds.size(), 0);
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::SetGauge(const std::string& name, const std::string& labels, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> values;
  if (Resolve(name, MetricType::kGauge, labels, &values) == nullptr) return;
  series_[name].values[values] = value;
}

double Metrics::CounterValue(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& cat = Catalogue();
  const auto spec = std::find_if(cat.begin(), cat.end(), [&](const MetricSpec& s) { return s.name == name; });
  auto it = series_.find(name);
  if (spec == cat.end() || it == series_.end()) return 0;
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!ParseLabels(labels, &pairs)) return 0;
  std::vector<std::string> values(spec->labels.size(), kOther);
  for (const auto& [k, v] : pairs) {
    for (std::size_t i = 0; i < spec->labels.size(); ++i) {
      if (spec->labels[i].name == k) values[i] = v;
    }
  }
  auto jt = it->second.values.find(values);
  return jt == it->second.values.end() ? 0 : jt->second;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream out;
  for (const MetricSpec& spec : Catalogue()) {
    const auto it = series_.find(spec.name);
    if (it == series_.end() || it->second.size() == 0) continue;
    out << "# HELP " << spec.name << ' ' << spec.help << '\n';
    out << "# TYPE " << spec.name << ' ' << TypeName(spec.type) << '\n';
    for (const auto& [values, v] : it->second.values) {
      out << spec.name << Braced(spec, values) << ' ' << Num(v) << '\n';
    }
    for (const auto& [values, h] : it->second.histograms) {
      for (std::size_t i = 0; i < kBounds.size(); ++i) {
        out << spec.name << "_bucket" << Braced(spec, values, "le=\"" + Num(kBounds[i]) + "\"") << ' '
            << h.buckets[i] << '\n';
      }
      out << spec.name << "_bucket" << Braced(spec, values, "le=\"+Inf\"") << ' ' << h.count << '\n';
      out << spec.name << "_sum" << Braced(spec, values) << ' ' << Num(h.sum) << '\n';
      out << spec.name << "_count" << Braced(spec, values) << ' ' << h.count << '\n';
    }
  }
  return out.str();
}

}  // namespace livegate::server
