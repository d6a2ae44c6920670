#include "telemetry/otlp_exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "usage_test_util.h"

namespace spillway::telemetry {
namespace {

using std::chrono::milliseconds;
using test_util::sample_record;
using ::testing::HasSubstr;

PostResult status(int s) {
  PostResult r;
  r.status = s;
  return r;
}

// Answers with scripted statuses (then 200) and records what it got. Thread-safe.
class FakePoster final : public HttpPoster {
 public:
  struct Shared {
    std::mutex mu;
    std::deque<PostResult> script;
    std::vector<std::pair<std::string, std::string>> posts;  // path, body
  };
  explicit FakePoster(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  PostResult post(std::string_view path, const std::string& body) override {
    std::lock_guard lock(s_->mu);
    s_->posts.emplace_back(std::string(path), body);
    if (s_->script.empty()) return status(200);
    PostResult r = s_->script.front();
    s_->script.pop_front();
    return r;
  }

 private:
  std::shared_ptr<Shared> s_;
};

struct Recorder {
  std::vector<milliseconds> sleeps;
  std::function<bool(milliseconds)> fn() {
    return [this](milliseconds d) {
      sleeps.push_back(d);
      return true;
    };
  }
};

TEST(OtlpRetry, RetriesOn503ThenSucceeds) {
  auto shared = std::make_shared<FakePoster::Shared>();
  shared->script = {status(503), status(503)};
  FakePoster poster(shared);
  Recorder rec;
  const SendResult r = post_with_retry(poster, "/v1/logs", "{}", RetryPolicy{}, rec.fn());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(shared->posts.size(), 3u);
  EXPECT_EQ(rec.sleeps, (std::vector<milliseconds>{milliseconds(250), milliseconds(500)}));
}

TEST(OtlpRetry, GivesUpAfterMaxAttempts) {
  auto shared = std::make_shared<FakePoster::Shared>();
  shared->script = {status(0), status(429), status(500), status(502), status(503), status(503)};
  FakePoster poster(shared);
  Recorder rec;
  RetryPolicy policy;
  policy.max_attempts = 4;
  const SendResult r = post_with_retry(poster, "/v1/logs", "{}", policy, rec.fn());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.attempts, 4);
  EXPECT_EQ(r.last_status, 502);
  EXPECT_EQ(rec.sleeps.size(), 3u);
}

TEST(OtlpRetry, DoesNotRetryAClientError) {
  auto shared = std::make_shared<FakePoster::Shared>();
  shared->script = {status(400)};
  FakePoster poster(shared);
  Recorder rec;
  const SendResult r = post_with_retry(poster, "/v1/logs", "{}", RetryPolicy{}, rec.fn());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_TRUE(rec.sleeps.empty());
}

TEST(OtlpRetry, StopsWhenSleepIsRefused) {
  auto shared = std::make_shared<FakePoster::Shared>();
  shared->script = {status(503), status(503)};
  FakePoster poster(shared);
  const SendResult r =
      post_with_retry(poster, "/v1/logs", "{}", RetryPolicy{}, [](milliseconds) { return false; });
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.attempts, 1);
}

TEST(OtlpRetry, BackoffDoublesIsCappedAndHonoursRetryAfter) {
  RetryPolicy p;
  p.initial_backoff = milliseconds(100);
  p.max_backoff = milliseconds(1000);
  EXPECT_EQ(backoff_delay(p, 1, status(503)), milliseconds(100));
  EXPECT_EQ(backoff_delay(p, 2, status(503)), milliseconds(200));
  EXPECT_EQ(backoff_delay(p, 4, status(503)), milliseconds(800));
  EXPECT_EQ(backoff_delay(p, 5, status(503)), milliseconds(1000));
  EXPECT_EQ(backoff_delay(p, 30, status(503)), milliseconds(1000));
  EXPECT_EQ(backoff_delay(p, 1, PostResult{.status = 429, .error = {}, .retry_after = milliseconds(0)}),
            milliseconds(0));
  EXPECT_EQ(backoff_delay(p, 1, PostResult{.status = 429, .error = {}, .retry_after = milliseconds(60'000)}),
            milliseconds(1000));
  EXPECT_TRUE(retryable(status(0)));
  EXPECT_TRUE(retryable(status(408)));
  EXPECT_TRUE(retryable(status(599)));
  EXPECT_FALSE(retryable(status(401)));
  EXPECT_FALSE(retryable(status(200)));
}

config::TelemetrySettings fast_settings() {
  config::TelemetrySettings s;
  s.otlp_enabled = true;
  s.otlp_interval = milliseconds(20);
  s.otlp_queue_capacity = 100;
  return s;
}

RetryPolicy fast_retry(int attempts) {
  RetryPolicy r;
  r.max_attempts = attempts;
  r.initial_backoff = milliseconds(1);
  r.max_backoff = milliseconds(2);
  return r;
}

TEST(OtlpExporter, ExportsRecordsAsLogsAndThenMetrics) {
  auto shared = std::make_shared<FakePoster::Shared>();
  shared->script = {status(503), status(503)};  // the first batch needs three attempts
  OtlpExporter exporter(
      fast_settings(), [shared] { return std::make_unique<FakePoster>(shared); },
      util::SystemClock::instance(), fast_retry(5), OtlpResource{});
  ASSERT_TRUE(exporter.submit(sample_record(1, "req-a")));
  ASSERT_TRUE(exporter.submit(sample_record(2, "req-b")));
  exporter.flush();
  exporter.stop();
  const OtlpExporterStats s = exporter.stats();
  EXPECT_EQ(s.submitted, 2u);
  EXPECT_EQ(s.exported, 2u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_GE(s.retries, 2u);
  EXPECT_GE(s.metric_exports, 1u);
  std::lock_guard lock(shared->mu);
  std::string logs;
  bool metrics = false;
  for (const auto& [path, body] : shared->posts) {
    if (path == "/v1/logs") logs += body;
    if (path == "/v1/metrics") metrics = metrics || body.find("spillway.tokens") != std::string::npos;
  }
  EXPECT_THAT(logs, HasSubstr("req-a"));
  EXPECT_THAT(logs, HasSubstr("req-b"));
  EXPECT_TRUE(metrics);
}

TEST(OtlpExporter, CountsBatchesItGivesUpOn) {
  auto shared = std::make_shared<FakePoster::Shared>();
  for (int i = 0; i < 100; ++i) shared->script.push_back(status(503));
  OtlpExporter exporter(
      fast_settings(), [shared] { return std::make_unique<FakePoster>(shared); },
      util::SystemClock::instance(), fast_retry(3), OtlpResource{});
  exporter.submit(sample_record(1, "req-a"));
  exporter.flush();
  const OtlpExporterStats s = exporter.stats();
  EXPECT_EQ(s.exported, 0u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_GE(s.failed_batches, 1u);
  EXPECT_GE(s.retries, 2u);
  exporter.stop(milliseconds(0));
}

TEST(OtlpExporter, StopGivesUpWithinTheDeadlineWhenTheCollectorIsDown) {
  auto shared = std::make_shared<FakePoster::Shared>();
  for (int i = 0; i < 1000; ++i) shared->script.push_back(status(503));
  RetryPolicy slow;
  slow.max_attempts = 100;
  slow.initial_backoff = milliseconds(10'000);
  slow.max_backoff = milliseconds(10'000);
  OtlpExporter exporter(
      fast_settings(), [shared] { return std::make_unique<FakePoster>(shared); },
      util::SystemClock::instance(), slow, OtlpResource{});
  exporter.submit(sample_record(1, "req-a"));
  const auto t0 = std::chrono::steady_clock::now();
  exporter.stop(milliseconds(50));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(exporter.stats().exported, 0u);
  EXPECT_EQ(exporter.stats().failed, 1u);
}

TEST(OtlpExporter, AFullQueueDropsAndCounts) {
  auto shared = std::make_shared<FakePoster::Shared>();
  auto settings = fast_settings();
  settings.otlp_queue_capacity = 2;
  settings.otlp_interval = milliseconds(60'000);
  OtlpExporter exporter(
      settings, [shared] { return std::make_unique<FakePoster>(shared); }, util::SystemClock::instance(),
      fast_retry(1), OtlpResource{});
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += exporter.submit(sample_record(1, "r")) ? 1 : 0;
  exporter.stop();
  EXPECT_EQ(exporter.stats().dropped, static_cast<uint64_t>(20 - accepted));
  EXPECT_GE(exporter.stats().dropped, 1u);
  EXPECT_EQ(exporter.stats().exported, static_cast<uint64_t>(accepted));
}

}  // namespace
}  // namespace spillway::telemetry
