// Every client of the exchange over TLS, against the real binary serving a self-signed certificate:
// the client library over wss, the reference platform server reaching the exchange over https and
// handing out wss URLs, `switchboard chat` with --ca-file, and the chat client's platform API over
// https. Each refuses a peer whose certificate it does not trust (the system's store, another
// authority, another host name).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "client/platform_api.h"
#include "client/terminal.h"
#include "core/clock.h"
#include "platform/platform_process.h"
#include "tls_exchange.h"

namespace sb::client {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

// Long enough never to end a passing test; it only bounds how long a failing one hangs.
constexpr std::chrono::seconds kGuard{30};

// JSON over HTTPS with the operator token; throws unless the status is `expected`.
json::object CallAsOperator(const tlstest::TlsExchangeProcess& exchange, const std::string& method,
                            const std::string& target, const json::value& body, int expected) {
  net::HttpClient https = exchange.Https();
  auto reply = https.Request(method, target, json::serialize(body),
                             {{"Authorization", "Bearer " + exchange.OperatorToken()}});
  if (reply.status != expected)
    throw std::runtime_error(method + " " + target + ": " + std::to_string(reply.status) + " " +
                             reply.body);
  return json::parse(reply.body).as_object();
}

// A platform registered over https, with its signing key.
struct TlsPlatform {
  std::string id;
  auth::SigningKey key = auth::SigningKey::Generate();

  std::string Token(const std::string& account) const {
    const std::int64_t now_s = NowMillis() / 1000;
    return key.MintToken(id, account, now_s, 3600, "k1");
  }
};

TlsPlatform Register(const tlstest::TlsExchangeProcess& exchange, const std::string& name,
                     const std::string& account) {
  TlsPlatform platform;
  json::object body{{"name", name},
                    {"accounts", json::array{json::string(account)}},
                    {"jwks", itest::JwksFor(platform.key, "k1")}};
  platform.id =
      itest::Str(CallAsOperator(exchange, "POST", "/v1/platforms", body, 201), "platform_id");
  return platform;
}

TerminalOptions Options(std::string url, std::string token, std::string ca_file) {
  TerminalOptions options;
  options.url = std::move(url);
  options.token = std::move(token);
  options.ca_file = std::move(ca_file);
  options.backoff_initial = 50ms;
  options.backoff_max = 200ms;
  options.connect_timeout = 5s;
  return options;
}

// The next event of type E from a poll-mode terminal, skipping others; nullopt after kGuard.
template <typename E>
std::optional<E> NextOf(Terminal& terminal) {
  const auto deadline = std::chrono::steady_clock::now() + kGuard;
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = terminal.Next(200ms);
    if (!event) continue;
    if (auto* wanted = std::get_if<E>(&*event)) return *wanted;
  }
  return std::nullopt;
}

// A terminal that must fail to connect: its first event is a Disconnected naming the certificate.
void ExpectRefused(TerminalOptions options) {
  Terminal terminal(std::move(options));
  terminal.Start();
  auto event = terminal.Next(kGuard);
  ASSERT_TRUE(event) << "no event at all";
  const auto* disconnected = std::get_if<Disconnected>(&*event);
  ASSERT_NE(disconnected, nullptr) << "the terminal connected to an untrusted exchange";
  EXPECT_EQ(disconnected->reason.code, ErrorCode::kUnavailable);
  EXPECT_NE(disconnected->reason.message.find("certificate"), std::string::npos)
      << disconnected->reason.message;
  terminal.Stop();
  EXPECT_EQ(terminal.Stats().connects, 0u);
}

class TlsClientTest : public ::testing::Test {
 protected:
  void SetUp() override { exchange_ = std::make_unique<tlstest::TlsExchangeProcess>(dir_.path()); }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "--- exchange log ---\n%s\n", exchange_->Log().c_str());
  }

  itest::TempDir dir_;
  std::unique_ptr<tlstest::TlsExchangeProcess> exchange_;
};

