#include "server/exchange_server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include "api/http_api.h"
#include "api/offload_api.h"
#include "api/terminal_gateway.h"
#include "api/topology_view.h"
#include "auth/secret.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "delivery/exchange.h"
#include "net/event_loop.h"
#include "net/server.h"
#include "offload/offload_service.h"
#include "registry/registry.h"
#include "server/heap_trimmer.h"
#include "server/webhook_sender.h"
#include "store/sqlite/sqlite_store.h"

namespace sb::server {
namespace {

namespace fs = std::filesystem;

constexpr auto kSweepInterval = std::chrono::seconds(60);
// Connections opened or closed in one burst after which the heap's free pages go back to the OS.
// The check runs every kHeapTick; a burst is over at the first tick with no new connection.
constexpr std::size_t kTrimChurn = 1000;
constexpr auto kHeapTick = std::chrono::seconds(1);
constexpr auto kDrainPoll = std::chrono::milliseconds(50);
constexpr int kDrainPolls = 60;  // three seconds for connections to close after shutdown starts

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = [] {
    auto l = spdlog::get("server");
    return l ? l : spdlog::default_logger()->clone("server");
  }();
  return logger;
}

// The listener's counters as metrics. The net layer keeps plain atomics (it knows no metrics
// registry); Publish() copies them over, on the loop thread, just before /metrics is answered.
class ListenerMetrics {
 public:
  ListenerMetrics(MetricsRegistry& metrics, const net::ServerStats& stats)
      : stats_(stats),
        accepted_(metrics.GetCounter("switchboard_listener_accepted_total",
                                     "Connections accepted by the listener, HTTP and WebSocket")),
        per_address_(metrics.GetCounter("switchboard_listener_refused_total",
                                        "Connections refused by the listener's bounds",
                                        {{"reason", "per_address"}})),
        total_(metrics.GetCounter("switchboard_listener_refused_total",
                                  "Connections refused by the listener's bounds",
                                  {{"reason", "max_connections"}})),
        tls_failures_(metrics.GetCounter("switchboard_listener_tls_handshake_failures_total",
                                         "TLS handshakes that failed")) {}

  void Publish() {
    Advance(accepted_, stats_.accepted);
    Advance(per_address_, stats_.refused_per_address);
    Advance(total_, stats_.refused_total);
    Advance(tls_failures_, stats_.tls_handshake_failures);
  }

 private:
  static void Advance(Counter& counter, const std::atomic<std::uint64_t>& source) {
    const auto now = source.load(std::memory_order_relaxed);
    if (now > counter.Value()) counter.Inc(now - counter.Value());
  }

  const net::ServerStats& stats_;
  Counter& accepted_;
  Counter& per_address_;
  Counter& total_;
  Counter& tls_failures_;
};

// Routes the listener's callbacks: HTTP to the API, WebSocket to the terminal gateway.
class Frontend : public net::Handler {
 public:
  Frontend(api::HttpApi& http, api::TerminalGateway& gateway) : http_(http), gateway_(gateway) {}

  // Called before each GET /metrics is answered. Set it before the server starts.
  void SetBeforeMetrics(std::function<void()> hook) { before_metrics_ = std::move(hook); }

  void OnHttp(net::HttpRequest request, net::Respond respond) override {
    if (before_metrics_ && request.path == "/metrics") before_metrics_();
    http_.Handle(std::move(request), std::move(respond));
  }
  void OnWsOpen(const std::shared_ptr<net::WsConnection>& conn) override { gateway_.OnOpen(conn); }
  void OnWsText(const std::shared_ptr<net::WsConnection>& conn, std::string_view text) override {
    gateway_.OnText(conn, text);
  }
  void OnWsRefused(const std::shared_ptr<net::WsConnection>& conn, net::WsRefusal why) override {
    gateway_.OnRefused(conn, why);
  }
  void OnWsClose(const std::shared_ptr<net::WsConnection>& conn) override {
    gateway_.OnClose(conn);
  }

