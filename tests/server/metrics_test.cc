// Metrics (issue 12, finding 3): only catalogue metrics, label values from
// fixed sets, bounded series, HELP and TYPE for each; the refusal
// aggregator of the audit trail (finding 4); the new configuration options.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include "server/audit.h"
#include "server/config.h"

namespace livegate::server {
namespace {

TEST(MetricsTest, InjectedLabelValuesBecomeOther) {
  Metrics m;
  m.Increment("livegate_http_requests_total", "method=\"GET\",code=\"200\"");
  // A method holding a quote (it broke the exposition), a made-up one, a
  // lower-case one: all fold into "other"; the malformed string too.
  m.Increment("livegate_http_requests_total", "method=\"GET\",code=\"200\",x=\"1\"");
  m.Increment("livegate_http_requests_total", "method=\"FOO\"BAR\",code=\"200\"");
  m.Increment("livegate_http_requests_total", "method=\"PROPFIND\",code=\"200\"");
  m.Increment("livegate_http_requests_total", "method=\"get\",code=\"999\"");
  const std::string out = m.Render();
  EXPECT_NE(out.find("livegate_http_requests_total{method=\"GET\",code=\"200\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("livegate_http_requests_total{method=\"other\",code=\"200\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("livegate_http_requests_total{method=\"other\",code=\"other\"} 3\n"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("FOO"), std::string::npos);
  EXPECT_EQ(out.find("PROPFIND"), std::string::npos);
  EXPECT_NE(out.find("livegate_metrics_rejected_samples_total 4\n"), std::string::npos) << out;
}

TEST(MetricsTest, UnknownMetricsAndWrongTypesAreDropped) {
  Metrics m;
  m.Increment("made_up_total", "");
  m.SetGauge("livegate_http_requests_total", "method=\"GET\",code=\"200\"", 5);  // a counter
  m.Observe("livegate_flows_started_total", "flow=\"registration\"", 0.1);      // not a histogram
  const std::string out = m.Render();
  EXPECT_EQ(out.find("made_up"), std::string::npos);
  EXPECT_EQ(out.find("livegate_http_requests_total"), std::string::npos);
  EXPECT_EQ(out.find("livegate_flows_started_total"), std::string::npos);
  EXPECT_NE(out.find("livegate_metrics_rejected_samples_total 3\n"), std::string::npos) << out;
}

TEST(MetricsTest, ReasonCodesAreBoundedInNumberAndShape) {
  Metrics m;
  m.Increment("livegate_refusals_total", "reason=\"auth.failed\"");
  m.Increment("livegate_refusals_total", "reason=\"Has Space\"");
  for (std::size_t i = 0; i < Metrics::kMaxSeriesPerMetric + 50; ++i) {
    m.Increment("livegate_refusals_total", "reason=\"r" + std::to_string(i) + "\"");
  }
  const std::string out = m.Render();
  std::size_t series = 0;
  for (std::size_t p = out.find("\nlivegate_refusals_total{"); p != std::string::npos;
       p = out.find("\nlivegate_refusals_total{", p + 1)) {
    ++series;
  }
  EXPECT_EQ(series, Metrics::kMaxSeriesPerMetric);
  EXPECT_EQ(m.CounterValue("livegate_refusals_total", "reason=\"auth.failed\""), 1);
  EXPECT_EQ(out.find("Has Space"), std::string::npos);
  EXPECT_GE(m.CounterValue("livegate_refusals_total", "reason=\"other\""), 51);
}

TEST(MetricsTest, EveryRenderedMetricHasHelpAndType) {
  Metrics m;
  m.Increment("livegate_flows_started_total", "flow=\"authentication\"");
  m.Observe("livegate_http_request_seconds", "method=\"POST\"", 0.02);
  m.SetCounter("livegate_processing_seconds_total", "part=\"vision\"", 1.5);
  m.SetCounter("livegate_processing_seconds_total", "part=\"vision\"", 1.0);  // never goes down
  m.SetGauge("livegate_uptime_seconds", "", 12);
  const std::string out = m.Render();
  for (const char* name : {"livegate_flows_started_total", "livegate_http_request_seconds",
                           "livegate_processing_seconds_total", "livegate_uptime_seconds"}) {
    EXPECT_NE(out.find(std::string("# HELP ") + name + " "), std::string::npos) << name;
    EXPECT_NE(out.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
  }
  EXPECT_NE(out.find("livegate_processing_seconds_total{part=\"vision\"} 1.5\n"), std::string::npos) << out;
  EXPECT_NE(out.find("livegate_http_request_seconds_bucket{method=\"POST\",le=\"0.025\"} 1\n"), std::string::npos)
      << out;
  // Naming: only counters end in _total.
  for (const auto& spec : Metrics::Catalogue()) {
    const bool total = spec.name.size() > 6 && spec.name.compare(spec.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(total, spec.type == MetricType::kCounter) << spec.name;
    EXPECT_FALSE(spec.help.empty()) << spec.name;
  }
}

TEST(RefusalAggregatorTest, OneEntryThenOneSummaryPerWindow) {
  RefusalAggregator a(60'000, 3);
  EXPECT_TRUE(a.Admit("10.0.0.1", "auth.failed", 1000));
  for (int i = 0; i < 99; ++i) EXPECT_FALSE(a.Admit("10.0.0.1", "auth.failed", 1001 + i));
  EXPECT_TRUE(a.Admit("10.0.0.1", "rate.limited", 2000));
  EXPECT_TRUE(a.Admit("10.0.0.2", "auth.failed", 2000));
  // The map is full (3 keys): a new address shares "*".
  EXPECT_TRUE(a.Admit("10.0.0.3", "auth.failed", 2500));
  EXPECT_TRUE(a.Admit("10.0.0.4", "auth.failed", 2600) == false);
  EXPECT_TRUE(a.TakeDue(60'999, false).empty());  // no window ended yet
  auto due = a.TakeDue(61'000, false);
  ASSERT_EQ(due.size(), 1u);  // 10.0.0.1/auth.failed: 100; the single ones need no summary
  EXPECT_EQ(due[0].address, "10.0.0.1");
  EXPECT_EQ(due[0].count, 100u);
  EXPECT_EQ(due[0].first_ms, 1000);
  EXPECT_EQ(due[0].last_ms, 1099);
  // Still full (three open windows): counted under "*" too.
  EXPECT_FALSE(a.Admit("10.0.0.1", "auth.failed", 61'500));
  auto rest = a.TakeDue(61'600, true);
  ASSERT_EQ(rest.size(), 1u);  // "*"/auth.failed: 3
  EXPECT_EQ(rest[0].address, "*");
  EXPECT_EQ(rest[0].count, 3u);
  // Empty again: a new window opens with its own entry.
  EXPECT_TRUE(a.Admit("10.0.0.1", "auth.failed", 62'000));
  const AuditEvent e = RefusalSummaryEvent(due[0], 60'000);
  EXPECT_EQ(e.operation, "audit.refusals_aggregated");
  EXPECT_EQ(e.remote, "10.0.0.1");
  EXPECT_EQ(e.reasons, (std::vector<std::string>{"auth.failed", "count:100", "window_ms:60000",
                                                 "first_ms:1000", "last_ms:1099"}));
}

TEST(OpsConfigTest, MetricsAdminAuditAndMasterKeyOptions) {
  const std::string base = R"({"tls":{"generate":true},"database":{"uri":"sqlite:x.db"},"policy_file":"p.json",)";
  auto c = ParseServerConfig(base + R"("master_key":{"env":"K"}})", "/etc/lg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->metrics.require_admin_token);
  EXPECT_FALSE(c->metrics.separate_listener());
  EXPECT_EQ(c->admin.rate_per_address_per_minute, 600);
  EXPECT_EQ(c->admin.failures_per_address_per_minute, 10);
  EXPECT_EQ(c->log.audit_refusal_window_seconds, 60);
  c = ParseServerConfig(base + R"("master_key":{"fd":3},"metrics":{"require_admin_token":false,
      "listen":{"address":"10.1.2.3","port":9100}},"admin":{"failures_per_address_per_minute":5},
      "log":{"audit_refusal_window_seconds":30}})", "/etc/lg");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->master_key.fd, 3);
  EXPECT_FALSE(c->metrics.require_admin_token);
  EXPECT_TRUE(c->metrics.separate_listener());
  EXPECT_EQ(c->metrics.listen_address, "10.1.2.3");
  EXPECT_EQ(c->metrics.listen_port, 9100);
  EXPECT_EQ(c->admin.failures_per_address_per_minute, 5);
  EXPECT_EQ(c->log.audit_refusal_window_seconds, 30);
  auto two = ParseServerConfig(base + R"("master_key":{"fd":3,"env":"K"}})", "/etc/lg");
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("exactly one of"), std::string::npos);
  auto no_port = ParseServerConfig(base + R"("master_key":{"env":"K"},"metrics":{"listen":{}}})", "/etc/lg");
  EXPECT_FALSE(no_port.ok());
}

}  // namespace
}  // namespace livegate::server
