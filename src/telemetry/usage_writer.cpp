#include "telemetry/usage_writer.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

#include "telemetry/usage_db.h"
#include "util/idle_meter.h"
#include "util/log.h"

namespace spillway::telemetry {
namespace {

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

int64_t steady_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

UsageWriter::UsageWriter(const config::UsageLogSettings& settings, const util::Clock& clock,
                         UsageWriterOptions options)
    : settings_(settings),
      clock_(clock),
      options_(options),
      queue_(settings.queue_capacity),
      db_(std::make_unique<UsageDb>(settings.sqlite_path)),
      inline_(options.background && options.inline_inserts),
      idle_meter_(std::make_unique<util::IdleMeter>()),
      next_prune_(clock.steady_now()) {
  db_->start_checkpointer();
  if (options_.background) {
    background_ = start_quiet_thread([this] { run_background(); });
#ifdef SCHED_IDLE
    // Set from here rather than by the thread itself, so it holds before the constructor returns.
    sched_param param{};
    if (options_.idle_priority) {
      if (pthread_setschedparam(background_.native_handle(), SCHED_IDLE, &param) == 0) {
        background_idle_ = true;
      } else {
        util::log_debug("usage log: SCHED_IDLE not available; the background writer runs at normal priority");
      }
    }
#endif
  }
  try {
    thread_ = start_quiet_thread([this] { run(); });
  } catch (...) {  // no thread left behind when the second cannot start
    if (background_.joinable()) {
      {
        std::lock_guard lock(db_mu_);
        background_stop_ = true;
      }
      background_cv_.notify_all();
      background_.join();
    }
    throw;
  }
}

UsageWriter::~UsageWriter() { stop(); }

bool UsageWriter::submit(const UsageRecord& record) { return accept(pack_usage(record)); }
bool UsageWriter::submit(const UsageRecordRef& record) { return accept(pack_usage(record)); }

bool UsageWriter::accept(std::string packed) {
  // Only while the machine has CPU to spare, as for the background thread's batches: on a busy machine a
  // batch of 16-row statements written by the dispatcher costs less CPU than the same rows one by one.
  if (inline_ && machine_idle_.load(std::memory_order_relaxed) && try_insert(packed)) return true;
  return queue_.push(std::move(packed));
}

bool UsageWriter::try_insert(std::string& packed) {
  std::unique_lock lock(db_mu_, std::try_to_lock);
  // Not while a batch or a commit is under way (a try-lock: a request never waits for the file), nor when
  // the commit has been asked for or has failed, nor past four batches' worth of rows (a starved
  // background thread), nor once the writer stops (the queue then refuses and counts the record).
  if (!lock.owns_lock() || !db_ || background_stop_ || commit_asked_ ||
      retry_pending_.load(std::memory_order_relaxed) ||
      open_rows_.size() >= 4 * static_cast<std::size_t>(settings_.batch_size) || queue_.closed()) {
    return false;
  }
  const bool first = open_rows_.empty();
  std::string error;
  const bool ok = db_->insert_open(packed, error);
  open_rows_.push_back(std::move(packed));
  ++inline_accepted_;
  if (!ok) {
    // Rolled back, with the rows before it: the dispatcher writes them all again as a batch.
    util::log_warn("usage log: an insert failed, " + std::to_string(open_rows_.size()) +
                   " records are written again: " + error);
    retry_open_rows();
    return true;
  }
  open_count_.store(open_rows_.size());
  if (first) {  // the dispatcher looks every idle_wait() and commits it once due
    const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(settings_.flush_interval);
    open_due_ns_.store(steady_ns(std::chrono::steady_clock::now()) + interval.count(),
                       std::memory_order_relaxed);
  }
  const bool full = open_rows_.size() == static_cast<std::size_t>(settings_.batch_size);
  lock.unlock();
  // The dispatcher sleeps for a second when no transaction is open: the first row wakes it. A full
  // transaction is committed now rather than at the dispatcher's next look. Neither while records are
  // queued: the dispatcher is gathering them then, wakes by itself soon, and a nudge would cut its batch
  // short.
  if ((first && dispatcher_idle_.exchange(false)) || (full && queue_.size() == 0)) queue_.nudge();
  return true;
}

void UsageWriter::commit_open(bool background) {
  commit_asked_ = false;
  if (open_rows_.empty()) return;
  const std::size_t n = open_rows_.size();
  std::string error;
  if (!db_->commit_open(error)) {
    util::log_warn("usage log: a commit failed, its " + std::to_string(n) +
                   " records are written again: " + error);
    retry_open_rows();
    return;
  }
  open_rows_.clear();
  open_count_.store(0, std::memory_order_relaxed);
  open_due_ns_.store(0, std::memory_order_relaxed);
  written_ += n;
  ++batches_;
  note_checkpoints();
  if (background) background_written_ += n;
  finish(n);
}

void UsageWriter::retry_open_rows() {
  retry_rows_.insert(retry_rows_.end(), std::make_move_iterator(open_rows_.begin()),
                     std::make_move_iterator(open_rows_.end()));
  open_rows_.clear();
  open_count_.store(0, std::memory_order_relaxed);
  open_due_ns_.store(0, std::memory_order_relaxed);
  retry_pending_.store(true, std::memory_order_relaxed);
  queue_.nudge();  // the dispatcher writes them as a batch
}

bool UsageWriter::spare_cpu(std::chrono::steady_clock::time_point now) {
  return options_.min_idle_fraction <= 0 || idle_meter_->idle_fraction(now) >= options_.min_idle_fraction;
}

void UsageWriter::settle_open(bool forced) {
  const std::size_t count = open_count_.load(std::memory_order_relaxed);
  if (count == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (!forced && count < static_cast<std::size_t>(settings_.batch_size) &&
      steady_ns(now) < open_due_ns_.load(std::memory_order_relaxed)) {
    return;
  }
  // A flush or the stop waits for the file; otherwise a worker or the background thread holding it will
  // be done soon, and the next wake-up (idle_wait()) comes back.
  std::unique_lock<std::mutex> lock =
      forced ? lock_db() : std::unique_lock<std::mutex>(db_mu_, std::try_to_lock);
  if (!lock.owns_lock() || open_rows_.empty()) return;
  if (forced) {
    commit_open(false);
    return;
  }
  if (commit_asked_) {
    if (now - commit_asked_at_ < settings_.flush_interval) return;
    pause_handoffs(now);  // the background thread is starved: commit here, and for a while
    commit_open(false);
    return;
  }
  if (now >= handoffs_paused_until_ && spare_cpu(now)) {
    commit_asked_ = true;
    commit_asked_at_ = now;
    // Back by then to take it over if the background thread has not committed it.
    open_due_ns_.store(steady_ns(now + settings_.flush_interval), std::memory_order_relaxed);
    lock.unlock();
    background_cv_.notify_one();
    return;
  }
  commit_open(false);
}

std::chrono::milliseconds UsageWriter::idle_wait() {
  // Waking up at least every second keeps the prune schedule and drop reports going when idle. While a
  // transaction of the request workers is open, a quarter of flush_interval: it then commits at most that
  // much after it is due, without a worker waking the dispatcher for it (the wake-up would cut short the
  // gathering of a batch queued meanwhile, and costs a cross-CPU wake-up).
  constexpr std::chrono::milliseconds kMax(1000);
  if (!inline_) return kMax;
  // Raised before open_count_ is read, as a worker raises open_count_ before it reads this: one of the
  // two sees the other's (both sequentially consistent), so a first row never waits out a long sleep.
  dispatcher_idle_.store(true);
  if (open_count_.load() == 0) return kMax;
  dispatcher_idle_.store(false);
  return std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(settings_.flush_interval) / 4,
                    std::chrono::milliseconds(1), kMax);
}

void UsageWriter::flush() {
  const uint64_t target = queue_.pushed() + inline_accepted_.load();
  ++flushes_waiting_;
  queue_.nudge();
  {
    std::unique_lock lock(done_mu_);
    done_cv_.wait(lock, [&] { return done_ >= target; });
  }
  --flushes_waiting_;
}

void UsageWriter::stop() {
  std::lock_guard lock(stop_mu_);
  if (!thread_.joinable()) return;
  queue_.close();
  thread_.join();  // the dispatcher drains the queue and the background thread's batch, then stops it
  if (background_.joinable()) background_.join();
  {
    std::lock_guard db_lock(db_mu_);
    if (db_) {
      commit_open(false);
      if (!retry_rows_.empty()) write_batch(retry_rows_);
      db_->stop_checkpointer();  // its counts are final then
      note_checkpoints();
    }
    db_.reset();
  }
  const UsageWriterStats s = stats();
  util::log_info("usage log: closed " + settings_.sqlite_path + " (" + std::to_string(s.written) +
                 " records written, " + std::to_string(s.background_written) + " of them by the " +
                 (s.background_idle ? "idle-priority " : "") + "background thread, " +
                 std::to_string(s.takeovers) + " batches taken over, " + std::to_string(s.inserted_inline) +
                 " inserted by request workers, at most " + std::to_string(s.max_backlog) + " waiting, " +
                 std::to_string(s.dropped) + " dropped, " + std::to_string(s.failed) + " failed, " +
                 std::to_string(s.checkpoints + s.checkpoints_inline) + " checkpoints, " +
                 std::to_string(s.checkpoints_inline) + " of them by commits)");
}

UsageWriterStats UsageWriter::stats() const {
  UsageWriterStats s;
  s.inserted_inline = inline_accepted_.load();
  s.submitted = queue_.pushed() + s.inserted_inline;
  s.dropped = queue_.dropped();
  s.written = written_.load();
  s.batches = batches_.load();
  s.failed = failed_.load();
  s.pruned = pruned_.load();
  s.prune_passes = prune_passes_.load();
  s.background_written = background_written_.load();
  s.background_idle = background_idle_.load();
  s.takeovers = takeovers_.load();
  s.max_backlog = max_backlog_.load();
  s.batch_yields = batch_yields_.load(std::memory_order_relaxed);
  s.checkpoints = checkpoints_.load(std::memory_order_relaxed);
  s.checkpoints_inline = checkpoints_inline_.load(std::memory_order_relaxed);
  s.checkpoints_idle = checkpoints_idle_.load(std::memory_order_relaxed);
  return s;
}

void UsageWriter::hold_background_for_test(bool hold) {
  {
    std::lock_guard lock(db_mu_);
    background_held_ = hold;
  }
  background_cv_.notify_all();
}

void UsageWriter::run() {
  pthread_setname_np(pthread_self(), "spw-usage");
  const auto batch_size = static_cast<std::size_t>(settings_.batch_size);
  std::vector<std::string> batch;
  batch.reserve(batch_size);
  for (;;) {
    batch.clear();
    queue_.pop_batch(batch, batch_size, idle_wait(), settings_.flush_interval);
    dispatcher_idle_.store(false, std::memory_order_relaxed);
    const std::size_t queued = queue_.size();
    const uint64_t waiting = batch.size() + queued;
    if (waiting > max_backlog_.load(std::memory_order_relaxed)) max_backlog_ = waiting;
    if (inline_ || background_idle_.load(std::memory_order_relaxed)) {
      const auto now = std::chrono::steady_clock::now();
      const bool idle = spare_cpu(now);
      machine_idle_.store(idle, std::memory_order_relaxed);
      // Checkpoints go at idle priority as the background thread's batches do: while the machine has CPU
      // to spare (db_ is only reset after this thread ends; the call sets an atomic).
      if (background_idle_.load(std::memory_order_relaxed)) db_->set_checkpoints_idle(idle);
      if (inline_) settle_open(flushes_waiting_.load() > 0 || queue_.closed());
    }
    maybe_prune();
    dispatch(batch, queued);
    report_drops(false);
    if (batch.empty() && queue_.closed_and_empty()) break;
  }
  {
    auto lock = lock_db();
    background_stop_ = true;
    commit_open(false);
    if (!retry_rows_.empty()) {
      retry_pending_ = false;
      write_batch(retry_rows_);
    }
    if (!background_batch_.empty()) write_batch(background_batch_);
    background_has_batch_.store(false, std::memory_order_relaxed);
  }
  background_cv_.notify_all();
  report_drops(true);
}

void UsageWriter::dispatch(std::vector<std::string>& batch, std::size_t queued) {
  const auto batch_size = static_cast<std::size_t>(settings_.batch_size);
  // Behind: another full batch is already queued, someone waits in flush(), or the queue is closing.
  const bool behind = queued >= batch_size || flushes_waiting_.load() > 0 || queue_.closed() ||
                      retry_pending_.load(std::memory_order_relaxed);
  // The dispatcher runs at normal priority, mostly when every core is busy: it lets the requests that
  // want its core go first between statements, unless it is behind. (Yielding after every statement,
  // it fell behind at 64 connections on the 2-vCPU test machine: 31.5k records waiting after 10 s,
  // against 1.1k before; writing straight while behind keeps it to a few thousand.)
  const bool paced = !behind;
  if (!options_.background) {
    if (!batch.empty()) {
      std::lock_guard lock(db_mu_);
      write_batch(batch, paced);
    }
    return;
  }
  if (batch.empty() && !behind) {
    // Nothing to write and the background thread has no batch: the file is left alone (a request worker
    // may want it for its row this very moment).
    if (!background_has_batch_.load(std::memory_order_relaxed)) return;
    // The queue is idle: a batch the background thread still has not written is taken over now.
    std::unique_lock lock(db_mu_, std::try_to_lock);
    if (lock.owns_lock() && background_batch_.empty()) return;
  }
  const auto now = std::chrono::steady_clock::now();
  auto lock = lock_db();
  if (retry_pending_.load(std::memory_order_relaxed)) {  // a failed open transaction's rows, first
    batch.insert(batch.begin(), std::make_move_iterator(retry_rows_.begin()),
                 std::make_move_iterator(retry_rows_.end()));
    retry_rows_.clear();
    retry_pending_.store(false, std::memory_order_relaxed);
  }
  // Hand off only while the machine has CPU to spare (by default a quarter of it idle lately): on a busy
  // machine the background thread would be starved, and taking its batch back costs a wait.
  if (background_batch_.empty() && !behind && !batch.empty() && now >= handoffs_paused_until_ &&
      spare_cpu(now)) {
    background_batch_.swap(batch);
    background_has_batch_.store(true, std::memory_order_relaxed);
    lock.unlock();
    background_cv_.notify_one();
    return;
  }
  // The background thread has not finished its batch (starved of CPU) or the writer is behind: the rest
  // of that batch and this one are written here, in order.
  if (!background_batch_.empty()) {
    if (flushes_waiting_.load() == 0 && !queue_.closed()) pause_handoffs(now);
    background_batch_.insert(background_batch_.end(), std::make_move_iterator(batch.begin()),
                             std::make_move_iterator(batch.end()));
    batch.clear();
    batch.swap(background_batch_);
    background_has_batch_.store(false, std::memory_order_relaxed);
  }
  if (!batch.empty()) write_batch(batch, paced);
}

void UsageWriter::pause_handoffs(std::chrono::steady_clock::time_point now) {
  // The machine turned busy before the idle meter saw it, or it is busy in a way the meter cannot see (a
  // container's CPU quota): taking a batch over means waiting until the background thread gets the CPU to
  // finish its current statement, which on a saturated machine can take a good part of a second while the
  // queue grows. So after a take-over the dispatcher writes by itself for a while: `first_handoff_pause`,
  // doubled (up to 64 times that) while take-overs keep coming soon after the pause ends.
  const auto first =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.first_handoff_pause);
  ++takeovers_;
  if (last_takeover_.time_since_epoch().count() != 0 && now - last_takeover_ < 2 * handoff_pause_) {
    handoff_pause_ = std::min(2 * handoff_pause_, 64 * first);
  } else {
    handoff_pause_ = first;
  }
  last_takeover_ = now;
  handoffs_paused_until_ = now + handoff_pause_;
}

std::unique_lock<std::mutex> UsageWriter::lock_db() {
  yield_.store(true, std::memory_order_relaxed);
  std::unique_lock lock(db_mu_);
  yield_.store(false, std::memory_order_relaxed);
  return lock;
}

void UsageWriter::run_background() {
  pthread_setname_np(pthread_self(), "spw-usage-idle");
  std::unique_lock lock(db_mu_);
  for (;;) {
    // yield_ false: the dispatcher, once it asked for the file, gets it before this thread goes on.
    background_cv_.wait(lock, [&] {
      return background_stop_ || ((commit_asked_ || !background_batch_.empty()) && !background_held_ &&
                                  !yield_.load(std::memory_order_relaxed));
    });
    if (background_stop_) break;
    // The request workers' rows first: a batch goes in its own transaction.
    if (commit_asked_ || !open_rows_.empty()) commit_open(true);
    if (background_batch_.empty()) continue;
    std::size_t committed = 0;
    std::string error;
    if (db_->insert_until(background_batch_, yield_, committed, error)) {
      written_ += committed;
      background_written_ += committed;
      ++batches_;
      background_batch_.erase(background_batch_.begin(),
                              background_batch_.begin() + static_cast<std::ptrdiff_t>(committed));
      background_has_batch_.store(!background_batch_.empty(), std::memory_order_relaxed);
      finish(committed);
    } else {
      // A failing database is the dispatcher's to retry (it sleeps between tries): hand the batch back by
      // leaving it here and stepping aside until the dispatcher takes it over.
      util::log_debug("usage log: background insert failed, left to the dispatcher: " + error);
      background_cv_.wait(lock, [&] { return background_stop_ || background_batch_.empty(); });
    }
  }
}

void UsageWriter::write_batch(std::vector<std::string>& batch, bool paced) {
  commit_open(false);  // the request workers' rows first: a batch goes in its own transaction
  std::string error;
  bool ok = false;
  // A busy or momentarily failing database gets a few tries; a persistent failure must not stall the
  // queue forever.
  for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    ok = db_->insert_packed(batch, error, paced ? UsageDb::Pace::kYield : UsageDb::Pace::kStraight);
  }
  batch_yields_.store(db_->yields(), std::memory_order_relaxed);
  note_checkpoints();
  if (ok) {
    written_ += batch.size();
    ++batches_;
  } else {
    failed_ += batch.size();
    util::log_error("usage log: " + std::to_string(batch.size()) + " records lost, cannot write " +
                    settings_.sqlite_path + ": " + error);
  }
  finish(batch.size());
  batch.clear();
}

