#include "telemetry/usage_writer.h"

#include <gtest/gtest.h>

#include "telemetry/usage_db.h"
#include "usage_test_util.h"

namespace spillway::telemetry {
namespace {

using test_util::query_int;
using test_util::query_text;
using test_util::sample_record;
using test_util::TempDir;

config::UsageLogSettings settings_for(const std::string& path) {
  config::UsageLogSettings s;
  s.enabled = true;
  s.sqlite_path = path;
  s.flush_interval = std::chrono::milliseconds(5);
  s.batch_size = 4;
  s.queue_capacity = 100'000;
  return s;
}

constexpr int64_t kT0 = 1'750'000'000'000;  // 2025-06-15

TEST(UsageDb, CreatesTheSchemaInWalModeAndStoresEveryField) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  {
    UsageDb db(path);
    UsageRecord r = sample_record(kT0, "req-1");
    r.tools = {"get_weather", "search"};
    r.tags = {{"team", "a\"b"}};
    r.error = "backend_timeout";
    r.ttft_ms = -1;
    r.prompt = "[{\"role\":\"user\"}]";
    std::string error;
    ASSERT_TRUE(db.insert({r}, error)) << error;
  }
  EXPECT_EQ(query_text(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(query_int(path, "PRAGMA user_version"), kUsageSchemaVersion);
  EXPECT_EQ(query_int(path, "SELECT ts FROM usage"), kT0);
  EXPECT_EQ(query_text(path, "SELECT tools FROM usage"), "[\"get_weather\",\"search\"]");
  EXPECT_EQ(query_text(path, "SELECT json_extract(tags, '$.team') FROM usage"), "a\"b");
  EXPECT_EQ(query_text(path, "SELECT ttft_ms FROM usage"), "<null>");
  EXPECT_EQ(query_text(path, "SELECT completion FROM usage"), "<null>");
  EXPECT_EQ(query_text(path, "SELECT prompt FROM usage"), "[{\"role\":\"user\"}]");
  EXPECT_EQ(query_int(path, "SELECT total_tokens FROM usage"), 30);
  EXPECT_EQ(query_text(path, "SELECT error FROM usage"), "backend_timeout");
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage, json_each(usage.tools)"), 2);
}

TEST(UsageDb, OpeningAFileTwiceKeepsItsRows) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  std::string error;
  { ASSERT_TRUE(UsageDb(path).insert({sample_record(kT0, "a")}, error)); }
  { ASSERT_TRUE(UsageDb(path).insert({sample_record(kT0, "b")}, error)); }
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 2);
}

TEST(UsageDb, AnUnwritablePathIsAnErrorNamingTheFile) {
  try {
    UsageDb db("/nonexistent-dir-spw/usage.db");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir-spw/usage.db"), std::string::npos);
  }
}

TEST(UsageDb, PruneDeletesOnlyOlderRows) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  std::vector<UsageRecord> rs;
  for (int i = 0; i < 12'000; ++i) rs.push_back(sample_record(kT0 + i, "r" + std::to_string(i)));
  std::string error;
  ASSERT_TRUE(db.insert(rs, error)) << error;
  EXPECT_EQ(db.prune(kT0 + 11'000), 11'000);  // spans several delete chunks
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 1'000);
  EXPECT_EQ(query_int(path, "SELECT MIN(ts) FROM usage"), kT0 + 11'000);
  EXPECT_EQ(db.prune(kT0), 0);
}

TEST(UsageWriter, WritesInBatchesOfAtMostBatchSize) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter writer(settings_for(path), clock);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "r" + std::to_string(i))));
  writer.flush();
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 10);
  const UsageWriterStats s = writer.stats();
  EXPECT_EQ(s.submitted, 10u);
  EXPECT_EQ(s.written, 10u);
  EXPECT_GE(s.batches, 3u);  // batch_size 4
  EXPECT_LE(s.batches, 10u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.failed, 0u);
}

TEST(UsageWriter, StopDrainsEveryQueuedRecordBeforeClosing) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  auto settings = settings_for(path);
  settings.flush_interval = std::chrono::milliseconds(60'000);  // nothing would commit on its own soon
  settings.batch_size = 256;
  UsageWriter writer(settings, clock);
  for (int i = 0; i < 5'000; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "r" + std::to_string(i))));
  writer.stop();
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 5'000);
  EXPECT_EQ(query_int(path, "SELECT COUNT(DISTINCT request_id) FROM usage"), 5'000);
  EXPECT_EQ(writer.stats().written, 5'000u);
  EXPECT_FALSE(writer.submit(sample_record(kT0, "late")));  // stopped: counted as dropped
  EXPECT_EQ(writer.stats().dropped, 1u);
  writer.stop();  // idempotent
}

TEST(UsageWriter, PrunesByRetentionOnTheInjectedClock) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  auto settings = settings_for(path);
  settings.retention = std::chrono::hours(1);
  UsageWriter writer(settings, clock, std::chrono::minutes(1));
  writer.submit(sample_record(kT0, "old"));
  writer.flush();
  clock.advance(std::chrono::minutes(30));
  writer.submit(sample_record(kT0 + 30 * 60'000, "middle"));
  writer.flush();
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 2);  // nothing is older than 1 h yet

  clock.advance(std::chrono::minutes(45));  // now kT0 + 75 min: "old" is past the retention
  writer.submit(sample_record(kT0 + 75 * 60'000, "new"));
  writer.flush();
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 2);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage WHERE request_id = 'old'"), 0);
  EXPECT_EQ(writer.stats().pruned, 1u);
}

TEST(UsageWriter, ConcurrentSubmittersLoseNothing) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  auto settings = settings_for(path);
  settings.batch_size = 64;
  UsageWriter writer(settings, clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&writer, t] {
      for (int i = 0; i < 500; ++i)
        writer.submit(sample_record(kT0, std::to_string(t) + "-" + std::to_string(i)));
    });
  }
  for (auto& th : threads) th.join();
  writer.stop();
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 2'000);
}

TEST(UsageWriter, AFullQueueDropsAndCounts) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  auto settings = settings_for(path);
  settings.queue_capacity = 1;
  settings.flush_interval = std::chrono::milliseconds(60'000);
  settings.batch_size = 1000;
  UsageWriter writer(settings, clock);
  // The writer may take one record out while gathering, so at most 2 are accepted.
  int accepted = 0;
  for (int i = 0; i < 50; ++i) accepted += writer.submit(sample_record(kT0, std::to_string(i))) ? 1 : 0;
  writer.stop();
  const UsageWriterStats s = writer.stats();
  EXPECT_GE(accepted, 1);
  EXPECT_EQ(s.submitted, static_cast<uint64_t>(accepted));
  EXPECT_EQ(s.dropped, static_cast<uint64_t>(50 - accepted));
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), accepted);
}

}  // namespace
}  // namespace spillway::telemetry
