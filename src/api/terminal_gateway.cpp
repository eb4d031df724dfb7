#include "api/terminal_gateway.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <vector>

#include "api/codec.h"
#include "core/clock.h"

namespace sb::api {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = [] {
    auto l = spdlog::get("terminal");
    return l ? l : spdlog::default_logger()->clone("terminal");
  }();
  return logger;
}

// WebSocket close code for a refused identity (policy violation).
constexpr std::uint16_t kClosePolicy = 1008;

// `frame` (a JSON object) with "retry_after_ms" added when the error carries a retry hint.
std::string WithRetryHint(std::string frame, const Error& error) {
  if (error.retry_after_ms <= 0 || frame.empty() || frame.back() != '}') return frame;
  frame.pop_back();
  frame.append(",\"retry_after_ms\":").append(std::to_string(error.retry_after_ms)).append("}");
  return frame;
}

// The `message` frame of `message`, encoded once for all the devices it fans out to: the exchange
// hands the same message object to each device in turn. Loop thread only (hence thread_local).
const std::string& MessageFrameFor(const SessionMessage& message,
                                   std::string_view sender_platform_name) {
  struct Encoded {
    const SessionMessage* message = nullptr;
    std::string message_id;
    std::string platform_name;
    std::string frame;
  };
  thread_local Encoded last;
  if (last.message != &message || last.message_id != message.message_id ||
      last.platform_name != sender_platform_name) {
    last.message = &message;
    last.message_id = message.message_id;
    last.platform_name = sender_platform_name;
    last.frame = EncodeMessage(message, sender_platform_name);
  }
  return last.frame;
}

}  // namespace

// One WebSocket connection, before and after `hello`. It is the exchange's TerminalLink.
class TerminalGateway::Session : public delivery::TerminalLink {
 public:
  Session(std::shared_ptr<net::WsConnection> conn, delivery::TokenBucket frames)
      : conn_(std::move(conn)), frames_(frames) {}

  std::uint64_t id() const { return conn_->id(); }
  bool authenticated() const { return authenticated_; }

  void Authenticate(registry::TerminalCredential credential) {
    authenticated_ = true;
    expires_s_ = credential.expires_s;
    signing_key_ = credential.signing_key;
    hello_timer_.reset();
  }
  std::int64_t expires_s() const { return expires_s_; }
  const std::array<std::uint8_t, 32>& signing_key() const { return signing_key_; }
  void SetHelloTimer(std::unique_ptr<net::Timer> timer) { hello_timer_ = std::move(timer); }
  delivery::TokenBucket& frames() { return frames_; }
  std::size_t& refused_frames() { return refused_frames_; }
  bool closing() const { return closing_; }
  void Send(std::string_view text) { conn_->Send(text); }

  void Deliver(const SessionMessage& message, std::string_view sender_platform_name) override {
    conn_->Send(MessageFrameFor(message, sender_platform_name));
  }
  void Accepted(std::string_view client_id, std::string_view message_id, std::int64_t ts_ms,
                bool duplicate) override {
    conn_->Send(EncodeAccepted(client_id, message_id, ts_ms, duplicate));
  }
  void Rejected(std::string_view client_id, const Error& error) override {
    conn_->Send(WithRetryHint(EncodeRejected(client_id, error), error));
  }
  void Receipt(std::string_view client_id, std::string_view message_id,
               delivery::ReceiptStatus status) override {
    conn_->Send(EncodeReceipt(client_id, message_id,
                              status == delivery::ReceiptStatus::kRead ? "read" : "delivered"));
  }
  void Disconnect(const Error& why) override {
    closing_ = true;
    conn_->Send(WithRetryHint(EncodeError(why), why));
    conn_->Close(kClosePolicy, std::string(ErrorCodeName(why.code)));
  }
  std::size_t Backlog() const override { return conn_->QueuedBytes(); }

 private:
  // The address lives with the exchange's record of the terminal (Exchange::AddressOf): an idle
  // terminal's state is kept once. Members are ordered to leave no padding.
  std::shared_ptr<net::WsConnection> conn_;
  std::int64_t expires_s_ = 0;                  // the token's exp
  std::array<std::uint8_t, 32> signing_key_{};  // the platform key that signed the token
  std::unique_ptr<net::Timer> hello_timer_;
  delivery::TokenBucket frames_;
  std::size_t refused_frames_ = 0;  // since the bucket was last full
  bool authenticated_ = false;
  bool closing_ = false;  // after Disconnect(): what still arrives is ignored
};

