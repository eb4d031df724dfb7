#include "byte_stream.h"

#include <array>
#include <boost/asio.hpp>

#include "socket_util.h"

namespace sb::bench {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

constexpr std::size_t kReadChunk = 64 * 1024;

class AsioByteStream final : public ByteStream,
                             public std::enable_shared_from_this<AsioByteStream> {
 public:
  explicit AsioByteStream(IoContext& io) : socket_(io) {}

  void Connect(const Target& target, Parser parser, FailureHandler on_failure,
               std::function<void(const std::string& error)> done) override {
    parser_ = std::move(parser);
    on_failure_ = std::move(on_failure);
    boost::system::error_code opened;
    socket_.open(tcp::v4(), opened);
    if (opened) return done("socket: " + opened.message());
    if (auto error = BindToSource(socket_.native_handle(), target.local_address); !error.empty()) {
      return done(error);
    }

    const tcp::endpoint remote(asio::ip::make_address(target.host), target.port);
    socket_.async_connect(remote, [self = shared_from_this(), done](boost::system::error_code ec) {
      if (ec) return done("connect: " + ec.message());
      self->socket_.set_option(tcp::no_delay(true));
      self->connected_ = true;
      self->Flush();
      self->ReadMore();
      done({});
    });
  }

  void Write(std::string_view bytes) override {
    pending_.append(bytes);
    Flush();
  }

 private:
  void Flush() {
    if (!connected_ || writing_ || pending_.empty()) return;
    writing_ = true;
    in_flight_.swap(pending_);
    asio::async_write(socket_, asio::buffer(in_flight_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->writing_ = false;
                        self->in_flight_.clear();
                        if (ec) return self->Fail("write: " + ec.message());
                        self->Flush();
                      });
  }

  void ReadMore() {
    socket_.async_read_some(asio::buffer(chunk_), [self = shared_from_this()](
                                                      boost::system::error_code ec, std::size_t n) {
      if (ec) return self->Fail("read: " + ec.message());
      self->received_.append(self->chunk_.data(), n);
      const std::size_t used = self->parser_(self->received_);
      self->received_.erase(0, used);
      self->ReadMore();
    });
  }

  void Fail(const std::string& what) {
    if (failed_) return;
    failed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    if (on_failure_) on_failure_(what);
  }

  tcp::socket socket_;
  Parser parser_;
  FailureHandler on_failure_;
  std::string pending_;
  std::string in_flight_;
  std::string received_;
  std::array<char, kReadChunk> chunk_{};
  bool connected_ = false;
  bool writing_ = false;
  bool failed_ = false;
};

}  // namespace

std::shared_ptr<ByteStream> ByteStream::Create(IoContext& io) {
  return std::make_shared<AsioByteStream>(io);
}

}  // namespace sb::bench
