// The HTTP API of the real binary: registration, accounts, directory, and every refusal with its
// status and stable code.
#include <set>
#include <string>

#include "harness.h"

namespace sb::itest {
namespace {

using HttpApiTest = IntegrationTest;

json::object Body(const std::string& name, const json::array& accounts, const json::value& jwks) {
  return json::object{{"name", name}, {"accounts", accounts}, {"jwks", jwks}};
}

json::value SomeJwks() {
  return JwksFor(auth::SigningKey::Generate(), "k1");
}

TEST_F(HttpApiTest, RegistrationDerivesPlatformIdFromName) {
  ApiReply first = api().Call("POST", "/v1/platforms", OperatorToken(),
                              Body("Meta World", {"alice", "bob"}, SomeJwks()));
  ASSERT_EQ(first.status, 201) << first.Describe();
  const auto& created = first.body.as_object();
  EXPECT_EQ(Str(created, "platform_id"), "metaworld");
  EXPECT_EQ(Str(created, "name"), "Meta World");
  EXPECT_FALSE(Str(created, "api_key").empty());
  EXPECT_EQ(created.at("accounts").to_number<std::int64_t>(), 2);

  // A taken id gets a numeric suffix.
  ApiReply second = api().Call("POST", "/v1/platforms", OperatorToken(),
                               Body("Meta World", {"carol"}, SomeJwks()));
  ASSERT_EQ(second.status, 201) << second.Describe();
  const std::string second_id = Str(second.body.as_object(), "platform_id");
  ASSERT_GT(second_id.size(), std::string("metaworld").size());
  EXPECT_EQ(second_id.substr(0, 9), "metaworld");
  EXPECT_EQ(second_id.find_first_not_of("0123456789", 9), std::string::npos) << second_id;

  // The platform reads itself back with its own key.
  ApiReply self = api().Call("GET", "/v1/platforms/metaworld", Str(created, "api_key"));
  ASSERT_EQ(self.status, 200) << self.Describe();
  EXPECT_EQ(Str(self.body.as_object(), "platform_id"), "metaworld");
  EXPECT_EQ(Str(self.body.as_object(), "name"), "Meta World");
  EXPECT_EQ(self.body.as_object().at("accounts").to_number<std::int64_t>(), 2);
}

TEST_F(HttpApiTest, MissingCredentialIsUnauthenticated) {
  Platform p = Register("Alpha", {"alice"});

  EXPECT_TRUE(IsApiError(api().Call("POST", "/v1/platforms", "", Body("Beta", {"b"}, SomeJwks())),
                         401, "unauthenticated"));
  EXPECT_TRUE(IsApiError(api().Call("GET", "/v1/platforms/" + p.id, ""), 401, "unauthenticated"));
  EXPECT_TRUE(IsApiError(api().Call("POST", "/v1/enrollments", "", json::object{}), 401,
                         "unauthenticated"));
  EXPECT_TRUE(
      IsApiError(api().Call("DELETE", "/v1/platforms/" + p.id, ""), 401, "unauthenticated"));
}

TEST_F(HttpApiTest, UnknownBearerIsUnauthenticated) {
  Platform p = Register("Alpha", {"alice"});

  EXPECT_TRUE(
      IsApiError(api().Call("POST", "/v1/platforms", "not-a-key", Body("Beta", {"b"}, SomeJwks())),
                 401, "unauthenticated"));
  EXPECT_TRUE(
      IsApiError(api().Call("GET", "/v1/platforms/" + p.id, "not-a-key"), 401, "unauthenticated"));
  EXPECT_TRUE(IsApiError(api().Call("POST", "/v1/platforms/" + p.id + "/accounts", "not-a-key",
                                    json::object{{"add", {"x"}}}),
                         401, "unauthenticated"));
}

TEST_F(HttpApiTest, PlatformKeyOnAnotherPlatformIsForbidden) {
  Platform a = Register("Alpha", {"alice"});
  Platform b = Register("Bravo", {"bob"});

  EXPECT_TRUE(IsApiError(api().Call("GET", "/v1/platforms/" + b.id, a.api_key), 403, "forbidden"));
  EXPECT_TRUE(IsApiError(api().Call("POST", "/v1/platforms/" + b.id + "/accounts", a.api_key,
                                    json::object{{"add", {"mallory"}}}),
                         403, "forbidden"));
  EXPECT_TRUE(IsApiError(api().Call("GET", "/v1/platforms/" + b.id + "/accounts", a.api_key), 403,
                         "forbidden"));
  EXPECT_TRUE(
      IsApiError(api().Call("PUT", "/v1/platforms/" + b.id + "/jwks", a.api_key, SomeJwks()), 403,
                 "forbidden"));
}

TEST_F(HttpApiTest, PlatformKeyOnOperatorEndpointIsForbidden) {
  Platform a = Register("Alpha", {"alice"});

  EXPECT_TRUE(IsApiError(api().Call("POST", "/v1/enrollments", a.api_key, json::object{}), 403,
                         "forbidden"));
  EXPECT_TRUE(
      IsApiError(api().Call("DELETE", "/v1/platforms/" + a.id, a.api_key), 403, "forbidden"));
}

TEST_F(HttpApiTest, UnknownPlatformIsNotRegistered) {
  EXPECT_TRUE(IsApiError(api().Call("GET", "/v1/platforms/nosuchplatform", OperatorToken()), 404,
                         "platform_not_registered"));
  EXPECT_TRUE(IsApiError(api().Call("DELETE", "/v1/platforms/nosuchplatform", OperatorToken()), 404,
                         "platform_not_registered"));
}

TEST_F(HttpApiTest, MalformedJsonIsBadRequest) {
  Platform a = Register("Alpha", {"alice"});

  EXPECT_TRUE(IsApiError(api().CallRaw("POST", "/v1/platforms", OperatorToken(), "{\"name\": "),
                         400, "bad_request"));
  EXPECT_TRUE(IsApiError(
      api().CallRaw("POST", "/v1/platforms/" + a.id + "/accounts", a.api_key, "{add: [x]}"), 400,
      "bad_request"));
}

TEST_F(HttpApiTest, WrongTypesAndInvalidValuesAreInvalidParams) {
  Platform a = Register("Alpha", {"alice"});
  const std::string op = OperatorToken();
  auto register_with = [&](const json::value& body) {
    return api().Call("POST", "/v1/platforms", op, body);
  };

  EXPECT_TRUE(IsApiError(
      register_with(json::object{{"name", 5}, {"accounts", json::array{}}, {"jwks", SomeJwks()}}),
      422, "invalid_params"));
  EXPECT_TRUE(IsApiError(
      register_with(json::object{{"name", "Beta"}, {"accounts", "alice"}, {"jwks", SomeJwks()}}),
      422, "invalid_params"));
  EXPECT_TRUE(
      IsApiError(register_with(Body("Beta", {"has space"}, SomeJwks())), 422, "invalid_params"));
  EXPECT_TRUE(IsApiError(register_with(Body("Beta", {""}, SomeJwks())), 422, "invalid_params"));
  EXPECT_TRUE(IsApiError(register_with(Body("Beta", {std::string(129, 'a')}, SomeJwks())), 422,
                         "invalid_params"));
  EXPECT_TRUE(
      IsApiError(register_with(Body("Beta", {"ctl\x01"}, SomeJwks())), 422, "invalid_params"));
  json::object rsa{
      {"keys", json::array{json::object{{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}}}}};
  EXPECT_TRUE(IsApiError(register_with(Body("Beta", {"b"}, rsa)), 422, "invalid_params"));

  const std::string accounts = "/v1/platforms/" + a.id + "/accounts";
  EXPECT_TRUE(IsApiError(api().Call("POST", accounts, a.api_key, json::object{{"add", {5}}}), 422,
                         "invalid_params"));
  EXPECT_TRUE(
      IsApiError(api().Call("POST", accounts, a.api_key, json::object{{"add", {"tab\tbed"}}}), 422,
                 "invalid_params"));
  EXPECT_TRUE(IsApiError(api().Call("PUT", "/v1/platforms/" + a.id + "/jwks", a.api_key,
                                    json::object{{"keys", json::array{}}}),
                         422, "invalid_params"));
}

TEST_F(HttpApiTest, BodyOverDefaultLimitIsTooLarge) {
  const std::string body(33554432 + 1, 'x');
  EXPECT_TRUE(
      IsApiError(api().CallRaw("POST", "/v1/platforms", OperatorToken(), body), 413, "too_large"));
}

class SmallBodyLimitTest : public IntegrationTest {
 protected:
  std::string ConfigToml() const override { return "[limits]\nmax_body_bytes = 4096\n"; }
};

TEST_F(SmallBodyLimitTest, BodyOverConfiguredLimitIsTooLarge) {
  json::array accounts;
  for (int i = 0; i < 1000; ++i) {
    accounts.emplace_back("user" + std::to_string(i));
  }
  EXPECT_TRUE(IsApiError(
      api().Call("POST", "/v1/platforms", OperatorToken(), Body("Big", accounts, SomeJwks())), 413,
      "too_large"));
  // A body under the limit still works on the same exchange.
  EXPECT_NO_THROW(Register("Small", {"alice"}));
}

TEST_F(HttpApiTest, EnrollmentTokenIsSingleUse) {
  ApiReply enrollment = api().Call("POST", "/v1/enrollments", OperatorToken(),
                                   json::object{{"name", "Self Service"}});
  ASSERT_EQ(enrollment.status, 201) << enrollment.Describe();
  const std::string token = Str(enrollment.body.as_object(), "enrollment_token");
  ASSERT_FALSE(token.empty()) << enrollment.Describe();
  EXPECT_TRUE(enrollment.body.as_object().contains("expires_at")) << enrollment.Describe();

  ApiReply first =
      api().Call("POST", "/v1/platforms", token, Body("Self Service", {"alice"}, SomeJwks()));
  ASSERT_EQ(first.status, 201) << first.Describe();
  EXPECT_FALSE(Str(first.body.as_object(), "api_key").empty());

  ApiReply second =
      api().Call("POST", "/v1/platforms", token, Body("Second Try", {"bob"}, SomeJwks()));
  EXPECT_TRUE(IsApiError(second, 401, "unauthenticated"));
}

TEST_F(HttpApiTest, HundredThousandAccountsInOneRequest) {
  Platform p = Register("Bulk", json::array{});
  json::array add;
  add.reserve(100000);
  for (int i = 0; i < 100000; ++i) {
    add.emplace_back("user" + std::to_string(i));
  }

  ApiReply reply = api().Call("POST", "/v1/platforms/" + p.id + "/accounts", p.api_key,
                              json::object{{"add", std::move(add)}});
  ASSERT_EQ(reply.status, 200) << reply.Describe();
  EXPECT_EQ(reply.body.at("added").to_number<std::int64_t>(), 100000);
  EXPECT_EQ(reply.body.at("removed").to_number<std::int64_t>(), 0);
  EXPECT_EQ(reply.body.at("total").to_number<std::int64_t>(), 100000);

  // Paging through the list returns every account exactly once.
  std::set<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 200; ++page) {
    std::string target = "/v1/platforms/" + p.id + "/accounts?limit=1000";
    if (!cursor.empty()) target += "&cursor=" + cursor;
    ApiReply list = api().Call("GET", target, p.api_key);
    ASSERT_EQ(list.status, 200) << list.Describe();
    for (const auto& entry : list.body.at("accounts").as_array()) {
      EXPECT_TRUE(seen.insert(Str(entry.as_object(), "account")).second);
    }
    const auto& next = list.body.at("next_cursor");
    if (next.is_null()) break;
    cursor = std::string(next.as_string());
  }
  EXPECT_EQ(seen.size(), 100000u);
}

TEST_F(HttpApiTest, AccountsAddRemoveAndList) {
  Platform p = Register("Alpha", {"alice", "bob"});
  const std::string target = "/v1/platforms/" + p.id + "/accounts";

  ApiReply change = api().Call(
      "POST", target, p.api_key,
      json::object{{"add", {"carol", json::object{{"account", "dave"}, {"discoverable", false}}}},
                   {"remove", {"bob"}}});
  ASSERT_EQ(change.status, 200) << change.Describe();
  EXPECT_EQ(change.body.at("added").to_number<std::int64_t>(), 2);
  EXPECT_EQ(change.body.at("removed").to_number<std::int64_t>(), 1);
  EXPECT_EQ(change.body.at("total").to_number<std::int64_t>(), 3);

  ApiReply list = api().Call("GET", target, p.api_key);
  ASSERT_EQ(list.status, 200) << list.Describe();
  std::map<std::string, bool> accounts;
  for (const auto& entry : list.body.at("accounts").as_array()) {
    accounts[Str(entry.as_object(), "account")] = entry.at("discoverable").as_bool();
  }
  EXPECT_EQ(accounts,
            (std::map<std::string, bool>{{"alice", true}, {"carol", true}, {"dave", false}}));
  EXPECT_TRUE(list.body.at("next_cursor").is_null());
}

TEST_F(HttpApiTest, DirectoryListsOnlyDiscoverableAccounts) {
  Platform a = Register(
      "Alpha", {"alice", json::object{{"account", "hidden"}, {"discoverable", false}}, "alfred"});
  Platform b = Register("Bravo", {"bob"});

  ApiReply reply =
      api().Call("GET", "/v1/directory?platform=" + a.id + "&prefix=al&limit=50", b.api_key);
  ASSERT_EQ(reply.status, 200) << reply.Describe();
  std::set<std::string> accounts;
  for (const auto& entry : reply.body.at("entries").as_array()) {
    EXPECT_EQ(Str(entry.as_object(), "platform_id"), a.id);
    EXPECT_EQ(Str(entry.as_object(), "platform_name"), "Alpha");
    accounts.insert(Str(entry.as_object(), "account"));
  }
  EXPECT_EQ(accounts, (std::set<std::string>{"alice", "alfred"}));

  ApiReply all = api().Call("GET", "/v1/directory?platform=" + a.id, OperatorToken());
  ASSERT_EQ(all.status, 200) << all.Describe();
  for (const auto& entry : all.body.at("entries").as_array()) {
    EXPECT_NE(Str(entry.as_object(), "account"), "hidden");
  }
  EXPECT_TRUE(IsApiError(api().Call("GET", "/v1/directory", ""), 401, "unauthenticated"));
}

}  // namespace
}  // namespace sb::itest
