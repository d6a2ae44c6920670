#include "telemetry/usage_writer.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>

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

std::vector<std::string> packed(const std::vector<UsageRecord>& records) {
  std::vector<std::string> out;
  for (const UsageRecord& r : records) out.push_back(pack_usage(r));
  return out;
}

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

TEST(UsageDb, InsertUntilCommitsTheRowsDoneWhenAskedToStop) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  std::vector<UsageRecord> rs;
  for (int i = 0; i < 5; ++i) rs.push_back(sample_record(kT0 + i, "r" + std::to_string(i)));
  std::atomic<bool> stop{true};
  std::size_t committed = 99;
  std::string error;
  ASSERT_TRUE(db.insert_until(packed(rs), stop, committed, error)) << error;
  EXPECT_EQ(committed, 1u);  // at least one row per call, then it stops
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 1);
  EXPECT_EQ(query_text(path, "SELECT request_id FROM usage"), "r0");
  stop = false;
  rs.erase(rs.begin());
  ASSERT_TRUE(db.insert_until(packed(rs), stop, committed, error)) << error;
  EXPECT_EQ(committed, 4u);
  EXPECT_EQ(query_int(path, "SELECT COUNT(DISTINCT request_id) FROM usage"), 5);
}

// Batches go in statements of kRowsPerInsert rows, the rest one by one: every row keeps its own fields
// (the JSON columns too) and the batch's order.
TEST(UsageDb, MultiRowStatementsStoreEveryRowInOrder) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  const std::size_t count = 2 * UsageDb::kRowsPerInsert + 5;
  std::vector<UsageRecord> rs;
  std::string expected_ids;
  for (std::size_t i = 0; i < count; ++i) {
    UsageRecord r = sample_record(kT0 + static_cast<int64_t>(i), "r" + std::to_string(i));
    r.prompt_tokens = static_cast<int64_t>(i) * 3;
    r.tools = {"tool" + std::to_string(i)};
    r.tags = {{"n", std::to_string(i)}};
    r.ttft_ms = i % 2 == 0 ? -1 : static_cast<double>(i);
    if (i % 3 == 0) r.prompt = "p" + std::to_string(i);
    rs.push_back(std::move(r));
    expected_ids += (i == 0 ? "" : ",") + ("r" + std::to_string(i));
  }
  std::string error;
  ASSERT_TRUE(db.insert(rs, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), static_cast<int64_t>(count));
  EXPECT_EQ(query_text(
                path, "SELECT group_concat(request_id, ',') FROM (SELECT request_id FROM usage ORDER BY id)"),
            expected_ids);
  // Each row's own values, checked across the whole table: no row took another's parameters.
  EXPECT_EQ(
      query_int(path, "SELECT COUNT(*) FROM usage WHERE request_id = 'r' || (ts - " + std::to_string(kT0) +
                          ") AND prompt_tokens = 3 * (ts - " + std::to_string(kT0) +
                          ") AND tools = '[\"tool' || (ts - " + std::to_string(kT0) +
                          ") || '\"]' AND json_extract(tags, '$.n') = CAST(ts - " + std::to_string(kT0) +
                          " AS TEXT)"),
      static_cast<int64_t>(count));
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage WHERE ttft_ms IS NULL"),
            static_cast<int64_t>((count + 1) / 2));
  EXPECT_EQ(
      query_int(path, "SELECT COUNT(*) FROM usage WHERE prompt = 'p' || (ts - " + std::to_string(kT0) + ")"),
      static_cast<int64_t>((count + 2) / 3));
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage WHERE prompt IS NULL"),
            static_cast<int64_t>(count - (count + 2) / 3));
}

