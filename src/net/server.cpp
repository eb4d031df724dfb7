// The listener: binds, accepts, and keeps the registry of live sessions. The sessions themselves
// are in http_session.cpp and ws_session.cpp.
#include "net/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include "net/session.h"

namespace sb::net {

namespace {

// How long accepting pauses when the process is out of file descriptors or memory. Retrying at
// once would spin: the pending connection stays in the backlog and fails the same way.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// Bounds of the sweep period: often enough for short test timeouts, rarely enough to cost nothing
// with many connections.
constexpr std::chrono::milliseconds kMinSweepPeriod{100};
constexpr std::chrono::milliseconds kMaxSweepPeriod{5000};

std::uint64_t NextConnectionId() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::string EscapeJson(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string Describe(const tcp::endpoint& endpoint) {
  auto address = endpoint.address();
  auto host = address.to_string();
  if (address.is_v6()) {
    host = "[" + host + "]";
  }
  return host + ":" + std::to_string(endpoint.port());
}

tcp::endpoint ResolveListenAddress(asio::io_context& io, const std::string& host,
                                   std::uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return {address, port};

  // Not a literal address: a name such as "localhost".
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) +
                             ": cannot resolve the host (" + ec.message() + ")");
  }
  return results.begin()->endpoint();
}

void Listen(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, const std::string& shown) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    throw std::runtime_error("cannot listen on " + shown + ": " + ec.message());
  }
}

// TLS 1.2 and 1.3 only, forward-secret AEAD suites only for 1.2 (1.3's are all of that kind),
// no renegotiation, no compression, the server's order of preference.
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

asio::ssl::context MakeTlsContext(const ServerOptions& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    throw std::runtime_error("TLS needs both a certificate file and a key file");
  }
  asio::ssl::context context(asio::ssl::context::tls_server);
  auto* native = context.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(native, kTls12Ciphers);

  boost::system::error_code ec;
  context.use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) {
    throw std::runtime_error("cannot load the TLS certificate " + options.tls_cert_file + ": " +
                             ec.message());
  }
  context.use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("cannot load the TLS key " + options.tls_key_file + ": " +
                             ec.message());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error("the TLS key " + options.tls_key_file +
                             " does not match the certificate");
  }
  return context;
}

bool OverTotal(const ServerCore& core) {
  const auto most = core.options.max_connections;
  return most != 0 && core.live.load(std::memory_order_relaxed) >= most;
}

void Accept(const std::shared_ptr<ServerCore>& core, tcp::socket socket) {
  boost::system::error_code ec;
  core->stats.accepted.fetch_add(1, std::memory_order_relaxed);
  if (OverTotal(*core)) {
    // Reading a request would cost what the bound is there to save: close without a word.
    core->stats.refused_total.fetch_add(1, std::memory_order_relaxed);
    socket.close(ec);
    return;
  }

  // Terminal messages are small and latency matters more than packet count.
  socket.set_option(tcp::no_delay(true), ec);
  auto peer = socket.remote_endpoint(ec);
  std::string remote = ec ? "unknown" : Describe(peer);
  auto admission = core->Admit(ec ? remote : peer.address().to_string());

  auto id = NextConnectionId();
  NetLogger().debug("[conn {}] accepted from {}", id, remote);
  StartHttpSession(core, std::move(socket), id, std::move(remote), std::move(admission));
}

// Pauses accepting after an error that would likely repeat if retried at once: above all EMFILE,
// when the process holds as many files as it may. Logs the first of a streak only, so that a long
// exhaustion does not flood the log.
asio::awaitable<void> BackOff(ServerCore& core, const boost::system::error_code& ec,
                              std::uint64_t& streak) {
  if (streak++ == 0) {
    NetLogger().warn("cannot accept connections ({}); retrying every {} ms", ec.message(),
                     kAcceptBackoff.count());
  }
  core.accept_backoff.expires_after(kAcceptBackoff);
  // The caller's frame holds the shared_ptr that keeps `core` and its timer alive.
  co_await core.accept_backoff.async_wait(kNoThrow);
}

asio::awaitable<void> AcceptLoop(std::shared_ptr<ServerCore> core) {
  std::uint64_t streak = 0;
  while (core->accepting) {
    // `core`, a parameter of this coroutine, keeps the acceptor alive while the accept waits.
    auto [ec, socket] = co_await core->acceptor.async_accept(kNoThrow);
    if (!core->accepting) break;

    if (ec == asio::error::connection_aborted) {
      continue;  // that client gave up; the next one is unaffected
    }
    if (ec) {
      co_await BackOff(*core, ec, streak);
      continue;
    }
    if (streak > 0) {
      NetLogger().warn("accepting again after {} refused attempts", streak);
      streak = 0;
    }
    Accept(core, std::move(socket));
  }
}

std::vector<std::shared_ptr<Session>> LiveSessions(const ServerCore& core) {
  // A copy: closing a session may unregister it, and so change the map.
  std::vector<std::shared_ptr<Session>> live;
  live.reserve(core.sessions.size());
  for (const auto& [id, weak] : core.sessions) {
    if (auto session = weak.lock()) {
      live.push_back(std::move(session));
    }
  }
  return live;
}

}  // namespace