 private:
  api::HttpApi& http_;
  api::TerminalGateway& gateway_;
  std::function<void()> before_metrics_;
};

net::ServerOptions ListenerOptions(const Config& config) {
  net::ServerOptions options;
  options.host = config.listen_host;
  options.port = config.listen_port;
  options.max_frame_bytes = config.max_frame_bytes;
  options.max_body_bytes = config.max_body_bytes;
  options.ws_idle_timeout = std::chrono::seconds(config.idle_timeout_s);
  options.tls_cert_file = config.tls_cert_file;
  options.tls_key_file = config.tls_key_file;
  options.max_connections_per_address = config.max_connections_per_address;
  options.max_connections = config.max_connections;
  return options;
}

void WritePortFile(const std::string& path, std::uint16_t port) {
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << port << "\n";
    if (!out) throw std::runtime_error("cannot write port file " + temp);
  }
  fs::rename(temp, path);
}

std::string ReadFirstLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Every terminal holds an open file: take all the open files the hard limit allows.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    Log()->warn("could not raise the open file limit to {}", limit.rlim_max);
  }
}

delivery::RateLimit Limit(std::int64_t rate, std::int64_t burst) {
  return delivery::RateLimit{static_cast<double>(rate), static_cast<double>(burst)};
}

}  // namespace

std::string ResolveOperatorToken(const std::string& data_dir) {
  if (const char* env = std::getenv("SWITCHBOARD_OPERATOR_TOKEN"); env != nullptr && *env != 0) {
    Log()->info("operator token taken from SWITCHBOARD_OPERATOR_TOKEN");
    return env;
  }
  const fs::path path = fs::path(data_dir) / "operator-token";
  if (fs::exists(path)) {
    std::string token = ReadFirstLine(path);
    if (token.empty()) throw std::runtime_error(path.string() + " is empty");
    return token;
  }

  const std::string token = auth::RandomCredential("sbo_");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string());
  const std::string line = token + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::fsync(fd);
  ::close(fd);
  if (!written) throw std::runtime_error("cannot write " + path.string());
  Log()->info("operator token created in {} (mode 0600)", path.string());
  return token;
}

