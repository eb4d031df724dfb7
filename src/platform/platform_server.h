// `switchboard platform`: the reference platform server, what an integrating platform does.
//
// Start-up, in order (each step blocks; a failure throws std::runtime_error with the reason):
//   1. the data folder (mode 0700): users.db, the signing key, the saved registration;
//   2. seed users that do not exist yet;
//   3. wait for the exchange's /healthz;
//   4. registration: reuse the saved platform id and key (and publish the current public key), or
//      register with the enrollment token and save what the exchange answered (mode 0600);
//   5. a full reconciliation of the account list;
//   6. the offload policy, when configured (a warning when the exchange lacks the endpoint).
// Then it serves its web page and /api (platform_api.h) until SIGINT or SIGTERM, reconciling the
// account list again every `sync_interval_s`.
//
// Threads: an event loop serves HTTP; one worker thread does everything that blocks (the users
// database, password hashing, calls to the exchange) and posts each answer back to the loop.
#pragma once

#include "platform/config.h"

namespace sb::platform {

// Runs the platform; returns the process exit code after a graceful stop.
int RunPlatform(const PlatformConfig& config);

}  // namespace sb::platform
