#include "platform/log.h"

#include <spdlog/spdlog.h>

namespace sb::platform {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = [] {
    auto existing = spdlog::get("platform");
    return existing ? existing : spdlog::default_logger()->clone("platform");
  }();
  return logger;
}

}  // namespace sb::platform