int RunExchange(const Config& config) {
  RaiseOpenFileLimit();
  fs::create_directories(config.data_dir);
  const std::string operator_token = ResolveOperatorToken(config.data_dir);

  MetricsRegistry metrics;
  net::EventLoop loop;
  Executor post = [&loop](std::function<void()> task) { loop.Post(std::move(task)); };

  // 1. The store, and memory seeded from it.
  if (!config.durable) {
    Log()->warn(
        "[store] durable = false: accepted messages are written behind and the last "
        "moments of them can be lost in a crash (docs/durability.md)");
  }
  auto store = store::OpenSqliteStore(
      {(fs::path(config.data_dir) / "switchboard.db").string(), config.durable}, metrics);
  const store::Snapshot snapshot = store->Load();

  registry::Registry registry(*store, post, metrics);
  registry.SetClockSkew(config.clock_skew_s);
  registry.SetMaxTokenLifetime(config.max_token_lifetime_s);
  registry.Load(snapshot);

  delivery::ExchangeOptions exchange_options;
  exchange_options.retention_ms = config.retention_s * 1000;
  exchange_options.account_queue_quota = config.account_queue_quota;
  exchange_options.dedup_window_ms = config.dedup_window_s * 1000;
  exchange_options.account_rate = Limit(config.account_rate, config.account_burst);
  exchange_options.platform_rate = Limit(config.platform_rate, config.platform_burst);
  exchange_options.max_send_queue_bytes = config.max_send_queue_bytes;
  delivery::Exchange exchange(registry, *store, post, metrics, exchange_options);
  exchange.Load(snapshot);
  registry.SetObserver(&exchange);

  // Offload: every message's egress comes from its sender terminal's path. Notifications go out
  // on the webhook sender's own thread; it is declared first so that it outlives the service.
  WebhookOptions webhook_options;
  webhook_options.max_attempts = static_cast<int>(config.notify_attempts);
  webhook_options.first_backoff = std::chrono::milliseconds(config.notify_backoff_ms);
  webhook_options.timeout = std::chrono::milliseconds(config.notify_timeout_ms);
  WebhookSender webhooks(metrics, webhook_options);
  offload::OffloadService offload(LoadTopology(config), registry, metrics, NowMillis,
                                  [&exchange](const Address& address) {
                                    std::vector<offload::TerminalId> ids;
                                    for (const auto& info : exchange.TerminalsOf(address))
                                      ids.push_back(info.id);
                                    return ids;
                                  });
  offload.SetNotificationSender(&webhooks);
  exchange.SetRouteSelector(
      [&offload](delivery::TerminalId terminal, const Address& sender, std::string_view app) {
        return offload.SelectRoute(terminal, sender, app);
      });

  // 2. The APIs and the listener.
  api::HttpApiOptions http_options{operator_token};
  http_options.platform_call_rate = Limit(config.api_rate, config.api_burst);
  http_options.auth_failure_rate =
      delivery::RateLimit{config.auth_failure_rate, static_cast<double>(config.auth_failure_burst)};
  api::HttpApi http(registry, exchange, metrics, http_options);
  api::OffloadApi offload_api(registry, offload);
  http.SetOffloadApi(&offload_api);
  api::TopologyView topology_view(offload, exchange, NowMillis);
  http.SetTopologyView(&topology_view);
  api::TerminalGateway gateway(
      loop, registry, exchange, metrics,
      api::GatewayOptions{std::chrono::milliseconds(config.hello_timeout_ms),
                          Limit(config.connection_frame_rate, config.connection_frame_burst),
                          static_cast<std::size_t>(config.connection_flood_close)});
  gateway.SetLocationSink([&offload](delivery::TerminalId terminal, const Address& address,
                                     const std::string& tai, const std::string& cell) {
    (void)offload.ReportTerminalLocation(terminal, address, offload::Location{tai, cell});
  });
  Frontend frontend(http, gateway);
  net::Server server(loop, ListenerOptions(config), frontend);
  ListenerMetrics listener_metrics(metrics, server.stats());
  frontend.SetBeforeMetrics([&listener_metrics] { listener_metrics.Publish(); });

  auto sweep = loop.Schedule(
      kSweepInterval,
      [&] {
        const std::int64_t now = NowMillis();
        exchange.Sweep(now);
        registry.ExpireEnrollments(now);
      },
      true);
  auto offload_tick = loop.Schedule(
      std::chrono::milliseconds(config.offload_tick_ms), [&] { offload.Tick(); }, true);
  auto rate_sample = loop.Schedule(
      std::chrono::seconds(1), [&] { topology_view.Sample(); }, true);
  HeapTrimmer heap_trimmer(kTrimChurn);
  Counter& heap_trims = metrics.GetCounter(
      "switchboard_heap_trims_total", "Free heap pages returned to the OS after connection bursts");
  auto heap_tick = loop.Schedule(
      kHeapTick,
      [&] {
        const auto started = std::chrono::steady_clock::now();
        if (!heap_trimmer.Observe(server.stats().accepted.load(std::memory_order_relaxed),
                                  server.ConnectionCount())) {
          return;
        }
        heap_trims.Inc();
        const std::chrono::duration<double, std::milli> took =
            std::chrono::steady_clock::now() - started;
        Log()->debug("returned free heap pages after a connection burst in {:.1f} ms",
                     took.count());
      },
      true);

  // 3. Graceful shutdown: the store's flush runs on its own thread so that the loop keeps sending
  // the `accepted` answers that the flush produces.
  std::thread flusher;
  int drain_polls = 0;
  std::unique_ptr<net::Timer> drain_timer;
  loop.OnTerminationSignal([&](int signal) {
    if (flusher.joinable()) return;
    Log()->info("signal {}: draining", signal);
    server.StopAccepting();
    http.SetReady(false);
    flusher = std::thread([&] {
      store->Flush();
      loop.Post([&] {
        server.Shutdown();
        drain_timer = loop.Schedule(
            kDrainPoll,
            [&] {
              if (server.ConnectionCount() == 0 || ++drain_polls >= kDrainPolls) loop.Stop();
            },
            true);
      });
    });
  });

  server.Start();
  if (!config.port_file.empty()) WritePortFile(config.port_file, server.port());
  const char* scheme = server.UsesTls() ? "https" : "http";
  Log()->info("listening on {}://{}:{} (data in {})", scheme, config.listen_host, server.port(),
              config.data_dir);
  std::printf("switchboard listening on %s://%s:%u\n", scheme, config.listen_host.c_str(),
              static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  loop.Run();

  if (flusher.joinable()) flusher.join();
  drain_timer.reset();
  sweep.reset();
  offload_tick.reset();
  rate_sample.reset();
  store->Close();
  Log()->info("stopped");
  return 0;
}

}  // namespace sb::server
