#include "telemetry/usage_writer.h"

#include <signal.h>

#include "telemetry/usage_db.h"
#include "util/log.h"

namespace spillway::telemetry {
namespace {

int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::thread start_quiet_thread(std::function<void()> fn) {
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  std::thread t(std::move(fn));  // inherits the full mask
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

UsageWriter::UsageWriter(const config::UsageLogSettings& settings, const util::Clock& clock,
                         std::chrono::milliseconds prune_interval)
    : settings_(settings),
      clock_(clock),
      prune_interval_(prune_interval),
      db_(std::make_unique<UsageDb>(settings.sqlite_path)),
      queue_(settings.queue_capacity),
      next_prune_(clock.steady_now()) {
  thread_ = start_quiet_thread([this] { run(); });
}

UsageWriter::~UsageWriter() { stop(); }

bool UsageWriter::submit(UsageRecord&& record) { return queue_.push(std::move(record)); }

void UsageWriter::flush() {
  const uint64_t target = queue_.pushed();
  queue_.nudge();
  std::unique_lock lock(done_mu_);
  done_cv_.wait(lock, [&] { return done_ >= target; });
}

void UsageWriter::stop() {
  std::lock_guard lock(stop_mu_);
  if (!thread_.joinable()) return;
  queue_.close();
  thread_.join();
  db_.reset();
  const UsageWriterStats s = stats();
  util::log_info("usage log: closed " + settings_.sqlite_path + " (" + std::to_string(s.written) +
                 " records written, " + std::to_string(s.dropped) + " dropped, " + std::to_string(s.failed) +
                 " failed)");
}

UsageWriterStats UsageWriter::stats() const {
  UsageWriterStats s;
  s.submitted = queue_.pushed();
  s.dropped = queue_.dropped();
  s.written = written_.load();
  s.batches = batches_.load();
  s.failed = failed_.load();
  s.pruned = pruned_.load();
  return s;
}

void UsageWriter::run() {
  const auto batch_size = static_cast<std::size_t>(settings_.batch_size);
  std::vector<UsageRecord> batch;
  batch.reserve(batch_size);
  for (;;) {
    batch.clear();
    // Waking up at least every second keeps the prune schedule and drop reports going when idle.
    queue_.pop_batch(batch, batch_size, std::chrono::seconds(1), settings_.flush_interval);
    maybe_prune();
    if (!batch.empty()) write_batch(batch);
    report_drops(false);
    if (batch.empty() && queue_.closed_and_empty()) break;
  }
  report_drops(true);
}

void UsageWriter::write_batch(std::vector<UsageRecord>& batch) {
  std::string error;
  bool ok = false;
  // A busy or momentarily failing database gets a few tries; a persistent failure must not stall the
  // queue forever.
  for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    ok = db_->insert(batch, error);
  }
  if (ok) {
    written_ += batch.size();
    ++batches_;
  } else {
    failed_ += batch.size();
    util::log_error("usage log: " + std::to_string(batch.size()) + " records lost, cannot write " +
                    settings_.sqlite_path + ": " + error);
  }
  {
    std::lock_guard lock(done_mu_);
    done_ += batch.size();
  }
  done_cv_.notify_all();
}

void UsageWriter::maybe_prune() {
  const auto now = clock_.steady_now();
  if (now < next_prune_) return;
  next_prune_ = now + prune_interval_;
  const int64_t before = unix_ms(clock_.system_now()) - settings_.retention.count();
  const int64_t n = db_->prune(before);
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
