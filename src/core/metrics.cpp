#include "core/metrics.h"

#include <cmath>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace sb {
namespace {

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// Adds one more label to an already rendered label set.
std::string WithLabel(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

std::string FormatNumber(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i])
    ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (v > 0) sum_micros_.fetch_add(static_cast<std::uint64_t>(v * 1e6), std::memory_order_relaxed);
}

double Histogram::Sum() const {
  return static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
}

void* MetricsRegistry::MakeCounter(std::vector<double>) {
  return &counters_.emplace_back();
}
void* MetricsRegistry::MakeGauge(std::vector<double>) {
  return &gauges_.emplace_back();
}
void* MetricsRegistry::MakeHistogram(std::vector<double> bounds) {
  return &histograms_.emplace_back(std::move(bounds));
}

void* MetricsRegistry::Find(const std::string& name, const std::string& help, Kind kind,
                            const Labels& labels,
                            void* (MetricsRegistry::*make)(std::vector<double>),
                            std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = families_.try_emplace(name, Family{kind, help, {}});
  if (!inserted && it->second.kind != kind) {
    throw std::logic_error("metric " + name + " registered with two kinds");
  }
  auto& slot = it->second.series[RenderLabels(labels)];
  if (slot == nullptr) slot = (this->*make)(std::move(bounds));
  return slot;
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const Labels& labels) {
  return *static_cast<Counter*>(
      Find(name, help, Kind::kCounter, labels, &MetricsRegistry::MakeCounter, {}));
}

Gauge& MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const Labels& labels) {
  return *static_cast<Gauge*>(
      Find(name, help, Kind::kGauge, labels, &MetricsRegistry::MakeGauge, {}));
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> bounds, const Labels& labels) {
  return *static_cast<Histogram*>(Find(name, help, Kind::kHistogram, labels,
                                       &MetricsRegistry::MakeHistogram, std::move(bounds)));
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    static constexpr const char* kTypes[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + " " + kTypes[static_cast<int>(family.kind)] + "\n";
    for (const auto& [labels, metric] : family.series) {
      switch (family.kind) {
        case Kind::kCounter:
          out +=
              name + labels + " " + std::to_string(static_cast<Counter*>(metric)->Value()) + "\n";
          break;
        case Kind::kGauge:
          out += name + labels + " " + std::to_string(static_cast<Gauge*>(metric)->Value()) + "\n";
          break;
        case Kind::kHistogram: {
          const auto* h = static_cast<Histogram*>(metric);
          std::uint64_t cumulative = 0;
          for (std::size_t i = 0; i <= h->bounds().size(); ++i) {
            cumulative += h->BucketCount(i);
            const double le = i < h->bounds().size() ? h->bounds()[i] : INFINITY;
            out += name + "_bucket" + WithLabel(labels, "le=\"" + FormatNumber(le) + "\"") + " " +
                   std::to_string(cumulative) + "\n";
          }
          out += name + "_sum" + labels + " " + FormatNumber(h->Sum()) + "\n";
          out += name + "_count" + labels + " " + std::to_string(h->Count()) + "\n";
          break;
        }
      }
    }
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0};
}

}  // namespace sb
