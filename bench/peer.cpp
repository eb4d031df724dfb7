#include "peer.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace sb::bench {

std::unique_ptr<Peer> MakePeer(const PeerOptions& options) {
  if (options.kind == "exchange") return MakeExchangePeer(options);
  if (options.kind == "relay") return MakeRelayPeer(options);
  if (options.kind == "nats" || options.kind == "jetstream") return MakeNatsPeer(options);
  if (options.kind == "mqtt") return MakeMqttPeer(options);
  if (options.kind == "redis" || options.kind == "redis-stream") return MakeRedisPeer(options);
  throw std::runtime_error("unknown peer kind: " + options.kind);
}

std::string StampedPayload(std::int64_t stamp_ns, std::size_t size) {
  char digits[kStampDigits + 1];
  std::snprintf(digits, sizeof digits, "%019lld", static_cast<long long>(stamp_ns));
  std::string payload(digits, kStampDigits);
  if (size > kStampDigits) payload.append(size - kStampDigits, 'x');
  return payload;
}

std::optional<std::int64_t> ReadStamp(std::string_view bytes) {
  if (bytes.size() < kStampDigits) return std::nullopt;
  std::int64_t stamp = 0;
  const auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + kStampDigits, stamp);
  if (ec != std::errc{} || end != bytes.data() + kStampDigits) return std::nullopt;
  return stamp;
}

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace sb::bench