TerminalGateway::TerminalGateway(net::EventLoop& loop, registry::Registry& registry,
                                 delivery::Exchange& exchange, MetricsRegistry& metrics,
                                 GatewayOptions options)
    : loop_(loop),
      registry_(registry),
      exchange_(exchange),
      metrics_(metrics),
      options_(options),
      connections_(metrics.GetGauge("switchboard_connections", "Open terminal connections")) {
  credential_timer_ = loop_.Schedule(
      options_.credential_check, [this] { CheckCredentials(); }, true);
}

TerminalGateway::~TerminalGateway() = default;

void TerminalGateway::OnOpen(const std::shared_ptr<net::WsConnection>& conn) {
  auto session = std::make_shared<Session>(
      conn, delivery::TokenBucket(options_.frame_rate, options_.monotonic_ms()));
  // The timer is owned by the session, so it dies with it; the weak pointer guards the window in
  // which the connection closed but the timer callback was already queued.
  std::weak_ptr<Session> weak = session;
  session->SetHelloTimer(loop_.Schedule(options_.hello_timeout, [weak] {
    auto s = weak.lock();
    if (!s || s->authenticated()) return;
    Log()->debug("[conn {}] no hello in time", s->id());
    s->Disconnect(MakeError(ErrorCode::kUnauthenticated, "no hello within the time allowed"));
  }));
  sessions_.emplace(conn->id(), std::move(session));
  connections_.Set(static_cast<std::int64_t>(sessions_.size()));
  Log()->debug("[conn {}] open from {}", conn->id(), conn->remote());
}

void TerminalGateway::OnClose(const std::shared_ptr<net::WsConnection>& conn) {
  auto it = sessions_.find(conn->id());
  if (it == sessions_.end()) return;
  if (it->second->authenticated()) exchange_.Detach(conn->id());
  sessions_.erase(it);
  connections_.Set(static_cast<std::int64_t>(sessions_.size()));
  Log()->debug("[conn {}] closed", conn->id());
}

void TerminalGateway::OnRefused(const std::shared_ptr<net::WsConnection>& conn,
                                net::WsRefusal why) {
  auto it = sessions_.find(conn->id());
  if (it == sessions_.end() || !AdmitFrame(*it->second, {})) return;
  AnswerFrameError(*it->second,
                   why == net::WsRefusal::kTooLarge
                       ? MakeError(ErrorCode::kTooLarge, "the frame is larger than allowed")
                       : MakeError(ErrorCode::kBadFrame, "frames must be text, not binary"));
}

void TerminalGateway::OnText(const std::shared_ptr<net::WsConnection>& conn,
                             std::string_view text) {
  auto it = sessions_.find(conn->id());
  if (it == sessions_.end()) return;
  Session& session = *it->second;
  if (!AdmitFrame(session, text)) return;

  ClientFrame frame = DecodeClientFrame(text);
  if (auto* bad = std::get_if<api::FrameError>(&frame)) {
    if (bad->client_id && session.authenticated()) {
      metrics_
          .GetCounter("switchboard_messages_rejected_total", "Sends refused, by code",
                      {{"code", std::string(ErrorCodeName(bad->error.code))}})
          .Inc();
      session.Rejected(*bad->client_id, bad->error);
      return;
    }
    AnswerFrameError(session, bad->error);
    return;
  }
  if (auto* hello = std::get_if<HelloFrame>(&frame)) {
    Hello(session, *hello);
    return;
  }
  if (!session.authenticated()) {
    AnswerFrameError(session, MakeError(ErrorCode::kUnauthenticated, "send hello first"));
    return;
  }

  const delivery::TerminalId id = session.id();
  if (auto* send = std::get_if<SendFrame>(&frame)) {
    exchange_.Send(id, delivery::SendRequest{std::move(send->client_id), std::move(send->from),
                                             std::move(send->to), std::move(send->content_json),
                                             std::move(send->app)});
  } else if (auto* ack = std::get_if<AckFrame>(&frame)) {
    exchange_.Ack(id, ack->message_id);
  } else if (auto* read = std::get_if<ReadFrame>(&frame)) {
    exchange_.Read(id, read->message_id);
  } else if (auto* location = std::get_if<LocationFrame>(&frame)) {
    const Address* address = exchange_.AddressOf(id);
    if (location_sink_ && address != nullptr) {
      location_sink_(id, *address, location->tai, location->cell);
    }
  }
}

