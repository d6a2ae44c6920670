#pragma once
// The usage-log writer: a dedicated thread that takes records from a bounded queue and commits them to
// the SQLite file in batches, and prunes rows older than the retention. Request workers only push.
//
// Durability: a record is committed at most `flush_interval` plus one batch's write time after it was
// submitted (a batch starts when its first record arrives and closes at `batch_size` records or after
// `flush_interval`). stop() drains the whole queue before it closes the file, so an orderly shutdown
// loses nothing. A crash (kill -9) loses the records still in the queue and in the batch being written;
// committed ones survive (WAL, synchronous=NORMAL: only a power or OS failure can undo the last commits).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/telemetry_config.h"
#include "telemetry/usage_queue.h"
#include "telemetry/usage_record.h"
#include "util/clock.h"

namespace spillway::telemetry {

class UsageDb;

struct UsageWriterStats {
  uint64_t submitted = 0;  // accepted into the queue
  uint64_t dropped = 0;    // rejected: queue full (or writer stopped)
  uint64_t written = 0;    // committed rows
  uint64_t batches = 0;    // committed transactions
  uint64_t failed = 0;     // records lost to write errors (after retries)
  uint64_t pruned = 0;     // rows deleted by retention
};

class UsageWriter {
 public:
  // Opens the database (creating file and schema) and starts the writer thread. Throws
  // std::runtime_error when the file cannot be opened. The thread blocks every signal, so SIGTERM always
  // reaches the main thread. `clock` (record ages for retention, the prune schedule) must outlive *this.
  UsageWriter(const config::UsageLogSettings& settings, const util::Clock& clock,
              std::chrono::milliseconds prune_interval = std::chrono::minutes(1));
  // stop().
  ~UsageWriter();
  UsageWriter(const UsageWriter&) = delete;
  UsageWriter& operator=(const UsageWriter&) = delete;

  // Any thread; O(1), never waits for the disk. False when the record was dropped (queue full, stopped).
  bool submit(UsageRecord&& record);
  // Blocks until every record submitted before the call is committed or given up (tests, tools).
  void flush();
  // Drains the queue, commits, closes the file and joins the thread. Idempotent; any thread but the
  // writer's.
  void stop();
  UsageWriterStats stats() const;

 private:
  void run();
  void write_batch(std::vector<UsageRecord>& batch);
  void maybe_prune();
  void report_drops(bool force);

  const config::UsageLogSettings settings_;
  const util::Clock& clock_;
  const std::chrono::milliseconds prune_interval_;
  std::unique_ptr<UsageDb> db_;
  BoundedQueue<UsageRecord> queue_;

  std::mutex done_mu_;
  std::condition_variable done_cv_;
  uint64_t done_ = 0;  // records taken from the queue and committed or given up; guarded by done_mu_

  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> pruned_{0};
  std::chrono::steady_clock::time_point next_prune_;  // writer thread only
  uint64_t reported_drops_ = 0;                       // writer thread only
  std::chrono::steady_clock::time_point last_drop_report_{};

  std::mutex stop_mu_;
  std::thread thread_;
};

// Starts `fn` on a new thread that has every signal blocked (signals go to the main thread's sigwait).
std::thread start_quiet_thread(std::function<void()> fn);

}  // namespace spillway::telemetry
