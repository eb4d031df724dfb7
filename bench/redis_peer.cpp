// Redis over RESP. `redis`: PUBLISH and SUBSCRIBE on channel `c.<tag>.i` (fire and forget; the
// PUBLISH reply is the acknowledgement). `redis-stream`: XADD to stream `s.<tag>.i`, whose reply
// comes after the append-only file is written (and, with appendfsync always, synced), read back by
// the receiver with blocking XREAD.
#include <charconv>
#include <deque>
#include <optional>
#include <vector>

#include "byte_stream.h"
#include "peer.h"

namespace sb::bench {
namespace {

// One parsed RESP value; strings are views into the receive buffer, valid during the callback.
struct Resp {
  char type = 0;  // + - : $ *
  std::string_view text;
  std::int64_t number = 0;
  bool null = false;
  std::vector<Resp> items;
};

// Parses one value at `at`; returns the position after it, or nullopt when incomplete.
std::optional<std::size_t> ParseResp(std::string_view bytes, std::size_t at, Resp& out) {
  const std::size_t line_end = bytes.find("\r\n", at);
  if (line_end == std::string_view::npos) return std::nullopt;
  out.type = bytes[at];
  const std::string_view line = bytes.substr(at + 1, line_end - at - 1);
  std::size_t next = line_end + 2;

  if (out.type == '+' || out.type == '-') {
    out.text = line;
    return next;
  }
  std::from_chars(line.data(), line.data() + line.size(), out.number);
  if (out.type == ':') return next;
  if (out.number < 0) {
    out.null = true;
    return next;
  }
  if (out.type == '$') {
    const auto size = static_cast<std::size_t>(out.number);
    if (bytes.size() < next + size + 2) return std::nullopt;
    out.text = bytes.substr(next, size);
    return next + size + 2;
  }
  out.items.resize(static_cast<std::size_t>(out.number));
  for (Resp& item : out.items) {
    const auto after = ParseResp(bytes, next, item);
    if (!after) return std::nullopt;
    next = *after;
  }
  return next;
}

std::string Command(std::initializer_list<std::string_view> parts) {
  std::string command = "*" + std::to_string(parts.size()) + "\r\n";
  for (std::string_view part : parts) {
    command += "$" + std::to_string(part.size()) + "\r\n";
    command += part;
    command += "\r\n";
  }
  return command;
}

class RedisEndpoint final : public Endpoint, public std::enable_shared_from_this<RedisEndpoint> {
 public:
  RedisEndpoint(const EndpointSpec& spec, bool streams, const std::string& tag)
      : spec_(spec),
        streams_(streams),
        key_((streams ? "s." : "c.") + tag + "." + std::to_string(spec.pair)) {}

  void Start(std::function<void(const std::string&)> ready) override {
    ready_ = std::move(ready);
    stream_ = ByteStream::Create(*spec_.io);
    auto self = shared_from_this();
    stream_->Connect(
        spec_.target, [self](std::string_view bytes) { return self->Parse(bytes); },
        [self](const std::string& what) { self->spec_.sink->Broken(self->spec_.pair, what); },
        [self](const std::string& error) {
          if (!error.empty()) return self->ready_(error);
          const bool subscribes = !self->spec_.sender && !self->streams_;
          self->stream_->Write(subscribes ? Command({"SUBSCRIBE", self->key_}) : Command({"PING"}));
        });
  }

  void Publish(std::int64_t stamp_ns) override {
    const std::string payload = StampedPayload(stamp_ns, spec_.payload_bytes);
    stream_->Write(streams_ ? Command({"XADD", key_, "MAXLEN", "~", "100000", "*", "d", payload})
                            : Command({"PUBLISH", key_, payload}));
    in_flight_.push_back(stamp_ns);
  }

 private:
  std::size_t Parse(std::string_view bytes) {
    std::size_t used = 0;
    for (;;) {
      Resp value;
      const auto after = ParseResp(bytes, used, value);
      if (!after) return used;
      OnValue(value);
      used = *after;
    }
  }

  void OnValue(const Resp& value) {
    if (value.type == '-') return spec_.sink->Refused(spec_.pair, value.text);
    if (ready_) return OnFirstReply();
    if (spec_.sender) return OnReply();
    if (streams_) return OnStreamRead(value);
    if (value.items.size() == 3 && value.items[0].text == "message") {
      if (auto stamp = ReadStamp(value.items[2].text)) spec_.sink->Delivered(spec_.pair, *stamp);
    }
  }

  void OnFirstReply() {
    if (!spec_.sender && streams_) ReadStream();
    auto ready = std::move(ready_);
    ready_ = nullptr;
    ready({});
  }

  void OnReply() {
    if (in_flight_.empty()) return;
    spec_.sink->Acked(spec_.pair, in_flight_.front());
    in_flight_.pop_front();
  }

  // XREAD's answer: [[key, [[id, [field, value]], ...]]], or null after a timeout.
  void OnStreamRead(const Resp& value) {
    if (!value.null && !value.items.empty() && value.items[0].items.size() == 2) {
      for (const Resp& entry : value.items[0].items[1].items) {
        if (entry.items.size() != 2 || entry.items[1].items.size() != 2) continue;
        last_id_ = std::string(entry.items[0].text);
        if (auto stamp = ReadStamp(entry.items[1].items[1].text)) {
          spec_.sink->Delivered(spec_.pair, *stamp);
        }
      }
    }
    ReadStream();
  }

  void ReadStream() {
    stream_->Write(Command({"XREAD", "COUNT", "1000", "BLOCK", "0", "STREAMS", key_, last_id_}));
  }

  EndpointSpec spec_;
  bool streams_;
  std::string key_;
  std::shared_ptr<ByteStream> stream_;
  std::function<void(const std::string&)> ready_;
  std::deque<std::int64_t> in_flight_;
  std::string last_id_ = "$";
};

class RedisPeer final : public Peer {
 public:
  explicit RedisPeer(PeerOptions options) : options_(std::move(options)) {}
  void Prepare(int) override {}
  std::shared_ptr<Endpoint> Make(const EndpointSpec& spec) override {
    return std::make_shared<RedisEndpoint>(spec, options_.kind == "redis-stream", options_.run_tag);
  }

 private:
  PeerOptions options_;
};

}  // namespace

std::unique_ptr<Peer> MakeRedisPeer(const PeerOptions& options) {
  return std::make_unique<RedisPeer>(options);
}

}  // namespace sb::bench
