// Isolation between platforms, against the real binary: every HTTP endpoint that names a platform
// (all of docs/openapi.json's paths with {platform_id}) refuses another platform's key with 403,
// operator-only endpoints refuse platform keys, a platform cannot sign for another's users, and
// no credential reaches the exchange's log even at debug level.
#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

#ifndef SB_OPENAPI
#error "SB_OPENAPI must name docs/openapi.json"
#endif

namespace sb::itest {
namespace {

struct Endpoint {
  std::string method;  // upper case
  std::string path;    // with {platform_id} and the other parameters
};

json::object ReadOpenApi() {
  std::ifstream in(SB_OPENAPI);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str()).as_object();
}

// Every operation of the document whose path names a platform.
std::vector<Endpoint> PlatformEndpoints() {
  std::vector<Endpoint> endpoints;
  const json::object document = ReadOpenApi();
  for (const auto& [path, item] : document.at("paths").as_object()) {
    if (std::string(path).find("{platform_id}") == std::string::npos) continue;
    for (const auto& [method, operation] : item.as_object()) {
      std::string upper(method);
      for (char& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (upper == "GET" || upper == "PUT" || upper == "POST" || upper == "DELETE") {
        endpoints.push_back({upper, std::string(path)});
      }
    }
  }
  return endpoints;
}

std::string Fill(std::string path, const std::string& platform_id) {
  auto replace = [&path](const std::string& name, const std::string& value) {
    if (auto at = path.find(name); at != std::string::npos) path.replace(at, name.size(), value);
  };
  replace("{platform_id}", platform_id);
  replace("{account}", "alice");
  replace("{request_id}", "1");
  return path;
}

// A body that the endpoint would accept from its owner, so that a missing check would show as
// success rather than hide behind a validation error.
json::value BodyFor(const Endpoint& endpoint, const Platform& attacker) {
  const auto& path = endpoint.path;
  if (path.ends_with("/jwks")) return JwksFor(attacker.key, "k1");
  if (path.ends_with("/accounts")) return json::object{{"add", json::array{"mallory"}}};
  if (path.ends_with("/offload-policy")) {
    return json::object{{"kind", "exposure"}, {"params", json::object{}}};
  }
  if (path.ends_with("/traffic-influence")) {
    return json::object{{"accounts", json::array{"alice"}}, {"dnais", json::array{"dnai-x"}}};
  }
  return nullptr;
}

class IsolationTest : public IntegrationTest {
 protected:
  std::string ConfigToml() const override { return "log_level = \"debug\"\n"; }
};

TEST_F(IsolationTest, TheOpenApiDocumentListsThePlatformEndpoints) {
  // A guard on the sweep below: were the document unreadable, it would test nothing.
  EXPECT_GE(PlatformEndpoints().size(), 13u);
}

TEST_F(IsolationTest, EveryEndpointNamingAPlatformRefusesAnotherPlatformsKey) {
  Platform alpha = Register("alpha", {"alice", "bob"});
  Platform beta = Register("beta", {"carol"});

  for (const auto& endpoint : PlatformEndpoints()) {
    const auto target = Fill(endpoint.path, alpha.id);
    const auto body = BodyFor(endpoint, beta);
    auto reply = body.is_null() ? api().Call(endpoint.method, target, beta.api_key)
                                : api().Call(endpoint.method, target, beta.api_key, body);
    EXPECT_TRUE(IsApiError(reply, 403, "forbidden")) << endpoint.method << " " << target;
  }

  // Nothing of alpha's changed.
  auto accounts = api().Call("GET", "/v1/platforms/alpha/accounts", alpha.api_key);
  ASSERT_EQ(accounts.status, 200) << accounts.Describe();
  EXPECT_EQ(accounts.raw.find("mallory"), std::string::npos) << accounts.raw;
  EXPECT_EQ(api().Call("GET", "/v1/platforms/alpha", alpha.api_key).status, 200);
  Connect(alpha, "alice");  // alpha's own key set still verifies alpha's tokens
}

TEST_F(IsolationTest, AForbiddenAnswerDoesNotTellWhetherTheThingExists) {
  Platform alpha = Register("alpha", {"alice"});
  Platform beta = Register("beta", {"carol"});
  for (const char* target :
       {"/v1/terminals/alpha/alice", "/v1/terminals/alpha/nobody",
        "/v1/platforms/alpha/traffic-influence/999", "/v1/platforms/nosuchplatform",
        "/v1/platforms/nosuchplatform/accounts"}) {
    EXPECT_TRUE(IsApiError(api().Call("GET", target, beta.api_key), 403, "forbidden")) << target;
  }
}

TEST_F(IsolationTest, OperatorEndpointsRefusePlatformKeys) {
  Platform alpha = Register("alpha", {"alice"});
  Platform beta = Register("beta", {"carol"});

  EXPECT_TRUE(IsApiError(api().Call("POST", "/v1/enrollments", alpha.api_key, json::object{}), 403,
                         "forbidden"));
  json::object registration{
      {"name", "gamma"}, {"accounts", json::array{"x"}}, {"jwks", JwksFor(alpha.key, "k1")}};
  EXPECT_TRUE(IsApiError(api().Call("POST", "/v1/platforms", alpha.api_key, registration), 403,
                         "forbidden"));
  json::object report{{"platform", "alpha"}, {"account", "alice"}, {"tai", "t"}, {"cell", "c"}};
  EXPECT_TRUE(IsApiError(api().Call("POST", "/v1/network/location-reports", alpha.api_key, report),
                         403, "forbidden"));
  // Deregistration is the operator's, even for the platform itself.
  for (const auto* key : {&alpha.api_key, &beta.api_key}) {
    EXPECT_TRUE(IsApiError(api().Call("DELETE", "/v1/platforms/alpha", *key), 403, "forbidden"));
  }
  EXPECT_EQ(api().Call("GET", "/v1/platforms/alpha", alpha.api_key).status, 200);
}

TEST_F(IsolationTest, APlatformCannotSignForAnotherPlatformsUsers) {
  Platform alpha = Register("alpha", {"alice"});
  Platform beta = Register("beta", {"carol"});

  // beta's key, alpha's name in `iss`: alpha's JWK set does not verify it.
  Terminal forged(exchange().Port());
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto answer =
      forged.HelloExpectingError(beta.key.MintToken(alpha.id, "alice", now, 600, "k1"), "device-x");
  EXPECT_EQ(Str(answer, "code"), "bad_token") << json::serialize(answer);

  // A terminal of beta cannot send as alpha's user.
  auto carol = Connect(beta, "carol");
  auto id = carol->SendText(alpha.At("alice"), beta.At("carol"), "spoofed");
  EXPECT_TRUE(IsFrame(carol->WaitForAnswer(id), "rejected", "sender_mismatch"));
}

TEST_F(IsolationTest, NoCredentialReachesTheLogAtDebugLevel) {
  // A whole session: an enrollment, a self-registration, tokens, messages both ways, a rotation.
  auto enrollment = api().Call("POST", "/v1/enrollments", OperatorToken(), json::object{});
  ASSERT_EQ(enrollment.status, 201) << enrollment.Describe();
  const std::string enrollment_token = Str(enrollment.body.as_object(), "enrollment_token");
  Platform alpha = RegisterPlatform(api(), enrollment_token, "alpha", {"alice"});
  Platform beta = Register("beta", {"bob"});

  const std::string alice_token = alpha.Token("alice");
  const std::string bob_token = beta.Token("bob");
  {
    Terminal alice(exchange().Port());
    alice.Hello(alice_token, "phone");
    Terminal bob(exchange().Port());
    bob.Hello(bob_token, "laptop");
    alice.SendAccepted(alpha.At("alice"), beta.At("bob"), "hello bob");
    auto message = bob.Expect("message");
    bob.SendJson(json::object{{"type", "ack"}, {"message_id", Str(message, "message_id")}});
    bob.SendAccepted(beta.At("bob"), alpha.At("alice"), "hello alice");
    alice.Expect("message");
  }
  ASSERT_EQ(
      api().Call("PUT", "/v1/platforms/alpha/jwks", alpha.api_key, JwksFor(alpha.key, "k1")).status,
      200);
  ASSERT_EQ(exchange().Stop(), 0);

  const std::string log = exchange().Log();
  ASSERT_NE(log.find(" debug ["), std::string::npos) << "the exchange did not log at debug level";
  const std::vector<std::pair<std::string, std::string>> secrets = {
      {"operator token", OperatorToken()},
      {"enrollment token", enrollment_token},
      {"alpha's key", alpha.api_key},
      {"beta's key", beta.api_key},
      {"alice's token", alice_token},
      {"bob's token", bob_token},
      {"alpha's signing seed", alpha.key.Seed()}};
  for (const auto& [what, secret] : secrets) {
    ASSERT_FALSE(secret.empty()) << what;
    EXPECT_EQ(log.find(secret), std::string::npos) << what << " appears in the log";
  }
  // Nor the signature of a token alone (the part that makes it a credential).
  EXPECT_EQ(log.find(alice_token.substr(alice_token.rfind('.') + 1)), std::string::npos);
}

}  // namespace
}  // namespace sb::itest
