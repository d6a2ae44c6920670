#pragma once
// The usage-log writer: two threads that take records from a bounded queue and commit them to the SQLite
// file in batches, and prune rows older than the retention.
//
// Request workers only pack their record and queue it (submit()); they never touch the file. (Until the
// twentieth session they inserted their own row into an open transaction while the machine had CPU to
// spare; at one connection that cost the request path more than the queue's hand-off: bench/RESULTS.md.)
//
// The dispatcher thread (normal priority) takes batches from the queue. While the machine has CPU to
// spare (a quarter of it idle over the last 100 ms or more, from /proc/stat) it hands each batch to the
// background thread, which runs at SCHED_IDLE (Linux): it inserts only on CPU time that nothing else
// wants, and any request worker that wakes up preempts it at once, so the inserts' bursts of CPU (about
// 1.4 ms per default batch) do not sit in front of a request on a small machine. When the background
// thread has not finished the previous batch by the time the next one is ready (every core busy), when
// the queue already holds another full batch, on flush() and at stop(), the dispatcher writes itself: it
// raises a flag that makes the background thread commit the rows it has inserted so far and let go of
// the file (after at most one more row), takes over the rest of that batch and commits it with its own.
// A take-over waits until the starved background thread gets the CPU for that row, so afterwards the
// dispatcher keeps writing by itself for 1 s (doubling to at most about a minute while take-overs recur)
// before it hands off again. Records are never dropped by this, only delayed. The dispatcher's own
// batches (every batch on a busy machine) give up the CPU after each statement (UsageDb::Pace::kYield),
// so they run between the requests that want its core rather than in front of them; not while it is
// behind (dispatch()), and only for a batch's first 20 ms, so that the queue does not grow meanwhile.
// Where SCHED_IDLE is not available both threads run at normal priority; `usage_log.idle_writer: false`
// (options.background) leaves the dispatcher alone.
//
// Durability: a record is committed at most about `flush_interval` plus two batches' write time after it
// was submitted (a batch starts when its first record arrives and closes at `batch_size` records or after
// `flush_interval`; when the queue is idle, a batch the background thread has not finished is taken over
// within a second). stop() drains the whole queue before it closes the file, so an orderly shutdown loses
// nothing. A crash (kill -9) loses the records still in the queue and in the batch being written;
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
#include <vector>

#include "config/telemetry_config.h"
#include "telemetry/usage_queue.h"
#include "telemetry/usage_record.h"
#include "util/clock.h"
#include "util/quiet_thread.h"

namespace spillway::util {
class IdleMeter;
}

namespace spillway::telemetry {

class UsageDb;

struct UsageWriterStats {
  uint64_t submitted = 0;           // accepted (queued)
  uint64_t dropped = 0;             // rejected: queue full (or writer stopped)
  uint64_t written = 0;             // committed rows
  uint64_t batches = 0;             // committed transactions
  uint64_t failed = 0;              // records lost to write errors (after retries)
  uint64_t pruned = 0;              // rows deleted by retention
  uint64_t prune_passes = 0;        // times the retention was applied (the first right after start)
  uint64_t background_written = 0;  // of `written`, committed by the background (idle-priority) thread
  bool background_idle = false;     // the background thread runs at SCHED_IDLE
  uint64_t takeovers = 0;           // background batches the dispatcher took over (machine saturated)
  uint64_t max_backlog = 0;         // most records seen waiting (queued plus the batch just taken)
  uint64_t waiting = 0;             // records queued now (not counting the batch being written)
  uint64_t batch_yields = 0;        // times the dispatcher's batches gave up the CPU between statements
  uint64_t checkpoints = 0;         // WAL checkpoints by the file's checkpoint thread (UsageDb)
  uint64_t checkpoints_inline = 0;  // by commits that found the WAL past UsageDb::kMaxWalFrames
  uint64_t checkpoints_idle = 0;    // of `checkpoints`, at SCHED_IDLE (the machine had CPU to spare)
};

struct UsageWriterOptions {
  std::chrono::milliseconds prune_interval = std::chrono::minutes(1);
  // false: the dispatcher writes every batch itself (no background thread).
  bool background = true;
  // false: the background thread keeps the normal priority (tests of the hand-off on a loaded machine).
  bool idle_priority = true;
  // Batches are handed off only while at least this fraction of the machine's CPU time was idle lately.
  double min_idle_fraction = 0.25;
  // After a take-over batches are not handed off for this long (doubling while take-overs recur).
  std::chrono::milliseconds first_handoff_pause = std::chrono::seconds(1);
};

class UsageWriter {
 public:
  // Opens the database (creating file and schema) and starts the writer threads. Throws
  // std::runtime_error when the file cannot be opened. The threads block every signal, so SIGTERM always
  // reaches the main thread. `clock` (record ages for retention, the prune schedule) must outlive *this.
  UsageWriter(const config::UsageLogSettings& settings, const util::Clock& clock,
              UsageWriterOptions options = {});
  // stop().
  ~UsageWriter();
  UsageWriter(const UsageWriter&) = delete;
  UsageWriter& operator=(const UsageWriter&) = delete;

