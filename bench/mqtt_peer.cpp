// MQTT 3.1.1 (Mosquitto): CONNECT, SUBSCRIBE, PUBLISH and PUBACK, at QoS 0 or 1. Pair i publishes
// on topic `b/<tag>/i`; its receiver subscribes at the same QoS. At QoS 1 the broker's PUBACK to
// the sender is the acknowledgement; the packet id leads back to the stamp.
#include <cstdint>
#include <unordered_map>

#include "byte_stream.h"
#include "peer.h"

namespace sb::bench {
namespace {

constexpr std::uint8_t kConnect = 0x10;
constexpr std::uint8_t kConnAck = 0x20;
constexpr std::uint8_t kPublish = 0x30;
constexpr std::uint8_t kPubAck = 0x40;
constexpr std::uint8_t kSubscribe = 0x82;
constexpr std::uint8_t kSubAck = 0x90;

void PutLength(std::string& out, std::size_t length) {
  do {
    std::uint8_t byte = length % 128;
    length /= 128;
    if (length > 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (length > 0);
}

void PutU16(std::string& out, std::size_t value) {
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

void PutString(std::string& out, std::string_view text) {
  PutU16(out, text.size());
  out.append(text);
}

std::string Packet(std::uint8_t header, std::string_view body) {
  std::string packet(1, static_cast<char>(header));
  PutLength(packet, body.size());
  packet.append(body);
  return packet;
}

std::size_t U16At(std::string_view bytes, std::size_t at) {
  return (static_cast<std::uint8_t>(bytes[at]) << 8) | static_cast<std::uint8_t>(bytes[at + 1]);
}

class MqttEndpoint final : public Endpoint, public std::enable_shared_from_this<MqttEndpoint> {
 public:
  MqttEndpoint(const EndpointSpec& spec, int qos, std::string tag)
      : spec_(spec), qos_(qos), topic_("b/" + tag + "/" + std::to_string(spec.pair)) {}

  void Start(std::function<void(const std::string&)> ready) override {
    ready_ = std::move(ready);
    stream_ = ByteStream::Create(*spec_.io);
    auto self = shared_from_this();
    stream_->Connect(
        spec_.target, [self](std::string_view bytes) { return self->Parse(bytes); },
        [self](const std::string& what) { self->spec_.sink->Broken(self->spec_.pair, what); },
        [self](const std::string& error) {
          if (!error.empty()) return self->ready_(error);
          self->stream_->Write(self->ConnectPacket());
        });
  }

  void Publish(std::int64_t stamp_ns) override {
    std::string body;
    PutString(body, topic_);
    if (qos_ > 0) {
      next_id_ = next_id_ % 65535 + 1;
      stamps_[next_id_] = stamp_ns;
      PutU16(body, next_id_);
    }
    body += StampedPayload(stamp_ns, spec_.payload_bytes);
    stream_->Write(Packet(kPublish | (qos_ << 1), body));
  }

 private:
  std::string ConnectPacket() const {
    std::string body;
    PutString(body, "MQTT");
    body.push_back(4);     // protocol level 3.1.1
    body.push_back(0x02);  // clean session
    PutU16(body, 0);       // no keep-alive
    PutString(body, (spec_.sender ? "s-" : "r-") + topic_);
    return Packet(kConnect, body);
  }

  std::string SubscribePacket() const {
    std::string body;
    PutU16(body, 1);
    PutString(body, topic_);
    body.push_back(static_cast<char>(qos_));
    return Packet(kSubscribe, body);
  }

  // Consumes whole packets; stops at the first incomplete one.
  std::size_t Parse(std::string_view bytes) {
    std::size_t used = 0;
    for (;;) {
      std::size_t length = 0, at = used + 1;
      int shift = 0;
      for (;; ++at, shift += 7) {
        if (at >= bytes.size()) return used;
        length |= static_cast<std::size_t>(bytes[at] & 0x7f) << shift;
        if ((bytes[at] & 0x80) == 0) break;
      }
      if (bytes.size() < at + 1 + length) return used;
      OnPacket(static_cast<std::uint8_t>(bytes[used]), bytes.substr(at + 1, length));
      used = at + 1 + length;
    }
  }

  void OnPacket(std::uint8_t header, std::string_view body) {
    switch (header & 0xf0) {
      case kConnAck:
        if (body.size() < 2 || body[1] != 0) return Ready("CONNACK refused");
        if (spec_.sender) return Ready({});
        return stream_->Write(SubscribePacket());
      case kSubAck:
        return Ready({});
      case kPubAck:
        return OnPubAck(U16At(body, 0));
      case kPublish:
        return OnPublish(header, body);
      default:
        return;
    }
  }

  void OnPubAck(std::size_t packet_id) {
    const auto it = stamps_.find(packet_id);
    if (it == stamps_.end()) return;
    spec_.sink->Acked(spec_.pair, it->second);
    stamps_.erase(it);
  }

  void OnPublish(std::uint8_t header, std::string_view body) {
    std::size_t at = 2 + U16At(body, 0);
    if ((header & 0x06) != 0) {
      std::string ack;
      PutU16(ack, U16At(body, at));
      stream_->Write(Packet(kPubAck, ack));
      at += 2;
    }
    if (auto stamp = ReadStamp(body.substr(at))) spec_.sink->Delivered(spec_.pair, *stamp);
  }

  void Ready(const std::string& error) {
    if (!ready_) return;
    auto ready = std::move(ready_);
    ready_ = nullptr;
    ready(error);
  }

  EndpointSpec spec_;
  int qos_;
  std::string topic_;
  std::shared_ptr<ByteStream> stream_;
  std::function<void(const std::string&)> ready_;
  std::unordered_map<std::size_t, std::int64_t> stamps_;  // in flight, by packet id
  std::size_t next_id_ = 0;
};

class MqttPeer final : public Peer {
 public:
  explicit MqttPeer(PeerOptions options) : options_(std::move(options)) {}
  void Prepare(int) override {}
  std::shared_ptr<Endpoint> Make(const EndpointSpec& spec) override {
    return std::make_shared<MqttEndpoint>(spec, options_.qos, options_.run_tag);
  }

 private:
  PeerOptions options_;
};

}  // namespace

std::unique_ptr<Peer> MakeMqttPeer(const PeerOptions& options) {
  return std::make_unique<MqttPeer>(options);
}

}  // namespace sb::bench
