// Integration harness: runs the real `switchboard` binary in a temporary folder and talks to it the
// way operators, platforms and terminals do, over HTTP and the terminal WebSocket.
//
// Helpers that cannot go on (no welcome, an unexpected status) throw std::runtime_error, which
// GoogleTest reports as a failure of the running test. Nothing here is thread-safe; a test may
// use separate Terminal objects from separate threads.
//
// The binary under test is the one built with the tests; the environment variable
// SWITCHBOARD_TEST_BIN, when set, names another one (a release or sanitizer build, say).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt.h"
#include "net/client.h"

namespace sb::itest {

namespace json = boost::json;

// How long a test waits for a frame or a reply that should come.
inline constexpr std::chrono::milliseconds kFrameTimeout{10000};
// How long a test waits to be sure that a frame does not come.
inline constexpr std::chrono::milliseconds kQuietTimeout{500};

// A folder under the system temp folder, removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// One `switchboard serve` child process on a loopback port, with its data folder, port file,
// optional config file and log file in one temporary folder. The data folder survives Stop, Kill
// and Restart; the whole folder goes away with the object.
class ExchangeProcess {
 public:
  // `config_toml`, when not empty, is written to a file passed with --config.
  explicit ExchangeProcess(std::string config_toml = {});
  // Kills the child if it still runs.
  ~ExchangeProcess();
  ExchangeProcess(const ExchangeProcess&) = delete;
  ExchangeProcess& operator=(const ExchangeProcess&) = delete;

  // Starts the child and waits until its port file exists and /healthz answers 200. Throws
  // std::runtime_error (with the log) when the child exits or is not ready within 20 s.
  void Start();
  // SIGTERM, then waits for the exit. Returns the exit status, 128 + signal when a signal ended
  // it, or -1 when it had to be killed after not exiting within 15 s.
  int Stop();
  // SIGKILL, then reaps the child: a crash without any chance to clean up.
  void Kill();
  // Stop then Start, on the same data folder; returns Stop's status.
  int Restart();

  bool IsRunning() const { return pid_ > 0; }
  std::uint16_t Port() const { return port_; }
  const std::string& OperatorToken() const { return operator_token_; }
  std::filesystem::path DataDir() const { return dir_.path() / "data"; }
  // Everything the child wrote to stdout and stderr, across restarts.
  std::string Log() const;

 private:
  std::filesystem::path PortFile() const { return dir_.path() / "port"; }
  std::filesystem::path LogFile() const { return dir_.path() / "exchange.log"; }
  std::filesystem::path ConfigFile() const { return dir_.path() / "config.toml"; }
  std::vector<std::string> CommandLine() const;
  std::vector<std::string> Environment() const;
  void Spawn();
  void WaitUntilReady();
  std::optional<int> WaitForExit(std::chrono::milliseconds timeout);

  TempDir dir_;
  bool has_config_ = false;
  std::string operator_token_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// An HTTP reply with its body parsed as JSON (null when the body is not JSON).
struct ApiReply {
  int status = 0;
  std::string raw;
  json::value body;

  // `error.code` of an error body, or empty.
  std::string ErrorCode() const;
  // The reply, for failure messages.
  std::string Describe() const;
};

// JSON over HTTP to the exchange, with a bearer credential.
class Api {
 public:
  explicit Api(std::uint16_t port);

  // `credential` empty sends no Authorization header. `raw_body` is sent as it is.
  ApiReply CallRaw(const std::string& method, const std::string& target,
                   const std::string& credential, const std::string& raw_body);
  // Without a body.
  ApiReply Call(const std::string& method, const std::string& target,
                const std::string& credential);
  // With `body` serialized.
  ApiReply Call(const std::string& method, const std::string& target, const std::string& credential,
                const json::value& body);

 private:
  net::HttpClient http_;
};

struct Address {
  std::string platform;
  std::string account;
};

// A registered platform, with the signing key whose public JWK it registered.
struct Platform {
  std::string id;
  std::string name;
  std::string api_key;
  auth::SigningKey key;
  std::string kid;

