#include "net/ws_frame.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace sb::net::ws {

namespace {

bool IsControl(Opcode opcode) {
  return (static_cast<std::uint8_t>(opcode) & 0x8) != 0;
}

bool IsKnown(std::uint8_t opcode) {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA);
}

// The close codes a peer may send (RFC 6455 7.4 and the IANA registry).
bool IsValidCloseCode(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

std::uint64_t BigEndian(const char* bytes, std::size_t count) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < count; ++i) {
    value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
  }
  return value;
}

// The length of a client frame's header, once its first two bytes are known.
std::size_t HeaderLength(const char* first_two) {
  const auto length_code = static_cast<std::uint8_t>(first_two[1]) & 0x7F;
  const bool masked = (static_cast<std::uint8_t>(first_two[1]) & 0x80) != 0;
  std::size_t size = 2 + (masked ? 4 : 0);
  if (length_code == 126) size += 2;
  if (length_code == 127) size += 8;
  return size;
}

// Bytes a UTF-8 sequence starting with `lead` takes, or 0 when `lead` cannot start one.
std::size_t SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The range the second byte of a sequence must fall in: narrower after E0, ED, F0 and F4, which
// is what excludes overlong forms, surrogates and code points past U+10FFFF.
bool SecondByteFits(unsigned char lead, unsigned char second) {
  if (lead == 0xE0) return second >= 0xA0 && second <= 0xBF;
  if (lead == 0xED) return second >= 0x80 && second <= 0x9F;
  if (lead == 0xF0) return second >= 0x90 && second <= 0xBF;
  if (lead == 0xF4) return second >= 0x80 && second <= 0x8F;
  return second >= 0x80 && second <= 0xBF;
}

}  // namespace

FrameHeader EncodeHeader(Opcode opcode, std::size_t payload_size) {
  FrameHeader header;
  header.bytes[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(opcode));
  std::size_t length_bytes = 0;
  if (payload_size < 126) {
    header.bytes[1] = static_cast<char>(payload_size);
  } else if (payload_size <= 0xFFFF) {
    header.bytes[1] = static_cast<char>(126);
    length_bytes = 2;
  } else {
    header.bytes[1] = static_cast<char>(127);
    length_bytes = 8;
  }
  for (std::size_t i = 0; i < length_bytes; ++i) {
    header.bytes[2 + i] = static_cast<char>((payload_size >> (8 * (length_bytes - 1 - i))) & 0xFF);
  }
  header.size = 2 + length_bytes;
  return header;
}

std::string EncodeClosePayload(std::uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  payload.append(reason.substr(0, kMaxControlPayload - 2));
  return payload;
}

