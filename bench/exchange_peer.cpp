// The Switchboard exchange through its public interface: two platforms registered over HTTP with
// the operator token (senders on one, receivers on the other), terminal tokens minted with the
// platforms' keys, and one WebSocket per terminal speaking the terminal protocol. The send's client
// id starts with the stamp, so `accepted` measures the time to durable acceptance; the message's
// text starts with it too, so its arrival measures delivery. Receivers ack every message, as a
// real terminal does, so that mailboxes drain. Frames written while a send is in flight leave
// together, as the byte-stream peers' writes do (net::GatheringStream beneath Beast's stream).
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <ctime>
#include <stdexcept>

#include "auth/jwt.h"
#include "net/client.h"
#include "net/gathering_stream.h"
#include "peer.h"
#include "socket_util.h"

namespace sb::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;

struct BenchPlatform {
  std::string id;
  auth::SigningKey key = auth::SigningKey::Generate();
};

std::string Account(bool sender, int pair) {
  return (sender ? "s" : "r") + std::to_string(pair);
}

// The member `key` of a flat JSON frame as a string view, or empty.
std::string_view Member(std::string_view frame, std::string_view key) {
  const std::string needle = "\"" + std::string(key) + "\":\"";
  const std::size_t at = frame.find(needle);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + needle.size();
  return frame.substr(start, frame.find('"', start) - start);
}

class ExchangeEndpoint final : public Endpoint,
                               public std::enable_shared_from_this<ExchangeEndpoint> {
 public:
  ExchangeEndpoint(const EndpointSpec& spec, std::string token, std::string from, std::string to)
      : spec_(spec),
        ws_(net::GatheringStream<tcp::socket>(tcp::socket(*spec.io))),
        token_(std::move(token)),
        from_(std::move(from)),
        to_(std::move(to)) {}

  void Start(std::function<void(const std::string&)> ready) override {
    ready_ = std::move(ready);
    ws_.next_layer().keep_alive(weak_from_this());
    auto& socket = ws_.next_layer().next_layer();
    boost::system::error_code ec;
    socket.open(tcp::v4(), ec);
    if (ec) return ready_("socket: " + ec.message());
    if (auto error = BindToSource(socket.native_handle(), spec_.target.local_address);
        !error.empty()) {
      return ready_(error);
    }
    const tcp::endpoint remote(asio::ip::make_address(spec_.target.host), spec_.target.port);
    socket.async_connect(remote, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->Fail("connect: " + ec.message());
      self->Handshake();
    });
  }

  void Publish(std::int64_t stamp_ns) override {
    std::string frame = R"({"type":"send","id":")" + StampedPayload(stamp_ns, kStampDigits) + "-" +
                        std::to_string(++sequence_) + R"(","from":)" + from_ + R"(,"to":)" + to_ +
                        R"(,"content":{"type":"text","text":")" +
                        StampedPayload(stamp_ns, spec_.payload_bytes) + "\"}}";
    Write(std::move(frame));
  }

 private:
  void Handshake() {
    ws_.next_layer().next_layer().set_option(tcp::no_delay(true));
    ws_.text(true);
    const std::string host = spec_.target.host + ":" + std::to_string(spec_.target.port);
    ws_.async_handshake(
        host, "/v1/terminal", [self = shared_from_this()](boost::system::error_code ec) {
          if (ec) return self->Fail("handshake: " + ec.message());
          self->Write(R"({"type":"hello","token":")" + self->token_ + R"(","device":"bench"})");
          self->Read();
        });
  }

  // Beast frames at once into the gathering stream, which sends in the background.
  void Write(const std::string& frame) {
    boost::system::error_code ec;
    ws_.write(asio::buffer(frame), ec);
    if (ec) Fail("write: " + ec.message());
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) return self->Fail("read: " + ec.message());
      const auto data = self->buffer_.cdata();
      self->OnFrame(std::string_view(static_cast<const char*>(data.data()), data.size()));
      self->buffer_.consume(self->buffer_.size());
      self->Read();
    });
  }

  void OnFrame(std::string_view frame) {
    const std::string_view type = Member(frame, "type");
    if (type == "message") return OnMessage(frame);
    if (type == "accepted") {
      if (auto stamp = ReadStamp(Member(frame, "id"))) spec_.sink->Acked(spec_.pair, *stamp);
      return;
    }
    if (type == "welcome") return Ready({});
    if (type == "rejected" || type == "error") {
      if (ready_) return Ready("refused at hello: " + std::string(frame));
      spec_.sink->Refused(spec_.pair, Member(frame, "code"));
    }
  }

  void OnMessage(std::string_view frame) {
    const std::string_view text = Member(frame.substr(frame.find("\"content\":")), "text");
    if (auto stamp = ReadStamp(text)) spec_.sink->Delivered(spec_.pair, *stamp);
    Write(R"({"type":"ack","message_id":")" + std::string(Member(frame, "message_id")) + "\"}");
  }

  void Ready(const std::string& error) {
    if (!ready_) return;
    auto ready = std::move(ready_);
    ready_ = nullptr;
    ready(error);
  }

  void Fail(const std::string& what) {
    if (ready_) return Ready(what);
    if (failed_) return;
    failed_ = true;
    spec_.sink->Broken(spec_.pair, what);
  }

  EndpointSpec spec_;
  websocket::stream<net::GatheringStream<tcp::socket>> ws_;
  beast::flat_buffer buffer_;
  std::string token_;
  std::string from_;
  std::string to_;
  std::function<void(const std::string&)> ready_;
  std::uint64_t sequence_ = 0;
  bool failed_ = false;
};

