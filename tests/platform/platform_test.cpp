// The reference platform against the real exchange binary: registration with an enrollment token,
// reuse of the saved registration, account sync, log-in tokens the exchange accepts, and the user
// list grouped by platform.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <memory>
#include <set>

#include "integration/harness.h"
#include "net/client.h"
#include "net/test_cert.h"
#include "platform_process.h"

namespace sb::ptest {
namespace {

namespace fs = std::filesystem;
using itest::ApiReply;
using itest::Str;

// JSON over HTTP to a platform.
struct PlatformApi {
  explicit PlatformApi(std::uint16_t port) : http("127.0.0.1", port) {}

  ApiReply Call(const std::string& method, const std::string& target, const json::value& body = {},
                const std::string& token = {}) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    const std::string raw = body.is_null() ? std::string() : json::serialize(body);
    const net::HttpReply reply = http.Request(method, target, raw, headers);
    ApiReply result{reply.status, reply.body, nullptr};
    json::error_code ec;
    result.body = json::parse(reply.body, ec);
    if (ec) result.body = nullptr;
    return result;
  }
  ApiReply SignUp(const std::string& account, const std::string& password,
                  bool discoverable = true) {
    return Call(
        "POST", "/api/signup",
        json::object{{"account", account}, {"password", password}, {"discoverable", discoverable}});
  }
  ApiReply LogIn(const std::string& account, const std::string& password) {
    return Call("POST", "/api/login", json::object{{"account", account}, {"password", password}});
  }
  std::string Token(const std::string& account, const std::string& password) {
    const ApiReply reply = LogIn(account, password);
    if (reply.status != 200) throw std::runtime_error("log-in: " + reply.Describe());
    return Str(reply.body.as_object(), "token");
  }

  net::HttpClient http;
};

mode_t ModeOf(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 0777;
}

class PlatformTest : public ::testing::Test {
 protected:
  void SetUp() override {
    exchange_ = std::make_unique<itest::ExchangeProcess>();
    exchange_->Start();
    api_ = std::make_unique<itest::Api>(exchange_->Port());
  }

  void TearDown() override {
    if (HasFailure()) {
      for (auto& [name, platform] : platforms_) {
        std::fprintf(stderr, "--- log of platform %s ---\n%s\n", name.c_str(),
                     platform->Log().c_str());
      }
      std::fprintf(stderr, "--- exchange log ---\n%s\n", exchange_->Log().c_str());
    }
    platforms_.clear();
  }

  // A platform registered with a fresh enrollment token, with `args` (seed users) on its command
  // line.
  PlatformProcess& StartPlatform(const std::string& name, std::vector<std::string> args = {}) {
    auto platform = std::make_unique<PlatformProcess>(dir_.path() / name, exchange_->Port(), name);
    platform->SetArgs(std::move(args));
    platform->Start(CreateEnrollment(*api_, exchange_->OperatorToken(), name));
    return *(platforms_[name] = std::move(platform));
  }

  std::string PlatformId(PlatformProcess& platform) {
    return Str(platform.SavedRegistration(), "platform_id");
  }
  std::string ApiKey(PlatformProcess& platform) {
    return Str(platform.SavedRegistration(), "api_key");
  }
  // The exchange's account list of `platform`: account -> discoverable.
  std::map<std::string, bool> ExchangeAccounts(PlatformProcess& platform) {
    const ApiReply reply =
        api_->Call("GET", "/v1/platforms/" + PlatformId(platform) + "/accounts", ApiKey(platform));
    EXPECT_EQ(reply.status, 200) << reply.Describe();
    std::map<std::string, bool> accounts;
    for (const json::value& item : reply.body.at("accounts").as_array()) {
      accounts[Str(item.as_object(), "account")] = item.at("discoverable").as_bool();
    }
    return accounts;
  }

