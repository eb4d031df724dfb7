#include "server/webhook_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "net/client.h"

namespace sb::server {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = [] {
    auto l = spdlog::get("offload");
    return l ? l : spdlog::default_logger()->clone("offload");
  }();
  return logger;
}

Counter& Outcome(MetricsRegistry& metrics, const char* outcome) {
  return metrics.GetCounter("switchboard_offload_notifications_total",
                            "Path-change notification attempts, by outcome",
                            {{"outcome", outcome}});
}

}  // namespace

WebhookSender::WebhookSender(MetricsRegistry& metrics, WebhookOptions options)
    : options_(options),
      delivered_(Outcome(metrics, "delivered")),
      retried_(Outcome(metrics, "retried")),
      failed_(Outcome(metrics, "failed")),
      dropped_(Outcome(metrics, "dropped")),
      worker_([this] { Run(); }) {}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
  dropped_.Inc(queue_.size());
}

void WebhookSender::Send(std::string url, std::string body) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queue) {
      dropped_.Inc();
      return;
    }
    queue_.emplace(Clock::now(), Job{std::move(url), std::move(body), 1});
  }
  cv_.notify_one();
}

void WebhookSender::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    // Wait for the earliest job to be due, or for a new one, or for the end.
    if (stopping_) return;
    if (queue_.empty()) {
      idle_cv_.notify_all();
      cv_.wait(lock);
      continue;
    }
    if (queue_.begin()->first > Clock::now()) {
      cv_.wait_until(lock, queue_.begin()->first);
      continue;
    }
    Job job = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    busy_ = true;

    lock.unlock();
    const bool sent = Attempt(job);
    lock.lock();
    busy_ = false;

    if (sent) {
      delivered_.Inc();
    } else if (job.attempt >= options_.max_attempts) {
      failed_.Inc();
      Log()->warn("notification to {} dropped after {} attempts", job.url, job.attempt);
    } else {
      retried_.Inc();
      const auto due = Clock::now() + BackoffAfter(job.attempt);
      ++job.attempt;
      queue_.emplace(due, std::move(job));
    }
  }
}

bool WebhookSender::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !busy_; });
}

bool WebhookSender::Attempt(const Job& job) {
  auto url = offload::ParseHttpUrl(job.url);
  if (!url) {
    Log()->warn("notification URL refused: {}", url.error().message);
    return false;
  }
  try {
    net::HttpClient client(url.value().host, url.value().port, options_.timeout);
    net::HttpReply reply = client.Request("POST", url.value().target, job.body,
                                          {{"Content-Type", "application/json"}});
    if (reply.status >= 200 && reply.status < 300) return true;
    Log()->info("notification to {} answered {} (attempt {})", job.url, reply.status, job.attempt);
  } catch (const std::exception& e) {
    Log()->info("notification to {} failed: {} (attempt {})", job.url, e.what(), job.attempt);
  }
  return false;
}

std::chrono::milliseconds WebhookSender::BackoffAfter(int attempt) const {
  auto delay = options_.first_backoff;
  for (int i = 1; i < attempt && delay < options_.max_backoff; ++i)
    delay *= 2;
  return std::min(delay, options_.max_backoff);
}

}  // namespace sb::server
