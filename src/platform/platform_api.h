// The platform's own HTTP API, for its web page and its users' terminals (docs/platform.md):
//
//   GET    /api/platform   {platform_id, platform_name, exchange_ws}
//   POST   /api/signup     {account, password, discoverable?} -> 201 {account, discoverable}
//   POST   /api/login      {account, password} -> {token, platform_id, platform_name, account,
//                          exchange_ws, expires_at}
//   GET    /api/users      (Bearer terminal token) -> {platforms: [{platform_id, platform_name,
//                          accounts: [..]}]}, this platform first
//   DELETE /api/account    (Bearer terminal token) removes the caller's account
//
// Failed log-ins are rate limited per account and per source address (token buckets, LoginLimits):
// while either bucket is empty, a log-in for that account or from that address is answered 429
// `rate_limited` with Retry-After before the password is checked, right or wrong.
//
// Errors are {"error": {"code", "message"}} as on the exchange. A sign-up or removal is mirrored
// to the exchange before it is answered; when the exchange cannot be reached the sign-up is undone
// and answered 503 `unavailable`.
//
// Threading: Handle blocks (password hashing, SQLite, calls to the exchange): call it on the
// platform's worker thread only, never on the event loop. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "auth/jwt.h"
#include "delivery/rate_limiter.h"
#include "net/server.h"
#include "platform/exchange_link.h"
#include "platform/user_store.h"

namespace sb::platform {

// Who this platform is, as told to its users.
struct PlatformIdentity {
  std::string platform_id;
  std::string platform_name;
  std::string terminal_url;  // ws://HOST:PORT/v1/terminal of the exchange
};

// Failed log-ins allowed per account and per source address: a second, and saved up.
struct LoginLimits {
  delivery::RateLimit per_account{1.0 / 60, 5};
  delivery::RateLimit per_address{1.0 / 6, 20};
};

class PlatformApi {
 public:
  // Keeps references: every argument outlives the PlatformApi.
  PlatformApi(UserStore& users, ExchangeLink& exchange, const auth::SigningKey& key,
              PlatformIdentity identity, std::int64_t token_ttl_s, LoginLimits limits = {});

  // Whether `path` belongs to this API (starts with /api/).
  static bool Owns(const std::string& path);

  // Answers one request under /api/.
  net::HttpResponse Handle(const net::HttpRequest& request);

 private:
  net::HttpResponse Info() const;
  net::HttpResponse SignUp(const std::string& body);
  net::HttpResponse LogIn(const std::string& body, const std::string& remote);
  // Milliseconds until a log-in for `account` from `address` may be tried; 0: now.
  std::int64_t LoginWait(const std::string& account, const std::string& address);
  void CountFailedLogin(const std::string& account, const std::string& address);
  net::HttpResponse ListUsers(const net::HttpRequest& request);
  net::HttpResponse DeleteAccount(const net::HttpRequest& request);

  // The account that the request's terminal token names, when this platform signed the token,
  // it has not expired and the account still exists; empty otherwise.
  std::string Authenticate(const net::HttpRequest& request);

  UserStore& users_;
  ExchangeLink& exchange_;
  const auth::SigningKey& key_;
  const std::string kid_;
  const auth::JwkSet keys_;
  const PlatformIdentity identity_;
  const std::int64_t token_ttl_s_;
  // Verified when an account is unknown, so that a wrong account takes as long as a wrong password.
  const std::string decoy_hash_;
  delivery::KeyedRateLimiter failed_by_account_;
  delivery::KeyedRateLimiter failed_by_address_;
};

}  // namespace sb::platform