TEST_F(TlsClientTest, TerminalsTalkOverWssTrustingTheGivenAuthority) {
  const TlsPlatform alpha = Register(*exchange_, "alpha", "alice");
  const TlsPlatform beta = Register(*exchange_, "beta", "bob");

  Terminal alice(Options(exchange_->WssUrl(), alpha.Token("alice"), exchange_->CaFile()));
  Terminal bob(Options(exchange_->WssUrl(), beta.Token("bob"), exchange_->CaFile()));
  alice.Start();
  bob.Start();
  ASSERT_TRUE(NextOf<Connected>(alice));
  ASSERT_TRUE(NextOf<Connected>(bob));

  ASSERT_TRUE(alice.SendText(Address{beta.id, "bob"}, "over wss").ok());
  ASSERT_TRUE(NextOf<Accepted>(alice));
  auto message = NextOf<Message>(bob);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->text, "over wss");
  EXPECT_EQ(message->from.account, "alice");
}

TEST_F(TlsClientTest, ATerminalRefusesAnExchangeWhoseCertificateItDoesNotTrust) {
  const TlsPlatform alpha = Register(*exchange_, "alpha", "alice");
  const std::string token = alpha.Token("alice");

  // The system's store does not hold the self-signed certificate.
  ExpectRefused(Options(exchange_->WssUrl(), token, ""));
  // Another authority.
  const fs::path other = dir_.path() / "other";
  fs::create_directories(other);
  ExpectRefused(Options(exchange_->WssUrl(), token, testcert::MakeSelfSigned(other).cert_file));
  // The right authority, but the certificate does not name the host connected to.
  ExpectRefused(Options("wss://127.0.0.1:" + std::to_string(exchange_->Port()) + "/v1/terminal",
                        token, exchange_->CaFile()));
}

TEST_F(TlsClientTest, APlainUrlDoesNotSilentlyUseTheTlsPort) {
  const TlsPlatform alpha = Register(*exchange_, "alpha", "alice");
  Terminal terminal(Options("ws://localhost:" + std::to_string(exchange_->Port()) + "/v1/terminal",
                            alpha.Token("alice"), exchange_->CaFile()));
  terminal.Start();
  auto disconnected = NextOf<Disconnected>(terminal);
  ASSERT_TRUE(disconnected);
  EXPECT_EQ(disconnected->reason.code, ErrorCode::kUnavailable);
  terminal.Stop();
  EXPECT_EQ(terminal.Stats().connects, 0u);
}

