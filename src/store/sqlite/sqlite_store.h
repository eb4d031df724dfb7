// The embedded store: SQLite in WAL mode, one writer thread, group commit.
//
// The writer thread takes every mutation queued since its last commit (up to `max_batch`), applies
// them in one transaction, commits, and only then runs their completions. With `durable` set the
// commit syncs the WAL (synchronous=FULL), so one fsync covers a whole batch; without it SQLite
// does not sync (synchronous=OFF), for measurements with durability off.
#pragma once

#include <memory>
#include <string>

#include "core/metrics.h"
#include "store/store.h"

namespace sb::store {

struct SqliteOptions {
  std::string path;  // the database file; its folder must exist
  bool durable = true;
  std::size_t max_batch = 4096;
};

// Opens (creating when absent) the database and its schema; throws std::runtime_error on failure.
// `metrics` receives the store's commit latency, batch sizes and queue depth.
std::unique_ptr<Store> OpenSqliteStore(const SqliteOptions& options, MetricsRegistry& metrics);

}  // namespace sb::store
