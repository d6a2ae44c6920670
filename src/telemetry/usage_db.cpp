#include "telemetry/usage_db.h"

#include <sqlite3.h>

#include <stdexcept>

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

constexpr const char* kInsert =
    "INSERT INTO usage (ts, request_id, api, operation, pool, deployment, model, backend, attempts, "
    "subscription, product, tags, user_hash, tools, status, error, stream, prompt_tokens, "
    "completion_tokens, total_tokens, cached_tokens, reasoning_tokens, tokens_estimated, usage_source, "
    "ttft_ms, duration_ms, cache, client_disconnected, prompt, completion) VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, "
    "?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)";

// Chunks keep each delete transaction (and the WAL growth it causes) short.
constexpr const char* kPrune =
    "DELETE FROM usage WHERE id IN (SELECT id FROM usage WHERE ts < ?1 ORDER BY ts LIMIT 5000)";

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
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
    if (sqlite3_prepare_v3(db_, kInsert, -1, SQLITE_PREPARE_PERSISTENT, &insert_, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v3(db_, kPrune, -1, SQLITE_PREPARE_PERSISTENT, &prune_, nullptr) != SQLITE_OK) {
      throw std::runtime_error("usage log: " + path + ": " + sqlite3_errmsg(db_));
    }
  } catch (...) {
    sqlite3_finalize(insert_);
    sqlite3_finalize(prune_);
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

UsageDb::~UsageDb() {
  sqlite3_finalize(insert_);
  sqlite3_finalize(prune_);
  // The last connection to close checkpoints the WAL into the main file and removes it.
  sqlite3_close(db_);
}

void UsageDb::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = "usage log: " + path_ + ": " + (err ? err : "error");
    sqlite3_free(err);
    throw std::runtime_error(message);
  }
}

bool UsageDb::insert(const std::vector<UsageRecord>& records, std::string& error) {
  std::size_t committed = 0;
  return insert_rows(records, nullptr, committed, error);
}

bool UsageDb::insert_until(const std::vector<UsageRecord>& records, const std::atomic<bool>& stop,
                           std::size_t& committed, std::string& error) {
  return insert_rows(records, &stop, committed, error);
}

bool UsageDb::insert_rows(const std::vector<UsageRecord>& records, const std::atomic<bool>* stop,
                          std::size_t& committed, std::string& error) {
  committed = 0;
  if (records.empty()) return true;
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  std::string tools;
  std::string tags;
  std::size_t n = 0;
  for (const UsageRecord& r : records) {
    sqlite3_stmt* s = insert_;
    tools = tools_json(r.tools);
    tags = tags_json(r.tags);
    sqlite3_bind_int64(s, 1, r.time_ms);
    bind_text(s, 2, r.request_id);
    bind_text(s, 3, r.api);
    bind_text(s, 4, r.operation);
    bind_text(s, 5, r.pool);
    bind_text(s, 6, r.deployment);
    bind_text(s, 7, r.model);
    bind_text(s, 8, r.backend);
    sqlite3_bind_int(s, 9, r.attempts);
    bind_text(s, 10, r.subscription);
    bind_text(s, 11, r.product);
    bind_text(s, 12, tags);
    bind_text(s, 13, r.user_hash);
    bind_text(s, 14, tools);
    sqlite3_bind_int(s, 15, r.status);
    bind_text(s, 16, r.error);
    sqlite3_bind_int(s, 17, r.stream ? 1 : 0);
    sqlite3_bind_int64(s, 18, r.prompt_tokens);
    sqlite3_bind_int64(s, 19, r.completion_tokens);
    sqlite3_bind_int64(s, 20, r.total_tokens);
    sqlite3_bind_int64(s, 21, r.cached_tokens);
    sqlite3_bind_int64(s, 22, r.reasoning_tokens);
    sqlite3_bind_int(s, 23, r.tokens_estimated ? 1 : 0);
    bind_text(s, 24, r.usage_source);
    if (r.ttft_ms >= 0) {
      sqlite3_bind_double(s, 25, r.ttft_ms);
    } else {
      sqlite3_bind_null(s, 25);
    }
    sqlite3_bind_double(s, 26, r.duration_ms);
    bind_text(s, 27, r.cache);
    sqlite3_bind_int(s, 28, r.client_disconnected ? 1 : 0);
    if (r.prompt) {
      bind_text(s, 29, *r.prompt);
    } else {
      sqlite3_bind_null(s, 29);
    }
    if (r.completion) {
      bind_text(s, 30, *r.completion);
    } else {
      sqlite3_bind_null(s, 30);
    }
    // Every parameter is bound above for every row (nulls included), so no clear_bindings between rows.
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
      error = sqlite3_errmsg(db_);
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return false;
    }
    ++n;
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
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
