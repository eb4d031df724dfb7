#include "relay_server.h"

#include <array>
#include <boost/asio.hpp>
#include <fstream>
#include <memory>
#include <unordered_map>

namespace sb::bench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr std::size_t kPairIdBytes = 8;
constexpr std::size_t kChunk = 64 * 1024;

// Copies bytes from `from` to `to` until either side fails; then closes both. Each pump holds
// both sockets by shared_ptr, so they live while a pump is running.
class Pump : public std::enable_shared_from_this<Pump> {
 public:
  Pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to)
      : from_(std::move(from)), to_(std::move(to)) {}

  void Run() {
    from_->async_read_some(asio::buffer(chunk_), [self = shared_from_this()](
                                                     boost::system::error_code ec, std::size_t n) {
      if (ec) return self->Stop();
      asio::async_write(*self->to_, asio::buffer(self->chunk_.data(), n),
                        [self](boost::system::error_code ec, std::size_t) {
                          if (ec) return self->Stop();
                          self->Run();
                        });
    });
  }

 private:
  void Stop() {
    boost::system::error_code ignored;
    from_->close(ignored);
    to_->close(ignored);
  }

  std::shared_ptr<tcp::socket> from_;
  std::shared_ptr<tcp::socket> to_;
  std::array<char, kChunk> chunk_{};
};

class Relay {
 public:
  Relay(asio::io_context& io, const tcp::endpoint& at) : acceptor_(io, at) {}

  std::uint16_t Port() const { return acceptor_.local_endpoint().port(); }

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!ec) {
        socket.set_option(tcp::no_delay(true));
        ReadPairId(std::make_shared<tcp::socket>(std::move(socket)));
      }
      Accept();
    });
  }

 private:
  void ReadPairId(std::shared_ptr<tcp::socket> socket) {
    auto id = std::make_shared<std::string>(kPairIdBytes, '\0');
    asio::async_read(*socket, asio::buffer(*id),
                     [this, socket, id](boost::system::error_code ec, std::size_t) {
                       if (!ec) Join(*id, socket);
                     });
  }

  void Join(const std::string& id, std::shared_ptr<tcp::socket> socket) {
    auto waiting = waiting_.find(id);
    if (waiting == waiting_.end()) {
      waiting_.emplace(id, std::move(socket));
      return;
    }
    auto other = std::move(waiting->second);
    waiting_.erase(waiting);
    std::make_shared<Pump>(other, socket)->Run();
    std::make_shared<Pump>(socket, other)->Run();
  }

  tcp::acceptor acceptor_;
  std::unordered_map<std::string, std::shared_ptr<tcp::socket>> waiting_;
};

}  // namespace

void RunRelayServer(const std::string& host, int port, const std::string& port_file) {
  asio::io_context io(1);
  Relay relay(io, tcp::endpoint(asio::ip::make_address(host), static_cast<std::uint16_t>(port)));
  if (!port_file.empty()) std::ofstream(port_file) << relay.Port() << "\n";
  relay.Accept();
  io.run();
}

}  // namespace sb::bench
