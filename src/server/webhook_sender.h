// Sends offload's path-change notifications as webhook POSTs with the blocking HTTP client, on a
// worker thread of its own, so the loop thread never waits for a platform's server.
//
// A notification that fails (no connection, timeout, or a status other than 2xx) is tried again
// after an exponentially growing delay, up to `max_attempts` in all; then it is dropped, logged and
// counted. Outcomes are counted in switchboard_offload_notifications_total{outcome=delivered,
// retried, failed, dropped}. Order is kept between notifications that succeed at the first
// attempt; a retried one may arrive after later ones (each carries its `ts`).
//
// Thread-safety: Send() may be called from any thread; it only queues.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/metrics.h"
#include "offload/notifier.h"

namespace sb::server {

struct WebhookOptions {
  int max_attempts = 5;
  std::chrono::milliseconds first_backoff{500};  // before the second attempt; doubles after each
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds timeout{5000};  // per attempt: connect, send, read the answer
  std::size_t max_queue = 10000;            // notifications waiting; more are dropped
};

class WebhookSender : public offload::NotificationSender {
 public:
  WebhookSender(MetricsRegistry& metrics, WebhookOptions options);
  // Stops the worker; notifications still queued are dropped (and counted).
  ~WebhookSender() override;
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  void Send(std::string url, std::string body) override;

  // Waits until nothing is queued or being sent (retries included); false after `timeout`.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  struct Job {
    std::string url;
    std::string body;
    int attempt = 1;
  };
  using Clock = std::chrono::steady_clock;

  void Run();
  bool Attempt(const Job& job);
  std::chrono::milliseconds BackoffAfter(int attempt) const;

  WebhookOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, Job> queue_;  // by when the job is due
  std::condition_variable idle_cv_;
  bool busy_ = false;  // a job is being attempted
  bool stopping_ = false;
  Counter& delivered_;
  Counter& retried_;
  Counter& failed_;
  Counter& dropped_;
  std::thread worker_;  // last: starts once everything above exists
};

}  // namespace sb::server
