#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sb::bench {
namespace {

constexpr int kSubBucketBits = 11;  // 2048 exact values, then 1024 sub-buckets per octave
constexpr std::uint64_t kSubBucketCount = 1ULL << kSubBucketBits;
constexpr std::uint64_t kHalfCount = kSubBucketCount / 2;
constexpr int kMaxShift = 31;  // values up to 2^42 ns
constexpr std::uint64_t kMaxValue = (kSubBucketCount << kMaxShift) - 1;

}  // namespace

Histogram::Histogram() : counts_(kSubBucketCount + kMaxShift * kHalfCount, 0) {}

std::size_t Histogram::IndexOf(std::uint64_t value) {
  if (value < kSubBucketCount) return value;
  const int shift = std::bit_width(value) - kSubBucketBits;
  const std::uint64_t sub = value >> shift;  // in [kHalfCount, kSubBucketCount)
  return kSubBucketCount + (shift - 1) * kHalfCount + (sub - kHalfCount);
}

std::uint64_t Histogram::HighestValueOf(std::size_t index) {
  if (index < kSubBucketCount) return index;
  const std::uint64_t beyond = index - kSubBucketCount;
  const int shift = static_cast<int>(beyond / kHalfCount) + 1;
  const std::uint64_t sub = beyond % kHalfCount + kHalfCount;
  return ((sub + 1) << shift) - 1;
}

void Histogram::Record(std::int64_t value) {
  const std::uint64_t clamped =
      std::min<std::uint64_t>(std::max<std::int64_t>(value, 0), kMaxValue);
  ++counts_[IndexOf(clamped)];
  ++count_;
  max_ = std::max<std::int64_t>(max_, static_cast<std::int64_t>(clamped));
  sum_ += static_cast<long double>(clamped);
}

void Histogram::Merge(const Histogram& other) {
  for (std::size_t i = 0; i < counts_.size(); ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double Histogram::Mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

std::int64_t Histogram::ValueAt(double quantile) const {
  if (count_ == 0) return 0;
  const auto wanted = static_cast<std::uint64_t>(
      std::ceil(std::clamp(quantile, 0.0, 1.0) * static_cast<double>(count_)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= std::max<std::uint64_t>(wanted, 1)) {
      return std::min<std::int64_t>(static_cast<std::int64_t>(HighestValueOf(i)), max_);
    }
  }
  return max_;
}

}  // namespace sb::bench
