// Schema 4 of the usage log: the repeated columns in usage_dims, the `usage` view, compact rows (request
// ids and user hashes stored as bytes, usual values as NULL or flags), the writer's cache of combinations,
// pruning of combinations, and the conversion of schema 1, 2 and 3 files.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "telemetry/usage_db.h"
#include "usage_test_util.h"

namespace spillway::telemetry {
namespace {

using test_util::query_int;
using test_util::query_text;
using test_util::sample_record;
using test_util::TempDir;

constexpr int64_t kT0 = 1'750'000'000'000;  // 2025-06-15
constexpr int64_t kSlack = UsageDb::kDimsTsSlackMs;

// Runs statements on a connection of its own (the gateway's is another).
void exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
            SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

// Every column of the `usage` view (or schema 1's table), row by row, as text.
std::vector<std::string> dump(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT * FROM usage ORDER BY id", -1, &s, nullptr), SQLITE_OK);
  std::vector<std::string> rows;
  while (s != nullptr && sqlite3_step(s) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < sqlite3_column_count(s); ++c) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, c));
      row += std::string(sqlite3_column_name(s, c)) + "=" + (t ? t : "<null>") + ";";
    }
    rows.push_back(row);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return rows;
}

// SQLite's plan for `sql`: the detail column of EXPLAIN QUERY PLAN, line by line.
std::string plan(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &s, nullptr), SQLITE_OK);
  std::string out;
  while (s != nullptr && sqlite3_step(s) == SQLITE_ROW) {
    out += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
    out += "\n";
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

TEST(UsageDims, EachCombinationIsStoredOnce) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  std::vector<UsageRecord> rs;
  for (int i = 0; i < 40; ++i) rs.push_back(sample_record(kT0 + i, "a" + std::to_string(i)));
  rs.push_back(sample_record(kT0, "b", "team-b"));
  UsageRecord odd = sample_record(kT0, "c");
  odd.error = "backend_timeout";
  odd.tags = {{"team", "x"}, {"cost-center", "42"}};
  rs.push_back(odd);
  std::string error;
  ASSERT_TRUE(db.insert(rs, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), 3);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 42);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage WHERE subscription = 'team-b'"), 1);
  EXPECT_EQ(query_text(path, "SELECT tags FROM usage WHERE request_id = 'c'"),
            R"({"team":"x","cost-center":"42"})");
  EXPECT_EQ(query_text(path, "SELECT error FROM usage WHERE request_id = 'c'"), "backend_timeout");
  // Another connection (the gateway restarted) finds the stored combinations instead of adding them again.
  {
    UsageDb again(path);
    ASSERT_TRUE(again.insert({sample_record(kT0, "d"), sample_record(kT0, "e", "team-b")}, error)) << error;
  }
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), 3);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage WHERE subscription = 'team-b'"), 2);
}

TEST(UsageDims, AnEmptyAndAMissingTextAreDifferentCombinations) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  // The same bytes split differently between two columns must not share a combination.
  UsageRecord a = sample_record(kT0, "a");
  a.api = "ab";
  a.operation = "";
  UsageRecord b = sample_record(kT0, "b");
  b.api = "a";
  b.operation = "b";
  std::string error;
  ASSERT_TRUE(db.insert({a, b}, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), 2);
  EXPECT_EQ(query_text(path, "SELECT api || '|' || operation FROM usage WHERE request_id = 'a'"), "ab|");
  EXPECT_EQ(query_text(path, "SELECT api || '|' || operation FROM usage WHERE request_id = 'b'"), "a|b");
}

