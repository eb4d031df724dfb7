#include "store/sqlite/sqlite_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "store/sqlite/mutation_writer.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/snapshot_reader.h"
#include "store/sqlite/sqlite_db.h"

namespace sb::store {
namespace {

// Long enough to ride out a checkpoint or an operator's sqlite3 shell reading the file; short
// enough that a stuck lock surfaces as a failed batch rather than a silent stall.
constexpr int kBusyTimeoutMs = 5000;
// A failing disk fails every batch; one log line per interval says so without flooding the log.
constexpr auto kFailureLogInterval = std::chrono::seconds(1);

std::shared_ptr<spdlog::logger> StoreLogger() {
  if (auto existing = spdlog::get("store")) {
    return existing;
  }
  const auto& sinks = spdlog::default_logger()->sinks();
  auto logger = std::make_shared<spdlog::logger>("store", sinks.begin(), sinks.end());
  try {
    spdlog::initialize_logger(logger);
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get("store");  // another thread registered it first
  }
  return logger;
}

std::vector<double> BatchSizeBuckets() {
  std::vector<double> bounds;
  for (double b = 1; b <= 4096; b *= 2) {
    bounds.push_back(b);
  }
  return bounds;
}

struct StoreMetrics {
  Histogram& commit_seconds;
  Counter& commits;
  Counter& mutations;
  Counter& failed_batches;
  Gauge& queue_depth;
  Histogram& batch_size;
  Counter& annihilated;
};

StoreMetrics RegisterMetrics(MetricsRegistry& m) {
  return StoreMetrics{
      m.GetHistogram("switchboard_store_commit_seconds",
                     "Time to apply and commit one batch of mutations.", LatencyBuckets()),
      m.GetCounter("switchboard_store_commits_total", "Batches committed."),
      m.GetCounter("switchboard_store_mutations_total", "Mutations committed."),
      m.GetCounter("switchboard_store_failed_batches_total",
                   "Batches rolled back because they could not be committed."),
      m.GetGauge("switchboard_store_queue_depth", "Mutations submitted and not yet committed."),
      m.GetHistogram("switchboard_store_batch_size", "Mutations per batch.", BatchSizeBuckets()),
      m.GetCounter("switchboard_store_messages_annihilated_total",
                   "Messages appended and deleted within one batch, and so never written."),
  };
}

void UseWriteAheadLog(Database& db) {
  Statement pragma(db, "PRAGMA journal_mode = WAL");
  const std::string mode = pragma.NextRow() ? pragma.Text(0) : std::string();
  if (mode != "wal") {
    throw std::runtime_error("the store needs WAL mode, but SQLite chose \"" + mode + "\"");
  }
}

std::unique_ptr<Database> OpenWriterConnection(const SqliteOptions& options) {
  auto db = std::make_unique<Database>(options.path);
  db->Exec("PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs));

  // WAL lets Load() read while the writer commits; with synchronous=FULL each commit syncs the
  // log once, which is what makes a whole batch durable with a single fsync.
  UseWriteAheadLog(*db);
  db->Exec(options.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = OFF");
  db->Exec("PRAGMA foreign_keys = OFF");  // cascades are explicit; see schema.cpp
  PrepareSchema(*db);

  if (options.max_page_count > 0) {
    db->Exec("PRAGMA max_page_count = " + std::to_string(options.max_page_count));
  }
  return db;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteOptions& options, MetricsRegistry& metrics);
  ~SqliteStore() override { Close(); }

  Snapshot Load() override;
  void Submit(Mutation mutation, Completion done) override;
  void Flush() override;
  void Close() override;
  std::size_t QueueDepth() const override;
  bool SyncsCommits() const override { return options_.durable; }

 private:
  struct Pending {
    Mutation mutation;
    Completion done;
  };

  void WriterLoop();
  bool TakeBatch(std::vector<Pending>& batch);
  Status CommitBatch(const std::vector<Pending>& batch);
  void MarkCommitted();
  void RunCompletions(std::vector<Pending>& batch, const Status& status);
  void MarkFinished(std::size_t count);
  void LogFailure(std::size_t batch_size);

  const SqliteOptions options_;
  const std::size_t max_batch_;
  const std::chrono::milliseconds write_behind_delay_;
  std::shared_ptr<spdlog::logger> log_;
  StoreMetrics metrics_;

  // Used only by the writer thread once it runs (and by the constructor before that).
  std::unique_ptr<Database> db_;
  MutationWriter writer_;
  std::chrono::steady_clock::time_point last_failure_log_{};
  std::size_t unlogged_failures_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_ready_;  // the queue gained work, or the store is stopping
  std::condition_variable batch_done_;  // `finished_` grew
  std::deque<Pending> queue_;
  std::size_t in_flight_ = 0;    // taken by the writer, not yet committed or failed
  std::uint64_t submitted_ = 0;  // mutations ever queued
  std::uint64_t finished_ = 0;   // of those, the ones whose completion has run
  std::size_t flush_waiters_ = 0;
  bool stopping_ = false;

  std::mutex close_mu_;  // makes concurrent Close() calls wait for the one that joins
  std::thread thread_;
  std::thread::id writer_id_;
};

SqliteStore::SqliteStore(const SqliteOptions& options, MetricsRegistry& metrics)
    : options_(options),
      max_batch_(std::max<std::size_t>(1, options.max_batch)),
      write_behind_delay_(options.durable ? std::chrono::milliseconds(0)
                                          : options.write_behind_delay),
      log_(StoreLogger()),
      metrics_(RegisterMetrics(metrics)),
      db_(OpenWriterConnection(options)),
      writer_(*db_) {
  thread_ = std::thread([this] { WriterLoop(); });
  writer_id_ = thread_.get_id();
  log_->info("store opened at {} (schema version {}, durable {})", options_.path, kSchemaVersion,
             options_.durable);
}

Snapshot SqliteStore::Load() {
  // A connection of its own: the writer's belongs to the writer thread.
  Database reader(options_.path);
  reader.Exec("PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs));
  return ReadSnapshot(reader);
}

void SqliteStore::Submit(Mutation mutation, Completion done) {
  std::unique_lock lock(mu_);
  if (stopping_) {
    lock.unlock();
    log_->warn("mutation submitted after the store was closed; refused");
    if (done) {
      done(MakeError(ErrorCode::kUnavailable, "the store is closed"));
    }
    return;
  }
  queue_.push_back(Pending{std::move(mutation), std::move(done)});
  ++submitted_;
  // The writer waits only for a first mutation, or for a full batch: waking it for every other
  // one would cost a context switch per mutation.
  const bool wake = queue_.size() == 1 || queue_.size() == max_batch_;
  lock.unlock();
  if (wake) {
    work_ready_.notify_one();
  }
}

void SqliteStore::Flush() {
  // A completion cannot wait for the batch it belongs to.
  if (std::this_thread::get_id() == writer_id_) {
    log_->error("Flush() called from a store completion; not waiting");
    return;
  }
  std::unique_lock lock(mu_);
  const std::uint64_t target = submitted_;
  ++flush_waiters_;  // cuts the write-behind delay short
  work_ready_.notify_one();
  batch_done_.wait(lock, [&] { return finished_ >= target; });
  --flush_waiters_;
}

void SqliteStore::Close() {
  std::lock_guard close_lock(close_mu_);
  if (!thread_.joinable()) {
    return;
  }
  if (std::this_thread::get_id() == writer_id_) {
    log_->error("Close() called from a store completion; ignored");
    return;
  }

  // The writer drains the queue before it exits, so everything submitted so far completes.
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_ready_.notify_one();
  thread_.join();
  log_->info("store closed");
}

std::size_t SqliteStore::QueueDepth() const {
  std::lock_guard lock(mu_);
  return queue_.size() + in_flight_;
}

void SqliteStore::WriterLoop() {
  // The batch keeps room for this many mutations between commits; a burst's larger batch gives its
  // memory back once committed, so a quiet store holds little (a full batch is megabytes).
  constexpr std::size_t kKeptCapacity = 256;
  std::vector<Pending> batch;
  batch.reserve(std::min(max_batch_, kKeptCapacity));
  while (TakeBatch(batch)) {
    const Status status = CommitBatch(batch);
    MarkCommitted();
    RunCompletions(batch, status);
    MarkFinished(batch.size());
    batch.clear();
    if (batch.capacity() > kKeptCapacity) {
      std::vector<Pending>().swap(batch);
      batch.reserve(std::min(max_batch_, kKeptCapacity));
    }
  }
}

// Takes everything queued (up to max_batch_): the longer the last commit took, the more has
// queued meanwhile, so batches grow with load. Without durability the writer also lets the first
// mutation wait up to write_behind_delay for company, so that a message acknowledged meanwhile
// never reaches the disk (see mutation_writer.h).
bool SqliteStore::TakeBatch(std::vector<Pending>& batch) {
  std::unique_lock lock(mu_);
  work_ready_.wait(lock, [&] { return !queue_.empty() || stopping_; });
  if (queue_.empty()) {
    return false;
  }
  if (write_behind_delay_.count() > 0) {
    work_ready_.wait_for(lock, write_behind_delay_, [&] {
      return stopping_ || flush_waiters_ > 0 || queue_.size() >= max_batch_;
    });
  }

  const auto end =
      queue_.begin() + static_cast<std::ptrdiff_t>(std::min(queue_.size(), max_batch_));
  std::move(queue_.begin(), end, std::back_inserter(batch));
  queue_.erase(queue_.begin(), end);
  in_flight_ = batch.size();
  metrics_.queue_depth.Set(static_cast<std::int64_t>(queue_.size() + in_flight_));
  return true;
}

Status SqliteStore::CommitBatch(const std::vector<Pending>& batch) {
  const auto started = std::chrono::steady_clock::now();
  metrics_.batch_size.Observe(static_cast<double>(batch.size()));

  writer_.Begin();
  for (const Pending& p : batch) {
    writer_.Plan(p.mutation);
  }
  for (const Pending& p : batch) {
    writer_.Apply(p.mutation);
  }
  if (!writer_.Commit()) {
    metrics_.failed_batches.Inc();
    LogFailure(batch.size());
    return MakeError(ErrorCode::kUnavailable, "the store could not make the change durable");
  }

  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
  metrics_.commit_seconds.Observe(elapsed.count());
  metrics_.commits.Inc();
  metrics_.mutations.Inc(batch.size());
  metrics_.annihilated.Inc(writer_.annihilated());
  return Ok{};
}

void SqliteStore::MarkCommitted() {
  std::lock_guard lock(mu_);
  in_flight_ = 0;
  metrics_.queue_depth.Set(static_cast<std::int64_t>(queue_.size()));
}

void SqliteStore::RunCompletions(std::vector<Pending>& batch, const Status& status) {
  for (Pending& p : batch) {
    if (!p.done) {
      continue;
    }
    // One throwing completion must not keep the rest of the batch from hearing the outcome.
    try {
      p.done(status);
    } catch (const std::exception& e) {
      log_->error("a store completion threw: {}", e.what());
    }
  }
}

void SqliteStore::MarkFinished(std::size_t count) {
  {
    std::lock_guard lock(mu_);
    finished_ += count;
  }
  batch_done_.notify_all();
}

void SqliteStore::LogFailure(std::size_t batch_size) {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_failure_log_ < kFailureLogInterval) {
    ++unlogged_failures_;
    return;
  }
  log_->error(
      "batch of {} mutations rolled back ({} more failed batches since the last report): {}",
      batch_size, unlogged_failures_, writer_.error());
  last_failure_log_ = now;
  unlogged_failures_ = 0;
}

}  // namespace

std::unique_ptr<Store> OpenSqliteStore(const SqliteOptions& options, MetricsRegistry& metrics) {
  return std::make_unique<SqliteStore>(options, metrics);
}

}  // namespace sb::store
