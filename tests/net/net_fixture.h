// A net::Server on 127.0.0.1:0 with its loop on a thread of its own, and a handler that answers
// every HTTP request 200 "ok" and echoes WebSocket text: enough to test what the listener does
// around the handler (TLS, connection bounds).
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

#include "net/event_loop.h"
#include "net/server.h"

namespace sb::net::testing {

class EchoHandler : public Handler {
 public:
  void OnHttp(HttpRequest /*request*/, Respond respond) override {
    HttpResponse response;
    response.content_type = "text/plain";
    response.body = "ok";
    respond(std::move(response));
  }
  void OnWsOpen(const std::shared_ptr<WsConnection>& /*conn*/) override {}
  void OnWsText(const std::shared_ptr<WsConnection>& conn, std::string_view text) override {
    conn->Send(std::string(text));
  }
  void OnWsRefused(const std::shared_ptr<WsConnection>& /*conn*/, WsRefusal /*why*/) override {}
  void OnWsClose(const std::shared_ptr<WsConnection>& /*conn*/) override {}
};

// The server is made and destroyed on the loop's thread, as the server requires.
class ServerThread {
 public:
  explicit ServerThread(ServerOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    thread_ = std::thread([this] { loop_.Run(); });
    try {
      OnLoop([&] {
        server_ = std::make_unique<Server>(loop_, options, handler_);
        server_->Start();
      });
    } catch (...) {
      loop_.Stop();
      thread_.join();
      throw;
    }
  }
  ~ServerThread() {
    OnLoop([this] { server_.reset(); });
    loop_.Stop();
    thread_.join();
  }

  std::uint16_t port() const { return server_->port(); }
  Server& server() { return *server_; }

  // Runs `fn` on the loop thread and waits for it; rethrows what it throws.
  template <typename Fn>
  std::invoke_result_t<Fn> OnLoop(Fn fn) {
    auto task = std::make_shared<std::packaged_task<std::invoke_result_t<Fn>()>>(std::move(fn));
    auto future = task->get_future();
    loop_.Post([task] { (*task)(); });
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      throw std::runtime_error("the loop did not run the task");
    }
    return future.get();
  }

  // Waits until `done()` holds (checked on the loop thread); false after 30 s. What the server
  // learns from a client (a close, a failed handshake) reaches it asynchronously.
  template <typename Done>
  bool WaitUntil(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!OnLoop(done)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  bool WaitForConnections(std::size_t count) {
    return WaitUntil([this, count] { return server_->ConnectionCount() == count; });
  }

 private:
  EventLoop loop_;
  EchoHandler handler_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace sb::net::testing
