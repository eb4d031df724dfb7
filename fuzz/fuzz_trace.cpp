// The offload simulation's mobility-and-messaging trace (CSV, src/sim/trace.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sim/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sb::sim::ParseTrace(text);
  return 0;
}