TEST(UsageDims, MaxTsCoversEveryRowOfItsCombination) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  std::string error;
  ASSERT_TRUE(db.insert({sample_record(kT0, "a")}, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT max_ts FROM usage_dims"), kT0 + kSlack);
  // Within the slack: no update. Past it: raised to that row's ts plus the slack.
  ASSERT_TRUE(db.insert({sample_record(kT0 + kSlack, "b")}, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT max_ts FROM usage_dims"), kT0 + kSlack);
  ASSERT_TRUE(db.insert({sample_record(kT0 + kSlack + 1, "c")}, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT max_ts FROM usage_dims"), kT0 + 2 * kSlack + 1);
  // An older row never lowers it.
  ASSERT_TRUE(db.insert({sample_record(kT0 - 5 * kSlack, "d")}, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT max_ts FROM usage_dims"), kT0 + 2 * kSlack + 1);
}

TEST(UsageDims, ARolledBackTransactionLeavesNoCombinationBehindInTheCache) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  exec(path,
       "CREATE TRIGGER boom BEFORE INSERT ON usage_rows WHEN NEW.request_id = 'boom' "
       "BEGIN SELECT RAISE(ABORT, 'boom'); END;");
  std::string error;
  // The new combination of "first" is inserted in the transaction that "boom" makes fail.
  EXPECT_FALSE(
      db.insert({sample_record(kT0, "first", "team-new"), sample_record(kT0, "boom", "team-new")}, error));
  EXPECT_NE(error.find("boom"), std::string::npos) << error;
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), 0);
  // The same combination again: stored afresh, and the row is visible through the view.
  ASSERT_TRUE(db.insert({sample_record(kT0, "second", "team-new")}, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), 1);
  EXPECT_EQ(query_text(path, "SELECT request_id FROM usage WHERE subscription = 'team-new'"), "second");
  // A raised max_ts that was rolled back is raised again.
  EXPECT_FALSE(
      db.insert({sample_record(kT0 + 3 * kSlack, "x", "team-new"), sample_record(kT0, "boom")}, error));
  EXPECT_EQ(query_int(path, "SELECT max_ts FROM usage_dims"), kT0 + kSlack);
  ASSERT_TRUE(db.insert({sample_record(kT0 + 3 * kSlack, "y", "team-new")}, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT max_ts FROM usage_dims"), kT0 + 4 * kSlack);
}

TEST(UsageDims, PruneDeletesTheCombinationsOnlyPrunedRowsUsed) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  std::string error;
  ASSERT_TRUE(db.insert({sample_record(kT0, "old", "team-old"), sample_record(kT0, "both-old", "team-both"),
                         sample_record(kT0 + 10 * kSlack, "new", "team-new"),
                         sample_record(kT0 + 10 * kSlack, "both-new", "team-both")},
                        error))
      << error;
  EXPECT_EQ(db.prune(kT0 + 5 * kSlack), 2);
  // Found by the max_ts index, not a scan of every combination (a client can make one per call).
  EXPECT_NE(plan(path, "DELETE FROM usage_dims WHERE max_ts < 0").find("usage_dims_max_ts"),
            std::string::npos);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), 2);  // team-old's is gone
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims WHERE subscription = 'team-old'"), 0);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 2);
  // A late row of the deleted combination gets it back (the cache forgot it with the delete).
  ASSERT_TRUE(db.insert({sample_record(kT0, "late", "team-old")}, error)) << error;
  EXPECT_EQ(query_text(path, "SELECT request_id FROM usage WHERE subscription = 'team-old'"), "late");
}

TEST(UsageDims, TheCacheStartsOverPastItsBound) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  std::vector<UsageRecord> rs;
  const int distinct = static_cast<int>(UsageDb::kDimsCacheSize) + 10;
  for (int i = 0; i < distinct; ++i)
    rs.push_back(sample_record(kT0, "r" + std::to_string(i), "s" + std::to_string(i)));
  for (int i = 0; i < 20; ++i)
    rs.push_back(sample_record(kT0, "again" + std::to_string(i), "s" + std::to_string(i)));
  std::string error;
  ASSERT_TRUE(db.insert(rs, error)) << error;
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), distinct);
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), distinct + 20);
  EXPECT_EQ(query_text(path, "SELECT subscription FROM usage WHERE request_id = 'again3'"), "s3");
}