  itest::TempDir dir_;
  std::unique_ptr<itest::ExchangeProcess> exchange_;
  std::unique_ptr<itest::Api> api_;
  std::map<std::string, std::unique_ptr<PlatformProcess>> platforms_;
};

TEST_F(PlatformTest, RegistersWithEnrollmentTokenAndKeepsItsSecretsPrivate) {
  const std::string token = CreateEnrollment(*api_, exchange_->OperatorToken(), "Meta World");
  PlatformProcess platform(dir_.path() / "meta", exchange_->Port(), "Meta World");
  platform.SetArgs({"--seed-user", "alice:alice-pass"});
  platform.Start(token);

  const json::object saved = platform.SavedRegistration();
  EXPECT_EQ(Str(saved, "name"), "Meta World");
  const ApiReply info =
      api_->Call("GET", "/v1/platforms/" + Str(saved, "platform_id"), Str(saved, "api_key"));
  ASSERT_EQ(info.status, 200) << info.Describe();
  EXPECT_EQ(Str(info.body.as_object(), "name"), "Meta World");
  EXPECT_EQ(info.body.at("accounts").as_int64(), 1);

  EXPECT_EQ(ModeOf(platform.DataDir() / "registration.json"), 0600u);
  EXPECT_EQ(ModeOf(platform.DataDir() / "signing-key"), 0600u);
  EXPECT_EQ(ModeOf(platform.DataDir()), 0700u);
  // The log names no secret.
  const std::string log = platform.Log();
  EXPECT_EQ(log.find(Str(saved, "api_key")), std::string::npos);
  EXPECT_EQ(log.find(token), std::string::npos);

  // The enrollment token was single-use.
  const ApiReply again =
      api_->Call("POST", "/v1/platforms", token,
                 json::object{{"name", "Again"},
                              {"accounts", json::array()},
                              {"jwks", itest::JwksFor(auth::SigningKey::Generate(), "k")}});
  EXPECT_TRUE(again.status == 401 || again.status == 403) << again.Describe();
  EXPECT_EQ(platform.Stop(), 0);
}

TEST_F(PlatformTest, RefusesToStartWithoutRegistrationOrToken) {
  PlatformProcess platform(dir_.path() / "none", exchange_->Port(), "Nobody");
  EXPECT_NE(platform.StartExpectingExit(), 0);
  EXPECT_NE(platform.Log().find("enrollment token"), std::string::npos) << platform.Log();
}

TEST_F(PlatformTest, RestartReusesTheSavedIdAndKey) {
  PlatformProcess& platform = StartPlatform("Meta World", {"--seed-user", "alice:alice-pass"});
  const std::string id = PlatformId(platform);
  const std::string key = ApiKey(platform);
  const std::string token = PlatformApi(platform.Port()).Token("alice", "alice-pass");
  ASSERT_EQ(platform.Stop(), 0);

  // No enrollment token this time: the saved registration must do.
  platform.Start();
  EXPECT_EQ(PlatformId(platform), id);
  EXPECT_EQ(ApiKey(platform), key);
  PlatformApi web(platform.Port());
  const ApiReply info = web.Call("GET", "/api/platform");
  ASSERT_EQ(info.status, 200) << info.Describe();
  EXPECT_EQ(Str(info.body.as_object(), "platform_id"), id);

  // A token minted before the restart still opens a session: the signing key was kept.
  itest::Terminal terminal(exchange_->Port());
  const json::object welcome = terminal.Hello(token, "device-1");
  EXPECT_EQ(Str(welcome.at("platform").as_object(), "id"), id);
}

TEST_F(PlatformTest, SignUpAndRemovalAreMirroredToTheExchange) {
  PlatformProcess& platform = StartPlatform("Shop");
  PlatformApi web(platform.Port());

  ASSERT_EQ(web.SignUp("dave", "dave-pass").status, 201);
  ASSERT_EQ(web.SignUp("erin", "erin-pass", false).status, 201);
  EXPECT_EQ(ExchangeAccounts(platform),
            (std::map<std::string, bool>{{"dave", true}, {"erin", false}}));

  // Refusals: a taken account, a short password, an invalid account.
  EXPECT_TRUE(itest::IsApiError(web.SignUp("dave", "other-pass"), 409, "conflict"));
  EXPECT_TRUE(itest::IsApiError(web.SignUp("frank", "short"), 422, "invalid_params"));
  EXPECT_TRUE(itest::IsApiError(web.SignUp("with space", "long-enough"), 422, "invalid_params"));

  const std::string token = web.Token("dave", "dave-pass");
  ASSERT_EQ(web.Call("DELETE", "/api/account", nullptr, token).status, 200);
  EXPECT_EQ(ExchangeAccounts(platform), (std::map<std::string, bool>{{"erin", false}}));
  EXPECT_TRUE(itest::IsApiError(web.LogIn("dave", "dave-pass"), 401, "unauthenticated"));
}

TEST_F(PlatformTest, StartReconcilesTheExchangesAccountList) {
  PlatformProcess& platform = StartPlatform("Shop", {"--seed-user", "dave:dave-pass"});
  ASSERT_EQ(platform.Stop(), 0);

  // While the platform is down, the exchange's list drifts: a stray account appears, dave goes.
  const ApiReply change =
      api_->Call("POST", "/v1/platforms/" + PlatformId(platform) + "/accounts", ApiKey(platform),
                 json::object{{"add", json::array{"ghost"}}, {"remove", json::array{"dave"}}});
  ASSERT_EQ(change.status, 200) << change.Describe();

  platform.Start();
  EXPECT_EQ(ExchangeAccounts(platform), (std::map<std::string, bool>{{"dave", true}}));
}

TEST_F(PlatformTest, LogInTokenOpensASessionAtTheExchange) {
  PlatformProcess& platform = StartPlatform("Meta World", {"--seed-user", "alice:alice-pass"});
  PlatformApi web(platform.Port());

  EXPECT_TRUE(itest::IsApiError(web.LogIn("alice", "wrong-pass"), 401, "unauthenticated"));
  EXPECT_TRUE(itest::IsApiError(web.LogIn("nobody", "alice-pass"), 401, "unauthenticated"));

  const ApiReply login = web.LogIn("alice", "alice-pass");
  ASSERT_EQ(login.status, 200) << login.Describe();
  const json::object& answer = login.body.as_object();
  EXPECT_EQ(Str(answer, "platform_id"), PlatformId(platform));
  EXPECT_EQ(Str(answer, "platform_name"), "Meta World");
  EXPECT_EQ(Str(answer, "account"), "alice");
  EXPECT_EQ(Str(answer, "exchange_ws"),
            "ws://127.0.0.1:" + std::to_string(exchange_->Port()) + "/v1/terminal");

  itest::Terminal terminal(exchange_->Port());
  const json::object welcome = terminal.Hello(Str(answer, "token"), "device-1");
  EXPECT_EQ(Str(welcome.at("platform").as_object(), "id"), PlatformId(platform));
  EXPECT_EQ(Str(welcome.at("platform").as_object(), "name"), "Meta World");
  EXPECT_EQ(Str(welcome, "account"), "alice");
}

TEST_F(PlatformTest, UserListGroupsDiscoverableAccountsByPlatform) {
  PlatformProcess& meta = StartPlatform("Meta World");
  PlatformProcess& shop = StartPlatform("Shop");
  PlatformApi meta_web(meta.Port());
  PlatformApi shop_web(shop.Port());
  ASSERT_EQ(meta_web.SignUp("alice", "alice-pass").status, 201);
  ASSERT_EQ(meta_web.SignUp("bob", "bob-pass").status, 201);
  ASSERT_EQ(meta_web.SignUp("carol", "carol-pass", false).status, 201);
  ASSERT_EQ(shop_web.SignUp("dave", "dave-pass").status, 201);
  ASSERT_EQ(shop_web.SignUp("erin", "erin-pass", false).status, 201);

  const std::string token = meta_web.Token("alice", "alice-pass");
  const ApiReply users = meta_web.Call("GET", "/api/users", nullptr, token);
  ASSERT_EQ(users.status, 200) << users.Describe();

  std::map<std::string, std::pair<std::string, std::set<std::string>>> groups;
  std::vector<std::string> order;
  for (const json::value& group : users.body.at("platforms").as_array()) {
    const json::object& g = group.as_object();
    std::set<std::string> accounts;
    for (const json::value& a : g.at("accounts").as_array())
      accounts.insert(std::string(a.as_string()));
    order.push_back(Str(g, "platform_id"));
    groups[Str(g, "platform_id")] = {Str(g, "platform_name"), accounts};
  }
  ASSERT_EQ(order.size(), 2u) << users.raw;
  EXPECT_EQ(order[0], PlatformId(meta)) << "own platform first";
  EXPECT_EQ(groups[PlatformId(meta)].first, "Meta World");
  EXPECT_EQ(groups[PlatformId(meta)].second, (std::set<std::string>{"alice", "bob"}));
  EXPECT_EQ(groups[PlatformId(shop)].first, "Shop");
  EXPECT_EQ(groups[PlatformId(shop)].second, (std::set<std::string>{"dave"}));

  // Only this platform's own tokens open its user list.
  EXPECT_TRUE(itest::IsApiError(meta_web.Call("GET", "/api/users"), 401, "unauthenticated"));
  const std::string shop_token = shop_web.Token("dave", "dave-pass");
  EXPECT_TRUE(itest::IsApiError(meta_web.Call("GET", "/api/users", nullptr, shop_token), 401,
                                "unauthenticated"));
}

TEST_F(PlatformTest, ServesTheBrowserClientAndRefusesPathsOutsideIt) {
  PlatformProcess& platform = StartPlatform("Meta World");
  net::HttpClient http("127.0.0.1", platform.Port());

  const net::HttpReply index = http.Request("GET", "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("<html"), std::string::npos);
  EXPECT_NE(index.headers.at("content-security-policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_EQ(http.Request("GET", "/app.js").headers.at("content-type").rfind("text/javascript", 0),
            0u);
  EXPECT_EQ(http.Request("GET", "/%2e%2e/%2e%2e/etc/passwd").status, 400);
  EXPECT_EQ(http.Request("GET", "/missing.html").status, 404);
}

TEST_F(PlatformTest, StartsWithAnOffloadPolicyWhetherOrNotTheExchangeHasTheEndpoint) {
  const fs::path config = dir_.path() / "policy.toml";
  std::ofstream(config) << "[offload_policy]\nkind = \"exposure\"\n";
  PlatformProcess& platform = StartPlatform("Edge", {"--config", config.string()});

  const ApiReply info =
      api_->Call("GET", "/v1/platforms/" + PlatformId(platform), ApiKey(platform));
  ASSERT_EQ(info.status, 200) << info.Describe();
  const json::value& policy = info.body.at("offload_policy");
  if (policy.is_null()) {
    EXPECT_NE(platform.Log().find("no offload-policy endpoint"), std::string::npos);
  } else {
    EXPECT_EQ(Str(policy.as_object(), "kind"), "exposure") << info.raw;
  }
}

TEST_F(PlatformTest, FailedLogInsAreLimitedPerAccount) {
  PlatformProcess& platform =
      StartPlatform("Meta", {"--seed-user", "alice:alice-pass", "--seed-user", "bob:bob-pass"});
  PlatformApi web(platform.Port());
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(itest::IsApiError(web.LogIn("alice", "guess-" + std::to_string(i)), 401,
                                  "unauthenticated"));
  }
  // The account's budget is spent: even the right password is refused, with a retry hint.
  const net::HttpReply refused = web.http.Request(
      "POST", "/api/login",
      json::serialize(json::object{{"account", "alice"}, {"password", "alice-pass"}}));
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_NE(refused.body.find("rate_limited"), std::string::npos) << refused.body;
  ASSERT_EQ(refused.headers.count("retry-after"), 1u);
  EXPECT_GE(std::stoll(refused.headers.at("retry-after")), 1);
  // Another account from the same address is not affected.
  EXPECT_EQ(web.LogIn("bob", "bob-pass").status, 200);
}

TEST_F(PlatformTest, FailedLogInsAreLimitedPerAddress) {
  PlatformProcess& platform = StartPlatform("Meta");
  PlatformApi web(platform.Port());
  // 20 failures on as many accounts, then (the budget refills slowly) a 429 for any account.
  int failures = 0;
  ApiReply reply;
  while (failures < 40) {
    reply = web.LogIn("nobody-" + std::to_string(failures), "guess");
    if (reply.status != 401) break;
    ++failures;
  }
  EXPECT_GE(failures, 20);
  // The refused account had never failed: the address's budget, not the account's, is spent.
  EXPECT_TRUE(itest::IsApiError(reply, 429, "rate_limited"));
}

TEST_F(PlatformTest, ServesHttpsWhenGivenACertificate) {
  const auto cert = testcert::MakeSelfSigned(dir_.path());
  auto platform = std::make_unique<PlatformProcess>(dir_.path() / "tls", exchange_->Port(), "Tls");
  platform->SetArgs({"--tls-cert", cert.cert_file, "--tls-key", cert.key_file});
  platform->SetTlsCa(cert.cert_file);
  platform->Start(CreateEnrollment(*api_, exchange_->OperatorToken(), "Tls"));

  net::HttpClient https("localhost", platform->Port(), std::chrono::seconds(5),
                        net::ClientTls{true, cert.cert_file});
  EXPECT_EQ(https.Request("GET", "/healthz").status, 200);
  net::HttpClient plain("127.0.0.1", platform->Port(), std::chrono::seconds(5));
  EXPECT_EQ(plain.Request("GET", "/healthz").status, 400) << "plain HTTP to a TLS port";
  EXPECT_EQ(platform->Stop(), 0);
}

}  // namespace
}  // namespace sb::ptest
