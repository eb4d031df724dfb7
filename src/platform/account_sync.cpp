#include "platform/account_sync.h"

#include <map>
#include <string>
#include <vector>

#include "platform/log.h"

namespace sb::platform {
namespace {

// Changes are sent in batches of this many accounts, to keep each request small.
constexpr std::size_t kBatch = 1000;

}  // namespace

SyncResult ReconcileAccounts(UserStore& users, ExchangeLink& exchange) {
  std::map<std::string, bool> remote;
  for (AccountEntry& entry : exchange.ListAccounts())
    remote[entry.account] = entry.discoverable;

  // What is here and missing (or differently listed) there; what is there and no longer here.
  std::vector<AccountEntry> add;
  for (const User& user : users.List()) {
    auto it = remote.find(user.account);
    if (it == remote.end() || it->second != user.discoverable) {
      add.push_back(AccountEntry{user.account, user.discoverable});
    }
    if (it != remote.end()) remote.erase(it);
  }
  std::vector<std::string> remove;
  for (auto& [account, discoverable] : remote)
    remove.push_back(account);

  for (std::size_t i = 0; i < add.size(); i += kBatch) {
    const auto end = add.begin() + static_cast<std::ptrdiff_t>(std::min(add.size(), i + kBatch));
    exchange.ChangeAccounts({add.begin() + static_cast<std::ptrdiff_t>(i), end}, {});
  }
  for (std::size_t i = 0; i < remove.size(); i += kBatch) {
    const auto end =
        remove.begin() + static_cast<std::ptrdiff_t>(std::min(remove.size(), i + kBatch));
    exchange.ChangeAccounts({}, {remove.begin() + static_cast<std::ptrdiff_t>(i), end});
  }

  if (!add.empty() || !remove.empty()) {
    Log()->info("accounts reconciled with the exchange: {} added or updated, {} removed",
                add.size(), remove.size());
  }
  return SyncResult{add.size(), remove.size()};
}

}  // namespace sb::platform
