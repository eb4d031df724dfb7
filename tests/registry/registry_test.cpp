#include "registry/registry.h"

#include <gtest/gtest.h>

#include <optional>

#include "auth/secret.h"
#include "core/clock.h"
#include "store/sqlite/sqlite_store.h"
#include "support/test_loop.h"

namespace sb::registry {
namespace {

using sb::testing::TempDir;
using sb::testing::TestLoop;

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() { Open(); }

  void Open() {
    registry_.reset();
    if (store_) store_->Close();
    store_ = store::OpenSqliteStore({dir_.File("registry.db")}, metrics_);
    registry_ = std::make_unique<Registry>(*store_, loop_.executor(), metrics_);
    registry_->Load(store_->Load());
  }

  template <typename T, typename Start>
  Result<T> Wait(Start start) {
    std::optional<Result<T>> result;
    start([&](Result<T> r) { result.emplace(std::move(r)); });
    EXPECT_TRUE(loop_.RunUntil([&] { return result.has_value(); }));
    return std::move(*result);
  }

  Registered Register(const std::string& name, std::vector<store::AccountRecord> accounts,
                      const auth::SigningKey& key, std::string enrollment = {}) {
    auto keys = auth::JwkSet::Parse(R"({"keys":[)" + key.PublicJwkJson("k1") + "]}");
    EXPECT_TRUE(keys.ok());
    auto result = Wait<Registered>([&](auto done) {
      registry_->Register(
          Registration{name, std::move(accounts), std::move(keys).value(), std::move(enrollment)},
          done);
    });
    EXPECT_TRUE(result.ok());
    return result.ok() ? result.value() : Registered{};
  }

  TempDir dir_;
  TestLoop loop_;
  MetricsRegistry metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Registry> registry_;
  auth::SigningKey meta_key_ = auth::SigningKey::Generate();
  auth::SigningKey shop_key_ = auth::SigningKey::Generate();
};

TEST_F(RegistryTest, RegistrationAssignsIdFromNameAndAKeyThatOpensThePlatform) {
  Registered meta = Register("Meta World", {{"alice", true}}, meta_key_);
  EXPECT_EQ(meta.platform_id, "metaworld");
  EXPECT_EQ(meta.accounts, 1u);
  ASSERT_NE(registry_->FindByKey(meta.api_key), nullptr);
  EXPECT_EQ(registry_->FindByKey(meta.api_key)->id, "metaworld");
  EXPECT_EQ(registry_->FindByKey("sbk_guess"), nullptr);
  // Only the hash is kept.
  EXPECT_NE(registry_->Find("metaworld")->key_hash, meta.api_key);
  EXPECT_EQ(registry_->Find("metaworld")->key_hash, auth::Sha256Hex(meta.api_key));
}

TEST_F(RegistryTest, TakenAndDeregisteredIdsAreNeverReused) {
  Registered first = Register("Shop", {}, shop_key_);
  Registered second = Register("shop", {}, shop_key_);
  EXPECT_EQ(first.platform_id, "shop");
  EXPECT_EQ(second.platform_id, "shop2");

  ASSERT_TRUE(Wait<Ok>([&](auto done) { registry_->Deregister("shop", done); }).ok());
  EXPECT_EQ(registry_->Find("shop"), nullptr);
  Open();  // the reservation survives a restart
  EXPECT_EQ(Register("Shop", {}, shop_key_).platform_id, "shop3");
}

TEST_F(RegistryTest, AuthenticateChecksIssuerKeyAndAccount) {
  Register("meta", {{"alice", true}}, meta_key_);
  Register("shop", {{"bob", true}}, shop_key_);
  const std::int64_t now_s = NowMillis() / 1000;

  auto ok =
      registry_->Authenticate(meta_key_.MintToken("meta", "alice", now_s, 300, "k1"), NowMillis());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), (Address{"meta", "alice"}));

  // One platform's key cannot vouch for another platform's account.
  auto forged =
      registry_->Authenticate(meta_key_.MintToken("shop", "bob", now_s, 300, "k1"), NowMillis());
  EXPECT_EQ(forged.error().code, ErrorCode::kBadToken);
  // A platform's token naming an account of another platform.
  auto foreign =
      registry_->Authenticate(meta_key_.MintToken("meta", "bob", now_s, 300, "k1"), NowMillis());
  EXPECT_EQ(foreign.error().code, ErrorCode::kSenderNotRegistered);
  auto unknown =
      registry_->Authenticate(meta_key_.MintToken("nope", "alice", now_s, 300, "k1"), NowMillis());
  EXPECT_EQ(unknown.error().code, ErrorCode::kPlatformNotRegistered);
  auto expired = registry_->Authenticate(
      meta_key_.MintToken("meta", "alice", now_s - 1000, 300, "k1"), NowMillis());
  EXPECT_EQ(expired.error().code, ErrorCode::kTokenExpired);
  EXPECT_EQ(registry_->Authenticate("garbage", NowMillis()).error().code, ErrorCode::kBadToken);
}

