// The logger named "platform", shared by the files of this component. Never log a password, a
// token, the platform key or the signing key.
#pragma once

#include <spdlog/logger.h>

#include <memory>

namespace sb::platform {

// The application's "platform" logger when it registered one, else a clone of the default one.
std::shared_ptr<spdlog::logger> Log();

}  // namespace sb::platform
