// Terminal to exchange frames: every byte a terminal may send reaches DecodeClientFrame.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sb::api::DecodeClientFrame(text);
  return 0;
}
