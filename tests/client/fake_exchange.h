// An in-memory stand-in for the exchange's end of the terminal WebSocket, for unit tests of the
// client library's logic. A Terminal gets its connections from Factory(); the test reads what the
// terminal wrote, pushes frames to it, and drops or refuses connections.
//
// Thread-safe: the terminal's I/O thread and the test thread use it at once. It must outlive every
// Terminal that uses it (the transports point back to it).
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "client/terminal.h"

namespace sb::client::testing {

namespace json = boost::json;

// Long enough never to end a passing test; it only bounds how long a failing one hangs.
inline constexpr std::chrono::seconds kGuard{10};

class FakeExchange {
 public:
  client::TransportFactory Factory() {
    return [this] { return std::make_unique<FakeTransport>(*this); };
  }

  // The next `n` connection attempts fail.
  void RefuseConnections(int n) {
    std::lock_guard lock(mu_);
    refusals_ = n;
  }

  // Queues a frame for the terminal on the current connection.
  void Push(const json::value& frame) {
    std::lock_guard lock(mu_);
    inbox_.push_back(json::serialize(frame));
    changed_.notify_all();
  }

  // Ends the current connection, as a lost network would.
  void Drop() {
    std::lock_guard lock(mu_);
    open_ = false;
    inbox_.clear();
    changed_.notify_all();
  }

  // Waits for the next frame written by the terminal (in order, across connections) for which
  // `match` holds, skipping the others; nullopt when none comes before the guard runs out.
  std::optional<json::object> WaitWritten(const std::function<bool(const json::object&)>& match) {
    std::unique_lock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + kGuard;
    for (;;) {
      while (read_ < written_.size()) {
        json::object frame = json::parse(written_[read_++]).as_object();
        if (match(frame)) return frame;
      }
      if (changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
          read_ == written_.size())
        return std::nullopt;
    }
  }
  std::optional<json::object> WaitWrittenType(const std::string& type) {
    return WaitWritten([type](const json::object& f) { return f.at("type") == type.c_str(); });
  }

  // Every frame written so far, of `type`.
  std::vector<json::object> AllWritten(const std::string& type) {
    std::lock_guard lock(mu_);
    std::vector<json::object> out;
    for (const std::string& text : written_) {
      json::object frame = json::parse(text).as_object();
      if (frame.at("type") == type.c_str()) out.push_back(std::move(frame));
    }
    return out;
  }

  int Connections() {
    std::lock_guard lock(mu_);
    return connections_;
  }

 private:
  class FakeTransport final : public client::Transport {
   public:
    explicit FakeTransport(FakeExchange& exchange) : exchange_(exchange) {}
    void Connect(const std::string&, std::uint16_t, const std::string&) override {
      std::lock_guard lock(exchange_.mu_);
      if (exchange_.refusals_ > 0) {
        --exchange_.refusals_;
        throw std::runtime_error("connection refused");
      }
      exchange_.open_ = true;
      exchange_.inbox_.clear();
      connection_ = ++exchange_.connections_;
    }
    void Send(std::string_view text) override {
      std::lock_guard lock(exchange_.mu_);
      if (!Open()) throw std::runtime_error("closed");
      exchange_.written_.emplace_back(text);
      exchange_.changed_.notify_all();
    }
    std::optional<std::string> Receive(std::chrono::milliseconds timeout) override {
      std::unique_lock lock(exchange_.mu_);
      exchange_.changed_.wait_for(lock, timeout,
                                  [this] { return !Open() || !exchange_.inbox_.empty(); });
      if (!Open() || exchange_.inbox_.empty()) return std::nullopt;
      std::string text = std::move(exchange_.inbox_.front());
      exchange_.inbox_.pop_front();
      return text;
    }
    bool IsOpen() const override {
      std::lock_guard lock(exchange_.mu_);
      return Open();
    }
    void Close() override {
      std::lock_guard lock(exchange_.mu_);
      if (Open()) exchange_.open_ = false;
    }

   private:
    // Whether this transport is the exchange's current, open connection. Caller holds mu_.
    bool Open() const { return connection_ == exchange_.connections_ && exchange_.open_; }

    FakeExchange& exchange_;
    int connection_ = 0;
  };

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> inbox_;
  std::vector<std::string> written_;
  std::size_t read_ = 0;
  int connections_ = 0;
  int refusals_ = 0;
  bool open_ = false;
};

inline json::object Welcome(const std::string& platform, const std::string& account) {
  return {{"type", "welcome"},
          {"platform", {{"id", platform}, {"name", "Platform " + platform}}},
          {"account", account},
          {"session", "s1"}};
}

inline json::object MessageFrame(const std::string& message_id, const std::string& text) {
  return {{"type", "message"},
          {"message_id", message_id},
          {"ts", 1700000000000},
          {"from", {{"platform", "other"}, {"platform_name", "Other"}, {"account", "bob"}}},
          {"to", {{"platform", "home"}, {"account", "alice"}}},
          {"content", {{"type", "text"}, {"text", text}}},
          {"route", {{"site", "main"}, {"dnai", ""}, {"ulcl", ""}, {"psa", "psa-main"}}}};
}

}  // namespace sb::client::testing