TEST(UsageDims, RequestIdsOfLowercaseHexAreStoredAsTheirSixteenBytes) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  UsageDb db(path);
  // 40 ids of 32 lowercase hex digits (the first two are the row's number), any two of one 16-row statement
  // different in every place, so that rows sharing the bytes they are bound from would show; then ids that
  // must stay text.
  static constexpr char kHex[] = "0123456789abcdef";
  std::vector<std::string> hex_ids;
  for (int i = 0; i < 40; ++i) {
    std::string id = {kHex[i / 16], kHex[i % 16]};
    for (int k = 2; k < 32; ++k) id += kHex[(i * 7 + k * 5 + k / 3) % 16];
    hex_ids.push_back(id);
  }
  const std::vector<std::string> text_ids = {
      "0123456789ABCDEF0123456789ABCDEF",      // upper case: hex() would give it back in lower case
      "0123456789abcdef0123456789abcdeF",      // one upper-case digit
      "0123456789abcdef0123456789abcde",       // 31 digits
      "0123456789abcdef0123456789abcdef0",     // 33
      "0123456789abcdef0123456789abcdeg",      // not a digit
      "01234567-89ab-cdef-0123-456789abcdef",  // a UUID
      "0123456789abcdef 123456789abcdef",      // a space
      "",
      "client-7"};
  std::vector<UsageRecord> rs;
  for (const std::string& id : hex_ids) rs.push_back(sample_record(kT0, id));
  for (const std::string& id : text_ids) rs.push_back(sample_record(kT0, id));
  std::string error;
  ASSERT_TRUE(db.insert(rs, error)) << error;

  std::vector<std::string> all = hex_ids;
  all.insert(all.end(), text_ids.begin(), text_ids.end());
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string row = "id = " + std::to_string(i + 1);
    EXPECT_EQ(query_text(path, "SELECT request_id FROM usage WHERE " + row), all[i]) << i;
    const bool compact = i < hex_ids.size();
    EXPECT_EQ(query_text(path, "SELECT typeof(request_id) FROM usage_rows WHERE " + row),
              compact ? "blob" : "text")
        << all[i];
    EXPECT_EQ(query_int(path, "SELECT length(CAST(request_id AS BLOB)) FROM usage_rows WHERE " + row),
              compact ? 16 : static_cast<int64_t>(all[i].size()))
        << all[i];
    // Found by its text, as an operator would look it up.
    EXPECT_EQ(query_int(path, "SELECT id FROM usage WHERE request_id = '" + all[i] + "'"),
              static_cast<int64_t>(i + 1));
  }
  EXPECT_EQ(query_text(path, "SELECT typeof(request_id) FROM usage WHERE id = 1"), "text");
}

// Schema 3's tables (schema 2 had the same), as its builds created them.
constexpr const char* kSchema3Tables = R"sql(
CREATE TABLE usage_dims (
  id INTEGER PRIMARY KEY, api TEXT NOT NULL, operation TEXT NOT NULL, pool TEXT NOT NULL,
  deployment TEXT NOT NULL, model TEXT NOT NULL, backend TEXT NOT NULL, subscription TEXT NOT NULL,
  product TEXT NOT NULL, tags TEXT NOT NULL, error TEXT NOT NULL, usage_source TEXT NOT NULL,
  cache TEXT NOT NULL, max_ts INTEGER NOT NULL,
  UNIQUE (api, operation, pool, deployment, model, backend, subscription, product, tags, error, usage_source,
          cache));
CREATE TABLE usage_rows (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, dims INTEGER NOT NULL, request_id TEXT NOT NULL,
  attempts INTEGER NOT NULL, user_hash TEXT NOT NULL, tools TEXT NOT NULL, status INTEGER NOT NULL,
  stream INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
  total_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
  tokens_estimated INTEGER NOT NULL, ttft_ms REAL, duration_ms REAL NOT NULL,
  client_disconnected INTEGER NOT NULL, prompt TEXT, completion TEXT);
