// Private to src/net: the WebSocket framing of RFC 6455 as a server speaks it, with no I/O. The
// reader takes what the socket delivered, in pieces of any size, and reports whole messages; the
// encoder writes frame headers. No extension is ever negotiated, so every RSV bit must be clear.
//
// Memory: a reader that is between messages holds nothing on the heap. A text message that
// arrives in one piece is handed over where it lies (unmasked in place); only a message split
// across reads or frames is copied, and that copy is released once the message is handed over.
//
// Threading: none; a reader belongs to one connection.
//
// TODO(net): a libFuzzer target for Reader beside the other network parsers in fuzz/; so far it
// has had randomized frames and splits under ASan and UBSan only, outside the build.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/server.h"

namespace sb::net::ws {

enum class Opcode : std::uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes the server sends.
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kCloseGoingAway = 1001;
inline constexpr std::uint16_t kCloseProtocolError = 1002;
inline constexpr std::uint16_t kCloseInvalidPayload = 1007;
inline constexpr std::uint16_t kCloseTooBig = 1009;
// A control frame's payload, and so a close frame's code (2) plus reason (123), is at most this.
inline constexpr std::size_t kMaxControlPayload = 125;

// An unmasked (server-to-client) frame header: 2, 4 or 10 bytes.
struct FrameHeader {
  std::array<char, 10> bytes{};
  std::size_t size = 0;
};

// The header of one final, unfragmented frame of `payload_size` bytes.
FrameHeader EncodeHeader(Opcode opcode, std::size_t payload_size);

// The payload of a close frame: the code, then as much of `reason` as fits.
std::string EncodeClosePayload(std::uint16_t code, std::string_view reason);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF).
bool IsValidUtf8(std::string_view text);

// What the reader reports, in the order the frames arrived. After each call the reader asks
// Reading(): once false, it stops and leaves the rest of its input unread.
class ReaderSink {
 public:
  virtual ~ReaderSink() = default;
  // A complete text message of at most the text limit. `text` is valid during the call only.
  virtual void OnText(std::string_view text) = 0;
  // A binary message, or a text message over the text limit; its bytes were read and dropped.
  virtual void OnRefused(WsRefusal why) = 0;
  virtual void OnPing(std::string_view payload) = 0;
  // The peer's close frame (code 1005 when it carried none). Nothing after it is read.
  virtual void OnPeerClose(std::uint16_t code, std::string_view reason) = 0;
  virtual bool Reading() const = 0;
};

// Reads the client side of one connection.
class Reader {
 public:
  // Text messages up to `max_text` bytes are handed over; longer ones (and binary ones) are read
  // and dropped up to `hard_cap` bytes; a message over `hard_cap` fails the connection.
  Reader(std::size_t max_text, std::size_t hard_cap) : max_text_(max_text), hard_cap_(hard_cap) {}

  // Consumes `size` bytes at `data`, which it may overwrite (it unmasks in place). Returns 0, or
  // the close code with which the connection must fail: 1002 for a protocol violation, 1007 for
  // invalid UTF-8, 1009 for a message over the hard cap. After a failure or the peer's close frame
  // every later call returns at once, consuming nothing.
  std::uint16_t Feed(char* data, std::size_t size, ReaderSink& sink);

  // Heap bytes held for a message in progress; 0 between messages.
  std::size_t HeldBytes() const { return message_.capacity() > kInline ? message_.capacity() : 0; }

 private:
  static constexpr std::size_t kInline = 15;  // std::string's own room, no heap
  static constexpr std::size_t kMaxHeader = 14;

  std::uint16_t TakeHeader(const char*& data, std::size_t& size);
  std::uint16_t StartFrame();
  std::uint16_t TakePayload(char*& data, std::size_t& size, ReaderSink& sink);
  std::uint16_t EndFrame(ReaderSink& sink);
  std::uint16_t EndMessage(ReaderSink& sink);
  std::uint16_t EndControl(ReaderSink& sink);
  void Unmask(char* data, std::size_t size);
  void Release();

  const std::size_t max_text_;
  const std::size_t hard_cap_;

  // The frame being read: its header while incomplete, then what is left of its payload.
  std::array<char, kMaxHeader> header_{};
  std::size_t header_size_ = 0;
  bool in_payload_ = false;
  bool fin_ = false;
  Opcode opcode_ = Opcode::kText;
  std::array<std::uint8_t, 4> mask_{};
  std::size_t mask_offset_ = 0;
  std::uint64_t remaining_ = 0;

  // The message being read (data frames), and a control frame's payload.
  bool in_message_ = false;
  bool binary_ = false;
  bool too_large_ = false;
  std::uint64_t message_size_ = 0;
  std::string message_;
  std::string control_;
  bool done_ = false;  // failed, or the peer's close frame was read
};

}  // namespace sb::net::ws
