// The null relay's client side: each connection first sends its pair number as 8 decimal digits;
// the relay joins the two connections of a pair and forwards bytes between them unchanged.
// Messages are fixed-size payloads, so the receiver needs no framing.
#include <cstdio>

#include "byte_stream.h"
#include "peer.h"

namespace sb::bench {
namespace {

class RelayEndpoint final : public Endpoint, public std::enable_shared_from_this<RelayEndpoint> {
 public:
  explicit RelayEndpoint(const EndpointSpec& spec)
      : spec_(spec), size_(std::max(spec.payload_bytes, kStampDigits)) {}

  void Start(std::function<void(const std::string&)> ready) override {
    stream_ = ByteStream::Create(*spec_.io);
    auto self = shared_from_this();
    stream_->Connect(
        spec_.target, [self](std::string_view bytes) { return self->Parse(bytes); },
        [self](const std::string& what) { self->spec_.sink->Broken(self->spec_.pair, what); },
        [self, ready](const std::string& error) {
          if (!error.empty()) return ready(error);
          char hello[16];
          std::snprintf(hello, sizeof hello, "%08d", self->spec_.pair);
          self->stream_->Write(std::string_view(hello, 8));
          ready({});
        });
  }

  void Publish(std::int64_t stamp_ns) override {
    stream_->Write(StampedPayload(stamp_ns, spec_.payload_bytes));
  }

 private:
  std::size_t Parse(std::string_view bytes) {
    std::size_t used = 0;
    for (; bytes.size() - used >= size_; used += size_) {
      if (auto stamp = ReadStamp(bytes.substr(used, size_))) {
        spec_.sink->Delivered(spec_.pair, *stamp);
      }
    }
    return used;
  }

  EndpointSpec spec_;
  std::size_t size_;
  std::shared_ptr<ByteStream> stream_;
};

class RelayPeer final : public Peer {
 public:
  void Prepare(int) override {}
  std::shared_ptr<Endpoint> Make(const EndpointSpec& spec) override {
    return std::make_shared<RelayEndpoint>(spec);
  }
};

}  // namespace

std::unique_ptr<Peer> MakeRelayPeer(const PeerOptions&) {
  return std::make_unique<RelayPeer>();
}

}  // namespace sb::bench
