// Keeps the exchange's account list of this platform equal to its own users: every user is an
// account there with the same discoverability, and nothing else is.
//
// Threading: blocks on the exchange; call at start-up or on the worker thread only.
#pragma once

#include <cstddef>

#include "platform/exchange_link.h"
#include "platform/user_store.h"

namespace sb::platform {

struct SyncResult {
  std::size_t added = 0;    // accounts added, or whose discoverability was corrected
  std::size_t removed = 0;  // accounts the exchange had that are no user here
};

// Lists the exchange's accounts (every page) and sends the difference. Throws like ExchangeLink.
SyncResult ReconcileAccounts(UserStore& users, ExchangeLink& exchange);

}  // namespace sb::platform
