// The platform's side of the exchange's HTTP API: registration, key publication, the account list,
// the directory and the offload policy. Each call is one blocking request over net::HttpClient.
//
// Threading: not thread-safe; one thread at a time (start-up, then the platform's worker thread).
// Never call it on an event loop thread: a call blocks up to the request timeout.
//
// Errors: every call throws ExchangeError for an answer other than the expected 2xx, and
// std::runtime_error when the exchange cannot be reached.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/client.h"
#include "platform/config.h"
#include "platform/credentials.h"

namespace sb::platform {

// An error answer of the exchange: its status and its stable `error.code`.
class ExchangeError : public std::runtime_error {
 public:
  ExchangeError(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

// One account as the exchange lists it.
struct AccountEntry {
  std::string account;
  bool discoverable = true;
};

// One discoverable account of the exchange's directory.
struct DirectoryEntry {
  std::string platform_id;
  std::string platform_name;
  std::string account;
};

// The outcome of PutOffloadPolicy.
enum class PolicyOutcome { kStored, kUnsupported };

class ExchangeLink {
 public:
  // Over TLS when `exchange.tls`: the exchange's certificate must chain to an authority in
  // `ca_file` (PEM), or the system's store when it is empty, and name the host; otherwise every
  // call fails as unreachable.
  ExchangeLink(const ExchangeEndpoint& exchange, std::chrono::milliseconds timeout,
               const std::string& ca_file = {});

  // Polls GET /healthz until it answers 200 or `wait` has passed; true when it did.
  bool WaitUntilHealthy(std::chrono::seconds wait);

  // POST /v1/platforms with an enrollment token (or operator token). Returns what the exchange
  // answered; the link then uses the new platform key.
  Registration Register(const std::string& enrollment_token, const std::string& name,
                        const std::vector<AccountEntry>& accounts, const std::string& jwks_json);
  // Uses a saved registration for the calls that follow.
  void UseRegistration(const Registration& registration);

  // GET /v1/platforms/{pid}: the platform's name as the exchange knows it. Also proves that the
  // saved key still opens the platform.
  std::string PlatformName();
  // PUT /v1/platforms/{pid}/jwks.
  void PublishKeys(const std::string& jwks_json);
  // POST /v1/platforms/{pid}/accounts; returns the platform's account total afterwards.
  std::size_t ChangeAccounts(const std::vector<AccountEntry>& add,
                             const std::vector<std::string>& remove);
  // GET /v1/platforms/{pid}/accounts, every page.
  std::vector<AccountEntry> ListAccounts();
  // GET /v1/directory: discoverable accounts of every platform, at most `limit`.
  std::vector<DirectoryEntry> Directory(std::size_t limit);
  // PUT /v1/platforms/{pid}/offload-policy; kUnsupported when the exchange has no such endpoint.
  PolicyOutcome PutOffloadPolicy(const OffloadPolicy& policy);

  const std::string& platform_id() const { return registration_.platform_id; }

 private:
  net::HttpReply Call(const std::string& method, const std::string& target,
                      const std::string& credential, const std::string& body = {});
  std::string PlatformPath() const;

  net::HttpClient http_;
  Registration registration_;
};

}  // namespace sb::platform
