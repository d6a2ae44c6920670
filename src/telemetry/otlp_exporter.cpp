#include "telemetry/otlp_exporter.h"

#include <algorithm>

#include "telemetry/usage_writer.h"
#include "util/log.h"

namespace spillway::telemetry {
namespace {

constexpr std::size_t kMaxBatch = 512;

int64_t unix_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

bool retryable(const PostResult& r) {
  return r.status == 0 || r.status == 408 || r.status == 429 || (r.status >= 500 && r.status <= 599);
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, const PostResult& last) {
  if (last.retry_after.count() >= 0) return std::min(last.retry_after, policy.max_backoff);
  auto d = policy.initial_backoff;
  for (int i = 1; i < attempt && d < policy.max_backoff; ++i) d *= 2;
  return std::min(d, policy.max_backoff);
}

SendResult post_with_retry(HttpPoster& poster, std::string_view path, const std::string& body,
                           const RetryPolicy& policy,
                           const std::function<bool(std::chrono::milliseconds)>& sleep) {
  SendResult result;
  for (;;) {
    const PostResult r = poster.post(path, body);
    ++result.attempts;
    result.last_status = r.status;
    if (r.status >= 200 && r.status < 300) {
      result.ok = true;
      return result;
    }
    if (!retryable(r) || result.attempts >= policy.max_attempts) return result;
    if (!sleep(backoff_delay(policy, result.attempts, r))) return result;
  }
}

OtlpExporter::OtlpExporter(const config::TelemetrySettings& settings, PosterFactory make_poster,
                           const util::Clock& clock, RetryPolicy retry, OtlpResource resource)
    : settings_(settings),
      make_poster_(std::move(make_poster)),
      clock_(clock),
      retry_(retry),
      resource_(std::move(resource)),
      queue_(settings.otlp_queue_capacity) {
  thread_ = start_quiet_thread([this] { run(); });
}

OtlpExporter::~OtlpExporter() { stop(); }

bool OtlpExporter::submit(UsageRecord&& record) { return queue_.push(std::move(record)); }

void OtlpExporter::flush() {
  const uint64_t target = queue_.pushed();
  queue_.nudge();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_ >= target; });
}

void OtlpExporter::stop(std::chrono::milliseconds deadline) {
  std::lock_guard stop_lock(stop_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    stop_deadline_ = std::chrono::steady_clock::now() + deadline;
  }
  cv_.notify_all();
  queue_.close();
  thread_.join();
  const OtlpExporterStats s = stats();
  util::log_info("otlp: stopped (" + std::to_string(s.exported) + " records exported, " +
                 std::to_string(s.failed) + " given up, " + std::to_string(s.dropped) + " dropped)");
}

OtlpExporterStats OtlpExporter::stats() const {
  OtlpExporterStats s;
  s.submitted = queue_.pushed();
  s.dropped = queue_.dropped();
  s.exported = exported_.load();
  s.failed = failed_.load();
  s.failed_batches = failed_batches_.load();
  s.retries = retries_.load();
  s.metric_exports = metric_exports_.load();
  return s;
}

bool OtlpExporter::sleep_for(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  std::unique_lock lock(mu_);
  auto abandon = [&] { return stopping_ && until > stop_deadline_; };
  cv_.wait_until(lock, until, abandon);
  return !abandon();
}

bool OtlpExporter::send(std::string_view path, const std::string& body, uint64_t records) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && std::chrono::steady_clock::now() >= stop_deadline_) {
      ++failed_batches_;
      failed_ += records;
      return false;
    }
  }
  const SendResult r = post_with_retry(*poster_, path, body, retry_,
                                       [this](std::chrono::milliseconds d) { return sleep_for(d); });
  retries_ += static_cast<uint64_t>(r.attempts - 1);
  if (r.ok) {
    exported_ += records;
    return true;
  }
  ++failed_batches_;
  failed_ += records;
  util::log_warn("otlp: gave up on " + std::string(path) + " after " + std::to_string(r.attempts) +
                 " attempts (last status " + std::to_string(r.last_status) + ")");
  return false;
}

void OtlpExporter::run() {
  try {
    poster_ = make_poster_();
  } catch (const std::exception& e) {
    util::log_error(std::string("otlp: cannot set up the exporter: ") + e.what());
  }
  TokenSums sums(unix_ns(clock_.system_now()));
  const auto interval = settings_.otlp_interval;
  auto next_metrics = std::chrono::steady_clock::now() + interval;
  std::vector<UsageRecord> batch;
  for (;;) {
    batch.clear();
    const auto now = std::chrono::steady_clock::now();
    const auto idle = std::max(std::chrono::milliseconds(1),
                               std::chrono::duration_cast<std::chrono::milliseconds>(next_metrics - now));
    queue_.pop_batch(batch, kMaxBatch, idle, interval);
    if (!batch.empty()) {
      for (const UsageRecord& r : batch) sums.add(r);
      if (poster_) {
        send("/v1/logs", encode_logs(batch, resource_, unix_ns(clock_.system_now())), batch.size());
      } else {
        failed_ += batch.size();
      }
      {
        std::lock_guard lock(mu_);
        done_ += batch.size();
      }
      cv_.notify_all();
    }
    const bool last = batch.empty() && queue_.closed_and_empty();
    if (!sums.empty() && poster_ && (last || std::chrono::steady_clock::now() >= next_metrics)) {
      if (send("/v1/metrics", sums.encode(resource_, unix_ns(clock_.system_now())), 0)) ++metric_exports_;
    }
    if (std::chrono::steady_clock::now() >= next_metrics)
      next_metrics = std::chrono::steady_clock::now() + interval;
    if (last) break;
  }
  poster_.reset();
}

}  // namespace spillway::telemetry