// Consecutive rows with the same tags or tools share one encoded text: runs of equal lists of every length,
// starting and ending anywhere in a statement or across statements, still give each row its own list.
TEST(UsageDb, RunsOfEqualTagsAndToolsKeepEachRowsOwnLists) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  const int run_lengths[] = {1, 3, 16, 2, 17, 1, 1, 5, 20, 4, 1};
  std::vector<UsageRecord> rs;
  int run = 0;
  for (int length : run_lengths) {
    for (int k = 0; k < length; ++k) {
      UsageRecord r = sample_record(kT0 + static_cast<int64_t>(rs.size()), "r" + std::to_string(rs.size()));
      r.prompt_tokens = run;
      r.tags = {{"run", std::to_string(run)}, {"team", "search"}};
      if (run % 2 == 1) r.tools = {"t" + std::to_string(run)};
      rs.push_back(std::move(r));
    }
    ++run;
  }
  std::string error;
  ASSERT_TRUE(db.insert(rs, error)) << error;
  ASSERT_TRUE(db.insert(rs, error)) << error;  // a second batch: nothing of the first one's texts is reused
  const auto total = static_cast<int64_t>(2 * rs.size());
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), total);
  EXPECT_EQ(query_int(path,
                      "SELECT COUNT(*) FROM usage WHERE tags = '{\"run\":\"' || prompt_tokens || "
                      "'\",\"team\":\"search\"}' AND tools = CASE prompt_tokens % 2 WHEN 1 THEN "
                      "'[\"t' || prompt_tokens || '\"]' ELSE '[]' END"),
            total);
}

// A number or NULL equal to the one still bound at its place from the statement's last run is not bound
// again: batch after batch, values that stay, change, and go from NULL to a value and back at the same
// places of both statements (the multi-row one and the single-row one) must each reach their own row.
TEST(UsageDb, ValuesThatRepeatOrChangeFromBatchToBatchReachTheirOwnRows) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  const std::size_t per_batch = UsageDb::kRowsPerInsert + 3;
  std::string expected;
  int64_t n = 0;
  for (int b = 0; b < 6; ++b) {
    std::vector<UsageRecord> rs;
    for (std::size_t k = 0; k < per_batch; ++k, ++n) {
      const int i = static_cast<int>(k);
      UsageRecord r = sample_record(kT0 + n, "r" + std::to_string(n));
      r.status = (b * i) % 3 == 0 ? 200 : 429 + b;
      r.attempts = 1 + (b % 2) * (i % 2);
      r.stream = (b + i) % 2 == 1;
      r.cached_tokens = b == 2 ? i : 0;
      r.reasoning_tokens = b >= 4 ? 7 : 0;
      r.tokens_estimated = b == 1 || b == 5;
      r.ttft_ms = (b + i) % 3 == 0 ? -1 : b * 10.0 + i;
      r.duration_ms = b % 2 == 0 ? 2.5 : 1.5;
      r.client_disconnected = b == 3;
      if ((b + i) % 4 != 0) r.completion = "c" + std::to_string(b % 2);
      rs.push_back(r);
      expected += r.request_id + "|" + std::to_string(r.status) + "|" + std::to_string(r.attempts) + "|" +
                  (r.stream ? "1" : "0") + "|" + std::to_string(r.cached_tokens) + "|" +
                  std::to_string(r.reasoning_tokens) + "|" + (r.tokens_estimated ? "1" : "0") + "|" +
                  (r.ttft_ms < 0 ? "null" : std::to_string(static_cast<int>(r.ttft_ms))) + "|" +
                  (b % 2 == 0 ? "2.5" : "1.5") + "|" + (r.client_disconnected ? "1" : "0") + "|" +
                  r.completion.value_or("null") + ";";
    }
    std::string error;
    ASSERT_TRUE(db.insert(rs, error)) << error;
  }
  EXPECT_EQ(
      query_text(path,
                 "SELECT group_concat(line, ';') || ';' FROM (SELECT request_id || '|' || status || '|' || "
                 "attempts || '|' || stream || '|' || cached_tokens || '|' || reasoning_tokens || '|' || "
                 "tokens_estimated || '|' || ifnull(CAST(ttft_ms AS INTEGER), 'null') || '|' || "
                 "duration_ms || '|' || client_disconnected || '|' || ifnull(completion, 'null') AS line "
                 "FROM usage ORDER BY id)"),
      expected);
}

