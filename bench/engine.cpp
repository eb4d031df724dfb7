#include "engine.h"

#include <unistd.h>

#include <boost/asio.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace sb::bench {
namespace {

namespace asio = boost::asio;
using std::chrono::nanoseconds;

constexpr std::int64_t kSecondNs = 1'000'000'000;
constexpr std::int64_t kPollNs = 50'000'000;
constexpr std::int64_t kConnectDeadlineNs = 300 * kSecondNs;

std::int64_t SecondsToNs(double seconds) {
  return static_cast<std::int64_t>(seconds * 1e9);
}

asio::steady_timer::time_point At(std::int64_t ns) {
  return asio::steady_timer::time_point(nanoseconds(ns));
}

class Engine final : public Sink {
 public:
  Engine(Peer& peer, Target server, RunOptions options)
      : peer_(peer),
        server_(std::move(server)),
        options_(options),
        load_timer_(io_),
        phase_timer_(io_) {}

  RunReport Run() {
    peer_.Prepare(options_.pairs);
    report_.server_before = SampleServer(options_.server_pid);
    MakeEndpoints();

    connect_started_ = NowNs();
    for (int i = 0; i < options_.connect_parallel; ++i)
      ConnectNext();
    WatchConnecting();
    io_.run();
    if (!fatal_.empty()) throw std::runtime_error(fatal_);
    return report_;
  }

  void Delivered(int pair, std::int64_t stamp_ns) override {
    const std::int64_t now = NowNs();
    if (InWindow(stamp_ns)) {
      ++report_.delivered;
      report_.delivery.Record(now - stamp_ns);
    }
    if (InWindow(now)) ++received_in_window_;
    if (options_.rate <= 0 && !options_.window_on_ack && sending_) Send(pair, NowNs());
  }

  void Acked(int pair, std::int64_t stamp_ns) override {
    const std::int64_t now = NowNs();
    if (InWindow(stamp_ns)) {
      ++report_.acked;
      report_.ack.Record(now - stamp_ns);
    }
    if (options_.rate <= 0 && options_.window_on_ack && sending_) Send(pair, now);
  }

  void Refused(int, std::string_view what) override {
    ++report_.refused;
    if (report_.first_problem.empty()) report_.first_problem = std::string(what);
  }

  void Broken(int, const std::string& what) override {
    ++report_.broken;
    if (report_.first_problem.empty()) report_.first_problem = what;
  }

 private:
  bool InWindow(std::int64_t ns) const { return ns >= window_start_ && ns < window_end_; }

  // Receivers first, so that a pair's receiver is subscribed before its sender may send.
  void MakeEndpoints() {
    for (int role = 0; role < 2; ++role) {
      for (int pair = 0; pair < options_.pairs; ++pair) {
        EndpointSpec spec{&io_, this, server_, pair, role == 1, options_.payload_bytes};
        const std::size_t index = endpoints_.size();
        spec.target.local_address =
            "127.0.0." + std::to_string(1 + index % std::max(1, options_.source_addresses));
        endpoints_.push_back(peer_.Make(spec));
        if (role == 1) senders_.push_back(endpoints_.back());
      }
    }
    report_.terminals = static_cast<std::int64_t>(endpoints_.size());
  }

  void ConnectNext() {
    if (next_connect_ >= endpoints_.size() || !fatal_.empty()) return;
    // Receivers all connect before the first sender does.
    if (next_connect_ == senders_.size() && connected_ < senders_.size()) return;
    endpoints_[next_connect_++]->Start([this](const std::string& error) { OnConnected(error); });
  }

  void OnConnected(const std::string& error) {
    if (!error.empty() && fatal_.empty()) {
      fatal_ = "terminal " + std::to_string(connected_) + " could not connect: " + error;
      io_.stop();
      return;
    }
    ++connected_;
    if (connected_ == senders_.size()) {
      for (int i = 0; i < options_.connect_parallel; ++i)
        ConnectNext();
    }
    if (connected_ < endpoints_.size()) return ConnectNext();

    report_.connect_s = static_cast<double>(NowNs() - connect_started_) / 1e9;
    options_.idle ? Settle() : StartLoad();
  }

