#include "core/metrics.h"

#include <gtest/gtest.h>

namespace sb {
namespace {

TEST(MetricsRegistryTest, SameNameAndLabelsGiveTheSameCounter) {
  MetricsRegistry metrics;
  Counter& a = metrics.GetCounter("x_total", "help", {{"code", "a"}});
  Counter& b = metrics.GetCounter("x_total", "help", {{"code", "a"}});
  Counter& c = metrics.GetCounter("x_total", "help", {{"code", "c"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
}

TEST(MetricsRegistryTest, RendersPrometheusText) {
  MetricsRegistry metrics;
  metrics.GetCounter("sb_sent_total", "Sent", {{"code", "bad\"x"}}).Inc(3);
  metrics.GetGauge("sb_open", "Open").Set(-2);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE sb_sent_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("sb_sent_total{code=\"bad\\\"x\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE sb_open gauge\nsb_open -2\n"), std::string::npos);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  MetricsRegistry metrics;
  Histogram& h = metrics.GetHistogram("sb_latency_seconds", "Latency", {0.1, 1.0});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("sb_latency_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("sb_latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("sb_latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("sb_latency_seconds_count 3\n"), std::string::npos);
  EXPECT_NEAR(h.Sum(), 5.55, 1e-6);
}

TEST(MetricsRegistryTest, OneNameCannotHaveTwoKinds) {
  MetricsRegistry metrics;
  metrics.GetCounter("sb_thing", "x");
  EXPECT_THROW(metrics.GetGauge("sb_thing", "x"), std::logic_error);
}

}  // namespace
}  // namespace sb