// Takes a token for one frame; false when the frame must not be handled (closing, or refused).
bool TerminalGateway::AdmitFrame(Session& session, std::string_view text) {
  if (session.closing()) return false;
  const std::int64_t now = options_.monotonic_ms();
  if (session.frames().Full(now)) session.refused_frames() = 0;
  const std::int64_t wait = session.frames().Take(now);
  if (wait == 0) return true;

  metrics_
      .GetCounter("switchboard_frames_refused_total", "Frames over the per-connection rate limit")
      .Inc();
  Error error = MakeError(ErrorCode::kRateLimited, "too many frames on this connection; slow down");
  error.retry_after_ms = wait;
  if (++session.refused_frames() >= options_.flood_close) {
    metrics_
        .GetCounter("switchboard_flood_disconnects_total",
                    "Connections closed for a continued frame flood")
        .Inc();
    Log()->info("[conn {}] frame flood: closing", session.id());
    session.Disconnect(error);
    return false;
  }
  // A refused send still gets its answer by id, so the sender knows which one to repeat.
  ClientFrame frame = DecodeClientFrame(text);
  if (auto* send = std::get_if<SendFrame>(&frame); send != nullptr && session.authenticated()) {
    session.Rejected(send->client_id, error);
  } else {
    session.Send(WithRetryHint(EncodeError(error), error));
  }
  return false;
}

void TerminalGateway::Hello(Session& session, HelloFrame& hello) {
  if (session.authenticated()) {
    AnswerFrameError(session, MakeError(ErrorCode::kBadFrame, "hello was already accepted"));
    return;
  }
  auto credential = registry_.AuthenticateTerminal(hello.token, NowMillis());
  if (!credential) {
    metrics_
        .GetCounter("switchboard_hello_refused_total", "Failed hellos, by code",
                    {{"code", std::string(ErrorCodeName(credential.error().code))}})
        .Inc();
    Log()->info("[conn {}] hello refused: {}", session.id(),
                ErrorCodeName(credential.error().code));
    session.Disconnect(credential.error());
    return;
  }

  const Address address = credential.value().address;
  const registry::Platform* platform = registry_.Find(address.platform);
  session.Authenticate(std::move(credential).value());
  session.Send(
      EncodeWelcome(platform->id, platform->name, address.account, std::to_string(session.id())));
  Log()->info("[conn {}] hello {} device '{}'", session.id(), address.ToString(), hello.device);
  // The session object is owned by sessions_ until OnClose(), which detaches it first.
  exchange_.Attach(session.id(), address, hello.device,
                   std::shared_ptr<delivery::TerminalLink>(sessions_.at(session.id()), &session));
}

// Drops terminals whose token expired or whose signing key their platform removed. A terminal of a
// deregistered platform is left to the exchange, which drops it with platform_not_registered.
void TerminalGateway::CheckCredentials() {
  const std::int64_t now_s = NowMillis() / 1000;
  const std::int64_t skew_s = std::max<std::int64_t>(registry_.ClockSkew(), 0);
  std::vector<std::pair<std::shared_ptr<Session>, Error>> dropped;
  for (const auto& [id, session] : sessions_) {
    if (!session->authenticated() || session->closing()) continue;
    if (session->expires_s() + skew_s < now_s) {
      dropped.emplace_back(session, MakeError(ErrorCode::kTokenExpired, "token has expired"));
    } else if (const Address* address = exchange_.AddressOf(id);
               address != nullptr && registry_.Find(address->platform) != nullptr &&
               !registry_.TrustsKey(address->platform, session->signing_key())) {
      dropped.emplace_back(
          session, MakeError(ErrorCode::kBadToken, "the key that signed the token was withdrawn"));
    }
  }
  // Disconnect may close synchronously, which would change sessions_ under the loop above.
  for (auto& [session, why] : dropped) {
    metrics_
        .GetCounter("switchboard_credential_disconnects_total",
                    "Terminals closed because their token expired or its key was withdrawn",
                    {{"code", std::string(ErrorCodeName(why.code))}})
        .Inc();
    Log()->info("[conn {}] {}: closing", session->id(), ErrorCodeName(why.code));
    session->Disconnect(why);
  }
}

void TerminalGateway::AnswerFrameError(Session& session, const Error& error) {
  metrics_
      .GetCounter("switchboard_frame_errors_total", "Frames that could not be read, by code",
                  {{"code", std::string(ErrorCodeName(error.code))}})
      .Inc();
  Log()->debug("[conn {}] frame error {}: {}", session.id(), ErrorCodeName(error.code),
               error.message);
  session.Send(EncodeError(error));
}

}  // namespace sb::api