// `switchboard chat --send-to` over wss; its exit status and what it printed.
std::pair<int, std::string> ChatSend(const fs::path& dir, const std::string& token,
                                     const std::string& url, const std::string& ca_file,
                                     const std::string& to, int timeout_s) {
  const fs::path out = dir / "chat.out";
  std::string command = std::string("'") + SWITCHBOARD_BIN + "' chat --token " + token +
                        " --exchange '" + url + "' --send-to '" + to + "' --text hello --timeout " +
                        std::to_string(timeout_s);
  if (!ca_file.empty()) command += " --ca-file '" + ca_file + "'";
  const int status = std::system((command + " > '" + out.string() + "' 2>&1").c_str());
  std::ifstream in(out);
  std::ostringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

TEST_F(TlsClientTest, TheChatCliSendsOverWssWithItsCaFile) {
  const TlsPlatform alpha = Register(*exchange_, "alpha", "alice");
  const TlsPlatform beta = Register(*exchange_, "beta", "bob");
  const std::string to = "bob@" + beta.id;

  auto [sent, output] =
      ChatSend(dir_.path(), alpha.Token("alice"), exchange_->WssUrl(), exchange_->CaFile(), to, 30);
  EXPECT_EQ(sent, 0) << output;
  EXPECT_NE(output.find("accepted"), std::string::npos) << output;

  // Without the CA file the system's store is used, which does not trust the certificate: the
  // send never goes out, and the CLI gives up at its timeout with the "unavailable" status.
  auto [refused, why] = ChatSend(dir_.path(), alpha.Token("alice"), exchange_->WssUrl(), "", to, 2);
  EXPECT_EQ(refused, 3) << why;
  EXPECT_EQ(why.find("accepted"), std::string::npos) << why;
}

// The reference platform with `--exchange https://..`: it registers over TLS, and its log-in
// answer names the exchange's wss URL, which the client library then uses.
TEST_F(TlsClientTest, TheReferencePlatformReachesTheExchangeOverHttps) {
  const std::string enrollment = itest::Str(
      CallAsOperator(*exchange_, "POST", "/v1/enrollments", json::object{{"name", "Edge"}}, 201),
      "enrollment_token");
  ptest::PlatformProcess platform(dir_.path() / "platform", exchange_->Port(), "Edge");
  platform.SetExchangeUrl(exchange_->HttpsUrl());
  platform.SetArgs({"--exchange-ca-file", exchange_->CaFile(), "--seed-user", "alice:alice-pass"});
  platform.Start(enrollment);

  PlatformApi api("http://127.0.0.1:" + std::to_string(platform.Port()));
  auto login = api.LogIn("alice", "alice-pass");
  ASSERT_TRUE(login.ok()) << login.error().message << "\n" << platform.Log();
  EXPECT_EQ(login.value().exchange_ws, exchange_->WssUrl());

  Terminal alice(Options(login.value().exchange_ws, login.value().token, exchange_->CaFile()));
  alice.Start();
  auto connected = NextOf<Connected>(alice);
  ASSERT_TRUE(connected) << platform.Log();
  EXPECT_EQ(connected->platform_name, "Edge");
  EXPECT_EQ(platform.Stop(), 0);
}

TEST_F(TlsClientTest, TheReferencePlatformRefusesAnExchangeItDoesNotTrust) {
  const fs::path config = dir_.path() / "platform.toml";
  std::ofstream(config) << "exchange_wait_s = 1\n";
  ptest::PlatformProcess platform(dir_.path() / "platform", exchange_->Port(), "Edge");
  platform.SetExchangeUrl(exchange_->HttpsUrl());
  platform.SetArgs({"--config", config.string()});
  EXPECT_NE(platform.StartExpectingExit("unused"), 0);
  EXPECT_NE(platform.Log().find("did not answer"), std::string::npos) << platform.Log();
}

// The chat client's side of a platform served over https (`switchboard platform --tls-cert`).
TEST_F(TlsClientTest, ThePlatformApiSpeaksHttpsAndVerifiesTheCertificate) {
  const std::string enrollment = itest::Str(
      CallAsOperator(*exchange_, "POST", "/v1/enrollments", json::object{{"name", "Edge"}}, 201),
      "enrollment_token");
  const fs::path own = dir_.path() / "platform-cert";
  fs::create_directories(own);
  const auto cert = testcert::MakeSelfSigned(own);
  ptest::PlatformProcess platform(dir_.path() / "platform", exchange_->Port(), "Edge");
  platform.SetExchangeUrl(exchange_->HttpsUrl());
  platform.SetArgs({"--exchange-ca-file", exchange_->CaFile(), "--seed-user", "alice:alice-pass",
                    "--tls-cert", cert.cert_file, "--tls-key", cert.key_file});
  platform.SetTlsCa(cert.cert_file);
  platform.Start(enrollment);
  const std::string url = "https://localhost:" + std::to_string(platform.Port());

  PlatformApi trusting(url, cert.cert_file);
  auto login = trusting.LogIn("alice", "alice-pass");
  ASSERT_TRUE(login.ok()) << login.error().message;
  EXPECT_FALSE(login.value().token.empty());

  PlatformApi untrusting(url);
  auto refused = untrusting.LogIn("alice", "alice-pass");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("certificate"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(platform.Stop(), 0);
}

}  // namespace
}  // namespace sb::client
