// Gives the heap's free pages back to the operating system after a burst of connections.
//
// When thousands of terminals leave at once (a cell outage, a platform restarting its clients),
// their connection state is freed, but the allocator keeps the pages: 15,000 closed terminals
// left 8.6 MB of free heap in the process for good. Once at least `churn` connections opened or
// closed since the last trim and a tick passes with no new connection, the trimmer asks the
// allocator to return whole free pages (glibc's malloc_trim), once; it took 5 to 10 ms there.
//
// Thread-safety: one thread (the loop) calls Observe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace sb::server {

class HeapTrimmer {
 public:
  // `trim` returns the memory; the default is glibc's malloc_trim(0).
  explicit HeapTrimmer(std::size_t churn, std::function<void()> trim = {});

  // Call once per tick with the listener's total of accepted connections and the connections
  // open now. Returns whether it trimmed.
  bool Observe(std::uint64_t accepted_total, std::size_t open_now);

  std::uint64_t trims() const { return trims_; }

 private:
  std::size_t churn_;
  std::function<void()> trim_;
  std::uint64_t accepted_at_trim_ = 0;  // totals as they were at the last trim (or the start)
  std::size_t open_at_trim_ = 0;
  std::uint64_t accepted_last_tick_ = 0;
  std::uint64_t trims_ = 0;
};

}  // namespace sb::server
