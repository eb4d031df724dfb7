// How a component hands work back to the thread that owns the domain state.
#pragma once

#include <functional>

namespace sb {

// Queues a task to run later on the owning thread; safe to call from any thread.
using Executor = std::function<void(std::function<void()>)>;

}  // namespace sb
