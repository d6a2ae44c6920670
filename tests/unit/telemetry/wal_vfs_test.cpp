#include "telemetry/wal_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "telemetry/usage_db.h"
#include "usage_test_util.h"

namespace spillway::telemetry {
namespace {

using test_util::query_int;
using test_util::query_text;
using test_util::TempDir;

// A connection in WAL mode, through the joined-WAL VFS or (vfs null) the default one.
sqlite3* open_wal(const std::string& path, const char* vfs) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
  EXPECT_EQ(
      sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_wal_autocheckpoint(db, 0);  // the frames stay in the WAL, where the tests look for them
  return db;
}

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER, b BLOB)";

int exec(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

// open_wal(), and the tests' table t (rows of an id, a number and a blob).
sqlite3* open_wal_table(const std::string& path, const char* vfs) {
  sqlite3* db = open_wal(path, vfs);
  EXPECT_EQ(exec(db, kCreateTable), SQLITE_OK);
  return db;
}

// `n` rows of about 1000 bytes each (4 to a page) with ids from `first`.
std::string insert_rows(int first, int n) {
  return "WITH RECURSIVE s(i) AS (SELECT " + std::to_string(first) +
         " UNION ALL SELECT i + 1 FROM s WHERE i < " + std::to_string(first + n - 1) +
         ") INSERT INTO t SELECT i, i * 3, randomblob(1000) FROM s";
}

// What recovery from the files as they are now finds: the database and its WAL copied (not the WAL index:
// the copy is opened as after a crash, and SQLite rebuilds the index from the WAL's frames, checking each
// frame's checksum), then counted through a fresh connection.
struct Recovered {
  int64_t rows = -1;
  int64_t sum = -1;
  std::string integrity;
};
Recovered recover_copy(const std::string& path, const TempDir& dir, const std::string& name) {
  const std::string copy = dir.file(name);
  std::filesystem::copy_file(path, copy);
  std::filesystem::copy_file(path + "-wal", copy + "-wal");
  return {query_int(copy, "SELECT count(*) FROM t"), query_int(copy, "SELECT sum(v) FROM t"),
          query_text(copy, "PRAGMA integrity_check")};
}

TEST(JoinedWalVfs, ACommitsFramesAreWrittenInOneCall) {
  const char* vfs = joined_wal_vfs();
  ASSERT_NE(vfs, nullptr);
  TempDir dir;
  const std::string path = dir.file("a.db");
  sqlite3* db = open_wal_table(path, vfs);
  ASSERT_EQ(exec(db, insert_rows(1, 4)), SQLITE_OK);
  for (int round = 0; round < 3; ++round) {
    const JoinedWalCounts before = joined_wal_counts();
    ASSERT_EQ(exec(db, insert_rows(100 * (round + 1), 60)), SQLITE_OK);  // about 16 pages, one commit
    const JoinedWalCounts after = joined_wal_counts();
    EXPECT_GE(after.writes - before.writes, 30u) << "SQLite wrote a header and a page per frame";
    EXPECT_EQ(after.written - before.written, 1u) << "the commit's frames in one write, round " << round;
  }
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM t"), 184);
  // What a crash right now would leave: every commit is in the file.
  const Recovered r = recover_copy(path, dir, "copy.db");
  EXPECT_EQ(r.rows, 184);
  EXPECT_EQ(r.integrity, "ok");
  sqlite3_close(db);
}

TEST(JoinedWalVfs, ATransactionLargerThanThePageCacheIsRecoveredWhole) {
  // With a page cache of 8 pages SQLite writes pages to the WAL before the commit (spills them), writes
  // some of them again in place as they change, and then rewrites the checksums of every frame from the
  // first rewritten one to the commit: writes that are not appends, after the commit's last frame.
  const char* vfs = joined_wal_vfs();
  ASSERT_NE(vfs, nullptr);
  TempDir dir;
  const std::string path = dir.file("b.db");
  sqlite3* db = open_wal_table(path, vfs);
  ASSERT_EQ(exec(db, "PRAGMA cache_size=8"), SQLITE_OK);
  ASSERT_EQ(exec(db, insert_rows(1, 40)), SQLITE_OK);
  ASSERT_EQ(exec(db, "BEGIN"), SQLITE_OK);
  ASSERT_EQ(exec(db, insert_rows(1000, 200)), SQLITE_OK);
  for (int pass = 0; pass < 4; ++pass) {
    ASSERT_EQ(exec(db, "UPDATE t SET v = v + 1 WHERE id % 7 = " + std::to_string(pass)), SQLITE_OK);
    ASSERT_EQ(exec(db, insert_rows(2000 + 100 * pass, 30)), SQLITE_OK);
  }
  ASSERT_EQ(exec(db, "COMMIT"), SQLITE_OK);
  const int64_t rows = query_int(path, "SELECT count(*) FROM t");
  const int64_t sum = query_int(path, "SELECT sum(v) FROM t");
  EXPECT_EQ(rows, 40 + 200 + 4 * 30);
  const Recovered r = recover_copy(path, dir, "copy.db");
  EXPECT_EQ(r.rows, rows);
  EXPECT_EQ(r.sum, sum);
  EXPECT_EQ(r.integrity, "ok");

  // And again, on a WAL this handle did not start.
  sqlite3_close(db);
  db = open_wal(path, vfs);
  ASSERT_EQ(exec(db, "PRAGMA cache_size=8"), SQLITE_OK);
  ASSERT_EQ(exec(db, "BEGIN"), SQLITE_OK);
  ASSERT_EQ(exec(db, "UPDATE t SET v = v + 5 WHERE id % 3 = 0"), SQLITE_OK);
  ASSERT_EQ(exec(db, insert_rows(5000, 150)), SQLITE_OK);
  ASSERT_EQ(exec(db, "UPDATE t SET v = v + 7 WHERE id % 5 = 1"), SQLITE_OK);
  ASSERT_EQ(exec(db, "COMMIT"), SQLITE_OK);
  const int64_t sum2 = query_int(path, "SELECT sum(v) FROM t");
  const Recovered r2 = recover_copy(path, dir, "copy2.db");
  EXPECT_EQ(r2.rows, rows + 150);
  EXPECT_EQ(r2.sum, sum2);
  EXPECT_EQ(r2.integrity, "ok");
  sqlite3_close(db);
}

TEST(JoinedWalVfs, AFailedWriteFailsItsCommitAndNothingElse) {
  const char* vfs = joined_wal_vfs();
  ASSERT_NE(vfs, nullptr);
  TempDir dir;
  const std::string path = dir.file("c.db");
  sqlite3* db = open_wal_table(path, vfs);
  ASSERT_EQ(exec(db, insert_rows(1, 20)), SQLITE_OK);

  fail_joined_wal_flushes_for_test(1);
  const int rc = exec(db, insert_rows(100, 20));
  fail_joined_wal_flushes_for_test(0);
  EXPECT_EQ(rc & 0xff, SQLITE_IOERR) << sqlite3_errstr(rc);
  exec(db, "ROLLBACK");  // if SQLite left the transaction open

  ASSERT_EQ(exec(db, insert_rows(200, 20)), SQLITE_OK);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM t"), 40);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM t WHERE id BETWEEN 100 AND 119"), 0);
  const Recovered r = recover_copy(path, dir, "copy.db");
  EXPECT_EQ(r.rows, 40);
  EXPECT_EQ(r.integrity, "ok");
  sqlite3_close(db);
}

