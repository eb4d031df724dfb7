// Message rates per site over a sliding window, from samples of the per-site egress counters
// (OffloadService::EgressCounts), for the operator's topology view.
//
// A rate is the growth of a site's counter between the oldest sample of the window (or the last
// one before it) and the newest, divided by the time between them. Sampling once a second and at
// each view keeps it current; samples older than needed are dropped.
//
// Thread-safety: none; used on the loop thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace sb::offload {

class EgressRates {
 public:
  explicit EgressRates(std::int64_t window_ms) : window_ms_(window_ms) {}

  // A sample at `now_ms` (not before the previous one) of every site's counter.
  void Add(std::int64_t now_ms, std::map<std::string, std::uint64_t> counts);
  // Messages per second at each site of the newest sample; 0 with fewer than two samples.
  std::map<std::string, double> PerSecond() const;
  std::int64_t window_ms() const { return window_ms_; }

 private:
  struct Sample {
    std::int64_t at_ms = 0;
    std::map<std::string, std::uint64_t> counts;
  };
  std::int64_t window_ms_;
  std::deque<Sample> samples_;
};

}  // namespace sb::offload