  void WatchConnecting() {
    phase_timer_.expires_at(At(connect_started_ + kConnectDeadlineNs));
    phase_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || connected_ == endpoints_.size()) return;
      fatal_ = "only " + std::to_string(connected_) + " of " + std::to_string(endpoints_.size()) +
               " terminals connected in time";
      io_.stop();
    });
  }

  void Settle() {
    phase_timer_.expires_at(At(NowNs() + SecondsToNs(options_.idle_settle_s)));
    phase_timer_.async_wait([this](boost::system::error_code) {
      report_.server_idle = SampleServer(options_.server_pid);
      io_.stop();
    });
  }

  void StartLoad() {
    report_.server_idle = SampleServer(options_.server_pid);
    load_start_ = NowNs() + 10'000'000;
    window_start_ = load_start_ + SecondsToNs(options_.warmup_s);
    window_end_ = window_start_ + SecondsToNs(options_.duration_s);
    report_.measured_s = options_.duration_s;
    sending_ = true;
    options_.rate > 0 ? ScheduleNext() : StartWindows();
    AtWindowStart();
  }

  void Send(int pair, std::int64_t stamp_ns) {
    if (InWindow(stamp_ns)) ++report_.sent;
    senders_[pair]->Publish(stamp_ns);
  }

  // Open loop: message k is due at load_start + k / rate.
  std::int64_t DueTime(std::uint64_t k) const {
    return load_start_ + static_cast<std::int64_t>(static_cast<long double>(k) * kSecondNs /
                                                   static_cast<long double>(options_.rate));
  }

  void ScheduleNext() {
    load_timer_.expires_at(At(DueTime(sequence_)));
    load_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      const std::int64_t now = NowNs();
      for (std::int64_t due = DueTime(sequence_); due <= now; due = DueTime(sequence_)) {
        if (due >= window_end_) return;
        Send(static_cast<int>(sequence_ % options_.pairs), due);
        ++sequence_;
      }
      ScheduleNext();
    });
  }

  // Closed loop: each pair starts with `window` messages; every delivery sends one more.
  void StartWindows() {
    load_timer_.expires_at(At(load_start_));
    load_timer_.async_wait([this](boost::system::error_code) {
      for (int pair = 0; pair < options_.pairs; ++pair) {
        for (int i = 0; i < options_.window; ++i)
          Send(pair, NowNs());
      }
    });
  }

  void AtWindowStart() {
    phase_timer_.expires_at(At(window_start_));
    phase_timer_.async_wait([this](boost::system::error_code) {
      report_.server_start = SampleServer(options_.server_pid);
      phase_timer_.expires_at(At(window_end_));
      phase_timer_.async_wait([this](boost::system::error_code) { AtWindowEnd(); });
    });
  }

  void AtWindowEnd() {
    report_.server_end = SampleServer(options_.server_pid);
    report_.throughput = static_cast<double>(received_in_window_) / options_.duration_s;
    sending_ = false;
    Drain(NowNs() + SecondsToNs(options_.drain_s));
  }

  void Drain(std::int64_t deadline) {
    const bool acks_done = report_.acked == 0 || report_.acked >= report_.sent;
    if ((report_.delivered >= report_.sent && acks_done) || NowNs() >= deadline) {
      load_timer_.cancel();
      io_.stop();
      return;
    }
    phase_timer_.expires_at(At(NowNs() + kPollNs));
    phase_timer_.async_wait([this, deadline](boost::system::error_code) { Drain(deadline); });
  }

  Peer& peer_;
  Target server_;
  RunOptions options_;
  asio::io_context io_{1};
  asio::steady_timer load_timer_;
  asio::steady_timer phase_timer_;
  std::vector<std::shared_ptr<Endpoint>> endpoints_;
  std::vector<std::shared_ptr<Endpoint>> senders_;
  std::size_t next_connect_ = 0;
  std::size_t connected_ = 0;
  std::int64_t connect_started_ = 0;
  std::int64_t load_start_ = 0;
  std::int64_t window_start_ = INT64_MAX;
  std::int64_t window_end_ = INT64_MAX;
  std::uint64_t sequence_ = 0;
  std::int64_t received_in_window_ = 0;
  bool sending_ = false;
  std::string fatal_;
  RunReport report_;
};

}  // namespace

RunReport RunLoad(Peer& peer, const Target& server, const RunOptions& options) {
  Engine engine(peer, server, options);
  return engine.Run();
}

ServerSample SampleServer(int pid) {
  ServerSample sample;
  if (pid <= 0) return sample;

  // Fields 14 and 15 of /proc/<pid>/stat, counted after the parenthesised command name.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const std::size_t after_name = text.rfind(')');
  if (after_name != std::string::npos) {
    std::istringstream fields(text.substr(after_name + 2));
    std::string skip;
    for (int field = 3; field <= 13; ++field)
      fields >> skip;
    std::int64_t utime = 0, stime = 0;
    fields >> utime >> stime;
    sample.cpu_ticks = utime + stime;
  }

  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_kib = std::stoll(line.substr(6));
  }
  return sample;
}

}  // namespace sb::bench