CREATE INDEX usage_rows_ts ON usage_rows(ts);
CREATE INDEX usage_dims_max_ts ON usage_dims(max_ts);
INSERT INTO usage_dims VALUES
  (1, 'openai', 'chat.completions', 'gpt-4o', 'dep', 'gpt-4o-2024', 'az', 'team-a', 'standard',
   '{"team":"a"}', '', 'backend', '', 1750000003600000),
  (2, 'openai', 'chat.completions', 'gpt-4o', 'dep', 'gpt-4o-2024', 'az', 'team-a', 'standard',
   '{"team":"a"}', 'backend_error', 'estimate', 'miss', 1750000003600000);
INSERT INTO usage_rows VALUES
  (4, 1750000000000, 1, 'r4', 1, '3f1c9a0b5d7e2f4a', '["get_weather"]', 200, 0, 10, 20, 30, 0, 0, 0, 12.5,
   40.0, 0, NULL, NULL),
  (6, 1750000001000, 2, 'r6', 3, '', '[]', 502, 1, 5, 0, 7, 1, 2, 1, NULL, 7.25, 1,
   '[{"role":"user","content":"hi"}]', 'partial'),
  (8, 1750000002000, 1, 'r8', 2, 'h2', '["a","b"]', 200, 1, 8, 4, 12, 3, 0, 0, 0.333, 0.501, 0, NULL, NULL);
)sql";

// Schema 2's view, as its builds created it.
constexpr const char* kSchema2View = R"sql(
CREATE VIEW usage AS
SELECT r.id, r.ts, r.request_id, d.api, d.operation, d.pool, d.deployment, d.model, d.backend, r.attempts,
       d.subscription, d.product, d.tags, r.user_hash, r.tools, r.status, d.error, r.stream, r.prompt_tokens,
       r.completion_tokens, r.total_tokens, r.cached_tokens, r.reasoning_tokens, r.tokens_estimated,
       d.usage_source, r.ttft_ms, r.duration_ms, d.cache, r.client_disconnected, r.prompt, r.completion
FROM usage_rows AS r JOIN usage_dims AS d ON d.id = r.dims;
PRAGMA user_version = 2;
)sql";

// Schema 3's view: request ids of 32 hex digits stored as bytes.
constexpr const char* kSchema3View = R"sql(
CREATE VIEW usage AS
SELECT r.id, r.ts,
       CASE WHEN typeof(r.request_id) = 'blob' THEN lower(hex(r.request_id)) ELSE r.request_id END
         AS request_id,
       d.api, d.operation, d.pool, d.deployment, d.model, d.backend, r.attempts,
       d.subscription, d.product, d.tags, r.user_hash, r.tools, r.status, d.error, r.stream, r.prompt_tokens,
       r.completion_tokens, r.total_tokens, r.cached_tokens, r.reasoning_tokens, r.tokens_estimated,
       d.usage_source, r.ttft_ms, r.duration_ms, d.cache, r.client_disconnected, r.prompt, r.completion
FROM usage_rows AS r JOIN usage_dims AS d ON d.id = r.dims;
PRAGMA user_version = 3;
)sql";

