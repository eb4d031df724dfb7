// The event loop that drives the exchange: one thread runs it, and all domain state (registry,
// delivery) is touched only from that thread. Other threads hand work to it with `Post`.
//
// The loop hides its implementation (Asio) so that no header outside src/net includes Boost.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace sb::net {

class EventLoop;

// A one-shot or repeating timer. Destroying the handle or calling Cancel() stops it; the callback
// never runs after Cancel() returns (when called on the loop thread).
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void Cancel() = 0;
};

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs the loop on the calling thread until Stop().
  void Run();
  // Asks Run() to return; safe from any thread.
  void Stop();
  // Queues `fn` to run on the loop thread; safe from any thread.
  void Post(std::function<void()> fn);

  // Runs `fn` on the loop thread once after `delay`, or every `delay` when `repeat` is set.
  // Call from the loop thread.
  std::unique_ptr<Timer> Schedule(std::chrono::milliseconds delay, std::function<void()> fn,
                                  bool repeat = false);

  // Calls `fn` on the loop thread when the process receives SIGINT or SIGTERM.
  void OnTerminationSignal(std::function<void(int)> fn);

  // The underlying io_context, for code inside src/net only.
  void* native();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sb::net
