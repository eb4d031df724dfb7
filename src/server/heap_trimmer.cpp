#include "server/heap_trimmer.h"

#include <malloc.h>

#include <utility>

namespace sb::server {

HeapTrimmer::HeapTrimmer(std::size_t churn, std::function<void()> trim)
    : churn_(churn), trim_(std::move(trim)) {
  if (!trim_) trim_ = [] { malloc_trim(0); };
}

bool HeapTrimmer::Observe(std::uint64_t accepted_total, std::size_t open_now) {
  const bool burst_over = accepted_total == accepted_last_tick_;
  accepted_last_tick_ = accepted_total;

  const std::uint64_t opened = accepted_total - accepted_at_trim_;
  const std::size_t closed = open_at_trim_ > open_now ? open_at_trim_ - open_now : 0;
  if (!burst_over || opened + closed < churn_) return false;

  trim_();
  ++trims_;
  accepted_at_trim_ = accepted_total;
  open_at_trim_ = open_now;
  return true;
}

}  // namespace sb::server
