// The Switchboard client library: one terminal's connection to the exchange.
//
// A Terminal keeps one WebSocket to `ws://host:port/v1/terminal` (or `wss://`, over TLS), proves
// its identity with a token from its platform (`hello`, answered by `welcome`), and then sends and
// receives session messages. It survives lost connections: it reconnects with exponential backoff
// and jitter, says `hello` again, re-sends every send the exchange has not yet answered (with the
// same client id, so the exchange answers a repeat with the first message id and `duplicate`), and
// drops messages that the exchange delivers again, so that the application sees each message once.
//
// Threading. Start() launches one background thread, the I/O thread, which owns the connection.
// Every public method is thread-safe, except that Stop() and the destructor must not be called
// from the I/O thread (they join it). Events reach the application in one of two ways, chosen at
// construction:
//   - handler mode (an EventHandler is given): the handler runs on the I/O thread, one event at a
//     time, in arrival order. While it runs, nothing is received, so it should be quick. It may
//     call Send, Ack, Read and ReportLocation.
//   - poll mode (no handler): events are queued and the application takes them with Next().
//
// Acknowledgement. With AckMode::kAutomatic (the default) the library acks a message once the
// application has it: when the handler returned, or when Next() handed it out. With
// AckMode::kExplicit the application calls Ack() once the message is shown or stored; until then
// the exchange keeps it and offers it again after a reconnect (the library passes it on only once).
//
// Ordering. Sends go out in the order of the Send calls, re-sends too. Messages are passed on in
// the order the exchange delivers them, which keeps each sender's order.
//
// Errors are values: Send returns Result<std::string>, failures arrive as events carrying an Error
// with the contract's stable code. The constructor throws std::invalid_argument for options that
// cannot work (a malformed URL, an empty token), as configuration errors do elsewhere.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.h"
#include "core/identity.h"
#include "core/message.h"

namespace sb::client {

// An error reported by the exchange or met by the library.
struct Error {
  // The contract's code; kInternal when `name` is a code this build does not know.
  ErrorCode code = ErrorCode::kInternal;
  // The code as written on the wire, e.g. "recipient_not_registered".
  std::string name;
  std::string message;
};

// --- Events
// ---------------------------------------------------------------------------------------

// The exchange said `welcome`: the terminal is connected as this identity.
struct Connected {
  std::string platform_id;
  std::string platform_name;
  std::string account;
  std::string session;
  bool resumed = false;  // false for the first welcome of this Terminal, true after a reconnect
};

// The connection ended or could not be made. When `will_retry`, the next attempt starts after
// `retry_in`; otherwise the terminal has given up (the token was refused, or Stop was called).
struct Disconnected {
  Error reason;
  bool will_retry = true;
  std::chrono::milliseconds retry_in{0};
};

// A send was stored by the exchange. Reported once per client id, even when it was re-sent.
struct Accepted {
  std::string client_id;
  std::string message_id;
  std::int64_t ts_ms = 0;
  bool duplicate = false;  // the answer came to a re-send of a send the exchange already had
};

// A send was refused; it is not retried.
struct Rejected {
  std::string client_id;
  Error error;
};

// A message for this terminal's account, passed on once per message id.
struct Message {
  std::string message_id;
  std::int64_t ts_ms = 0;  // acceptance time, milliseconds since the Unix epoch
  Address from;
  std::string from_platform_name;
  Address to;
  std::string content_json;         // the content object as JSON text
  std::string app;                  // application id, "chat" for text
  std::optional<std::string> text;  // set for text content
  Route route;
};

enum class ReceiptStatus { kDelivered, kRead };

// A message this account sent (possibly from another of its devices) was delivered or read.
struct Receipt {
  std::string client_id;
  std::string message_id;
  ReceiptStatus status = ReceiptStatus::kDelivered;
};

// The exchange could not read a frame of ours (an `error` frame); the connection stays open.
struct ExchangeError {
  Error error;
};

using Event =
    std::variant<Connected, Disconnected, Accepted, Rejected, Message, Receipt, ExchangeError>;
using EventHandler = std::function<void(const Event&)>;

// --- Transport
// ------------------------------------------------------------------------------------

// The connection under a Terminal: a WebSocket by default. Tests substitute their own to lose
// connections at chosen moments. Used only on the I/O thread, one object per connection attempt.
// Failures throw std::runtime_error, as net::WsClient does.
class Transport {
 public:
  virtual ~Transport() = default;
  // Opens the connection and upgrades to `path`. Throws on failure.
  virtual void Connect(const std::string& host, std::uint16_t port, const std::string& path) = 0;
  // Writes one text frame. Throws when the connection is closed or the write fails.
  virtual void Send(std::string_view text) = 0;
  // The next frame, waiting at most `timeout`; nullopt on timeout or once closed and drained.
  virtual std::optional<std::string> Receive(std::chrono::milliseconds timeout) = 0;
  virtual bool IsOpen() const = 0;
  // Closes politely, waiting a bounded time. Does nothing when already closed.
  virtual void Close() = 0;
};

using TransportFactory = std::function<std::unique_ptr<Transport>()>;

// The default transport: net::WsClient with `timeout` for connecting and each write. With `tls`
// it speaks wss and requires the exchange's certificate to chain to a trusted authority (those in
// `ca_file`, a PEM file, or the system's when it is empty) and to name the host it connects to;
// a certificate that does not verify is a failed connection attempt.
std::unique_ptr<Transport> MakeWebSocketTransport(std::chrono::milliseconds timeout,
                                                  bool tls = false, std::string ca_file = {});

// --- Terminal
// -------------------------------------------------------------------------------------

enum class AckMode { kAutomatic, kExplicit };

struct TerminalOptions {
  // `ws://host:port/v1/terminal` or `wss://host:port/v1/terminal`; a URL without a path gets
  // `/v1/terminal`. With wss the exchange's certificate must verify (see `ca_file`): there is no
  // way to skip the check.
  std::string url;
  // For wss: a PEM file of the authorities to trust; empty trusts the system's store.
  std::string ca_file;
  // The terminal token from the platform. When `token_provider` is set it is asked for a token
  // before every hello instead, and a refused token is retried rather than final.
  std::string token;
  std::function<std::string()> token_provider;
  // This device's id: 1 to 128 bytes without whitespace. The exchange keeps undelivered messages
  // per device, so a device should keep its id across runs.
  std::string device = "default";
  AckMode ack_mode = AckMode::kAutomatic;

