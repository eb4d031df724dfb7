// Failed authentications on the HTTP API against the real binary: each one (no credential, a wrong
// platform key, a wrong operator token, a spent enrollment token) takes a token from its source
// address's bucket, and once that is empty every /v1 call from the address is answered 429
// `rate_limited` with Retry-After, valid credentials included.
#include "harness.h"

namespace sb::itest {
namespace {

class AuthLimitsTest : public IntegrationTest {
 protected:
  // Three failures, then practically no refill during a test.
  std::string ConfigToml() const override {
    return "[limits]\nauth_failure_rate = 0.001\nauth_failure_burst = 3\n";
  }

  net::HttpReply Raw(const std::string& method, const std::string& target,
                     const std::string& credential, const json::value& body = nullptr) {
    net::HttpClient http("127.0.0.1", exchange().Port());
    std::map<std::string, std::string> headers;
    if (!credential.empty()) headers["Authorization"] = "Bearer " + credential;
    return http.Request(method, target, body.is_null() ? "" : json::serialize(body), headers);
  }
};

TEST_F(AuthLimitsTest, RepeatedFailuresFromAnAddressAreRateLimited) {
  Platform p = Register("Alpha", {"alice"});
  ApiReply enrollment =
      api().Call("POST", "/v1/enrollments", OperatorToken(), json::object{{"name", "Beta"}});
  ASSERT_EQ(enrollment.status, 201) << enrollment.Describe();
  const std::string spent = Str(enrollment.body.as_object(), "enrollment_token");
  RegisterPlatform(api(), spent, "Beta", json::array{"bob"});
  ASSERT_EQ(Raw("GET", "/v1/platforms/" + p.id, p.api_key).status, 200);

  // Three failures: a wrong platform key, a wrong operator token, a spent enrollment token.
  EXPECT_EQ(Raw("GET", "/v1/platforms/" + p.id, p.api_key + "x").status, 401);
  EXPECT_EQ(Raw("POST", "/v1/enrollments", OperatorToken() + "x", json::object{}).status, 401);
  const json::object again{
      {"name", "Gamma"}, {"accounts", json::array{"carol"}}, {"jwks", JwksFor(p.key, "k1")}};
  EXPECT_EQ(Raw("POST", "/v1/platforms", spent, again).status, 401);

  // The fourth attempt, and then every call from the address, valid or not.
  for (const std::string& credential : {std::string(), p.api_key, OperatorToken()}) {
    net::HttpReply reply = Raw("GET", "/v1/platforms/" + p.id, credential);
    EXPECT_EQ(reply.status, 429) << reply.body;
    EXPECT_TRUE(IsApiError(ApiReply{reply.status, reply.body, json::parse(reply.body)}, 429,
                           "rate_limited"));
    ASSERT_EQ(reply.headers.count("retry-after"), 1u);
    EXPECT_GE(std::stoll(reply.headers.at("retry-after")), 1);
  }

  // Health and metrics are not behind the limit.
  EXPECT_EQ(Raw("GET", "/healthz", "").status, 200);
  const std::string metrics = Metrics();
  EXPECT_EQ(MetricValue(metrics, "switchboard_http_auth_failures_total"), 3.0);
  EXPECT_EQ(MetricValue(metrics, "switchboard_http_auth_rate_limited_total"), 3.0);
}

TEST_F(AuthLimitsTest, ValidCredentialsDoNotUseTheBudget) {
  Platform p = Register("Alpha", {"alice"});
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Raw("GET", "/v1/platforms/" + p.id, p.api_key).status, 200);
    ASSERT_EQ(Raw("GET", "/v1/platforms/" + p.id, OperatorToken()).status, 200);
  }
  EXPECT_EQ(Raw("GET", "/v1/platforms/" + p.id, "wrong").status, 401);
}

}  // namespace
}  // namespace sb::itest
