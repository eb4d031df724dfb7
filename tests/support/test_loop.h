// Test support: a temporary folder, and a task queue that stands in for the event loop, so that
// components which hop back to "their" thread can be driven step by step from a test.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>

#include "core/executor.h"

namespace sb::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Tasks posted from any thread run on the test thread, inside RunUntil().
class TestLoop {
 public:
  Executor executor();
  // Runs posted tasks until `done()` holds; false when `timeout` passes first.
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
};

}  // namespace sb::testing
