#include "platform/platform_server.h"

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "net/event_loop.h"
#include "net/server.h"
#include "platform/account_sync.h"
#include "platform/credentials.h"
#include "platform/exchange_link.h"
#include "platform/log.h"
#include "platform/password.h"
#include "platform/platform_api.h"
#include "platform/static_files.h"
#include "platform/user_store.h"
#include "platform/worker.h"

namespace sb::platform {
namespace fs = std::filesystem;
namespace {

constexpr auto kExchangeTimeout = std::chrono::milliseconds(5000);
// Requests waiting for the worker at most; more are answered 503 at once.
constexpr std::size_t kMaxQueuedRequests = 256;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
// The listener upgrades no path that a browser would ask for: this server has no WebSocket.
constexpr char kNoWebSocketPath[] = "/.no-websocket";

// Routes the listener's requests: /healthz and static files on the loop, /api on the worker.
class Frontend : public net::Handler {
 public:
  Frontend(net::EventLoop& loop, Worker& worker, PlatformApi& api, const StaticFiles& files)
      : loop_(loop), worker_(worker), api_(api), files_(files) {}

  void OnHttp(net::HttpRequest request, net::Respond respond) override {
    if (request.path == "/healthz") {
      net::HttpResponse ok;
      ok.body = R"({"status":"ok"})";
      return respond(std::move(ok));
    }
    if (!PlatformApi::Owns(request.path)) return respond(files_.Serve(request));

    // The answer is computed on the worker and handed back to the loop, the only thread that
    // may call `respond`. The loop outlives the worker (the worker is stopped first).
    auto shared = std::make_shared<net::HttpRequest>(std::move(request));
    const bool queued = worker_.Post([this, shared, respond] {
      net::HttpResponse response = api_.Handle(*shared);
      loop_.Post(
          [respond, response = std::move(response)]() mutable { respond(std::move(response)); });
    });
    if (!queued) respond(Busy());
  }

  void OnWsOpen(const std::shared_ptr<net::WsConnection>& conn) override {
    conn->Close(1008, "no WebSocket here: terminals connect to the exchange");
  }
  void OnWsText(const std::shared_ptr<net::WsConnection>&, std::string_view) override {}
  void OnWsRefused(const std::shared_ptr<net::WsConnection>&, net::WsRefusal) override {}
  void OnWsClose(const std::shared_ptr<net::WsConnection>&) override {}

 private:
  static net::HttpResponse Busy() {
    net::HttpResponse response;
    response.status = 503;
    response.body = R"({"error":{"code":"unavailable","message":"busy; try again shortly"}})";
    return response;
  }