bool IsValidUtf8(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t i = 0;
  while (i < size) {
    // Runs of ASCII, the common case, eight bytes at a time.
    std::uint64_t word = 0;
    if (i + 8 <= size && (std::memcpy(&word, bytes + i, 8), (word & 0x8080808080808080ULL) == 0)) {
      i += 8;
      continue;
    }
    const std::size_t length = SequenceLength(bytes[i]);
    if (length == 0 || i + length > size) return false;
    if (length > 1 && !SecondByteFits(bytes[i], bytes[i + 1])) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if ((bytes[i + k] & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

std::uint16_t Reader::Feed(char* data, std::size_t size, ReaderSink& sink) {
  std::uint16_t failure = 0;
  while (!done_ && failure == 0 && sink.Reading()) {
    if (!in_payload_) {
      const char* cursor = data;
      failure = TakeHeader(cursor, size);
      data += cursor - data;
      if (failure != 0 || !in_payload_) break;
      // A frame with no payload ends with its header.
      if (remaining_ == 0) failure = EndFrame(sink);
      continue;
    }
    if (size == 0) break;
    failure = TakePayload(data, size, sink);
  }
  if (failure != 0) {
    done_ = true;
    Release();
  }
  return failure;
}

// Gathers the header of the next frame; once complete, checks it and starts the frame.
std::uint16_t Reader::TakeHeader(const char*& data, std::size_t& size) {
  while (size > 0) {
    const std::size_t want = header_size_ < 2 ? 2 : HeaderLength(header_.data());
    if (header_size_ == want) break;
    const std::size_t take = std::min(want - header_size_, size);
    std::memcpy(header_.data() + header_size_, data, take);
    header_size_ += take;
    data += take;
    size -= take;
  }
  if (header_size_ < 2 || header_size_ < HeaderLength(header_.data())) return 0;
  return StartFrame();
}

std::uint16_t Reader::StartFrame() {
  const auto first = static_cast<std::uint8_t>(header_[0]);
  const auto second = static_cast<std::uint8_t>(header_[1]);
  const std::size_t header_size = header_size_;
  header_size_ = 0;

  // A client masks every frame; no extension was agreed, so no RSV bit may be set.
  if ((second & 0x80) == 0 || (first & 0x70) != 0 || !IsKnown(first & 0x0F)) {
    return kCloseProtocolError;
  }
  fin_ = (first & 0x80) != 0;
  opcode_ = static_cast<Opcode>(first & 0x0F);

  std::uint64_t length = second & 0x7F;
  if (length == 126) {
    length = BigEndian(header_.data() + 2, 2);
    if (length < 126) return kCloseProtocolError;
  } else if (length == 127) {
    length = BigEndian(header_.data() + 2, 8);
    if (length <= 0xFFFF || (length >> 63) != 0) return kCloseProtocolError;
  }
  std::memcpy(mask_.data(), header_.data() + header_size - 4, 4);
  mask_offset_ = 0;
  remaining_ = length;
  in_payload_ = true;

  if (IsControl(opcode_)) {
    return fin_ && length <= kMaxControlPayload ? 0 : kCloseProtocolError;
  }
  // A continuation continues a message; a text or binary frame starts one.
  if ((opcode_ == Opcode::kContinuation) != in_message_) return kCloseProtocolError;
  if (!in_message_) {
    in_message_ = true;
    binary_ = opcode_ == Opcode::kBinary;
    too_large_ = false;
    message_size_ = 0;
  }
  if (length > hard_cap_ || message_size_ + length > hard_cap_) return kCloseTooBig;
  message_size_ += length;
  if (!binary_ && message_size_ > max_text_ && !too_large_) {
    too_large_ = true;
    Release();
  }
  return 0;
}

std::uint16_t Reader::TakePayload(char*& data, std::size_t& size, ReaderSink& sink) {
  const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size));
  char* chunk = data;
  data += take;
  size -= take;
  remaining_ -= take;

  if (IsControl(opcode_)) {
    Unmask(chunk, take);
    control_.append(chunk, take);
  } else if (!binary_ && !too_large_) {
    Unmask(chunk, take);
    // A whole message in one frame and in this one read: hand it over where it lies.
    const bool whole = fin_ && remaining_ == 0 && message_.empty() && message_size_ == take;
    if (whole) {
      in_payload_ = false;
      in_message_ = false;
      if (!IsValidUtf8({chunk, take})) return kCloseInvalidPayload;
      sink.OnText({chunk, take});
      return 0;
    }
    message_.append(chunk, take);
  }
  return remaining_ == 0 ? EndFrame(sink) : 0;
}

std::uint16_t Reader::EndFrame(ReaderSink& sink) {
  in_payload_ = false;
  if (IsControl(opcode_)) return EndControl(sink);
  return fin_ ? EndMessage(sink) : 0;
}

std::uint16_t Reader::EndMessage(ReaderSink& sink) {
  in_message_ = false;
  if (binary_ || too_large_) {
    Release();
    sink.OnRefused(binary_ ? WsRefusal::kBinary : WsRefusal::kTooLarge);
    return 0;
  }
  if (!IsValidUtf8(message_)) return kCloseInvalidPayload;
  sink.OnText(message_);
  Release();
  return 0;
}

std::uint16_t Reader::EndControl(ReaderSink& sink) {
  // The payload is moved out first: a callback may feed nothing, but keeps no reference either.
  const std::string payload = std::exchange(control_, std::string());
  if (opcode_ == Opcode::kPing) {
    sink.OnPing(payload);
    return 0;
  }
  if (opcode_ != Opcode::kClose) return 0;  // a pong: its arrival alone was the point

  if (payload.size() == 1) return kCloseProtocolError;
  std::uint16_t code = 1005;  // no status code present
  std::string_view reason;
  if (payload.size() >= 2) {
    code = static_cast<std::uint16_t>(BigEndian(payload.data(), 2));
    reason = std::string_view(payload).substr(2);
    if (!IsValidCloseCode(code)) return kCloseProtocolError;
    if (!IsValidUtf8(reason)) return kCloseInvalidPayload;
  }
  done_ = true;
  Release();
  sink.OnPeerClose(code, reason);
  return 0;
}

void Reader::Unmask(char* data, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    data[i] = static_cast<char>(data[i] ^ static_cast<char>(mask_[(mask_offset_ + i) & 3]));
  }
  mask_offset_ = (mask_offset_ + size) & 3;
}

void Reader::Release() {
  std::string().swap(message_);
}

}  // namespace sb::net::ws
