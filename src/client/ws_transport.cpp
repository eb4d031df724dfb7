// The default Transport: a net::WsClient.
#include "client/terminal.h"
#include "net/client.h"

namespace sb::client {
namespace {

class WebSocketTransport final : public Transport {
 public:
  WebSocketTransport(std::chrono::milliseconds timeout, net::ClientTls tls)
      : ws_(timeout, std::move(tls)) {}

  void Connect(const std::string& host, std::uint16_t port, const std::string& path) override {
    ws_.Connect(host, port, path);
  }
  void Send(std::string_view text) override { ws_.Send(text); }
  std::optional<std::string> Receive(std::chrono::milliseconds timeout) override {
    return ws_.Receive(timeout);
  }
  bool IsOpen() const override { return ws_.IsOpen(); }
  void Close() override { ws_.Close(); }

 private:
  net::WsClient ws_;
};

}  // namespace

std::unique_ptr<Transport> MakeWebSocketTransport(std::chrono::milliseconds timeout, bool tls,
                                                  std::string ca_file) {
  return std::make_unique<WebSocketTransport>(timeout, net::ClientTls{tls, std::move(ca_file)});
}

}  // namespace sb::client
