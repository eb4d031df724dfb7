#include "client/terminal.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "api/codec.h"
#include "client/session_state.h"
#include "client/url.h"

namespace sb::client {
namespace {

using Clock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = [] {
    auto l = spdlog::get("client");
    return l ? l : spdlog::default_logger()->clone("client");
  }();
  return logger;
}

Error LibraryError(ErrorCode code, std::string message) {
  return Error{code, std::string(ErrorCodeName(code)), std::move(message)};
}

Error FromWire(const api::WireError& wire) {
  return Error{api::ErrorCodeFromName(wire.code).value_or(ErrorCode::kInternal), wire.code,
               wire.message};
}

// Refusals of `hello` that another attempt with the same token cannot cure.
bool IsFinalRefusal(const Error& error) {
  switch (error.code) {
    case ErrorCode::kTokenExpired:
    case ErrorCode::kBadToken:
    case ErrorCode::kSenderNotRegistered:
    case ErrorCode::kPlatformNotRegistered:
      return true;
    default:
      return false;
  }
}

Message ToMessage(api::MessageFrame frame) {
  Message message{std::move(frame.message_id), frame.ts_ms,
                  std::move(frame.from),       std::move(frame.from_platform_name),
                  std::move(frame.to),         std::move(frame.content_json),
                  std::move(frame.app),        std::nullopt,
                  std::move(frame.route)};
  message.text = api::ContentText(message.content_json);
  return message;
}

template <typename... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <typename... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace

std::string_view ReceiptStatusName(ReceiptStatus status) {
  return status == ReceiptStatus::kRead ? "read" : "delivered";
}

class Terminal::Impl {
 public:
  Impl(TerminalOptions options, EventHandler handler);

  void Start();
  void Stop();
  Result<std::string> Send(const Address& to, std::string content_json);
  void QueueControl(std::string frame);
  void Ack(const std::string& message_id);
  std::optional<Event> Next(std::chrono::milliseconds timeout);

  std::optional<Connected> Identity() const;
  std::size_t PendingSends() const;
  TerminalStats Stats() const;

 private:
  // The I/O thread.
  void Run();
  std::optional<Error> Open();
  std::optional<Error> AwaitWelcome();
  void OnWelcome(const api::WelcomeFrame& welcome);
  Error Pump();
  void Flush();
  void HandleFrame(std::string_view text);
  void HandleMessage(api::MessageFrame frame);
  void CloseTransport();
  void Emit(Event event);
  void WaitBeforeRetry(std::chrono::milliseconds delay);
  bool Stopping() const;
  std::string Token() const;

  const TerminalOptions options_;
  const EventHandler handler_;
  Url endpoint_;

  // Guards everything below it that is shared between the application and the I/O thread.
  mutable std::mutex mu_;
  std::condition_variable wake_;  // Stop, for the I/O thread waiting out a backoff
  SessionState state_;
  std::deque<std::string> control_;  // ack, read and location frames to write
  std::optional<Connected> identity_;
  TerminalStats stats_;
  bool started_ = false;
  bool stopping_ = false;
  bool given_up_ = false;
  std::deque<Event> events_;  // poll mode
  std::condition_variable events_ready_;

