#include "core/error.h"

namespace sb {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kTokenExpired:
      return "token_expired";
    case ErrorCode::kBadToken:
      return "bad_token";
    case ErrorCode::kSenderMismatch:
      return "sender_mismatch";
    case ErrorCode::kSenderNotRegistered:
      return "sender_not_registered";
    case ErrorCode::kRecipientNotRegistered:
      return "recipient_not_registered";
    case ErrorCode::kPlatformNotRegistered:
      return "platform_not_registered";
    case ErrorCode::kBadFrame:
      return "bad_frame";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kRecipientQueueFull:
      return "recipient_queue_full";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kSlowConsumer:
      return "slow_consumer";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kInvalidParams:
      return "invalid_params";
    case ErrorCode::kMethodNotAllowed:
      return "method_not_allowed";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kTokenExpired:
    case ErrorCode::kBadToken:
      return 401;
    case ErrorCode::kForbidden:
    case ErrorCode::kSenderMismatch:
      return 403;
    case ErrorCode::kNotFound:
    case ErrorCode::kPlatformNotRegistered:
    case ErrorCode::kSenderNotRegistered:
    case ErrorCode::kRecipientNotRegistered:
      return 404;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kInvalidParams:
      return 422;
    case ErrorCode::kRateLimited:
    case ErrorCode::kRecipientQueueFull:
      return 429;
    case ErrorCode::kUnavailable:
    case ErrorCode::kSlowConsumer:
      return 503;
    case ErrorCode::kInternal:
      return 500;
    case ErrorCode::kBadRequest:
    case ErrorCode::kBadFrame:
      return 400;
  }
  return 500;
}

}  // namespace sb
