// A client of the reference platform's HTTP API, as the chat CLI uses it to log in and list users:
//   POST {platform}/api/login {"account","password"}
//     -> {"token","platform_id","platform_name","account","exchange_ws"}
//   GET {platform}/api/users with "Authorization: Bearer <token>"
//     -> {"platforms":[{"platform_id","platform_name","accounts":["..."]}]}
//
// Errors reaching the platform, a certificate that does not verify among them, are kUnavailable.
// Blocking, one request at a time; not thread-safe (it owns one net::HttpClient).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace sb::net {
class HttpClient;
}

namespace sb::client {

struct PlatformLogin {
  std::string token;
  std::string platform_id;
  std::string platform_name;
  std::string account;
  std::string exchange_ws;
};

struct PlatformUsers {
  std::string platform_id;
  std::string platform_name;
  std::vector<std::string> accounts;
};

class PlatformApi {
 public:
  // `base_url` is `http://host:port` or `https://host:port` with an optional path prefix. Over
  // https the platform's certificate must chain to an authority in `ca_file` (PEM), or in the
  // system's store when it is empty, and name the host. Throws std::invalid_argument when
  // `base_url` is not such a URL.
  explicit PlatformApi(const std::string& base_url, const std::string& ca_file = {});
  ~PlatformApi();
  PlatformApi(const PlatformApi&) = delete;
  PlatformApi& operator=(const PlatformApi&) = delete;

  // Errors: the platform's own error code when it sent an error body (kInternal with the code in
  // the message when this build does not know it), kUnavailable when it could not be reached,
  // kBadRequest for an answer that is not the documented JSON.
  Result<PlatformLogin> LogIn(const std::string& account, const std::string& password);
  Result<std::vector<PlatformUsers>> Users(const std::string& token);

 private:
  std::string prefix_;
  std::unique_ptr<net::HttpClient> http_;
};

}  // namespace sb::client