  // Owned by the I/O thread.
  std::unique_ptr<Transport> transport_;
  Backoff backoff_;
  std::thread thread_;
};

Terminal::Impl::Impl(TerminalOptions options, EventHandler handler)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      state_(options_.client_id_prefix.empty() ? RandomClientIdPrefix() : options_.client_id_prefix,
             options_.dedup_capacity),
      backoff_(options_.backoff_initial, options_.backoff_max,
               [engine = std::minstd_rand(std::random_device{}())]() mutable {
                 return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
               }) {
  auto url = ParseUrl(options_.url);
  if (!url || (url->scheme != "ws" && url->scheme != "wss"))
    throw std::invalid_argument(
        "the exchange URL must look like ws://host:port/v1/terminal or "
        "wss://host:port/v1/terminal");
  endpoint_ = std::move(*url);
  if (endpoint_.path == "/") endpoint_.path = "/v1/terminal";
  if (options_.token.empty() && !options_.token_provider)
    throw std::invalid_argument("a terminal needs a token");
  if (options_.device.empty() || !IsValidAccount(options_.device))
    throw std::invalid_argument("the device id must be 1 to 128 bytes without whitespace");
}

void Terminal::Impl::Start() {
  std::lock_guard lock(mu_);
  if (started_) return;
  started_ = true;
  // The thread only touches members of this Impl, which Stop() outlives by joining it.
  thread_ = std::thread([this] { Run(); });
}

void Terminal::Impl::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Result<std::string> Terminal::Impl::Send(const Address& to, std::string content_json) {
  if (!IsValidPlatformId(to.platform) || !IsValidAccount(to.account))
    return MakeError(ErrorCode::kBadFrame, "the recipient is not a valid address");
  if (auto app = api::ValidateContent(content_json); !app) return app.error();

  std::lock_guard lock(mu_);
  if (stopping_ || given_up_) return MakeError(ErrorCode::kUnavailable, "the terminal is stopped");
  std::string client_id = state_.NextClientId();
  state_.AddSend(PendingSend{client_id, to, std::move(content_json)});
  return client_id;
}

void Terminal::Impl::QueueControl(std::string frame) {
  std::lock_guard lock(mu_);
  control_.push_back(std::move(frame));
}

void Terminal::Impl::Ack(const std::string& message_id) {
  std::lock_guard lock(mu_);
  state_.MarkAcked(message_id);
  control_.push_back(api::EncodeAck(api::AckFrame{message_id}));
}

std::optional<Event> Terminal::Impl::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!events_ready_.wait_for(lock, timeout, [this] { return !events_.empty(); }))
    return std::nullopt;
  Event event = std::move(events_.front());
  events_.pop_front();
  lock.unlock();

  if (const auto* message = std::get_if<Message>(&event);
      message != nullptr && options_.ack_mode == AckMode::kAutomatic) {
    Ack(message->message_id);
  }
  return event;
}

std::optional<Connected> Terminal::Impl::Identity() const {
  std::lock_guard lock(mu_);
  return identity_;
}

std::size_t Terminal::Impl::PendingSends() const {
  std::lock_guard lock(mu_);
  return state_.PendingCount();
}

TerminalStats Terminal::Impl::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

// --- The I/O thread ---

void Terminal::Impl::Run() {
  while (!Stopping()) {
    std::optional<Error> failure = Open();
    Error reason = failure ? *failure : Pump();
    CloseTransport();
    if (Stopping()) break;
    if (!failure) {
      std::lock_guard lock(mu_);
      ++stats_.connection_losses;
    }

    if (failure && IsFinalRefusal(*failure) && !options_.token_provider) {
      {
        std::lock_guard lock(mu_);
        given_up_ = true;
      }
      Log()->warn("hello refused for good: {}: {}", reason.name, reason.message);
      Emit(Disconnected{std::move(reason), false, std::chrono::milliseconds(0)});
      return;
    }

    const std::chrono::milliseconds delay = backoff_.Next();
    Log()->debug("disconnected ({}: {}); next attempt in {} ms", reason.name, reason.message,
                 delay.count());
    Emit(Disconnected{std::move(reason), true, delay});
    WaitBeforeRetry(delay);
  }
}

std::optional<Error> Terminal::Impl::Open() {
  transport_ =
      options_.transport_factory
          ? options_.transport_factory()
          : MakeWebSocketTransport(options_.connect_timeout, UsesTls(endpoint_), options_.ca_file);
  try {
    transport_->Connect(endpoint_.host, endpoint_.port, endpoint_.path);
    transport_->Send(api::EncodeHello(api::HelloFrame{Token(), options_.device}));
  } catch (const std::exception& e) {
    return LibraryError(ErrorCode::kUnavailable, e.what());
  }
  return AwaitWelcome();
}