TEST(UsageDb, InsertUntilStopsAfterAWholeStatement) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  std::vector<UsageRecord> rs;
  for (std::size_t i = 0; i < UsageDb::kRowsPerInsert + 3; ++i) {
    rs.push_back(sample_record(kT0 + static_cast<int64_t>(i), "r" + std::to_string(i)));
  }
  std::atomic<bool> stop{true};
  std::size_t committed = 0;
  std::string error;
  ASSERT_TRUE(db.insert_until(packed(rs), stop, committed, error)) << error;
  EXPECT_EQ(committed, UsageDb::kRowsPerInsert);  // the first statement's rows, then it stops
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), static_cast<int64_t>(UsageDb::kRowsPerInsert));
  EXPECT_EQ(query_int(path, "SELECT MAX(ts) FROM usage"),
            kT0 + static_cast<int64_t>(UsageDb::kRowsPerInsert) - 1);
}

TEST(UsageDb, APacedBatchGivesUpTheCpuBetweenItsStatementsAndStoresEveryRow) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  std::vector<UsageRecord> rs;
  const std::size_t n = 2 * UsageDb::kRowsPerInsert + 8;  // two 16-row statements, then 8 of one row
  for (std::size_t i = 0; i < n; ++i) {
    rs.push_back(sample_record(kT0 + static_cast<int64_t>(i), "r" + std::to_string(i)));
  }
  std::string error;
  ASSERT_TRUE(db.insert_packed(packed(rs), error, UsageDb::Pace::kYield, std::chrono::hours(1))) << error;
  EXPECT_EQ(db.yields(), 9u);  // after every statement but the last
  ASSERT_TRUE(db.insert_packed(packed({sample_record(kT0 + 100, "straight")}), error)) << error;
  EXPECT_EQ(db.yields(), 9u);
  // Past its budget of wall time a paced batch goes on straight.
  std::vector<UsageRecord> more;
  for (std::size_t i = 0; i < n; ++i) {
    more.push_back(sample_record(kT0 + 200 + static_cast<int64_t>(i), "m" + std::to_string(i)));
  }
  ASSERT_TRUE(db.insert_packed(packed(more), error, UsageDb::Pace::kYield, std::chrono::nanoseconds(0)))
      << error;
  EXPECT_EQ(db.yields(), 9u);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 2 * static_cast<int64_t>(n) + 1);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage WHERE request_id = 'r' || (ts - " +
                                std::to_string(kT0) + ")"),
            static_cast<int64_t>(n));
}

// Rows of about one page each (a logged prompt of 3,000 bytes): n of them add about n WAL frames.
std::vector<std::string> page_rows(int64_t first, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    UsageRecord r = sample_record(first + static_cast<int64_t>(i), "p" + std::to_string(first + i));
    r.prompt = std::string(3000, 'x');
    out.push_back(pack_usage(r));
  }
  return out;
}

// Waits until `done` holds, `limit` at most (5 s unless given).
template <class F>
bool eventually(F done, std::chrono::seconds limit = std::chrono::seconds(5)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Commits batches of 100 pages (rows from `ts` on, counted in `rows`) until one leaves the WAL longer than
// before and past the point where a checkpoint is asked for. False on an error or after 50 batches.
bool fill_wal(UsageDb& db, int64_t& ts, std::size_t& rows, std::string& error) {
  const int before = db.wal_frames();
  for (int i = 0; i < 50; ++i, ts += 100, rows += 100) {
    if (!db.insert_packed(page_rows(ts, 100), error)) return false;
    if (db.wal_frames() >= UsageDb::kCheckpointFrames && db.wal_frames() > before) {
      ts += 100;
      rows += 100;
      return true;
    }
  }
  return false;
}

TEST(UsageDb, TheCheckpointThreadCopiesTheWalSoThatItRestarts) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  db.start_checkpointer();
  std::string error;
  int64_t ts = kT0;
  std::size_t rows = 0;
  ASSERT_TRUE(fill_wal(db, ts, rows, error)) << error;
  ASSERT_TRUE(eventually([&] { return db.checkpoints() >= 1; }));
  // Every frame was copied into the file: the next transaction starts the WAL over.
  ASSERT_TRUE(db.insert_packed(page_rows(ts, 10), error)) << error;
  rows += 10;
  EXPECT_LT(db.wal_frames(), 100);
  EXPECT_EQ(db.checkpoints_inline(), 0u);
  EXPECT_EQ(db.checkpoint_waits(), 0u);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), static_cast<int64_t>(rows));
}