  // Any thread; O(1), never waits for the disk. False when the record was dropped (queue full, stopped).
  // The record is packed (pack_usage) on the calling thread.
  bool submit(const UsageRecord& record);
  bool submit(const UsageRecordRef& record);
  // Blocks until every record submitted before the call is committed or given up (tests, tools).
  void flush();
  // Drains the queue, commits, closes the file and joins the thread. Idempotent; any thread but the
  // writer's.
  void stop();
  UsageWriterStats stats() const;
  // Tests: while held, the background thread takes no batch (as if starved of CPU), so the dispatcher's
  // take-over is what writes.
  void hold_background_for_test(bool hold);

 private:
  void run();
  void run_background();
  // `queued`: records still in the queue after `batch` was taken.
  void dispatch(std::vector<std::string>& batch, std::size_t queued);
  // Locks the file for the dispatcher: asks the background thread to let go after its current
  // statement.
  std::unique_lock<std::mutex> lock_db();
  // Writes `batch` (db_mu_ held), retrying a failing database a few times; the rows are then committed or
  // counted as failed. `paced`: the batch gives up the CPU between statements (UsageDb::Pace::kYield).
  void write_batch(std::vector<std::string>& batch, bool paced = false);
  // The idle meter saw at least options_.min_idle_fraction of the machine idle lately; dispatcher only.
  bool spare_cpu(std::chrono::steady_clock::time_point now);
  void finish(std::size_t n);
  void note_checkpoints();  // db_mu_ held, db_ set
  void pause_handoffs(std::chrono::steady_clock::time_point now);
  void maybe_prune();
  void report_drops(bool force);

  const config::UsageLogSettings settings_;
  const util::Clock& clock_;
  const UsageWriterOptions options_;
  BoundedQueue<std::string> queue_;  // records packed by pack_usage() on the submitting thread

  // The file and the background thread's batch; the dispatcher and the background thread take turns.
  std::mutex db_mu_;
  std::condition_variable background_cv_;
  std::unique_ptr<UsageDb> db_;                // guarded by db_mu_
  std::vector<std::string> background_batch_;  // guarded by db_mu_; empty: the background thread is free
  bool background_stop_ = false;               // guarded by db_mu_
  bool background_held_ = false;               // guarded by db_mu_
  // background_batch_ is not empty (a hint for the dispatcher).
  std::atomic<bool> background_has_batch_{false};
  std::atomic<bool> yield_{false};  // the dispatcher waits for db_mu_
  std::atomic<bool> background_idle_{false};
  std::atomic<uint64_t> flushes_waiting_{0};

  std::mutex done_mu_;
  std::condition_variable done_cv_;
  uint64_t done_ = 0;  // records taken from the queue and committed or given up; guarded by done_mu_

  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> pruned_{0};
  std::atomic<uint64_t> prune_passes_{0};
  std::atomic<uint64_t> background_written_{0};
  std::atomic<uint64_t> takeovers_{0};
  std::atomic<uint64_t> max_backlog_{0};  // written by the dispatcher only
  std::atomic<uint64_t> batch_yields_{0};
  std::atomic<uint64_t> checkpoints_{0};  // copies of the file's counts (db_mu_ held), for stats()
  std::atomic<uint64_t> checkpoints_inline_{0};
  std::atomic<uint64_t> checkpoints_idle_{0};
  // Dispatcher thread only: hand-offs pause after a take-over (pause_handoffs()).
  std::chrono::steady_clock::time_point handoffs_paused_until_{};
  std::chrono::steady_clock::time_point last_takeover_{};
  std::chrono::steady_clock::duration handoff_pause_{};
  std::unique_ptr<util::IdleMeter> idle_meter_;
  std::chrono::steady_clock::time_point next_prune_;  // dispatcher thread only
  uint64_t reported_drops_ = 0;                       // dispatcher thread only
  std::chrono::steady_clock::time_point last_drop_report_{};

  std::mutex stop_mu_;
  std::thread background_;
  std::thread thread_;
};

using util::start_quiet_thread;

}  // namespace spillway::telemetry