std::optional<Error> Terminal::Impl::AwaitWelcome() {
  const auto deadline = Clock::now() + options_.connect_timeout;
  while (!Stopping()) {
    auto text = transport_->Receive(options_.poll_interval);
    if (!text) {
      if (!transport_->IsOpen())
        return LibraryError(ErrorCode::kUnavailable, "the connection closed before welcome");
      if (Clock::now() >= deadline)
        return LibraryError(ErrorCode::kUnavailable, "no welcome in time");
      continue;
    }

    api::ExchangeFrame frame = api::DecodeExchangeFrame(*text);
    if (const auto* welcome = std::get_if<api::WelcomeFrame>(&frame)) {
      OnWelcome(*welcome);
      return std::nullopt;
    }
    if (const auto* error = std::get_if<api::ErrorFrame>(&frame)) return FromWire(error->error);
    Log()->debug("ignoring a frame before welcome");
  }
  return LibraryError(ErrorCode::kUnavailable, "stopped");
}

void Terminal::Impl::OnWelcome(const api::WelcomeFrame& welcome) {
  Connected connected{welcome.platform_id, welcome.platform_name, welcome.account, welcome.session,
                      false};
  {
    std::lock_guard lock(mu_);
    connected.resumed = stats_.connects > 0;
    ++stats_.connects;
    identity_ = connected;
  }
  backoff_.Reset();
  Log()->debug("connected as {}@{} (session {})", welcome.account, welcome.platform_id,
               welcome.session);
  Emit(std::move(connected));
}

// Moves frames both ways until the connection ends or Stop is called; returns why it ended.
Error Terminal::Impl::Pump() {
  try {
    while (!Stopping()) {
      Flush();
      if (auto text = transport_->Receive(options_.poll_interval)) {
        HandleFrame(*text);
      } else if (!transport_->IsOpen()) {
        break;
      }
    }
  } catch (const std::exception& e) {
    return LibraryError(ErrorCode::kUnavailable, e.what());
  }
  return LibraryError(ErrorCode::kUnavailable, Stopping() ? "stopped" : "the connection closed");
}

// Writes what the application queued: control frames, then sends not yet written on this
// connection. A write that throws ends the connection; the sends taken then count as unwritten
// again (OnConnectionLost), and a control frame leaves the queue only once written.
void Terminal::Impl::Flush() {
  for (;;) {
    std::string frame;
    {
      std::lock_guard lock(mu_);
      if (control_.empty()) break;
      frame = control_.front();
    }
    transport_->Send(frame);
    std::lock_guard lock(mu_);
    control_.pop_front();
  }

  std::vector<PendingSend> sends;
  Address from;
  {
    std::lock_guard lock(mu_);
    sends = state_.TakeUnwritten();
    from = Address{identity_->platform_id, identity_->account};
  }
  for (PendingSend& send : sends) {
    transport_->Send(
        api::EncodeSend(api::SendFrame{std::move(send.client_id), from, std::move(send.to),
                                       std::move(send.content_json), std::string()}));
  }
}

