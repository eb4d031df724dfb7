#include "net/event_loop.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <utility>
#include <vector>

namespace sb::net {

namespace asio = boost::asio;

struct EventLoop::Impl {
  asio::io_context io;
  // Keeps Run() going while there is nothing to do, until Stop().
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  // Created on the first OnTerminationSignal(); declared after `io` so it goes first.
  std::unique_ptr<asio::signal_set> signals;
  std::vector<std::function<void(int)>> on_signal;
};

namespace {

// What a timer handle and its pending wait share. The wait holds a shared_ptr, so the state
// outlives a handle destroyed while the wait is queued; `cancelled` tells the wait not to call.
struct TimerState {
  TimerState(asio::io_context& io, std::chrono::milliseconds delay, std::function<void()> fn,
             bool repeat)
      : timer(io), delay(delay), fn(std::move(fn)), repeat(repeat) {}

  asio::steady_timer timer;
  std::chrono::milliseconds delay;
  std::function<void()> fn;
  bool repeat;
  bool cancelled = false;
  bool running = false;  // inside fn: Cancel() must not destroy the function that is running
};

void Arm(const std::shared_ptr<TimerState>& state);

void Fire(const std::shared_ptr<TimerState>& state, boost::system::error_code ec) {
  if (ec || state->cancelled) return;

  state->running = true;
  state->fn();
  state->running = false;

  // Cancelled from inside fn: release what fn captured now that it has returned.
  if (state->cancelled) {
    state->fn = nullptr;
    return;
  }
  if (state->repeat) {
    state->timer.expires_at(state->timer.expiry() + state->delay);
    Arm(state);
  }
}

void Arm(const std::shared_ptr<TimerState>& state) {
  // The handler's copy of `state` keeps the steady_timer alive until the wait completes.
  state->timer.async_wait([state](boost::system::error_code ec) { Fire(state, ec); });
}

class AsioTimer final : public Timer {
 public:
  explicit AsioTimer(std::shared_ptr<TimerState> state) : state_(std::move(state)) {}
  ~AsioTimer() override { Cancel(); }

  void Cancel() override {
    if (state_->cancelled) return;
    state_->cancelled = true;
    state_->timer.cancel();
    if (!state_->running) {
      state_->fn = nullptr;
    }
  }

 private:
  std::shared_ptr<TimerState> state_;
};

}  // namespace

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {}

EventLoop::~EventLoop() = default;

void EventLoop::Run() {
  impl_->io.run();
  // Lets a later Run() work again after Stop().
  impl_->io.restart();
}

void EventLoop::Stop() {
  impl_->io.stop();
}

void EventLoop::Post(std::function<void()> fn) {
  asio::post(impl_->io, std::move(fn));
}

std::unique_ptr<Timer> EventLoop::Schedule(std::chrono::milliseconds delay,
                                           std::function<void()> fn, bool repeat) {
  auto state = std::make_shared<TimerState>(impl_->io, delay, std::move(fn), repeat);
  state->timer.expires_after(delay);
  Arm(state);
  return std::make_unique<AsioTimer>(std::move(state));
}

namespace {

void WaitForSignal(asio::signal_set& signals, std::vector<std::function<void(int)>>& callbacks) {
  // The signal_set and the callbacks live in EventLoop::Impl; destroying it cancels this wait,
  // and a cancelled wait touches neither.
  signals.async_wait([&signals, &callbacks](boost::system::error_code ec, int signo) {
    if (ec) return;
    // A copy, so that a callback may register another without invalidating this loop.
    auto to_call = callbacks;
    for (auto& fn : to_call) {
      fn(signo);
    }
    WaitForSignal(signals, callbacks);
  });
}

}  // namespace

void EventLoop::OnTerminationSignal(std::function<void(int)> fn) {
  impl_->on_signal.push_back(std::move(fn));
  if (impl_->signals) return;
  impl_->signals = std::make_unique<asio::signal_set>(impl_->io, SIGINT, SIGTERM);
  WaitForSignal(*impl_->signals, impl_->on_signal);
}

void* EventLoop::native() {
  return &impl_->io;
}

}  // namespace sb::net