void UsageWriter::note_checkpoints() {
  checkpoints_.store(db_->checkpoints(), std::memory_order_relaxed);
  checkpoints_inline_.store(db_->checkpoints_inline(), std::memory_order_relaxed);
  checkpoints_idle_.store(db_->checkpoints_idle_done(), std::memory_order_relaxed);
}

void UsageWriter::finish(std::size_t n) {
  {
    std::lock_guard lock(done_mu_);
    done_ += n;
  }
  done_cv_.notify_all();
}

void UsageWriter::maybe_prune() {
  const auto now = clock_.steady_now();
  if (now < next_prune_) return;
  next_prune_ = now + options_.prune_interval;
  const int64_t before = unix_ms(clock_.system_now()) - settings_.retention.count();
  int64_t n = 0;
  {
    auto lock = lock_db();
    commit_open(false);
    n = db_->prune(before);
  }
  background_cv_.notify_one();  // it may have stepped aside mid-batch
  ++prune_passes_;
  if (n > 0) {
    pruned_ += static_cast<uint64_t>(n);
    util::log_info("usage log: pruned " + std::to_string(n) + " records older than the retention");
  }
}

void UsageWriter::report_drops(bool force) {
  const uint64_t dropped = queue_.dropped();
  if (dropped == reported_drops_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_drop_report_ < std::chrono::seconds(10)) return;
  util::log_warn("usage log: " + std::to_string(dropped - reported_drops_) +
                 " records dropped because the queue was full (capacity " +
                 std::to_string(queue_.capacity()) + ")");
  reported_drops_ = dropped;
  last_drop_report_ = now;
}

}  // namespace spillway::telemetry
