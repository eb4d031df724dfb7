// Runs `switchboard platform` as a child process for tests, beside an ExchangeProcess, and talks to
// its HTTP API. Like the integration harness, helpers that cannot go on throw std::runtime_error.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace sb::ptest {

namespace json = boost::json;

// One platform child. Its data folder lives in `dir` and survives Stop, so that a later Start
// finds the saved registration and key.
class PlatformProcess {
 public:
  PlatformProcess(const std::filesystem::path& dir, std::uint16_t exchange_port, std::string name);
  ~PlatformProcess();
  PlatformProcess(const PlatformProcess&) = delete;
  PlatformProcess& operator=(const PlatformProcess&) = delete;

  // Extra command-line arguments for the next Start (e.g. --seed-user alice:alice-pass).
  void SetArgs(std::vector<std::string> args) { args_ = std::move(args); }
  // The --exchange URL; by default http://127.0.0.1:<exchange_port>.
  void SetExchangeUrl(std::string url) { exchange_url_ = std::move(url); }
  // For a platform started with --tls-cert: the CA file that its health probe trusts.
  void SetTlsCa(std::string ca_file) { tls_ca_file_ = std::move(ca_file); }
  // Starts with `enrollment_token` in SWITCHBOARD_ENROLLMENT_TOKEN (none when empty) and waits
  // until it answers /healthz. Throws with the log when it exits first or takes over 30 s.
  void Start(const std::string& enrollment_token = {});
  // Starts and waits for the child to exit by itself; returns its exit status.
  int StartExpectingExit(const std::string& enrollment_token = {});
  // SIGTERM and wait; returns the exit status (-1 when it had to be killed).
  int Stop();

  std::uint16_t Port() const { return port_; }
  std::filesystem::path DataDir() const { return dir_ / "data"; }
  std::string Log() const;

  // The saved registration.json, parsed.
  json::object SavedRegistration() const;

 private:
  void Spawn(const std::string& enrollment_token);

  std::filesystem::path dir_;
  std::uint16_t exchange_port_;
  std::string name_;
  std::vector<std::string> args_;
  std::string tls_ca_file_;
  std::string exchange_url_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// POST /v1/enrollments as operator; returns the token.
std::string CreateEnrollment(itest::Api& exchange, const std::string& operator_token,
                             const std::string& name);

}  // namespace sb::ptest