void Terminal::Impl::HandleFrame(std::string_view text) {
  api::ExchangeFrame decoded = api::DecodeExchangeFrame(text);
  std::visit(
      Overloaded{
          [this](api::AcceptedFrame& f) {
            bool waiting;
            {
              std::lock_guard lock(mu_);
              waiting = state_.OnAnswered(f.client_id);
            }
            if (waiting)
              Emit(Accepted{std::move(f.client_id), std::move(f.message_id), f.ts_ms, f.duplicate});
          },
          [this](api::RejectedFrame& f) {
            bool waiting;
            {
              std::lock_guard lock(mu_);
              waiting = state_.OnAnswered(f.client_id);
            }
            if (waiting) Emit(Rejected{std::move(f.client_id), FromWire(f.error)});
          },
          [this](api::MessageFrame& f) { HandleMessage(std::move(f)); },
          [this](api::ReceiptFrame& f) {
            Emit(Receipt{std::move(f.client_id), std::move(f.message_id),
                         f.status == api::ReceiptStatus::kRead ? ReceiptStatus::kRead
                                                               : ReceiptStatus::kDelivered});
          },
          [this](api::ErrorFrame& f) { Emit(ExchangeError{FromWire(f.error)}); },
          [](api::WelcomeFrame&) {},
          [](api::UnknownFrame& f) { Log()->debug("ignoring a frame of type '{}'", f.type); },
          [this](api::FrameError& f) {
            Log()->warn("unreadable frame from the exchange: {}", f.error.message);
            std::lock_guard lock(mu_);
            ++stats_.frames_unreadable;
          },
      },
      decoded);
}

// Passes a message on once. A repeat is dropped, and acked again when the application acked it
// before: the first ack may have been lost with the connection.
void Terminal::Impl::HandleMessage(api::MessageFrame frame) {
  Arrival arrival;
  {
    std::lock_guard lock(mu_);
    arrival = state_.OnMessage(frame.message_id);
    if (arrival != Arrival::kNew) ++stats_.duplicates_dropped;
  }
  if (arrival == Arrival::kRepeatAcked)
    transport_->Send(api::EncodeAck(api::AckFrame{frame.message_id}));
  if (arrival != Arrival::kNew) return;

  const std::string message_id = frame.message_id;
  Emit(ToMessage(std::move(frame)));
  if (handler_ && options_.ack_mode == AckMode::kAutomatic) {
    {
      std::lock_guard lock(mu_);
      state_.MarkAcked(message_id);
    }
    transport_->Send(api::EncodeAck(api::AckFrame{message_id}));
  }
}

void Terminal::Impl::CloseTransport() {
  {
    std::lock_guard lock(mu_);
    stats_.resends += state_.OnConnectionLost();
  }
  if (!transport_) return;
  try {
    transport_->Close();
  } catch (const std::exception& e) {
    Log()->debug("closing: {}", e.what());
  }
  transport_.reset();
}

void Terminal::Impl::Emit(Event event) {
  if (handler_) {
    handler_(event);
    return;
  }
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
  }
  events_ready_.notify_all();
}

void Terminal::Impl::WaitBeforeRetry(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, delay, [this] { return stopping_; });
}

bool Terminal::Impl::Stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

std::string Terminal::Impl::Token() const {
  return options_.token_provider ? options_.token_provider() : options_.token;
}

// --- Terminal ---

Terminal::Terminal(TerminalOptions options, EventHandler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Terminal::~Terminal() {
  impl_->Stop();
}

void Terminal::Start() {
  impl_->Start();
}

void Terminal::Stop() {
  impl_->Stop();
}

Result<std::string> Terminal::Send(const Address& to, std::string content_json) {
  return impl_->Send(to, std::move(content_json));
}

Result<std::string> Terminal::SendText(const Address& to, std::string_view text) {
  return impl_->Send(to, api::TextContent(text));
}

void Terminal::Ack(const std::string& message_id) {
  impl_->Ack(message_id);
}

void Terminal::Read(const std::string& message_id) {
  impl_->QueueControl(api::EncodeRead(api::ReadFrame{message_id}));
}

void Terminal::ReportLocation(const std::string& tai, const std::string& cell) {
  impl_->QueueControl(api::EncodeLocation(api::LocationFrame{tai, cell}));
}

std::optional<Event> Terminal::Next(std::chrono::milliseconds timeout) {
  return impl_->Next(timeout);
}

std::optional<Connected> Terminal::Identity() const {
  return impl_->Identity();
}

std::size_t Terminal::PendingSends() const {
  return impl_->PendingSends();
}

TerminalStats Terminal::Stats() const {
  return impl_->Stats();
}

}  // namespace sb::client