TEST(UsageDb, CommitsGoOnWhileACheckpointRunsAndPastTheLimitWaitForItAndCheckpointThemselves) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  db.start_checkpointer();
  db.hold_checkpoints_for_test(true);  // the first checkpoint asked for stays under way
  std::atomic<std::size_t> rows{0};
  std::string error;
  std::thread writer([&] {
    int64_t ts = kT0;
    // Up to the limit, and the commit that passes it (which waits for the held checkpoint).
    for (int i = 0; i < 200; ++i, ts += 100) {
      if (!db.insert_packed(page_rows(ts, 100), error)) return;
      rows += 100;
      if (db.wal_frames() >= UsageDb::kMaxWalFrames) return;
    }
  });
  const bool waited = eventually([&] { return db.checkpoint_waits() == 1; });
  // The commits after the first ask went on without a checkpoint: the WAL grew to the limit.
  EXPECT_EQ(db.checkpoints(), 0u);
  EXPECT_GE(rows.load(), static_cast<std::size_t>(UsageDb::kMaxWalFrames) * 9 / 10);
  db.hold_checkpoints_for_test(false);
  writer.join();
  ASSERT_TRUE(waited);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_GE(db.wal_frames(), UsageDb::kMaxWalFrames);
  EXPECT_EQ(db.checkpoints(), 1u);
  EXPECT_EQ(db.checkpoints_inline(), 1u);
  ASSERT_TRUE(db.insert_packed(page_rows(kT0 + 100'000, 10), error)) << error;
  EXPECT_LT(db.wal_frames(), 100);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), static_cast<int64_t>(rows.load()) + 10);
}

// The scheduling policy of this process's thread named `name`, read from /proc (-1: no such thread).
int thread_policy(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string n;
    std::getline(comm, n);
    if (n != name) continue;
    std::ifstream stat_file(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // Field 41 (policy); the fields after the name, which ends with the last ')', start at field 3.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 41 && rest >> field; ++i) {
      if (i == 41) return std::stoi(field);
    }
  }
  return -1;
}

TEST(UsageDb, CheckpointsRunAtIdlePriorityWhileTheMachineIsIdleAndAtNormalPriorityOtherwise) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  db.start_checkpointer();
  if (!db.checkpoints_can_idle()) GTEST_SKIP() << "SCHED_IDLE not available here";
  EXPECT_EQ(thread_policy("spw-usage-ckpti"), SCHED_IDLE);
  EXPECT_EQ(thread_policy("spw-usage-ckpt"), SCHED_OTHER);
  std::string error;
  int64_t ts = kT0;
  std::size_t rows = 0;
  db.set_checkpoints_idle(true);
  ASSERT_TRUE(fill_wal(db, ts, rows, error)) << error;
  // A SCHED_IDLE thread runs only on CPU time nothing else wants: under a loaded machine (a parallel
  // ctest run, two busy loops) its checkpoint took up to 6 s.
  ASSERT_TRUE(eventually([&] { return db.checkpoints() == 1; }, std::chrono::seconds(30)));
  EXPECT_EQ(db.checkpoints_idle_done(), 1u);
  db.set_checkpoints_idle(false);
  ASSERT_TRUE(fill_wal(db, ts, rows, error)) << error;
  ASSERT_TRUE(eventually([&] { return db.checkpoints() == 2; }));
  EXPECT_EQ(db.checkpoints_idle_done(), 1u);
  // Both threads stay at their priority: the idle one is never asked to leave SCHED_IDLE.
  EXPECT_EQ(thread_policy("spw-usage-ckpti"), SCHED_IDLE);
  EXPECT_EQ(thread_policy("spw-usage-ckpt"), SCHED_OTHER);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), static_cast<int64_t>(rows));
}

