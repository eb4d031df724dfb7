// Terminal tokens against the real binary: the exchange bounds their lifetime
// (`[auth] max_token_lifetime_s`), drops a terminal when its token expires while it is connected,
// and drops terminals whose token was signed by a key their platform withdrew from its JWK set.
#include "harness.h"

namespace sb::itest {
namespace {

std::int64_t NowS() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// `{"keys":[..]}` with the public JWKs of both keys.
json::value JwksOf(const auth::SigningKey& first, const std::string& first_kid,
                   const auth::SigningKey& second, const std::string& second_kid) {
  json::array keys;
  keys.push_back(JwksFor(first, first_kid).as_object().at("keys").as_array().at(0));
  keys.push_back(JwksFor(second, second_kid).as_object().at("keys").as_array().at(0));
  return json::object{{"keys", std::move(keys)}};
}

// The exchange tells the terminal `code` in an error frame, then closes with 1008.
::testing::AssertionResult IsDroppedWith(Terminal& terminal, const std::string& code) {
  auto error = terminal.WaitForType("error");
  if (!IsFrame(error, "error", code)) return ::testing::AssertionFailure() << "no error " << code;
  if (!terminal.WaitClosed()) return ::testing::AssertionFailure() << "not closed";
  if (terminal.ws().CloseCode() != 1008)
    return ::testing::AssertionFailure() << "close code " << terminal.ws().CloseCode().value_or(0);
  return ::testing::AssertionSuccess();
}

class TokenLifetimeTest : public IntegrationTest {
 protected:
  // No skew, so that a token expires exactly at `exp`; a lifetime bound of ten minutes.
  std::string ConfigToml() const override {
    return "[auth]\nclock_skew_s = 0\nmax_token_lifetime_s = 600\n";
  }
  // A terminal that said hello with a token of `ttl_s` seconds.
  std::unique_ptr<Terminal> ConnectFor(const Platform& p, const std::string& account,
                                       std::int64_t ttl_s = 600) {
    auto terminal = std::make_unique<Terminal>(exchange().Port());
    terminal->Hello(p.Token(account, ttl_s), "device-" + account);
    return terminal;
  }
};

TEST_F(TokenLifetimeTest, ATokenLivingLongerThanTheBoundIsRefused) {
  Platform p = Register("Alpha", {"alice"});

  Terminal long_lived(exchange().Port());
  auto refused = long_lived.HelloExpectingError(p.Token("alice", 3600), "device-1");
  EXPECT_TRUE(IsFrame(refused, "error", "bad_token"));
  EXPECT_NE(Str(refused, "message").find("lifetime"), std::string::npos) << Str(refused, "message");
  EXPECT_TRUE(long_lived.WaitClosed());

  // exp - now is short, but exp - iat is not: the token claims to have lived long already.
  Terminal old_iat(exchange().Port());
  const std::string backdated = p.key.MintToken(p.id, "alice", NowS() - 500, 1000, p.kid);
  EXPECT_TRUE(IsFrame(old_iat.HelloExpectingError(backdated, "device-2"), "error", "bad_token"));

  Terminal within(exchange().Port());
  EXPECT_NO_THROW(within.Hello(p.Token("alice", 600), "device-3"));
}

TEST_F(TokenLifetimeTest, ATerminalIsDroppedWhenItsTokenExpires) {
  Platform p = Register("Alpha", {"alice", "amy"});
  auto short_lived = ConnectFor(p, "alice", 3);
  auto amy = ConnectFor(p, "amy");

  EXPECT_TRUE(IsDroppedWith(*short_lived, "token_expired"));
  // Others stay.
  amy->SendAccepted(p.At("amy"), p.At("alice"), "still here");
  EXPECT_GE(
      MetricValue(Metrics(), "switchboard_credential_disconnects_total", "code=\"token_expired\""),
      1.0);
}

TEST_F(TokenLifetimeTest, TerminalsSignedByAWithdrawnKeyAreDropped) {
  Platform p = Register("Alpha", {"alice", "amy"});
  const auth::SigningKey next = auth::SigningKey::Generate();
  ApiReply both = api().Call("PUT", "/v1/platforms/" + p.id + "/jwks", p.api_key,
                             JwksOf(p.key, "k1", next, "k2"));
  ASSERT_EQ(both.status, 200) << both.Describe();

  auto old_key = ConnectFor(p, "alice");
  Terminal new_key(exchange().Port());
  new_key.Hello(next.MintToken(p.id, "amy", NowS(), 600, "k2"), "device-1");

  ApiReply rotated =
      api().Call("PUT", "/v1/platforms/" + p.id + "/jwks", p.api_key, JwksFor(next, "k2"));
  ASSERT_EQ(rotated.status, 200) << rotated.Describe();

  EXPECT_TRUE(IsDroppedWith(*old_key, "bad_token"));
  new_key.SendAccepted(p.At("amy"), p.At("alice"), "signed by a key still trusted");
}

}  // namespace
}  // namespace sb::itest
