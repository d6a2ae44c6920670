#include "telemetry/usage_db.h"

#include <sqlite3.h>

#include <optional>
#include <stdexcept>
#include <string_view>

namespace spillway::telemetry {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS usage (
  id                  INTEGER PRIMARY KEY,
  ts                  INTEGER NOT NULL,
  request_id          TEXT NOT NULL,
  api                 TEXT NOT NULL,
  operation           TEXT NOT NULL,
  pool                TEXT NOT NULL,
  deployment          TEXT NOT NULL,
  model               TEXT NOT NULL,
  backend             TEXT NOT NULL,
  attempts            INTEGER NOT NULL,
  subscription        TEXT NOT NULL,
  product             TEXT NOT NULL,
  tags                TEXT NOT NULL,
  user_hash           TEXT NOT NULL,
  tools               TEXT NOT NULL,
  status              INTEGER NOT NULL,
  error               TEXT NOT NULL,
  stream              INTEGER NOT NULL,
  prompt_tokens       INTEGER NOT NULL,
  completion_tokens   INTEGER NOT NULL,
  total_tokens        INTEGER NOT NULL,
  cached_tokens       INTEGER NOT NULL,
  reasoning_tokens    INTEGER NOT NULL,
  tokens_estimated    INTEGER NOT NULL,
  usage_source        TEXT NOT NULL,
  ttft_ms             REAL,
  duration_ms         REAL NOT NULL,
  cache               TEXT NOT NULL,
  client_disconnected INTEGER NOT NULL,
  prompt              TEXT,
  completion          TEXT
);
CREATE INDEX IF NOT EXISTS usage_ts ON usage(ts);
)sql";

constexpr const char* kInsertHead =
    "INSERT INTO usage (ts, request_id, api, operation, pool, deployment, model, backend, attempts, "
    "subscription, product, tags, user_hash, tools, status, error, stream, prompt_tokens, "
    "completion_tokens, total_tokens, cached_tokens, reasoning_tokens, tokens_estimated, usage_source, "
    "ttft_ms, duration_ms, cache, client_disconnected, prompt, completion) VALUES ";
constexpr int kColumns = 30;

// "INSERT ... VALUES (?, ... ?), ..." for `rows` rows: parameter row * kColumns + column + 1.
std::string insert_sql(std::size_t rows) {
  std::string sql = kInsertHead;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (int c = 0; c < kColumns; ++c) sql += c == 0 ? "?" : ", ?";
    sql += ")";
  }
  return sql;
}

// Chunks keep each delete transaction (and the WAL growth it causes) short.
constexpr const char* kPrune =
    "DELETE FROM usage WHERE id IN (SELECT id FROM usage WHERE ts < ?1 ORDER BY ts LIMIT 5000)";

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

void bind_optional(sqlite3_stmt* s, int i, const std::optional<std::string_view>& v) {
  if (v) {
    bind_text(s, i, *v);
  } else {
    sqlite3_bind_null(s, i);
  }
}

// Binds `r` to parameters base + 1 .. base + kColumns, without copying its texts: the packed string `r`
// views must outlive the statement's step.
void bind_row(sqlite3_stmt* s, int base, const PackedUsageView& r) {
  sqlite3_bind_int64(s, base + 1, r.time_ms);
  bind_text(s, base + 2, r.request_id);
  bind_text(s, base + 3, r.api);
  bind_text(s, base + 4, r.operation);
  bind_text(s, base + 5, r.pool);
  bind_text(s, base + 6, r.deployment);
  bind_text(s, base + 7, r.model);
  bind_text(s, base + 8, r.backend);
  sqlite3_bind_int(s, base + 9, r.attempts);
  bind_text(s, base + 10, r.subscription);
  bind_text(s, base + 11, r.product);
  bind_text(s, base + 12, r.tags);
  bind_text(s, base + 13, r.user_hash);
  bind_text(s, base + 14, r.tools);
  sqlite3_bind_int(s, base + 15, r.status);
  bind_text(s, base + 16, r.error);
  sqlite3_bind_int(s, base + 17, r.stream ? 1 : 0);
  sqlite3_bind_int64(s, base + 18, r.prompt_tokens);
  sqlite3_bind_int64(s, base + 19, r.completion_tokens);
  sqlite3_bind_int64(s, base + 20, r.total_tokens);
  sqlite3_bind_int64(s, base + 21, r.cached_tokens);
  sqlite3_bind_int64(s, base + 22, r.reasoning_tokens);
  sqlite3_bind_int(s, base + 23, r.tokens_estimated ? 1 : 0);
  bind_text(s, base + 24, r.usage_source);
  if (r.ttft_ms >= 0) {
    sqlite3_bind_double(s, base + 25, r.ttft_ms);
  } else {
    sqlite3_bind_null(s, base + 25);
  }
  sqlite3_bind_double(s, base + 26, r.duration_ms);
  bind_text(s, base + 27, r.cache);
  sqlite3_bind_int(s, base + 28, r.client_disconnected ? 1 : 0);
  bind_optional(s, base + 29, r.prompt);
  bind_optional(s, base + 30, r.completion);
}

