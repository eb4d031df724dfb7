#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "auth/secret.h"

#ifndef SWITCHBOARD_BIN
#error "SWITCHBOARD_BIN must name the switchboard binary"
#endif

extern char** environ;

namespace sb::itest {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kStartTimeout = 20s;
constexpr auto kStopTimeout = 15s;
constexpr auto kPollInterval = 20ms;
// Exit status of the child when it could not redirect its output or exec the binary.
constexpr int kSpawnFailed = 127;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// The port from a complete port file, or nullopt while it is missing or not yet a number.
std::optional<std::uint16_t> ReadPort(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::string text = ReadFile(path);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.pop_back();
  }
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 5) {
    return std::nullopt;
  }
  const int port = std::stoi(text);
  if (port <= 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

bool Healthy(std::uint16_t port) {
  try {
    net::HttpClient http("127.0.0.1", port, 1s);
    return http.Request("GET", "/healthz").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// The binary under test: the one built with the tests, unless SWITCHBOARD_TEST_BIN names another
// (a release or sanitizer build, say).
std::string BinaryPath() {
  const char* other = std::getenv("SWITCHBOARD_TEST_BIN");
  return other != nullptr && *other != '\0' ? other : SWITCHBOARD_BIN;
}

// Null-terminated pointers into `strings`, for exec.
std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

std::int64_t NowSeconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string NextClientId() {
  static std::atomic<std::uint64_t> next{1};
  return "c" + std::to_string(next.fetch_add(1));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TempDir

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "sb-itest-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// ---------------------------------------------------------------------------------------------
// ExchangeProcess

ExchangeProcess::ExchangeProcess(std::string config_toml)
    : operator_token_(auth::RandomCredential("optest_", 24)) {
  std::filesystem::create_directories(DataDir());
  if (!config_toml.empty()) {
    WriteFile(ConfigFile(), config_toml);
    has_config_ = true;
  }
}

ExchangeProcess::~ExchangeProcess() {
  if (IsRunning()) Kill();
}

void ExchangeProcess::Start() {
  if (IsRunning()) throw std::runtime_error("exchange already running");
  // A port file left by the previous run must not be mistaken for the new one.
  std::filesystem::remove(PortFile());
  Spawn();
  WaitUntilReady();
}

std::vector<std::string> ExchangeProcess::CommandLine() const {
  std::vector<std::string> args = {
      BinaryPath(),       "serve",       "--listen",         "127.0.0.1:0", "--data",
      DataDir().string(), "--port-file", PortFile().string()};
  if (has_config_) {
    args.push_back("--config");
    args.push_back(ConfigFile().string());
  }
  return args;
}

// The test's own environment, with the operator token set to this exchange's.
std::vector<std::string> ExchangeProcess::Environment() const {
  const std::string kTokenVariable = "SWITCHBOARD_OPERATOR_TOKEN=";
  std::vector<std::string> env = {kTokenVariable + operator_token_};
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, kTokenVariable.c_str(), kTokenVariable.size()) != 0) {
      env.emplace_back(*entry);
    }
  }
  return env;
}

// Everything the child needs is built before fork: after it, only async-signal-safe calls.
void ExchangeProcess::Spawn() {
  std::vector<std::string> args = CommandLine();
  std::vector<std::string> env = Environment();
  std::vector<char*> argv = CStrings(args);
  std::vector<char*> envp = CStrings(env);
  const std::string log_path = LogFile().string();

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    // Dies with the test process, so an aborted test leaves no exchange behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0) {
      _exit(kSpawnFailed);
    }
    execve(argv[0], argv.data(), envp.data());
    _exit(kSpawnFailed);
  }
  pid_ = pid;
}