TEST(JoinedWalVfs, AFileWithoutWalIsTheDefaultVfsOwn) {
  const char* vfs = joined_wal_vfs();
  ASSERT_NE(vfs, nullptr);
  TempDir dir;
  const std::string path = dir.file("d.db");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
  const JoinedWalCounts before = joined_wal_counts();
  ASSERT_EQ(exec(db, kCreateTable), SQLITE_OK);
  ASSERT_EQ(exec(db, insert_rows(1, 30)), SQLITE_OK);
  EXPECT_EQ(joined_wal_counts().writes, before.writes);  // a rollback journal: nothing through the VFS
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM t"), 30);
  sqlite3_close(db);
}

TEST(JoinedWalVfs, TheUsageLogWritesItsCommitsThroughIt) {
  TempDir dir;
  const std::string path = dir.file("usage.db");
  UsageDb db(path);
  std::vector<UsageRecord> records;
  for (int i = 0; i < 600; ++i)
    records.push_back(test_util::sample_record(1000 + i, "req-" + std::to_string(i)));
  std::string error;
  ASSERT_TRUE(db.insert(records, error)) << error;
  const JoinedWalCounts before = joined_wal_counts();
  ASSERT_TRUE(db.insert(records, error)) << error;
  const JoinedWalCounts after = joined_wal_counts();
  EXPECT_GE(after.writes - before.writes, 10u);
  EXPECT_LE(after.written - before.written, 2u);
  EXPECT_EQ(query_int(path, "SELECT count(*) FROM usage"), 1200);
}

}  // namespace
}  // namespace spillway::telemetry