spdlog::logger& NetLogger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("net")) return existing;
    auto created = spdlog::default_logger()->clone("net");
    try {
      spdlog::register_logger(created);
    } catch (const spdlog::spdlog_ex&) {
      // Another thread registered "net" in between: use that one.
      return spdlog::get("net");
    }
    return created;
  }();
  return *logger;
}

void LogUnexpected::operator()(const std::exception_ptr& error) const {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    NetLogger().error("unexpected failure: {}", e.what());
  } catch (...) {
    NetLogger().error("unexpected failure of an unknown kind");
  }
}

HttpResponse ErrorResponse(int status, std::string_view code, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body = R"({"error":{"code":")" + EscapeJson(code) + R"(","message":")" +
                  EscapeJson(message) + R"("}})";
  return response;
}

std::string_view HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string_view{} : std::string_view{it->second};
}

ServerCore::ServerCore(asio::io_context& io, ServerOptions options, Handler& handler)
    : io(io),
      options(std::move(options)),
      handler(&handler),
      acceptor(io),
      accept_backoff(io),
      sweep(io) {}

std::chrono::milliseconds ServerCore::SweepPeriod() const {
  const auto quarter =
      std::chrono::duration_cast<std::chrono::milliseconds>(options.ws_idle_timeout) / 4;
  return std::clamp(quarter, kMinSweepPeriod, kMaxSweepPeriod);
}

void StartSweep(const std::shared_ptr<ServerCore>& core) {
  core->sweep.expires_after(core->SweepPeriod());
  // A weak_ptr: the sweep must not keep the core alive; the core's destructor cancels the wait.
  core->sweep.async_wait([weak = std::weak_ptr<ServerCore>(core)](boost::system::error_code ec) {
    auto core = weak.lock();
    if (ec || !core || core->handler == nullptr) return;
    const auto now = std::chrono::steady_clock::now();
    for (auto& session : LiveSessions(*core)) {
      session->Tick(now);
    }
    StartSweep(core);
  });
}

void ServerCore::Register(std::uint64_t id, std::weak_ptr<Session> session) {
  if (sessions.emplace(id, std::move(session)).second) {
    live.fetch_add(1, std::memory_order_relaxed);
  }
}

void ServerCore::Unregister(std::uint64_t id) {
  if (sessions.erase(id) > 0) {
    live.fetch_sub(1, std::memory_order_relaxed);
  }
}

Admission ServerCore::Admit(const std::string& address) {
  auto& entry = *per_address.try_emplace(address, 0).first;
  auto& count = entry.second;
  const auto most = options.max_connections_per_address;
  if (most != 0 && count >= most) {
    stats.refused_per_address.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  ++count;
  return Admission(this, &entry);
}

Admission::Admission(Admission&& other) noexcept
    : core_(std::exchange(other.core_, nullptr)), entry_(std::exchange(other.entry_, nullptr)) {}

Admission& Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    Release();
    core_ = std::exchange(other.core_, nullptr);
    entry_ = std::exchange(other.entry_, nullptr);
  }
  return *this;
}

void Admission::Release() {
  if (core_ == nullptr) return;
  if (--entry_->second == 0) core_->per_address.erase(core_->per_address.find(entry_->first));
  core_ = nullptr;
  entry_ = nullptr;
}

struct Server::Impl : ServerCore {
  using ServerCore::ServerCore;
};

Server::Server(EventLoop& loop, ServerOptions options, Handler& handler) {
  auto& io = *static_cast<asio::io_context*>(loop.native());
  auto shown = options.host + ":" + std::to_string(options.port);
  auto endpoint = ResolveListenAddress(io, options.host, options.port);
  const bool tls = !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  impl_ = std::make_shared<Impl>(io, std::move(options), handler);
  if (tls) impl_->tls.emplace(MakeTlsContext(impl_->options));

  Listen(impl_->acceptor, endpoint, shown);
  impl_->port = impl_->acceptor.local_endpoint().port();
  NetLogger().info("listening on {}{}", Describe(impl_->acceptor.local_endpoint()),
                   tls ? " (TLS)" : "");
}

Server::~Server() {
  StopAccepting();
  for (auto& session : LiveSessions(*impl_)) {
    session->Abort();
  }
  // Sessions still finishing on the loop must not call a handler that may be destroyed next.
  impl_->handler = nullptr;
  impl_->sweep.cancel();
}

std::uint16_t Server::port() const {
  return impl_->port;
}

void Server::Start() {
  if (impl_->accepting || !impl_->acceptor.is_open()) return;
  impl_->accepting = true;

  // The coroutine holds its own shared_ptr to the core; it ends when StopAccepting() closes the
  // acceptor.
  std::shared_ptr<ServerCore> core = impl_;
  asio::co_spawn(impl_->io, AcceptLoop(core), LogUnexpected{});
  if (!impl_->sweeping) {
    impl_->sweeping = true;
    StartSweep(core);
  }
}

void Server::StopAccepting() {
  impl_->accepting = false;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->accept_backoff.cancel();
}

void Server::Shutdown() {
  for (auto& session : LiveSessions(*impl_)) {
    session->GoAway();
  }
}

std::size_t Server::ConnectionCount() const {
  return impl_->live.load(std::memory_order_relaxed);
}

bool Server::UsesTls() const {
  return impl_->tls.has_value();
}

const ServerStats& Server::stats() const {
  return impl_->stats;
}

}  // namespace sb::net
