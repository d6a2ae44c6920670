#pragma once
// OTLP/HTTP export of usage records (POST /v1/logs) and token sums (POST /v1/metrics) from a dedicated
// thread fed by a bounded queue. Request workers only push.
//
// Each batch (up to 512 records, or what arrived within `otlp_interval`) is posted with retries on
// connection errors, 429 and 5xx, backing off exponentially (honouring Retry-After), at most
// `otlp_max_attempts` times; then the batch is given up and counted. Other statuses are not retried.
// Metrics are cumulative sums since start, posted every `otlp_interval` once there is something to say.
// stop() exports what is queued and a last metrics snapshot within a deadline.

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
#include "telemetry/otlp_json.h"
#include "telemetry/otlp_poster.h"
#include "telemetry/usage_queue.h"
#include "telemetry/usage_record.h"
#include "util/clock.h"

namespace spillway::telemetry {

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{10'000};  // also caps a Retry-After
};

struct SendResult {
  bool ok = false;
  int attempts = 0;
  int last_status = 0;  // 0: no response
};

// True for outcomes worth another attempt: no response, 408, 429, 5xx.
bool retryable(const PostResult& r);
// The wait before attempt `attempt + 1` (attempt >= 1): initial * 2^(attempt-1), capped; a Retry-After
// replaces it (capped too).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, const PostResult& last);
// Posts until a 2xx, a non-retryable answer, `policy.max_attempts` attempts, or `sleep` returning false
// (it waits the given time; false = abandon, e.g. the shutdown deadline passed).
SendResult post_with_retry(HttpPoster& poster, std::string_view path, const std::string& body,
                           const RetryPolicy& policy,
                           const std::function<bool(std::chrono::milliseconds)>& sleep);

struct OtlpExporterStats {
  uint64_t submitted = 0;       // accepted into the queue
  uint64_t dropped = 0;         // rejected: queue full (or stopped)
  uint64_t exported = 0;        // records the collector accepted
  uint64_t failed = 0;          // records in batches given up
  uint64_t failed_batches = 0;  // log and metric posts given up
  uint64_t retries = 0;         // attempts after the first
  uint64_t metric_exports = 0;  // metric posts accepted
};

class OtlpExporter {
 public:
  using PosterFactory = std::function<std::unique_ptr<HttpPoster>()>;

  // Starts the exporter thread (every signal blocked). `make_poster` runs on that thread. `clock` gives
  // timestamps and must outlive *this.
  OtlpExporter(const config::TelemetrySettings& settings, PosterFactory make_poster, const util::Clock& clock,
               RetryPolicy retry, OtlpResource resource);
  ~OtlpExporter();  // stop()
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  // Any thread; O(1). False when dropped (queue full or stopped).
  bool submit(UsageRecord&& record);
  // Blocks until the records submitted before the call were exported or given up.
  void flush();
  // Exports what is queued and the last metrics, giving up on what is still unsent after `deadline`;
  // joins the thread. Idempotent.
  void stop(std::chrono::milliseconds deadline = std::chrono::seconds(5));
  OtlpExporterStats stats() const;

 private:
  void run();
  bool send(std::string_view path, const std::string& body, uint64_t records);
  bool sleep_for(std::chrono::milliseconds d);

  const config::TelemetrySettings settings_;
  PosterFactory make_poster_;
  const util::Clock& clock_;
  const RetryPolicy retry_;
  const OtlpResource resource_;
  BoundedQueue<UsageRecord> queue_;
  std::unique_ptr<HttpPoster> poster_;  // exporter thread only

  std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  uint64_t done_ = 0;  // records taken from the queue and exported or given up

  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> failed_batches_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> metric_exports_{0};

  std::mutex stop_mu_;
  std::thread thread_;
};

}  // namespace spillway::telemetry
