// The exchange's TOML configuration file, through the real loader (which reads a path).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "server/config.h"

namespace {

const std::string& ConfigPath() {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("sb-fuzz-config-" + std::to_string(::getpid())))
          .string();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(ConfigPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();
  }
  try {
    (void)sb::server::LoadConfigFile(ConfigPath());
  } catch (const std::runtime_error&) {
    // The loader's documented way to refuse a file.
  }
  return 0;
}
