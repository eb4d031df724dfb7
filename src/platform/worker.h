// One background thread that runs tasks in the order they were posted: where the platform does
// what blocks (calls to the exchange, password hashing, SQLite) so that its event loop never does.
//
// Thread-safety: Post and Stop are safe from any thread. Tasks run one at a time on the worker
// thread; a task that throws is logged and the worker goes on.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace sb::platform {

class Worker {
 public:
  // At most `max_queued` tasks wait at once; Post refuses more.
  explicit Worker(std::size_t max_queued);
  // Stops (see Stop).
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Queues `task`; false when the queue is full or the worker stopped (the task is dropped).
  bool Post(std::function<void()> task);

  // Lets the running task finish, drops the queued ones, and joins the thread. Idempotent.
  void Stop();

 private:
  void Loop();

  const std::size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sb::platform
