#include "platform/worker.h"

#include <exception>

#include "platform/log.h"

namespace sb::platform {

Worker::Worker(std::size_t max_queued) : max_queued_(max_queued), thread_([this] { Loop(); }) {}

Worker::~Worker() {
  Stop();
}

bool Worker::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || tasks_.size() >= max_queued_) return false;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void Worker::Stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(tasks_);
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  // `dropped` is destroyed here, on the calling thread, after the worker has ended.
}

void Worker::Loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      Log()->error("worker: a task failed: {}", e.what());
    }
  }
}

}  // namespace sb::platform