  net::EventLoop& loop_;
  Worker& worker_;
  PlatformApi& api_;
  const StaticFiles& files_;
};

fs::path PrepareDataDir(const std::string& dir) {
  fs::create_directories(dir);
  // Only this user may read the users' hashes and the platform's secrets.
  ::chmod(dir.c_str(), 0700);
  return fs::path(dir);
}

void SeedUsers(UserStore& users, const std::vector<SeedUser>& seeds) {
  for (const SeedUser& seed : seeds) {
    if (users.Exists(seed.account)) continue;
    users.Add(seed.account, HashPassword(seed.password), seed.discoverable);
    Log()->info("seed user {} created", seed.account);
  }
}

std::string JwksJson(const auth::SigningKey& key) {
  return R"({"keys":[)" + key.PublicJwkJson(KeyId(key)) + "]}";
}

std::vector<AccountEntry> AccountsOf(UserStore& users) {
  std::vector<AccountEntry> accounts;
  for (const User& user : users.List())
    accounts.push_back({user.account, user.discoverable});
  return accounts;
}

// Reuses the saved registration when the exchange still honours it; else registers anew.
Registration EnsureRegistered(ExchangeLink& link, const PlatformConfig& config,
                              const auth::SigningKey& key, UserStore& users, const fs::path& data) {
  const std::string jwks = JwksJson(key);
  if (std::optional<Registration> saved = LoadRegistration(data)) {
    link.UseRegistration(*saved);
    try {
      // Also proves that the saved platform key still opens the platform.
      link.PublishKeys(jwks);
      Log()->info("reusing the saved registration of platform {}", saved->platform_id);
      return *saved;
    } catch (const ExchangeError& e) {
      if (e.status() != 401 && e.status() != 403 && e.status() != 404) throw;
      if (config.enrollment_token.empty()) {
        throw std::runtime_error("the exchange refuses the saved registration of platform " +
                                 saved->platform_id + " (" + e.code() +
                                 "); give a new enrollment token to register again");
      }
      Log()->warn(
          "the exchange refuses the saved registration of platform {} ({}): registering "
          "again",
          saved->platform_id, e.code());
    }
  }

  if (config.enrollment_token.empty()) {
    throw std::runtime_error(
        "not registered yet: give an enrollment token (--enrollment-token or "
        "SWITCHBOARD_ENROLLMENT_TOKEN) from the exchange's operator");
  }
  if (config.name.empty()) throw std::runtime_error("--name is needed to register");
  Registration registration =
      link.Register(config.enrollment_token, config.name, AccountsOf(users), jwks);
  SaveRegistration(data, registration);
  Log()->info("registered with the exchange as platform {}", registration.platform_id);
  return registration;
}

void ApplyOffloadPolicy(ExchangeLink& link, const std::optional<OffloadPolicy>& policy) {
  if (!policy) return;
  if (link.PutOffloadPolicy(*policy) == PolicyOutcome::kUnsupported) {
    Log()->warn("the exchange has no offload-policy endpoint; policy '{}' not applied",
                policy->kind);
    return;
  }
  Log()->info("offload policy '{}' applied", policy->kind);
}

void WritePortFile(const std::string& path, std::uint16_t port) {
  const std::string temp = path + ".tmp";
  std::FILE* file = std::fopen(temp.c_str(), "w");
  if (file == nullptr) throw std::runtime_error("cannot write port file " + temp);
  std::fprintf(file, "%u\n", static_cast<unsigned>(port));
  std::fclose(file);
  fs::rename(temp, path);
}

// Reconciles every `interval` on the worker; skips a round while the previous one still runs.
std::unique_ptr<net::Timer> ScheduleSync(net::EventLoop& loop, Worker& worker, UserStore& users,
                                         ExchangeLink& link, std::chrono::seconds interval,
                                         std::shared_ptr<std::atomic<bool>> running) {
  return loop.Schedule(
      interval,
      [&worker, &users, &link, running] {
        if (running->exchange(true)) return;
        const bool queued = worker.Post([&users, &link, running] {
          try {
            ReconcileAccounts(users, link);
          } catch (const std::runtime_error& e) {
            Log()->warn("account reconciliation failed, retried later: {}", e.what());
          }
          running->store(false);
        });
        if (!queued) running->store(false);
      },
      true);
}

int Serve(const PlatformConfig& config, UserStore& users, ExchangeLink& link,
          const auth::SigningKey& key, const PlatformIdentity& identity, const fs::path& web) {
  net::EventLoop loop;
  PlatformApi api(users, link, key, identity, config.token_ttl_s);
  StaticFiles files(web);
  // From here on `users` and `link` belong to the worker thread.
  Worker worker(kMaxQueuedRequests);
  Frontend frontend(loop, worker, api, files);

  net::ServerOptions options;
  options.host = config.listen.host;
  options.port = config.listen.port;
  options.websocket_path = kNoWebSocketPath;
  options.max_body_bytes = kMaxBodyBytes;
  options.tls_cert_file = config.tls_cert_file;
  options.tls_key_file = config.tls_key_file;
  net::Server server(loop, options, frontend);

  auto sync = ScheduleSync(loop, worker, users, link, std::chrono::seconds(config.sync_interval_s),
                           std::make_shared<std::atomic<bool>>(false));
  loop.OnTerminationSignal([&](int signal) {
    Log()->info("signal {}: stopping", signal);
    server.StopAccepting();
    server.Shutdown();
    loop.Stop();
  });

  server.Start();
  if (!config.port_file.empty()) WritePortFile(config.port_file, server.port());
  Log()->info("platform {} ({}) serving on {}:{} (web page from {})", identity.platform_name,
              identity.platform_id, config.listen.host, server.port(), web.string());
  std::printf("platform %s (%s) listening on %s://%s:%u\n", identity.platform_name.c_str(),
              identity.platform_id.c_str(), config.tls_cert_file.empty() ? "http" : "https",
              config.listen.host.c_str(), static_cast<unsigned>(server.port()));
  std::fflush(stdout);

  loop.Run();
  sync.reset();
  worker.Stop();
  return 0;
}

}  // namespace

int RunPlatform(const PlatformConfig& config) {
  // 1-2. Local state.
  const fs::path data = PrepareDataDir(config.data_dir);
  UserStore users((data / "users.db").string());
  SeedUsers(users, config.seed_users);
  const auth::SigningKey key = LoadOrCreateSigningKey(data);
  const fs::path web = FindWebDir(config.web_dir);

  // 3-6. The exchange.
  ExchangeLink link(ParseExchangeUrl(config.exchange_url), kExchangeTimeout,
                    config.exchange_ca_file);
  if (!link.WaitUntilHealthy(std::chrono::seconds(config.exchange_wait_s))) {
    throw std::runtime_error("the exchange at " + config.exchange_url + " did not answer within " +
                             std::to_string(config.exchange_wait_s) + " s");
  }
  const Registration registration = EnsureRegistered(link, config, key, users, data);
  const PlatformIdentity identity{registration.platform_id, link.PlatformName(),
                                  TerminalUrl(config)};
  ReconcileAccounts(users, link);
  ApplyOffloadPolicy(link, config.offload_policy);

  return Serve(config, users, link, key, identity, web);
}

}  // namespace sb::platform
