#include "offload/egress_rates.h"

namespace sb::offload {

void EgressRates::Add(std::int64_t now_ms, std::map<std::string, std::uint64_t> counts) {
  samples_.push_back(Sample{now_ms, std::move(counts)});
  // Keep one sample at or before the window's start, as the base of the rate.
  while (samples_.size() > 2 && samples_[1].at_ms <= now_ms - window_ms_)
    samples_.pop_front();
}

std::map<std::string, double> EgressRates::PerSecond() const {
  std::map<std::string, double> rates;
  if (samples_.empty()) return rates;
  const Sample& newest = samples_.back();
  const Sample& base = samples_.front();
  const double seconds = static_cast<double>(newest.at_ms - base.at_ms) / 1000.0;
  for (const auto& [site, count] : newest.counts) {
    auto before = base.counts.find(site);
    const std::uint64_t start = before == base.counts.end() ? 0 : before->second;
    rates[site] = seconds > 0 ? static_cast<double>(count - start) / seconds : 0.0;
  }
  return rates;
}

}  // namespace sb::offload
