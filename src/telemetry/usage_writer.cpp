#include "telemetry/usage_writer.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

#include "telemetry/usage_db.h"
#include "util/allocator.h"
#include "util/idle_meter.h"
#include "util/log.h"

namespace spillway::telemetry {
namespace {

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

UsageWriter::UsageWriter(const config::UsageLogSettings& settings, const util::Clock& clock,
                         UsageWriterOptions options)
    : settings_(settings),
      clock_(clock),
      options_(options),
      queue_(settings.queue_capacity),
      db_(std::make_unique<UsageDb>(settings.sqlite_path)),
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

bool UsageWriter::submit(const UsageRecord& record) { return queue_.push(pack_usage(record)); }
bool UsageWriter::submit(const UsageRecordRef& record) { return queue_.push(pack_usage(record)); }

bool UsageWriter::spare_cpu(std::chrono::steady_clock::time_point now) {
  return options_.min_idle_fraction <= 0 || idle_meter_->idle_fraction(now) >= options_.min_idle_fraction;
}

void UsageWriter::flush() {
  const uint64_t target = queue_.pushed();
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
      db_->stop_checkpointer();  // its counts are final then
      note_checkpoints();
    }
    db_.reset();
  }
  const UsageWriterStats s = stats();
  util::log_info("usage log: closed " + settings_.sqlite_path + " (" + std::to_string(s.written) +
                 " records written, " + std::to_string(s.background_written) + " of them by the " +
                 (s.background_idle ? "idle-priority " : "") + "background thread, " +
                 std::to_string(s.takeovers) + " batches taken over, at most " +
                 std::to_string(s.max_backlog) + " waiting, " + std::to_string(s.dropped) + " dropped, " +
                 std::to_string(s.failed) + " failed, " +
                 std::to_string(s.checkpoints + s.checkpoints_inline) + " checkpoints, " +
                 std::to_string(s.checkpoints_inline) + " of them by commits)");
}

UsageWriterStats UsageWriter::stats() const {
  UsageWriterStats s;
  s.submitted = queue_.pushed();
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
  s.waiting = queue_.size();
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
  // This thread's heap holds SQLite's memory and the batches: handed back as the workers' are
  // (util/allocator.h). Not on the background thread, which runs at SCHED_IDLE.
  util::FreeMemoryReleaseSchedule release(std::chrono::steady_clock::now());
  for (;;) {
    batch.clear();
    // Waking up at least every second keeps the prune schedule and drop reports going when idle.
    queue_.pop_batch(batch, batch_size, std::chrono::seconds(1), settings_.flush_interval);
    const std::size_t queued = queue_.size();
    const uint64_t waiting = batch.size() + queued;
    if (waiting > max_backlog_.load(std::memory_order_relaxed)) max_backlog_ = waiting;
    if (background_idle_.load(std::memory_order_relaxed)) {
      // Checkpoints go at idle priority as the background thread's batches do: while the machine has CPU
      // to spare (db_ is only reset after this thread ends; the call sets an atomic).
      db_->set_checkpoints_idle(spare_cpu(std::chrono::steady_clock::now()));
    }
    maybe_prune();
    dispatch(batch, queued);
    report_drops(false);
    release.tick(std::chrono::steady_clock::now());
    if (batch.empty() && queue_.closed_and_empty()) break;
  }
  {
    auto lock = lock_db();
    background_stop_ = true;
    if (!background_batch_.empty()) write_batch(background_batch_);
    background_has_batch_.store(false, std::memory_order_relaxed);
  }
  background_cv_.notify_all();
  report_drops(true);
}

void UsageWriter::dispatch(std::vector<std::string>& batch, std::size_t queued) {
  const auto batch_size = static_cast<std::size_t>(settings_.batch_size);
  // Behind: another full batch is already queued, someone waits in flush(), or the queue is closing.
  const bool behind = queued >= batch_size || flushes_waiting_.load() > 0 || queue_.closed();
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
    // Nothing to write and the background thread has no batch: the file is left alone.
    if (!background_has_batch_.load(std::memory_order_relaxed)) return;
    // The queue is idle: a batch the background thread still has not written is taken over now.
    std::unique_lock lock(db_mu_, std::try_to_lock);
    if (lock.owns_lock() && background_batch_.empty()) return;
  }
  const auto now = std::chrono::steady_clock::now();
  auto lock = lock_db();
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
      return background_stop_ ||
             (!background_batch_.empty() && !background_held_ && !yield_.load(std::memory_order_relaxed));
    });
    if (background_stop_) break;
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
