// The operator's topology JSON (src/offload/topology.h).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "offload/topology.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sb::offload::Topology::Parse(text);
  return 0;
}