TEST(UsageDb, TransactionsBiggerThanThePageCacheStoreEveryRow) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  db.start_checkpointer();
  // Three times the cache in pages, in one batch, twice: their pages spill to the WAL before the commit.
  const std::size_t n = 3 * UsageDb::kCacheKiB / 4;
  std::string error;
  ASSERT_TRUE(db.insert_packed(page_rows(kT0, n), error)) << error;
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), static_cast<int64_t>(n));
  ASSERT_TRUE(db.insert_packed(page_rows(kT0 + 10'000, n), error)) << error;
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 2 * static_cast<int64_t>(n));
  EXPECT_EQ(query_int(path, "SELECT COUNT(DISTINCT request_id) FROM usage WHERE length(prompt) = 3000"),
            2 * static_cast<int64_t>(n));
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
  UsageWriter writer(settings_for(path), clock, UsageWriterOptions{});
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
  UsageWriter writer(settings, clock, UsageWriterOptions{.prune_interval = std::chrono::minutes(1)});
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
  UsageWriter writer(settings, clock, UsageWriterOptions{});
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

// Waits (bounded) until the writer has committed `n` records without asking it to flush: flush() makes the
// dispatcher write by itself, which is not what these tests look at.
bool written_within(const UsageWriter& writer, uint64_t n, std::chrono::seconds limit) {
  return eventually([&] { return writer.stats().written >= n; }, limit);
}

TEST(UsageWriter, TheBackgroundThreadRunsAtIdlePriority) {
  TempDir dir;
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter writer(settings_for(dir.file("u.db")), clock);  // sets the priority before it returns
#ifdef __linux__
  EXPECT_TRUE(writer.stats().background_idle);
#endif
}

TEST(UsageWriter, WhileTheMachineHasCpuToSpareCheckpointsRunAtIdlePriority) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  config::UsageLogSettings settings = settings_for(path);
  settings.batch_size = 256;
  // min_idle_fraction 0: the machine counts as having CPU to spare, whatever its load.
  UsageWriter writer(settings, clock, UsageWriterOptions{.min_idle_fraction = 0});
  if (!writer.stats().background_idle) GTEST_SKIP() << "SCHED_IDLE not available here";
  // About 1200 pages: a commit asks for a checkpoint.
  for (int i = 0; i < 1200; ++i) {
    UsageRecord r = sample_record(kT0 + i, "r" + std::to_string(i));
    r.prompt = std::string(3000, 'x');
    ASSERT_TRUE(writer.submit(r));
  }
  writer.flush();
  // The idle-priority thread runs only when a CPU has nothing else to do: on a loaded machine (the other
  // tests of a parallel ctest run) the checkpoint asked for can wait, and stop() drops a checkpoint not
  // begun. The writer's counts follow the file's at each commit: one more record per look.
  int extra = 0;
  eventually(
      [&] {
        if (writer.stats().checkpoints > 0) return true;
        EXPECT_TRUE(writer.submit(sample_record(kT0 + 1200 + extra, "x" + std::to_string(extra))));
        ++extra;
        writer.flush();
        return false;
      },
      std::chrono::seconds(30));
  writer.stop();
  EXPECT_GE(writer.stats().checkpoints, 1u);
  EXPECT_EQ(writer.stats().checkpoints_idle, writer.stats().checkpoints);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 1200 + extra);
}