class ExchangePeer final : public Peer {
 public:
  explicit ExchangePeer(PeerOptions options) : options_(std::move(options)) {}

  void Prepare(int pairs) override {
    if (options_.operator_token.empty()) {
      throw std::runtime_error(
          "the exchange needs the operator token (SWITCHBOARD_OPERATOR_TOKEN)");
    }
    net::HttpClient http(options_.host, options_.port, std::chrono::seconds(60));
    senders_.id = Register(http, "benchs" + options_.run_tag, true, pairs, senders_.key);
    receivers_.id = Register(http, "benchr" + options_.run_tag, false, pairs, receivers_.key);
  }

  std::shared_ptr<Endpoint> Make(const EndpointSpec& spec) override {
    const BenchPlatform& own = spec.sender ? senders_ : receivers_;
    const std::string account = Account(spec.sender, spec.pair);
    const std::string token = own.key.MintToken(own.id, account, std::time(nullptr), 86400, "k1");
    const std::string from = Address(senders_.id, Account(true, spec.pair));
    const std::string to = Address(receivers_.id, Account(false, spec.pair));
    return std::make_shared<ExchangeEndpoint>(spec, token, from, to);
  }

 private:
  static std::string Address(const std::string& platform, const std::string& account) {
    return R"({"platform":")" + platform + R"(","account":")" + account + "\"}";
  }

  std::string Register(net::HttpClient& http, const std::string& name, bool sender, int pairs,
                       const auth::SigningKey& key) {
    boost::json::array accounts;
    for (int pair = 0; pair < pairs; ++pair)
      accounts.emplace_back(Account(sender, pair));
    boost::json::object body{{"name", name},
                             {"accounts", std::move(accounts)},
                             {"jwks", {{"keys", {boost::json::parse(key.PublicJwkJson("k1"))}}}}};
    const auto reply = http.Request("POST", "/v1/platforms", boost::json::serialize(body),
                                    {{"Authorization", "Bearer " + options_.operator_token}});
    if (reply.status != 201) {
      throw std::runtime_error("registering " + name + ": " + std::to_string(reply.status) + " " +
                               reply.body);
    }
    return std::string(boost::json::parse(reply.body).at("platform_id").as_string());
  }

  PeerOptions options_;
  BenchPlatform senders_;
  BenchPlatform receivers_;
};

}  // namespace

std::unique_ptr<Peer> MakeExchangePeer(const PeerOptions& options) {
  return std::make_unique<ExchangePeer>(options);
}

}  // namespace sb::bench