  // A terminal token for `account`, valid from now for `ttl_s` seconds.
  std::string Token(const std::string& account, std::int64_t ttl_s = 3600) const;
  Address At(const std::string& account) const { return {id, account}; }
};

// `{"keys":[<public JWK of key>]}`.
json::value JwksFor(const auth::SigningKey& key, const std::string& kid);

// Registers a platform with `credential` (operator token or enrollment token); throws unless 201.
Platform RegisterPlatform(Api& api, const std::string& credential, const std::string& name,
                          const json::array& accounts);

// One terminal: a WebSocket at /v1/terminal, speaking JSON frames.
class Terminal {
 public:
  // Connects (no hello yet); throws when the upgrade fails.
  explicit Terminal(std::uint16_t port);

  void SendJson(const json::value& frame);
  void SendRaw(std::string_view text) { ws_.Send(text); }
  net::WsClient& ws() { return ws_; }

  // Sends hello and waits for welcome, which it returns; throws on any other answer.
  json::object Hello(const std::string& token, const std::string& device);
  // Sends hello and returns the first answer, whatever it is.
  json::object HelloExpectingError(const std::string& token, const std::string& device);

  // The next frame that `match` accepts; frames it skips are kept for later waits, in order.
  // nullopt when none comes within `timeout`.
  std::optional<json::object> WaitFor(const std::function<bool(const json::object&)>& match,
                                      std::chrono::milliseconds timeout = kFrameTimeout);
  std::optional<json::object> WaitForType(std::string_view type,
                                          std::chrono::milliseconds timeout = kFrameTimeout);
  // The next `accepted` or `rejected` frame answering client id `id`.
  std::optional<json::object> WaitForAnswer(const std::string& id,
                                            std::chrono::milliseconds timeout = kFrameTimeout);
  // Like WaitForType but throws when nothing comes.
  json::object Expect(std::string_view type, std::chrono::milliseconds timeout = kFrameTimeout);

  // Sends a text message with client id `id` (a fresh one when empty); returns the id.
  std::string SendText(const Address& from, const Address& to, const std::string& text,
                       std::string id = {});
  // Sends and waits for `accepted`; throws on `rejected` or silence.
  json::object SendAccepted(const Address& from, const Address& to, const std::string& text);

  // Reads and discards frames until the exchange closes the connection; false on timeout.
  bool WaitClosed(std::chrono::milliseconds timeout = kFrameTimeout);

 private:
  std::optional<json::object> ReadFrame(std::chrono::milliseconds timeout);

  net::WsClient ws_;
  std::deque<json::object> skipped_;
};

// A send frame as the contract describes it.
json::object SendFrame(const std::string& id, const Address& from, const Address& to,
                       const std::string& text);

// Sum of the samples of metric `name` in Prometheus text whose labels contain `label` (e.g.
// `code="sender_mismatch"`; empty matches every sample). 0 when there is none.
double MetricValue(const std::string& text, const std::string& name, const std::string& label = {});

// String member of a JSON object, or empty when absent or not a string.
std::string Str(const json::object& object, std::string_view key);

// Whether `reply` is an error reply with this status and `error.code`, and a message for people.
::testing::AssertionResult IsApiError(const ApiReply& reply, int status, const std::string& code);
// Whether `frame` arrived and has this type and code (`type` "error" or "rejected").
::testing::AssertionResult IsFrame(const std::optional<json::object>& frame, std::string_view type,
                                   const std::string& code);

// The fixture: one exchange per test, started in SetUp with ConfigToml(), and helpers bound to it.
// When a test fails its exchange log is printed.
class IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Config file content for this fixture's exchange; empty for none.
  virtual std::string ConfigToml() const { return {}; }

  ExchangeProcess& exchange() { return *exchange_; }
  // The HTTP client, rebound when a restart changed the port.
  Api& api();
  const std::string& OperatorToken() const { return exchange_->OperatorToken(); }

  // Registers a platform as operator.
  Platform Register(const std::string& name, const json::array& accounts);
  // A terminal that completed hello as `account` of `platform`.
  std::unique_ptr<Terminal> Connect(const Platform& platform, const std::string& account,
                                    const std::string& device = "device-1");
  // GET /metrics.
  std::string Metrics();

 private:
  std::unique_ptr<ExchangeProcess> exchange_;
  std::unique_ptr<Api> api_;
  std::uint16_t api_port_ = 0;
};

}  // namespace sb::itest
