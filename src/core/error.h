// Stable error codes of the exchange, and the result type used on the message path.
//
// Codes are part of the external interface: clients act on them, so a code is never renamed or
// reused for another meaning. Exceptions are used only at start-up and for configuration; the
// message path returns `Result<T>`.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sb {

enum class ErrorCode {
  // Terminal protocol rejection and error codes.
  kUnauthenticated,
  kTokenExpired,
  kBadToken,
  kSenderMismatch,
  kSenderNotRegistered,
  kRecipientNotRegistered,
  kPlatformNotRegistered,
  kBadFrame,
  kTooLarge,
  kRateLimited,
  kRecipientQueueFull,
  kUnavailable,
  kSlowConsumer,
  // HTTP API codes.
  kBadRequest,
  kForbidden,
  kNotFound,
  kConflict,
  kInvalidParams,
  kMethodNotAllowed,
  kInternal,
};

// The wire name of a code, e.g. "sender_mismatch".
std::string_view ErrorCodeName(ErrorCode code);

// The HTTP status that fits a code when it answers an API request.
int HttpStatusFor(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
  // For kRateLimited: how long to wait before trying again, in milliseconds; 0 when not known.
  std::int64_t retry_after_ms = 0;
};

// Either a value or an Error. Deliberately small: `ok()`, `value()`, `error()`.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : data_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(data_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(data_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(data_);
  }

 private:
  std::variant<T, Error> data_;
};

// A result with no value.
struct Ok {};
using Status = Result<Ok>;

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace sb
