// A log-linear latency histogram in the manner of HDR histograms: values below 2048 are counted
// exactly, larger ones in 1024 sub-buckets per power of two, so every recorded value is kept to
// within 0.1% of itself. Values are nanoseconds; anything above about 73 minutes is clamped.
//
// Not thread-safe: one histogram belongs to one thread.
#pragma once

#include <cstdint>
#include <vector>

namespace sb::bench {

class Histogram {
 public:
  Histogram();

  void Record(std::int64_t value);
  void Merge(const Histogram& other);

  std::uint64_t Count() const { return count_; }
  std::int64_t Max() const { return max_; }
  double Mean() const;
  // The smallest recorded value v such that at least `quantile` of all values are <= v (within the
  // histogram's precision). 0 when empty.
  std::int64_t ValueAt(double quantile) const;

 private:
  static std::size_t IndexOf(std::uint64_t value);
  static std::uint64_t HighestValueOf(std::size_t index);

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace sb::bench
