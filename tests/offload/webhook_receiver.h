// A small HTTP receiver for webhook tests: a net::Server on 127.0.0.1, port 0, on its own loop
// thread. It answers the first `failures` requests with 503 and the rest with 204, and lets a test
// wait (without sleeping) until a number of successful notifications arrived.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "net/server.h"

namespace sb::offload::testing {

class WebhookReceiver : public net::Handler {
 public:
  explicit WebhookReceiver(int failures = 0) : failures_(failures) {
    net::ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<net::Server>(loop_, options, *this);
    server_->Start();
    thread_ = std::thread([this] { loop_.Run(); });
  }
  ~WebhookReceiver() override {
    loop_.Post([this] { server_->Shutdown(); });
    loop_.Stop();
    thread_.join();
  }

  std::string Url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

  // Waits until `count` requests were answered with success; false after `timeout`.
  bool WaitForDelivered(std::size_t count,
                        std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return delivered_.size() >= count; });
  }
  std::vector<std::string> Delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }
  int Attempts() {
    std::lock_guard lock(mu_);
    return attempts_;
  }

  void OnHttp(net::HttpRequest request, net::Respond respond) override {
    net::HttpResponse response;
    {
      std::lock_guard lock(mu_);
      ++attempts_;
      if (attempts_ <= failures_) {
        response.status = 503;
      } else {
        response.status = 204;
        delivered_.push_back(request.method + " " + request.path + " " + request.body);
      }
    }
    cv_.notify_all();
    respond(std::move(response));
  }
  void OnWsOpen(const std::shared_ptr<net::WsConnection>&) override {}
  void OnWsText(const std::shared_ptr<net::WsConnection>&, std::string_view) override {}
  void OnWsRefused(const std::shared_ptr<net::WsConnection>&, net::WsRefusal) override {}
  void OnWsClose(const std::shared_ptr<net::WsConnection>&) override {}

 private:
  int failures_;
  std::mutex mu_;
  std::condition_variable cv_;
  int attempts_ = 0;
  std::vector<std::string> delivered_;
  net::EventLoop loop_;
  std::unique_ptr<net::Server> server_;
  std::thread thread_;
};

}  // namespace sb::offload::testing
