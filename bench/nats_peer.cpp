// NATS core and JetStream, speaking the NATS text protocol (CONNECT, PUB, SUB, MSG, PING, PONG)
// directly. Core: pair i publishes on `b.<tag>.i`, its receiver subscribes to it. JetStream: a
// file-backed stream captures `js.<tag>.>`; the sender publishes with a reply subject that carries
// the stamp and gets the server's PubAck there once the message is stored.
#include <boost/asio.hpp>
#include <charconv>
#include <stdexcept>

#include "byte_stream.h"
#include "peer.h"

namespace sb::bench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr std::string_view kConnect =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false,\"name\":\"sb-bench\"}\r\n";

// One request on a fresh blocking connection, answered on the reply subject `_setup`.
std::string BlockingRequest(const PeerOptions& options, const std::string& subject,
                            const std::string& body) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address(options.host), options.port});
  std::string request(kConnect);
  request += "SUB _setup 1\r\nPUB " + subject + " _setup " + std::to_string(body.size()) + "\r\n" +
             body + "\r\n";
  asio::write(socket, asio::buffer(request));

  std::string received;
  for (;;) {
    asio::read(socket, asio::dynamic_buffer(received), asio::transfer_at_least(1));
    const std::size_t msg = received.find("MSG _setup");
    if (msg == std::string::npos) continue;
    const std::size_t line_end = received.find("\r\n", msg);
    if (line_end == std::string::npos) continue;
    const std::size_t size_at = received.rfind(' ', line_end) + 1;
    const std::size_t size = std::stoul(received.substr(size_at, line_end - size_at));
    while (received.size() < line_end + 2 + size) {
      asio::read(socket, asio::dynamic_buffer(received), asio::transfer_at_least(1));
    }
    return received.substr(line_end + 2, size);
  }
}

class NatsEndpoint final : public Endpoint, public std::enable_shared_from_this<NatsEndpoint> {
 public:
  NatsEndpoint(const EndpointSpec& spec, bool jetstream, std::string tag)
      : spec_(spec), jetstream_(jetstream), tag_(std::move(tag)) {}

  void Start(std::function<void(const std::string&)> ready) override {
    ready_ = std::move(ready);
    stream_ = ByteStream::Create(*spec_.io);
    auto self = shared_from_this();
    stream_->Connect(
        spec_.target, [self](std::string_view bytes) { return self->Parse(bytes); },
        [self](const std::string& what) { self->spec_.sink->Broken(self->spec_.pair, what); },
        [self](const std::string& error) {
          if (!error.empty()) return self->ready_(error);
          self->SendPreamble();
        });
  }

  void Publish(std::int64_t stamp_ns) override {
    const std::string payload = StampedPayload(stamp_ns, spec_.payload_bytes);
    std::string frame = "PUB " + Subject();
    if (jetstream_) frame += " " + ReplyPrefix() + std::to_string(stamp_ns);
    frame += " " + std::to_string(payload.size()) + "\r\n";
    frame += payload;
    frame += "\r\n";
    stream_->Write(frame);
  }

 private:
  std::string Subject() const {
    return (jetstream_ ? "js." : "b.") + tag_ + "." + std::to_string(spec_.pair);
  }
  std::string ReplyPrefix() const { return "_r." + tag_ + "." + std::to_string(spec_.pair) + "."; }

  void SendPreamble() {
    std::string preamble(kConnect);
    if (!spec_.sender) preamble += "SUB " + Subject() + " 1\r\n";
    if (spec_.sender && jetstream_) preamble += "SUB " + ReplyPrefix() + "* 2\r\n";
    preamble += "PING\r\n";
    stream_->Write(preamble);
  }

  // Consumes whole protocol lines and messages; stops at the first incomplete one.
  std::size_t Parse(std::string_view bytes) {
    std::size_t used = 0;
    for (;;) {
      const std::size_t line_end = bytes.find("\r\n", used);
      if (line_end == std::string_view::npos) return used;
      const std::string_view line = bytes.substr(used, line_end - used);
      if (line.starts_with("MSG ")) {
        const std::size_t taken = OnMessage(line, bytes.substr(line_end + 2));
        if (taken == 0) return used;
        used = line_end + 2 + taken;
        continue;
      }
      OnControl(line);
      used = line_end + 2;
    }
  }

  void OnControl(std::string_view line) {
    if (line == "PING") {
      stream_->Write("PONG\r\n");
    } else if (line == "PONG" && ready_) {
      auto ready = std::move(ready_);
      ready_ = nullptr;
      ready({});
    } else if (line.starts_with("-ERR")) {
      spec_.sink->Refused(spec_.pair, line);
    }
  }

  // `MSG <subject> <sid> [reply] <size>`; returns the bytes of payload and CRLF, 0 if incomplete.
  std::size_t OnMessage(std::string_view line, std::string_view rest) {
    const std::size_t size_at = line.rfind(' ') + 1;
    std::size_t size = 0;
    std::from_chars(line.data() + size_at, line.data() + line.size(), size);
    if (rest.size() < size + 2) return 0;

    const std::string_view subject = line.substr(4, line.find(' ', 4) - 4);
    if (subject.starts_with("_r.")) {
      std::int64_t stamp = 0;
      const std::string_view digits = subject.substr(subject.rfind('.') + 1);
      std::from_chars(digits.data(), digits.data() + digits.size(), stamp);
      if (rest.substr(0, size).find("\"error\"") != std::string_view::npos) {
        spec_.sink->Refused(spec_.pair, rest.substr(0, size));
      } else {
        spec_.sink->Acked(spec_.pair, stamp);
      }
    } else if (auto stamp = ReadStamp(rest.substr(0, size))) {
      spec_.sink->Delivered(spec_.pair, *stamp);
    }
    return size + 2;
  }

  EndpointSpec spec_;
  bool jetstream_;
  std::string tag_;
  std::shared_ptr<ByteStream> stream_;
  std::function<void(const std::string&)> ready_;
};

class NatsPeer final : public Peer {
 public:
  explicit NatsPeer(PeerOptions options) : options_(std::move(options)) {}

  void Prepare(int) override {
    if (options_.kind != "jetstream") return;
    const std::string name = "SBBENCH" + options_.run_tag;
    const std::string config = "{\"name\":\"" + name + "\",\"subjects\":[\"js." + options_.run_tag +
                               ".>\"],\"storage\":\"file\",\"retention\":\"limits\","
                               "\"discard\":\"old\",\"max_msgs\":1000000,\"num_replicas\":1}";
    const std::string answer = BlockingRequest(options_, "$JS.API.STREAM.CREATE." + name, config);
    if (answer.find("\"error\"") != std::string::npos) {
      throw std::runtime_error("JetStream refused the stream: " + answer);
    }
  }

  std::shared_ptr<Endpoint> Make(const EndpointSpec& spec) override {
    return std::make_shared<NatsEndpoint>(spec, options_.kind == "jetstream", options_.run_tag);
  }

 private:
  PeerOptions options_;
};

}  // namespace

std::unique_ptr<Peer> MakeNatsPeer(const PeerOptions& options) {
  return std::make_unique<NatsPeer>(options);
}

}  // namespace sb::bench