void ExchangeProcess::WaitUntilReady() {
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    if (auto status = WaitForExit(0ms)) {
      const std::string why =
          *status == kSpawnFailed ? " (could not run " + BinaryPath() + ")" : "";
      throw std::runtime_error("exchange exited during start-up with status " +
                               std::to_string(*status) + why + "; log:\n" + Log());
    }
    if (auto port = ReadPort(PortFile()); port && Healthy(*port)) {
      port_ = *port;
      return;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Kill();
  throw std::runtime_error("exchange not ready within 20 s; log:\n" + Log());
}

std::optional<int> ExchangeProcess::WaitForExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (done < 0) {
      pid_ = -1;
      return -1;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

int ExchangeProcess::Stop() {
  if (!IsRunning()) return -1;
  kill(pid_, SIGTERM);
  if (auto status = WaitForExit(kStopTimeout)) return *status;
  Kill();
  return -1;
}

void ExchangeProcess::Kill() {
  if (!IsRunning()) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ExchangeProcess::Restart() {
  const int status = Stop();
  Start();
  return status;
}

std::string ExchangeProcess::Log() const {
  return ReadFile(LogFile());
}

// ---------------------------------------------------------------------------------------------
// HTTP

std::string ApiReply::ErrorCode() const {
  if (!body.is_object()) return {};
  const auto* error = body.as_object().if_contains("error");
  if (error == nullptr || !error->is_object()) return {};
  return Str(error->as_object(), "code");
}

std::string ApiReply::Describe() const {
  return "HTTP " + std::to_string(status) + " " + raw.substr(0, 2000);
}

Api::Api(std::uint16_t port) : http_("127.0.0.1", port, std::chrono::seconds(60)) {}

ApiReply Api::CallRaw(const std::string& method, const std::string& target,
                      const std::string& credential, const std::string& raw_body) {
  std::map<std::string, std::string> headers;
  if (!credential.empty()) headers["Authorization"] = "Bearer " + credential;
  auto reply = http_.Request(method, target, raw_body, headers);

  ApiReply out;
  out.status = reply.status;
  out.raw = std::move(reply.body);
  boost::system::error_code ec;
  out.body = json::parse(out.raw, ec);
  if (ec) out.body = nullptr;
  return out;
}

ApiReply Api::Call(const std::string& method, const std::string& target,
                   const std::string& credential, const json::value& body) {
  return CallRaw(method, target, credential, json::serialize(body));
}

ApiReply Api::Call(const std::string& method, const std::string& target,
                   const std::string& credential) {
  return CallRaw(method, target, credential, {});
}

std::string Platform::Token(const std::string& account, std::int64_t ttl_s) const {
  return key.MintToken(id, account, NowSeconds(), ttl_s, kid);
}

json::value JwksFor(const auth::SigningKey& key, const std::string& kid) {
  return json::object{{"keys", json::array{json::parse(key.PublicJwkJson(kid))}}};
}

Platform RegisterPlatform(Api& api, const std::string& credential, const std::string& name,
                          const json::array& accounts) {
  Platform platform;
  platform.name = name;
  platform.key = auth::SigningKey::Generate();
  platform.kid = "k1";
  json::object body{{"name", name}, {"accounts", accounts}, {"jwks", JwksFor(platform.key, "k1")}};

  ApiReply reply = api.Call("POST", "/v1/platforms", credential, body);
  if (reply.status != 201 || !reply.body.is_object()) {
    throw std::runtime_error("registering " + name + " failed: " + reply.Describe());
  }
  platform.id = Str(reply.body.as_object(), "platform_id");
  platform.api_key = Str(reply.body.as_object(), "api_key");
  if (platform.id.empty() || platform.api_key.empty()) {
    throw std::runtime_error("registration answer lacks platform_id or api_key: " +
                             reply.Describe());
  }
  return platform;
}

// ---------------------------------------------------------------------------------------------
// Terminal

Terminal::Terminal(std::uint16_t port) {
  ws_.Connect("127.0.0.1", port, "/v1/terminal");
}

void Terminal::SendJson(const json::value& frame) {
  ws_.Send(json::serialize(frame));
}

json::object Terminal::HelloExpectingError(const std::string& token, const std::string& device) {
  SendJson(json::object{{"type", "hello"}, {"token", token}, {"device", device}});
  auto answer = WaitFor([](const json::object&) { return true; });
  if (!answer) throw std::runtime_error("no answer to hello");
  return *answer;
}

json::object Terminal::Hello(const std::string& token, const std::string& device) {
  json::object answer = HelloExpectingError(token, device);
  if (Str(answer, "type") != "welcome") {
    throw std::runtime_error("hello answered with " + json::serialize(answer));
  }
  return answer;
}

std::optional<json::object> Terminal::ReadFrame(std::chrono::milliseconds timeout) {
  auto text = ws_.Receive(timeout);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  json::value frame = json::parse(*text, ec);
  if (ec || !frame.is_object()) {
    throw std::runtime_error("exchange sent a frame that is not a JSON object: " + *text);
  }
  return std::move(frame.as_object());
}

std::optional<json::object> Terminal::WaitFor(const std::function<bool(const json::object&)>& match,
                                              std::chrono::milliseconds timeout) {
  for (auto it = skipped_.begin(); it != skipped_.end(); ++it) {
    if (match(*it)) {
      json::object frame = std::move(*it);
      skipped_.erase(it);
      return frame;
    }
  }

  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto frame = ReadFrame(std::max(left, std::chrono::milliseconds(0)));
    if (!frame) return std::nullopt;
    if (match(*frame)) return frame;
    skipped_.push_back(std::move(*frame));
  }
}

std::optional<json::object> Terminal::WaitForType(std::string_view type,
                                                  std::chrono::milliseconds timeout) {
  return WaitFor([type](const json::object& f) { return Str(f, "type") == type; }, timeout);
}

std::optional<json::object> Terminal::WaitForAnswer(const std::string& id,
                                                    std::chrono::milliseconds timeout) {
  return WaitFor(
      [&id](const json::object& f) {
        const std::string type = Str(f, "type");
        return (type == "accepted" || type == "rejected") && Str(f, "id") == id;
      },
      timeout);
}

json::object Terminal::Expect(std::string_view type, std::chrono::milliseconds timeout) {
  auto frame = WaitForType(type, timeout);
  if (!frame) throw std::runtime_error("no '" + std::string(type) + "' frame arrived");
  return *frame;
}

std::string Terminal::SendText(const Address& from, const Address& to, const std::string& text,
                               std::string id) {
  if (id.empty()) id = NextClientId();
  SendJson(SendFrame(id, from, to, text));
  return id;
}

json::object Terminal::SendAccepted(const Address& from, const Address& to,
                                    const std::string& text) {
  const std::string id = SendText(from, to, text);
  auto answer = WaitForAnswer(id);
  if (!answer || Str(*answer, "type") != "accepted") {
    throw std::runtime_error("send " + id + " not accepted: " +
                             (answer ? json::serialize(*answer) : std::string("no answer")));
  }
  return *answer;
}

bool Terminal::WaitClosed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (ws_.IsOpen() && Clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (auto text = ws_.Receive(left)) {
      boost::system::error_code ec;
      json::value frame = json::parse(*text, ec);
      if (!ec && frame.is_object()) skipped_.push_back(std::move(frame.as_object()));
    }
  }
  return !ws_.IsOpen();
}

json::object SendFrame(const std::string& id, const Address& from, const Address& to,
                       const std::string& text) {
  return json::object{{"type", "send"},
                      {"id", id},
                      {"from", {{"platform", from.platform}, {"account", from.account}}},
                      {"to", {{"platform", to.platform}, {"account", to.account}}},
                      {"content", {{"type", "text"}, {"text", text}}}};
}

// ---------------------------------------------------------------------------------------------
// Small helpers

double MetricValue(const std::string& text, const std::string& name, const std::string& label) {
  double sum = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos || line.compare(0, name_end, name) != 0 ||
        name_end != name.size()) {
      continue;
    }
    std::size_t value_start = name_end;
    std::string labels;
    if (line[name_end] == '{') {
      const std::size_t close = line.find('}', name_end);
      if (close == std::string::npos) continue;
      labels = line.substr(name_end, close - name_end + 1);
      value_start = close + 1;
    }
    if (!label.empty() && labels.find(label) == std::string::npos) continue;
    sum += std::strtod(line.c_str() + value_start, nullptr);
  }
  return sum;
}