// Runs a prepared statement that returns no rows (BEGIN, COMMIT) and resets it for the next use.
int step_once(sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc;
}

}  // namespace

UsageDb::UsageDb(const std::string& path) : path_(path) {
  // SQLite counts every allocation in a global statistic behind a global mutex unless told not to: a
  // lock and an unlock per malloc and free, which the writer does thousands of times per batch. Only
  // possible before SQLite initialises (the first open); later calls fail harmlessly.
  static const int memstatus_off = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  (void)memstatus_off;
  const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message =
        "usage log: cannot open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(message);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    sqlite3_stmt* version = nullptr;
    sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &version, nullptr);
    int found = 0;
    if (version && sqlite3_step(version) == SQLITE_ROW) found = sqlite3_column_int(version, 0);
    sqlite3_finalize(version);
    if (found > kUsageSchemaVersion) {
      throw std::runtime_error("usage log: " + path + " has schema version " + std::to_string(found) +
                               ", newer than this build's " + std::to_string(kUsageSchemaVersion));
    }
    exec("BEGIN IMMEDIATE");
    exec(kSchema);
    exec(("PRAGMA user_version=" + std::to_string(kUsageSchemaVersion)).c_str());
    exec("COMMIT");
    const auto prepare = [&](const std::string& sql, sqlite3_stmt** stmt) {
      if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
        throw std::runtime_error("usage log: " + path + ": " + sqlite3_errmsg(db_));
      }
    };
    prepare(insert_sql(1), &insert_);
    prepare(insert_sql(kRowsPerInsert), &insert_many_);
    prepare(kPrune, &prune_);
    prepare("BEGIN IMMEDIATE", &begin_);
    prepare("COMMIT", &commit_);
  } catch (...) {
    close();
    throw;
  }
}

UsageDb::~UsageDb() { close(); }

void UsageDb::close() {
  for (sqlite3_stmt** s : {&insert_, &insert_many_, &prune_, &begin_, &commit_}) {
    sqlite3_finalize(*s);  // a no-op on null
    *s = nullptr;
  }
  // The last connection to close checkpoints the WAL into the main file and removes it.
  sqlite3_close(db_);
  db_ = nullptr;
}

void UsageDb::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = "usage log: " + path_ + ": " + (err ? err : "error");
    sqlite3_free(err);
    throw std::runtime_error(message);
  }
}

bool UsageDb::insert_packed(const std::vector<std::string>& packed, std::string& error) {
  std::size_t committed = 0;
  return insert_rows(packed, nullptr, committed, error);
}

bool UsageDb::insert(const std::vector<UsageRecord>& records, std::string& error) {
  std::vector<std::string> packed;
  packed.reserve(records.size());
  for (const UsageRecord& r : records) packed.push_back(pack_usage(r));
  return insert_packed(packed, error);
}

bool UsageDb::insert_until(const std::vector<std::string>& packed, const std::atomic<bool>& stop,
                           std::size_t& committed, std::string& error) {
  return insert_rows(packed, &stop, committed, error);
}

bool UsageDb::insert_rows(const std::vector<std::string>& packed, const std::atomic<bool>* stop,
                          std::size_t& committed, std::string& error) {
  committed = 0;
  if (packed.empty()) return true;
  if (step_once(begin_) != SQLITE_DONE) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  // kRowsPerInsert rows per statement while that many are left, then one at a time: SQLite's work per
  // statement (opening the cursors, halting, resetting) is shared by the rows.
  std::size_t n = 0;
  while (n < packed.size()) {
    const std::size_t rows = packed.size() - n >= kRowsPerInsert ? kRowsPerInsert : 1;
    sqlite3_stmt* s = rows == 1 ? insert_ : insert_many_;
    for (std::size_t i = 0; i < rows; ++i) {
      // Every parameter is bound for every row (nulls included), so no clear_bindings between statements.
      bind_row(s, static_cast<int>(i) * kColumns, unpack_usage(packed[n + i]));
    }
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
      error = sqlite3_errmsg(db_);
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
    n += rows;
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
  }
  if (step_once(commit_) != SQLITE_DONE) {
    error = sqlite3_errmsg(db_);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  }
  committed = n;
  return true;
}

int64_t UsageDb::prune(int64_t before_ms) {
  int64_t total = 0;
  for (;;) {
    sqlite3_bind_int64(prune_, 1, before_ms);
    const int rc = sqlite3_step(prune_);
    sqlite3_reset(prune_);
    if (rc != SQLITE_DONE) break;
    const int n = sqlite3_changes(db_);
    total += n;
    if (n == 0) break;
  }
  return total;
}

}  // namespace spillway::telemetry
