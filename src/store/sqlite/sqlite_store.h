// The embedded store: SQLite in WAL mode, one writer thread, group commit.
//
// The writer thread takes every mutation queued since its last commit (up to `max_batch`), applies
// them in one transaction, commits, and only then runs their completions. With `durable` set the
// commit syncs the WAL (synchronous=FULL), so one fsync covers a whole batch; without it SQLite
// does not sync (synchronous=OFF) and SyncsCommits() is false, which makes the exchange accept
// messages without waiting for their commit (docs/durability.md).
//
// Within a batch, a message that is both appended and deleted is never written, and all message
// deletions run as one statement (see mutation_writer.h).
//
// Thread-safety: as the Store contract says. Completions run on the writer thread, so they must
// not call Flush() or Close() (the writer would wait for itself); Submit() from a completion is
// fine. A Submit() after Close() runs its completion at once, on the caller's thread, with
// kUnavailable: nothing is dropped silently.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/metrics.h"
#include "store/store.h"

namespace sb::store {

struct SqliteOptions {
  std::string path;  // the database file; its folder must exist
  bool durable = true;
  std::size_t max_batch = 4096;
  // Without `durable` only: how long the first mutation of a batch waits for more before the
  // writer commits (a full batch, Flush() or Close() cut it short). Longer batches cost less per
  // mutation, and a message acknowledged within the wait is never written; the price is that a
  // crash loses up to this much more of what was accepted.
  std::chrono::milliseconds write_behind_delay{10};
  // 0 = unlimited. A limit (in pages of the database file) makes the store run out of space once
  // the file would grow past it, as a full disk would; tests use it to exercise failed commits,
  // because permissions do not stop a process running as root.
  std::int64_t max_page_count = 0;
};

// Opens (creating when absent) the database and its schema; throws std::runtime_error on failure.
// `metrics` receives the store's commit latency, batch sizes and queue depth.
std::unique_ptr<Store> OpenSqliteStore(const SqliteOptions& options, MetricsRegistry& metrics);

}  // namespace sb::store