std::string Str(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  return std::string(value->as_string());
}

::testing::AssertionResult IsApiError(const ApiReply& reply, int status, const std::string& code) {
  const auto* error =
      reply.body.is_object() ? reply.body.as_object().if_contains("error") : nullptr;
  if (reply.status != status || reply.ErrorCode() != code) {
    return ::testing::AssertionFailure()
           << "expected " << status << " " << code << ", got " << reply.Describe();
  }
  if (!error->is_object() || Str(error->as_object(), "message").empty()) {
    return ::testing::AssertionFailure() << "error without a message: " << reply.Describe();
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsFrame(const std::optional<json::object>& frame, std::string_view type,
                                   const std::string& code) {
  if (!frame) {
    return ::testing::AssertionFailure() << "no frame arrived; expected " << type << " " << code;
  }
  if (Str(*frame, "type") != type || Str(*frame, "code") != code) {
    return ::testing::AssertionFailure()
           << "expected " << type << " " << code << ", got " << json::serialize(*frame);
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------------------------
// IntegrationTest

void IntegrationTest::SetUp() {
  exchange_ = std::make_unique<ExchangeProcess>(ConfigToml());
  exchange_->Start();
}

void IntegrationTest::TearDown() {
  if (HasFailure() && exchange_) {
    std::cerr << "---- exchange log ----\n" << exchange_->Log() << "---- end of log ----\n";
  }
  exchange_.reset();
}

Api& IntegrationTest::api() {
  if (!api_ || api_port_ != exchange_->Port()) {
    api_ = std::make_unique<Api>(exchange_->Port());
    api_port_ = exchange_->Port();
  }
  return *api_;
}

Platform IntegrationTest::Register(const std::string& name, const json::array& accounts) {
  return RegisterPlatform(api(), OperatorToken(), name, accounts);
}

std::unique_ptr<Terminal> IntegrationTest::Connect(const Platform& platform,
                                                   const std::string& account,
                                                   const std::string& device) {
  auto terminal = std::make_unique<Terminal>(exchange_->Port());
  terminal->Hello(platform.Token(account), device);
  return terminal;
}

std::string IntegrationTest::Metrics() {
  ApiReply reply = api().Call("GET", "/metrics", "");
  if (reply.status != 200) throw std::runtime_error("GET /metrics: " + reply.Describe());
  return reply.raw;
}

}  // namespace sb::itest