TEST(UsageWriter, TheBackgroundThreadWritesWhileItKeepsUp) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  // Normal priority here: at SCHED_IDLE on a loaded test machine it may be starved, which is the
  // take-over tests' subject.
  UsageWriter writer(settings_for(path), clock,
                     UsageWriterOptions{.idle_priority = false, .min_idle_fraction = 0});
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(writer.submit(sample_record(kT0, "r" + std::to_string(i))));
    if (i % 4 == 3) {
      ASSERT_TRUE(written_within(writer, static_cast<uint64_t>(i + 1), std::chrono::seconds(10)));
    }
  }
  const UsageWriterStats s = writer.stats();
  EXPECT_EQ(s.written, 40u);
  // One batch at a time, each finished before the next: the background thread wrote them (the
  // dispatcher takes over only a batch still unwritten when the next is ready or the queue goes idle).
  EXPECT_GT(s.background_written, 0u);
  EXPECT_FALSE(s.background_idle);
  writer.stop();
  EXPECT_EQ(query_int(path, "SELECT COUNT(DISTINCT request_id) FROM usage"), 40);
}

TEST(UsageWriter, AStarvedBackgroundThreadsBatchIsTakenOverByTheNextOne) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter writer(
      settings_for(path), clock,
      UsageWriterOptions{.min_idle_fraction = 0, .first_handoff_pause = std::chrono::minutes(1)});
  writer.hold_background_for_test(true);  // batch_size 4
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "r" + std::to_string(i))));
  ASSERT_TRUE(written_within(writer, 8, std::chrono::seconds(10)));
  EXPECT_EQ(writer.stats().background_written, 0u);
  EXPECT_EQ(writer.stats().takeovers, 1u);
  EXPECT_EQ(query_int(path, "SELECT COUNT(DISTINCT request_id) FROM usage"), 8);
  // After a take-over the dispatcher writes by itself for a while: nothing is handed to the background
  // thread even though it is free again.
  writer.hold_background_for_test(false);
  for (int i = 8; i < 16; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "r" + std::to_string(i))));
  ASSERT_TRUE(written_within(writer, 16, std::chrono::seconds(5)));
  EXPECT_EQ(writer.stats().background_written, 0u);
  EXPECT_EQ(writer.stats().takeovers, 1u);
}

TEST(UsageWriter, AStarvedBackgroundThreadsLastBatchIsTakenOverWhenTheQueueIsIdle) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter writer(settings_for(path), clock, UsageWriterOptions{.min_idle_fraction = 0});
  writer.hold_background_for_test(true);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "r" + std::to_string(i))));
  // No further batch comes: the dispatcher's idle wake-up (every second) takes the batch over.
  ASSERT_TRUE(written_within(writer, 3, std::chrono::seconds(10)));
  EXPECT_EQ(writer.stats().background_written, 0u);
  writer.hold_background_for_test(false);
}

TEST(UsageWriter, FlushAndStopDoNotWaitForAStarvedBackgroundThread) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter writer(settings_for(path), clock);
  writer.hold_background_for_test(true);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "a" + std::to_string(i))));
  writer.flush();
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 6);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "b" + std::to_string(i))));
  writer.stop();
  EXPECT_EQ(query_int(path, "SELECT COUNT(DISTINCT request_id) FROM usage"), 12);
  EXPECT_EQ(writer.stats().background_written, 0u);
}

TEST(UsageWriter, WithoutTheBackgroundThreadTheDispatcherWritesEverything) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter writer(settings_for(path), clock, UsageWriterOptions{.background = false});
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "r" + std::to_string(i))));
  ASSERT_TRUE(written_within(writer, 10, std::chrono::seconds(10)));
  const UsageWriterStats s = writer.stats();
  EXPECT_EQ(s.background_written, 0u);
  EXPECT_FALSE(s.background_idle);
}