// A file of schema 2 or 3 keeps its rows in place; the view reads them as before, the newest one moved
// to the new table so that new ids follow (its times rounded to whole microseconds: those of the test's
// rows are whole already).
void expect_old_rows_kept(const std::string& view) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  exec(path, std::string(kSchema3Tables) + view);
  const std::vector<std::string> before = dump(path);
  ASSERT_EQ(before.size(), 3u);
  std::string error;
  {
    UsageDb db(path);
    EXPECT_EQ(query_int(path, "PRAGMA user_version"), kUsageSchemaVersion);
    EXPECT_EQ(dump(path), before);  // every column of every row reads the same through the new view
    EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_rows_v3"), 2);
    EXPECT_EQ(query_int(path, "SELECT id FROM usage_rows"), 8);
    ASSERT_TRUE(db.insert({sample_record(1'750'000'005'000, "r9")}, error)) << error;
  }
  EXPECT_EQ(query_int(path, "SELECT id FROM usage WHERE request_id = 'r9'"), 9);
  // Opening it again changes nothing.
  { UsageDb again(path); }
  std::vector<std::string> after = dump(path);
  ASSERT_EQ(after.size(), 4u);
  after.pop_back();
  EXPECT_EQ(after, before);
  // Queries by time use both tables' indexes.
  const std::string p = plan(path, "SELECT COUNT(*) FROM usage WHERE ts >= 0");
  EXPECT_NE(p.find("usage_rows_ts"), std::string::npos) << p;
  EXPECT_NE(p.find("usage_rows_time"), std::string::npos) << p;
}

TEST(UsageDims, ASchema2FileKeepsItsRows) { expect_old_rows_kept(kSchema2View); }
TEST(UsageDims, ASchema3FileKeepsItsRows) { expect_old_rows_kept(kSchema3View); }

TEST(UsageDims, TheOldRowsTableGoesWithItsLastRow) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  exec(path, std::string(kSchema3Tables) + kSchema3View);
  std::string error;
  UsageDb db(path);
  ASSERT_TRUE(db.insert({sample_record(1'750'000'005'000, "r9")}, error)) << error;
  // Rows before ts 1750000001500 are gone (r4, r6: both old); r8 and r9 stay, in the new table.
  EXPECT_EQ(db.prune(1'750'000'001'500), 2);
  EXPECT_EQ(
      query_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('usage_rows_v3', 'usage_rows_ts')"),
      0);
  EXPECT_EQ(
      query_text(path, "SELECT group_concat(request_id) FROM (SELECT request_id FROM usage ORDER BY id)"),
      "r8,r9");
  // The writer goes on, and a prune with nothing old left is a plain prune.
  ASSERT_TRUE(db.insert({sample_record(1'750'000'006'000, "r10")}, error)) << error;
  EXPECT_EQ(db.prune(1'750'000'005'500), 2);
  EXPECT_EQ(query_text(path, "SELECT request_id FROM usage"), "r10");
  EXPECT_EQ(query_int(path, "SELECT id FROM usage"), 10);
}

