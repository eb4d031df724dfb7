// Process-wide metrics in the Prometheus data model: counters, gauges and histograms, each
// optionally with labels, rendered in the Prometheus text exposition format.
//
// Thread-safety: registration (the Get* calls) takes a lock and returns a reference that stays
// valid for the registry's lifetime; updating a metric is lock-free and safe from any thread.
// Components look their metrics up once and keep the references.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sb {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// A histogram with fixed upper bounds (in the unit the metric's name says).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  std::uint64_t BucketCount(std::size_t i) const {
    return buckets_[i].load(std::memory_order_relaxed);
  }
  std::uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};  // sum kept in millionths to stay lock-free
};

class MetricsRegistry {
 public:
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds, const Labels& labels = {});

  // The whole registry in the Prometheus text format (version 0.0.4).
  std::string RenderPrometheus() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Family {
    Kind kind;
    std::string help;
    std::map<std::string, void*> series;  // rendered label set -> metric
  };

  void* Find(const std::string& name, const std::string& help, Kind kind, const Labels& labels,
             void* (MetricsRegistry::*make)(std::vector<double>), std::vector<double> bounds);
  void* MakeCounter(std::vector<double>);
  void* MakeGauge(std::vector<double>);
  void* MakeHistogram(std::vector<double> bounds);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
  std::deque<Counter> counters_;
  std::deque<Gauge> gauges_;
  std::deque<Histogram> histograms_;
};

// Default latency buckets in seconds, from 50 microseconds to 5 seconds.
std::vector<double> LatencyBuckets();

}  // namespace sb