  // Reconnection: the n-th consecutive failed attempt waits a random time in [d/2, d], where
  // d = min(backoff_max, backoff_initial * 2^n). A welcome resets n.
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{15000};
  // Bounds connecting, each write, and the wait for `welcome`.
  std::chrono::milliseconds connect_timeout{10000};
  // How long the I/O thread waits for a frame before it looks at what the application queued: the
  // longest delay a Send, Ack or Read waits before it is written.
  std::chrono::milliseconds poll_interval{20};

  // How many message ids are remembered for dropping redeliveries (oldest forgotten first).
  std::size_t dedup_capacity = 100000;
  // Client ids are `<prefix>-<n>`. They must not repeat for a device within the exchange's dedup
  // window (a day by default), also across runs; empty picks a random prefix.
  std::string client_id_prefix;

  // Null uses MakeWebSocketTransport(connect_timeout, <url is wss>, ca_file).
  TransportFactory transport_factory;
};

// Counters for observing a Terminal, e.g. in tests. Each is a total since Start.
struct TerminalStats {
  std::uint64_t connects = 0;            // welcomes received
  std::uint64_t connection_losses = 0;   // connections that ended while in use
  std::uint64_t resends = 0;             // sends written again after a reconnect
  std::uint64_t duplicates_dropped = 0;  // deliveries of a message id already passed on
  std::uint64_t frames_unreadable = 0;   // frames from the exchange that could not be decoded
};

class Terminal {
 public:
  // Handler mode when `handler` is set, else poll mode (see the top of this header). Throws
  // std::invalid_argument for unusable options. Does not connect: call Start().
  explicit Terminal(TerminalOptions options, EventHandler handler = nullptr);
  // Stops (see Stop).
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Launches the I/O thread, which connects and keeps connecting. Call once.
  void Start();

  // Closes the connection and joins the I/O thread; no event is delivered after it returns. Sends
  // not yet accepted are dropped without an event. Idempotent. Not from the I/O thread.
  void Stop();

  // Queues a message to `to` and returns its client id; it is written once connected, and again
  // after every reconnect until the exchange answers it (Accepted or Rejected). `content_json` is
  // a content object: `{"type":"text","text":..}` or `{"type":"app","app":..,...}`. Fails with
  // kBadFrame for invalid content or address, kUnavailable after Stop or a final disconnect.
  Result<std::string> Send(const Address& to, std::string content_json);
  Result<std::string> SendText(const Address& to, std::string_view text);

  // Acknowledges a message (AckMode::kExplicit; harmless in automatic mode). Queued while
  // disconnected.
  void Ack(const std::string& message_id);
  // Tells the sender that the user saw the message. Queued while disconnected.
  void Read(const std::string& message_id);
  // Reports where the terminal is, as the exchange's topology names it. Queued while disconnected.
  void ReportLocation(const std::string& tai, const std::string& cell);

  // Poll mode only: the next event, waiting at most `timeout`; nullopt on timeout. In automatic
  // ack mode a Message is acked as it is handed out.
  std::optional<Event> Next(std::chrono::milliseconds timeout);

  // The identity from the latest welcome; nullopt before the first one.
  std::optional<Connected> Identity() const;
  // Sends not yet answered by the exchange.
  std::size_t PendingSends() const;
  TerminalStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The wire name of a receipt status: "delivered" or "read".
std::string_view ReceiptStatusName(ReceiptStatus status);

}  // namespace sb::client
