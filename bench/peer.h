// The load generator's view of a system under test. A Peer (the exchange, NATS, Mosquitto, Redis,
// the null relay) prepares itself once, then makes endpoints: one connection each, a sender or a
// receiver of one pair. Endpoints report what arrives to a Sink, tagged with the message's stamp:
// the intended send time in nanoseconds of the steady clock, which travels inside the payload (or
// the client id, reply subject, packet id) so that latency is measured from when the message was
// meant to be sent, not from when the generator got round to sending it.
//
// Threading: endpoints and the sink run on the engine's one io_context thread. Prepare() runs
// before it starts, and may block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace sb::bench {

using IoContext = boost::asio::io_context;

// Where an endpoint connects, and from which loopback source address.
struct Target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string local_address;  // empty: the kernel picks
};

class Sink {
 public:
  virtual ~Sink() = default;
  // A receiver of `pair` got the message stamped `stamp_ns`.
  virtual void Delivered(int pair, std::int64_t stamp_ns) = 0;
  // The sender of `pair` got the system's acknowledgement (accepted, PubAck, PUBACK, reply).
  virtual void Acked(int pair, std::int64_t stamp_ns) = 0;
  // A refusal or protocol error that does not end the connection.
  virtual void Refused(int pair, std::string_view what) = 0;
  // A connection broke.
  virtual void Broken(int pair, const std::string& what) = 0;
};

struct EndpointSpec {
  IoContext* io = nullptr;
  Sink* sink = nullptr;
  Target target;
  int pair = 0;
  bool sender = false;
  std::size_t payload_bytes = 100;
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  // Connects, authenticates and subscribes; then `ready` gets an empty string, or the reason.
  virtual void Start(std::function<void(const std::string& error)> ready) = 0;
  // Senders only: sends one message stamped `stamp_ns` to the pair's receiver.
  virtual void Publish(std::int64_t stamp_ns) = 0;
};

struct PeerOptions {
  std::string kind;  // exchange, relay, nats, jetstream, mqtt, redis, redis-stream
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int qos = 0;                 // mqtt
  std::string operator_token;  // exchange
  std::string run_tag;         // makes names unique across runs against one server
};

class Peer {
 public:
  virtual ~Peer() = default;
  // One-off set-up for `pairs` pairs (register platforms, create a stream); may block; throws
  // std::runtime_error when the system refuses.
  virtual void Prepare(int pairs) = 0;
  virtual std::shared_ptr<Endpoint> Make(const EndpointSpec& spec) = 0;
};

// Throws std::runtime_error for an unknown kind.
std::unique_ptr<Peer> MakePeer(const PeerOptions& options);

std::unique_ptr<Peer> MakeExchangePeer(const PeerOptions& options);
std::unique_ptr<Peer> MakeRelayPeer(const PeerOptions& options);
std::unique_ptr<Peer> MakeNatsPeer(const PeerOptions& options);
std::unique_ptr<Peer> MakeMqttPeer(const PeerOptions& options);
std::unique_ptr<Peer> MakeRedisPeer(const PeerOptions& options);

// Payloads: the stamp as 19 decimal digits, then 'x' up to `size` bytes (at least the digits).
inline constexpr std::size_t kStampDigits = 19;
std::string StampedPayload(std::int64_t stamp_ns, std::size_t size);
// The stamp at the start of `bytes`, or nullopt when they do not start with 19 digits.
std::optional<std::int64_t> ReadStamp(std::string_view bytes);
// The steady clock in nanoseconds (CLOCK_MONOTONIC).
std::int64_t NowNs();

}  // namespace sb::bench