// Every value a record can carry comes back through the view as written, whether stored as the usual
// value (NULL, flags) or in full.
TEST(UsageDims, CompactRowsReadBackAsWritten) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  std::vector<UsageRecord> rs;
  UsageRecord plain = sample_record(kT0, "0af7651916cd43dd8448eb211c80319c");
  plain.user_hash = "3f1c9a0b5d7e2f4a";
  rs.push_back(plain);
  UsageRecord odd = sample_record(kT0 + 1, "client-id", "team-a", 100, 7);
  odd.user_hash = "3F1C9A0B5D7E2F4A";  // not the gateway's form: kept as text
  odd.attempts = 3;
  odd.stream = true;
  odd.tokens_estimated = true;
  odd.client_disconnected = true;
  odd.total_tokens = 150;  // more than prompt + completion
  odd.cached_tokens = 64;
  odd.reasoning_tokens = 5;
  odd.tools = {"get_weather", "search"};
  odd.ttft_ms = 0.4567;
  odd.duration_ms = 1234.5678;
  odd.prompt = "[]";
  odd.completion = "done";
  rs.push_back(odd);
  UsageRecord none = sample_record(kT0 + 2, "n");
  none.user_hash = "";
  none.attempts = 0;
  none.ttft_ms = -1;
  rs.push_back(none);
  std::string error;
  {
    UsageDb db(path);
    ASSERT_TRUE(db.insert(rs, error)) << error;
  }
  const auto row = [&](const std::string& id, const std::string& columns) {
    return query_text(path, "SELECT " + columns + " FROM usage WHERE request_id = '" + id + "'");
  };
  const std::string all =
      "attempts || '|' || user_hash || '|' || tools || '|' || stream || '|' || prompt_tokens || '|' || "
      "completion_tokens || '|' || total_tokens || '|' || cached_tokens || '|' || reasoning_tokens || '|' || "
      "tokens_estimated || '|' || IFNULL(ttft_ms, 'null') || '|' || duration_ms || '|' || "
      "client_disconnected || '|' || IFNULL(prompt, 'null') || '|' || IFNULL(completion, 'null')";
  EXPECT_EQ(row("0af7651916cd43dd8448eb211c80319c", all),
            "1|3f1c9a0b5d7e2f4a|[]|0|10|20|30|0|0|0|12.5|40.0|0|null|null");
  EXPECT_EQ(row("client-id", all),
            R"(3|3F1C9A0B5D7E2F4A|["get_weather","search"]|1|100|7|150|64|5|1|0.457|1234.568|1|[]|done)");
  EXPECT_EQ(row("n", all), "0||[]|0|10|20|30|0|0|0|null|40.0|0|null|null");
  // How they are stored: the gateway's hash as 8 bytes, the usual values as NULL.
  EXPECT_EQ(query_text(path, "SELECT typeof(user_hash) || length(user_hash) FROM usage_rows WHERE id = 1"),
            "blob8");
  EXPECT_EQ(query_text(path, "SELECT typeof(user_hash) FROM usage_rows WHERE id = 2"), "text");
  EXPECT_EQ(query_int(path,
                      "SELECT COUNT(*) FROM usage_rows WHERE id = 1 AND total_tokens IS NULL AND "
                      "cached_tokens IS NULL AND reasoning_tokens IS NULL AND tools IS NULL"),
            1);
  EXPECT_EQ(query_int(path, "SELECT flags FROM usage_rows WHERE id = 2"), 3 << 3 | 7);
  EXPECT_EQ(query_int(path, "SELECT duration_us FROM usage_rows WHERE id = 2"), 1'234'568);
}

TEST(UsageDims, ASchema2FileWithATableNamedUsageIsRefused) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  { UsageDb db(path); }
  exec(path, "DROP VIEW usage; CREATE TABLE usage (x INTEGER); PRAGMA user_version = 2;");
  EXPECT_THROW(UsageDb db(path), std::runtime_error);
  EXPECT_EQ(query_int(path, "PRAGMA user_version"), 2);  // rolled back
  EXPECT_EQ(query_text(path, "SELECT type FROM sqlite_master WHERE name = 'usage'"), "table");
}

// What schema 1 was: one table with every column (and user_version 1).
constexpr const char* kSchema1 = R"sql(
CREATE TABLE usage (
  id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, request_id TEXT NOT NULL, api TEXT NOT NULL,
  operation TEXT NOT NULL, pool TEXT NOT NULL, deployment TEXT NOT NULL, model TEXT NOT NULL,
  backend TEXT NOT NULL, attempts INTEGER NOT NULL, subscription TEXT NOT NULL, product TEXT NOT NULL,
  tags TEXT NOT NULL, user_hash TEXT NOT NULL, tools TEXT NOT NULL, status INTEGER NOT NULL,
  error TEXT NOT NULL, stream INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL, total_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL, tokens_estimated INTEGER NOT NULL, usage_source TEXT NOT NULL,
  ttft_ms REAL, duration_ms REAL NOT NULL, cache TEXT NOT NULL, client_disconnected INTEGER NOT NULL,
  prompt TEXT, completion TEXT);