TEST(UsageWriter, TheDispatchersBatchesGiveUpTheCpuBetweenStatements) {
  // Without the background thread the dispatcher writes every batch, paced.
  TempDir dir;
  config::UsageLogSettings s = settings_for(dir.file("u.db"));
  s.batch_size = 64;
  s.flush_interval = std::chrono::milliseconds(50);
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter w(s, clock, UsageWriterOptions{.background = false});
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(w.submit(sample_record(kT0 + i, "p" + std::to_string(i))));
  // Not flush(): a batch someone waits for is written straight (next test).
  ASSERT_TRUE(written_within(w, 64, std::chrono::seconds(10)));
  // Mostly one batch of four 16-row statements: three yields. However the rows were split into batches,
  // there are at least that many statements but one per batch.
  EXPECT_GE(w.stats().batch_yields, 3u);
  w.stop();
  EXPECT_EQ(query_int(s.sqlite_path, "SELECT COUNT(*) FROM usage"), 64);
}

TEST(UsageWriter, ABatchThatAFlushWaitsForIsWrittenStraight) {
  // The same when the dispatcher is behind: a whole batch more queued, a flush, the stop.
  TempDir dir;
  config::UsageLogSettings s = settings_for(dir.file("u.db"));
  s.batch_size = 1024;
  s.flush_interval = std::chrono::seconds(10);  // the batch closes only for the flush
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter w(s, clock, UsageWriterOptions{.background = false});
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(w.submit(sample_record(kT0 + i, "f" + std::to_string(i))));
  w.flush();
  EXPECT_EQ(w.stats().written, 64u);
  EXPECT_EQ(w.stats().batch_yields, 0u);
}

// Waits (bounded) for the writer's first prune pass, which runs on its first wake-up.
void wait_first_prune(UsageWriter& writer) {
  writer.flush();  // wakes the dispatcher
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (writer.stats().prune_passes == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(writer.stats().prune_passes, 1u);
}

TEST(UsageWriter, ALoneRecordIsCommittedAfterTheFlushIntervalWithoutAFlush) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  auto settings = settings_for(path);
  settings.flush_interval = std::chrono::milliseconds(50);
  settings.batch_size = 1000;  // never full here
  UsageWriter writer(settings, clock, UsageWriterOptions{.idle_priority = false, .min_idle_fraction = 0});
  wait_first_prune(writer);
  ASSERT_TRUE(writer.submit(sample_record(kT0, "alone")));
  ASSERT_TRUE(written_within(writer, 1, std::chrono::seconds(10)));  // no flush: the interval did it
  EXPECT_EQ(query_text(path, "SELECT request_id FROM usage"), "alone");
  EXPECT_EQ(writer.stats().submitted, 1u);
}

TEST(UsageWriter, AStoppedWriterRefusesAndCountsARecord) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  UsageWriter writer(settings_for(path), clock);
  ASSERT_TRUE(writer.submit(sample_record(kT0, "a")));
  writer.stop();
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 1);
  EXPECT_FALSE(writer.submit(sample_record(kT0, "late")));
  EXPECT_EQ(writer.stats().dropped, 1u);
  EXPECT_EQ(writer.stats().written, 1u);
}

TEST(UsageWriter, WhenAnotherConnectionHoldsTheFileTheRecordWaitsInTheWriterNotTheRequest) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  util::ManualClock clock{std::chrono::system_clock::time_point{std::chrono::milliseconds(kT0)}};
  auto settings = settings_for(path);
  settings.flush_interval = std::chrono::milliseconds(60'000);
  UsageWriter writer(settings, clock, UsageWriterOptions{.idle_priority = false, .min_idle_fraction = 0});
  wait_first_prune(writer);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);  // the write lock
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.submit(sample_record(kT0, "r" + std::to_string(i))));
  // The submitting thread did not wait for the lock (SQLite's busy timeout is 5 s).
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(writer.stats().written, 0u);
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  writer.flush();  // the writer's own retries wait for the lock, then write all three
  EXPECT_EQ(query_int(path, "SELECT COUNT(DISTINCT request_id) FROM usage"), 3);
  EXPECT_EQ(writer.stats().written, 3u);
  EXPECT_EQ(writer.stats().failed, 0u);
}

}  // namespace
}  // namespace spillway::telemetry
