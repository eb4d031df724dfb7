// Wall-clock time in milliseconds since the Unix epoch, as used in `ts` fields and expiries.
#pragma once

#include <chrono>
#include <cstdint>

namespace sb {

inline std::int64_t NowMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace sb
