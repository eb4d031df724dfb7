// The real binary serving TLS (`serve --tls-cert --tls-key`): a platform registers over HTTPS, two
// terminals talk over wss, plain HTTP to the port is refused, and the operator token file that
// the exchange creates on first start is readable by its owner only.
//
// The harness's ExchangeProcess speaks plain HTTP and sets the operator token in the environment,
// so this test starts its own child process.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "../net/test_cert.h"
#include "harness.h"

extern char** environ;

namespace sb::itest {
namespace {

using namespace std::chrono_literals;

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// `switchboard serve` with TLS on a loopback port, without SWITCHBOARD_OPERATOR_TOKEN.
class TlsExchange {
 public:
  explicit TlsExchange(const std::filesystem::path& dir) : dir_(dir) {
    files_ = testcert::MakeSelfSigned(dir_);
    Spawn();
    WaitForPort();
  }
  ~TlsExchange() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }

  std::uint16_t port() const { return port_; }
  std::filesystem::path data() const { return dir_ / "data"; }
  std::string Log() const { return ReadAll(dir_ / "exchange.log"); }
  net::ClientTls Trust() const { return {true, files_.cert_file}; }

 private:
  void Spawn() {
    const char* bin = std::getenv("SWITCHBOARD_TEST_BIN");
    std::vector<std::string> args = {bin != nullptr && *bin != 0 ? bin : SWITCHBOARD_BIN,
                                     "serve",
                                     "--listen=127.0.0.1:0",
                                     "--data=" + data().string(),
                                     "--port-file=" + (dir_ / "port").string(),
                                     "--tls-cert=" + files_.cert_file,
                                     "--tls-key=" + files_.key_file,
                                     "--log-level=debug"};
    std::vector<char*> argv;
    for (auto& arg : args)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::strncmp(*entry, "SWITCHBOARD_OPERATOR_TOKEN=", 27) != 0) envp.push_back(*entry);
    }
    envp.push_back(nullptr);
    const std::string log = (dir_ / "exchange.log").string();

    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
  }

  void WaitForPort() {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("the exchange exited; log:\n" + Log());
      }
      std::string text = ReadAll(dir_ / "port");
      if (!text.empty() && text.back() == '\n') {
        port_ = static_cast<std::uint16_t>(std::stoi(text));
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    throw std::runtime_error("the exchange did not start; log:\n" + Log());
  }

  std::filesystem::path dir_;
  testcert::CertFiles files_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// JSON over HTTPS with a bearer credential.
json::value Call(net::HttpClient& https, const std::string& method, const std::string& target,
                 const std::string& credential, const json::value& body, int expected) {
  std::map<std::string, std::string> headers{{"Authorization", "Bearer " + credential}};
  auto reply = https.Request(method, target, body.is_null() ? "" : json::serialize(body), headers);
  EXPECT_EQ(reply.status, expected) << method << " " << target << ": " << reply.body;
  return reply.body.empty() ? json::value{} : json::parse(reply.body);
}

Platform RegisterOverHttps(net::HttpClient& https, const std::string& operator_token,
                           const std::string& name, const std::string& account) {
  Platform platform;
  platform.name = name;
  platform.key = auth::SigningKey::Generate();
  platform.kid = "k1";
  json::object body{{"name", name},
                    {"accounts", json::array{json::string(account)}},
                    {"jwks", JwksFor(platform.key, "k1")}};
  auto answer = Call(https, "POST", "/v1/platforms", operator_token, body, 201).as_object();
  platform.id = Str(answer, "platform_id");
  platform.api_key = Str(answer, "api_key");
  return platform;
}

// A terminal over wss that has completed hello.
std::unique_ptr<net::WsClient> ConnectWss(const TlsExchange& exchange, const Platform& platform,
                                          const std::string& account) {
  auto ws = std::make_unique<net::WsClient>(net::kDefaultClientTimeout, exchange.Trust());
  ws->Connect("localhost", exchange.port(), "/v1/terminal");
  ws->Send(json::serialize(
      json::object{{"type", "hello"}, {"token", platform.Token(account)}, {"device", "device-1"}}));
  auto welcome = ws->Receive(kFrameTimeout);
  if (!welcome || welcome->find(R"("type":"welcome")") == std::string::npos) {
    throw std::runtime_error("no welcome over wss: " + welcome.value_or("(nothing)"));
  }
  return ws;
}

// The next frame of `type`, skipping others; empty object when none comes.
json::object NextOfType(net::WsClient& ws, std::string_view type) {
  for (;;) {
    auto text = ws.Receive(kFrameTimeout);
    if (!text) return {};
    auto frame = json::parse(*text).as_object();
    if (Str(frame, "type") == type) return frame;
  }
}

class TlsTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(TlsTest, PlatformsAndTerminalsTalkOverHttpsAndWss) {
  TlsExchange exchange(dir_.path());
  net::HttpClient https("localhost", exchange.port(), net::kDefaultClientTimeout, exchange.Trust());
  ASSERT_EQ(https.Request("GET", "/healthz").status, 200) << exchange.Log();
  const auto token_line = ReadAll(exchange.data() / "operator-token");
  const std::string op = token_line.substr(0, token_line.find('\n'));

  Platform alpha = RegisterOverHttps(https, op, "alpha", "alice");
  Platform beta = RegisterOverHttps(https, op, "beta", "bob");
  ASSERT_FALSE(alpha.api_key.empty());
  Call(https, "GET", "/v1/platforms/alpha", alpha.api_key, nullptr, 200);

  auto alice = ConnectWss(exchange, alpha, "alice");
  auto bob = ConnectWss(exchange, beta, "bob");
  alice->Send(json::serialize(SendFrame("c1", alpha.At("alice"), beta.At("bob"), "over wss")));
  EXPECT_EQ(Str(NextOfType(*alice, "accepted"), "id"), "c1");
  auto message = NextOfType(*bob, "message");
  ASSERT_FALSE(message.empty());
  EXPECT_EQ(json::serialize(message.at("content")), R"({"type":"text","text":"over wss"})");
}

TEST_F(TlsTest, PlainHttpToTheTlsPortFailsCleanly) {
  TlsExchange exchange(dir_.path());
  net::HttpClient plain("127.0.0.1", exchange.port(), 10s);
  auto reply = plain.Request("GET", "/healthz");
  EXPECT_EQ(reply.status, 400);
  EXPECT_NE(reply.body.find("HTTPS"), std::string::npos) << reply.body;

  // The exchange goes on serving, and counted the failed handshake.
  net::HttpClient https("localhost", exchange.port(), net::kDefaultClientTimeout, exchange.Trust());
  auto metrics = https.Request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_GE(MetricValue(metrics.body, "switchboard_listener_tls_handshake_failures_total"), 1.0);
}

TEST_F(TlsTest, TheOperatorTokenFileIsCreatedForItsOwnerOnly) {
  TlsExchange exchange(dir_.path());
  struct stat info {};
  ASSERT_EQ(::stat((exchange.data() / "operator-token").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600);
  EXPECT_EQ(info.st_uid, ::getuid());
}

}  // namespace
}  // namespace sb::itest