CREATE INDEX usage_ts ON usage(ts);
INSERT INTO usage VALUES
  (3, 1750000000000, 'r3', 'openai', 'chat.completions', 'gpt-4o', 'dep', 'gpt-4o-2024', 'az', 1, 'team-a',
   'standard', '{"team":"a"}', 'h1', '["get_weather"]', 200, '', 0, 10, 20, 30, 0, 0, 0, 'backend', 12.5, 40.0,
   '', 0, NULL, NULL),
  (7, 1750000001000, 'r7', 'openai', 'chat.completions', 'gpt-4o', 'dep', 'gpt-4o-2024', 'az', 2, 'team-a',
   'standard', '{"team":"a"}', 'h2', '[]', 502, 'backend_error', 1, 5, 0, 5, 1, 2, 1, 'estimate', NULL, 7.25,
   'miss', 1, '[{"role":"user","content":"hi"}]', 'partial'),
  (9, 1750000002000, 'r9', 'azure', 'embeddings', 'emb', 'emb-dep', 'emb', 'ptu', 1, 'team-b', 'premium',
   '{}', '', '[]', 200, '', 0, 8, 0, 8, 0, 0, 0, 'backend', 3.0, 3.5, '', 0, NULL, NULL);
PRAGMA user_version = 1;
)sql";

TEST(UsageDims, ASchema1FileIsConvertedWithEveryValueAndId) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  exec(path, kSchema1);
  const std::vector<std::string> before = dump(path);
  ASSERT_EQ(before.size(), 3u);
  {
    UsageDb db(path);
    EXPECT_EQ(query_int(path, "PRAGMA user_version"), kUsageSchemaVersion);
    EXPECT_EQ(dump(path), before);  // the view: the same columns, in the same order, with the same values
    EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), 3);  // r7 ended differently from r3
    // Every combination's max_ts is the newest converted row's ts (an upper bound for each).
    EXPECT_EQ(query_int(path, "SELECT MIN(max_ts) FROM usage_dims"), kT0 + 2000);
    EXPECT_EQ(query_int(path, "SELECT MAX(max_ts) FROM usage_dims"), kT0 + 2000);
    EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('usage_v1', 'usage_ts')"),
              0);
    EXPECT_EQ(query_text(path, "SELECT type FROM sqlite_master WHERE name = 'usage'"), "view");
    // New rows follow the converted ones, and reuse their combinations.
    std::string error;
    UsageRecord r = sample_record(kT0 + 5000, "r10", "team-b");
    r.api = "azure";
    r.operation = "embeddings";
    r.pool = "emb";
    r.deployment = "emb-dep";
    r.model = "emb";
    r.backend = "ptu";
    r.product = "premium";
    r.tags = {};
    ASSERT_TRUE(db.insert({r}, error)) << error;
    EXPECT_EQ(query_int(path, "SELECT id FROM usage WHERE request_id = 'r10'"), 10);
    EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage_dims"), 3);
  }
  // Opening it again changes nothing.
  { UsageDb again(path); }
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM usage"), 4);
  EXPECT_EQ(dump(path).front(), before.front());
}

TEST(UsageDims, AFailedConversionLeavesTheSchema1FileAsItWas) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  exec(path, kSchema1);
  // A table in the way of schema 2's makes the conversion fail half-way; it must roll back whole.
  exec(path, "CREATE TABLE usage_rows (x INTEGER)");
  const std::vector<std::string> before = dump(path);
  EXPECT_THROW(UsageDb db(path), std::runtime_error);
  EXPECT_EQ(query_int(path, "PRAGMA user_version"), 1);
  EXPECT_EQ(dump(path), before);
  EXPECT_EQ(query_text(path, "SELECT type FROM sqlite_master WHERE name = 'usage'"), "table");
}

TEST(UsageDims, AFileWithAForeignUsageTableIsRefused) {
  TempDir dir;
  const std::string path = dir.file("u.db");
  exec(path, "CREATE TABLE usage (x INTEGER); INSERT INTO usage VALUES (1);");
  try {
    UsageDb db(path);
    FAIL() << "opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a spillway usage log"), std::string::npos) << e.what();
  }
  EXPECT_EQ(query_int(path, "SELECT x FROM usage"), 1);  // left alone
  EXPECT_EQ(query_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'usage_rows'"), 0);
}

}  // namespace
}  // namespace spillway::telemetry