TEST_F(RegistryTest, FourPartCheckNamesTheMissingParty) {
  Register("meta", {{"alice", true}}, meta_key_);
  Register("shop", {{"bob", true}}, shop_key_);
  EXPECT_TRUE(registry_->CheckParties({"meta", "alice"}, {"shop", "bob"}).ok());
  EXPECT_EQ(registry_->CheckParties({"meta", "eve"}, {"shop", "bob"}).error().code,
            ErrorCode::kSenderNotRegistered);
  EXPECT_EQ(registry_->CheckParties({"meta", "alice"}, {"clip", "bob"}).error().code,
            ErrorCode::kPlatformNotRegistered);
  EXPECT_EQ(registry_->CheckParties({"meta", "alice"}, {"shop", "carol"}).error().code,
            ErrorCode::kRecipientNotRegistered);
}

TEST_F(RegistryTest, AccountChangesCountAndSurviveRestart) {
  Register("meta", {{"alice", true}}, meta_key_);
  auto change = Wait<AccountChange>([&](auto done) {
    registry_->ChangeAccounts("meta", {{"bob", true}, {"carol", false}, {"alice", true}},
                              {"alice", "nobody"}, done);
  });
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(change.value().added, 2u);
  EXPECT_EQ(change.value().removed, 1u);
  EXPECT_EQ(change.value().total, 2u);

  Open();
  EXPECT_FALSE(registry_->HasAccount({"meta", "alice"}));
  EXPECT_TRUE(registry_->HasAccount({"meta", "bob"}));
  EXPECT_TRUE(registry_->HasAccount({"meta", "carol"}));
}

TEST_F(RegistryTest, DirectoryListsOnlyDiscoverableAccounts) {
  Register("meta", {{"alice", true}, {"alfred", false}, {"bob", true}}, meta_key_);
  Register("shop", {{"alina", true}}, shop_key_);
  auto all = registry_->Directory("", "al", 10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].account, "alice");
  EXPECT_EQ(all[0].platform_name, "meta");
  EXPECT_EQ(all[1].account, "alina");
  EXPECT_EQ(registry_->Directory("shop", "", 10).size(), 1u);
  EXPECT_EQ(registry_->Directory("", "", 1).size(), 1u);
}

TEST_F(RegistryTest, AccountsPageWithCursor) {
  std::vector<store::AccountRecord> accounts;
  for (int i = 0; i < 25; ++i)
    accounts.push_back({"u" + std::to_string(100 + i), true});
  Register("meta", accounts, meta_key_);
  const Platform& platform = *registry_->Find("meta");
  std::vector<std::string> seen;
  std::string cursor;
  for (;;) {
    auto page = registry_->ListAccounts(platform, cursor, 10);
    for (const auto& a : page.accounts)
      seen.push_back(a.account);
    if (!page.next_cursor) break;
    cursor = *page.next_cursor;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_EQ(seen.front(), "u100");
  EXPECT_EQ(seen.back(), "u124");
}

TEST_F(RegistryTest, EnrollmentTokenIsSingleUse) {
  auto enrollment =
      Wait<Enrollment>([&](auto done) { registry_->CreateEnrollment("clip", 3600, done); });
  ASSERT_TRUE(enrollment.ok());
  const std::string token = enrollment.value().token;
  EXPECT_TRUE(registry_->IsEnrollmentUsable(token, NowMillis()));
  EXPECT_FALSE(registry_->IsEnrollmentUsable(token, NowMillis() + 3601 * 1000));

  Register("clip", {}, meta_key_, token);
  EXPECT_FALSE(registry_->IsEnrollmentUsable(token, NowMillis()));
  Open();
  EXPECT_FALSE(registry_->IsEnrollmentUsable(token, NowMillis()));
}

TEST_F(RegistryTest, RotatedKeysReplaceTheOldOnes) {
  Register("meta", {{"alice", true}}, meta_key_);
  auth::SigningKey next = auth::SigningKey::Generate();
  auto keys = auth::JwkSet::Parse(R"({"keys":[)" + next.PublicJwkJson("k2") + "]}");
  ASSERT_TRUE(keys.ok());
  ASSERT_TRUE(Wait<Ok>([&](auto done) {
                registry_->RotateKeys("meta", std::move(keys).value(), done);
              }).ok());
  const std::int64_t now_s = NowMillis() / 1000;
  EXPECT_TRUE(
      registry_->Authenticate(next.MintToken("meta", "alice", now_s, 60, "k2"), NowMillis()).ok());
  EXPECT_FALSE(
      registry_->Authenticate(meta_key_.MintToken("meta", "alice", now_s, 60, "k1"), NowMillis())
          .ok());
}

}  // namespace
}  // namespace sb::registry
