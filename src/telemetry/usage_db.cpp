#include "telemetry/usage_db.h"

#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>

#include <array>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

#include "telemetry/identity.h"
#include "telemetry/wal_vfs.h"
#include "util/ascii.h"
#include "util/log.h"
#include "util/quiet_thread.h"

namespace spillway::telemetry {
namespace {

// Schema 4. The twelve columns that repeat from one call to the next (where the call went, for whom, how it
// ended) are stored once per distinct combination in usage_dims; a row of usage_rows names its combination
// by id. `usage` is a view that joins them back, with the columns (names, order, values) of schema 1's
// table: queries are written against it. usage_dims.max_ts is at least the largest ts of the rows that use
// the combination (usage_db.h: kDimsTsSlackMs), so that a combination whose every row is past the
// retention can be deleted.
//
// A row stores what varies from call to call in as few columns and bytes as the view can turn back into
// schema 1's values, because the writer's CPU per row grows with both (SQLite's work per bound column
// and per byte of record, and the pages each checkpoint copies):
//   - a request id of 32 lowercase hex digits (the gateway's own, and a client's of that form) as its 16
//     bytes, a user hash of 16 lowercase hex digits as its 8 bytes (BLOBs in TEXT columns; any other value
//     as the text it came as);
//   - attempts, stream, tokens_estimated and client_disconnected in one integer, `flags`;
//   - total_tokens NULL when it is prompt_tokens + completion_tokens, cached_tokens and reasoning_tokens
//     NULL when 0, tools NULL when none were declared;
//   - the times as whole microseconds (ttft_us, duration_us) instead of REAL milliseconds.
// With the benchmark's rows that is 16 values bound per row instead of 19, and about a quarter fewer bytes of
// file per call (bench/RESULTS.md, "Usage log schema 4").
//
// A file of schema 2 or 3 keeps its rows where they are, in usage_rows_v3 (schema 3's usage_rows, renamed,
// with its index usage_rows_ts), and the view reads both tables: converting would take about 5 s per
// million rows before the gateway could listen. Its newest row is moved to the new table, so that new ids
// follow the old ones (SQLite gives a new row the table's largest id plus one). Once retention has deleted
// the last old row, the old table goes, and the view reads usage_rows alone.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS usage_dims (
  id                  INTEGER PRIMARY KEY,
  api                 TEXT NOT NULL,
  operation           TEXT NOT NULL,
  pool                TEXT NOT NULL,
  deployment          TEXT NOT NULL,
  model               TEXT NOT NULL,
  backend             TEXT NOT NULL,
  subscription        TEXT NOT NULL,
  product             TEXT NOT NULL,
  tags                TEXT NOT NULL,
  error               TEXT NOT NULL,
  usage_source        TEXT NOT NULL,
  cache               TEXT NOT NULL,
  max_ts              INTEGER NOT NULL,
  UNIQUE (api, operation, pool, deployment, model, backend, subscription, product, tags, error, usage_source,
          cache)
);
CREATE TABLE IF NOT EXISTS usage_rows (
  id                  INTEGER PRIMARY KEY,
  ts                  INTEGER NOT NULL,
  dims                INTEGER NOT NULL,
  request_id          TEXT NOT NULL,
  user_hash           TEXT NOT NULL,
  status              INTEGER NOT NULL,
  prompt_tokens       INTEGER NOT NULL,
  completion_tokens   INTEGER NOT NULL,
  total_tokens        INTEGER,
  cached_tokens       INTEGER,
  reasoning_tokens    INTEGER,
  tools               TEXT,
  flags               INTEGER NOT NULL,
  ttft_us             INTEGER,
  duration_us         INTEGER NOT NULL,
  prompt              TEXT,
  completion          TEXT
);
CREATE INDEX IF NOT EXISTS usage_rows_time ON usage_rows(ts);
CREATE INDEX IF NOT EXISTS usage_dims_max_ts ON usage_dims(max_ts);
)sql";

// The view's columns from a row of usage_rows `r` and its combination `d`.
constexpr const char* kViewSelect = R"sql(
SELECT r.id AS id, r.ts AS ts,
       CASE WHEN typeof(r.request_id) = 'blob' THEN lower(hex(r.request_id)) ELSE r.request_id END
         AS request_id,
       d.api AS api, d.operation AS operation, d.pool AS pool, d.deployment AS deployment, d.model AS model,
       d.backend AS backend, r.flags >> 3 AS attempts, d.subscription AS subscription, d.product AS product,
       d.tags AS tags,
       CASE WHEN typeof(r.user_hash) = 'blob' THEN lower(hex(r.user_hash)) ELSE r.user_hash END AS user_hash,
       IFNULL(r.tools, '[]') AS tools, r.status AS status, d.error AS error, r.flags & 1 AS stream,
       r.prompt_tokens AS prompt_tokens, r.completion_tokens AS completion_tokens,
       IFNULL(r.total_tokens, r.prompt_tokens + r.completion_tokens) AS total_tokens,
       IFNULL(r.cached_tokens, 0) AS cached_tokens, IFNULL(r.reasoning_tokens, 0) AS reasoning_tokens,
       (r.flags >> 1) & 1 AS tokens_estimated, d.usage_source AS usage_source, r.ttft_us / 1000.0 AS ttft_ms,
       r.duration_us / 1000.0 AS duration_ms, d.cache AS cache, (r.flags >> 2) & 1 AS client_disconnected,
       r.prompt AS prompt, r.completion AS completion
FROM usage_rows AS r JOIN usage_dims AS d ON d.id = r.dims
)sql";

// The same from a row of usage_rows_v3 (schema 3's view).
constexpr const char* kViewSelectV3 = R"sql(
SELECT r.id, r.ts,
       CASE WHEN typeof(r.request_id) = 'blob' THEN lower(hex(r.request_id)) ELSE r.request_id END
         AS request_id,
       d.api, d.operation, d.pool, d.deployment, d.model, d.backend, r.attempts,
       d.subscription, d.product, d.tags, r.user_hash, r.tools, r.status, d.error, r.stream, r.prompt_tokens,
       r.completion_tokens, r.total_tokens, r.cached_tokens, r.reasoning_tokens, r.tokens_estimated,
       d.usage_source, r.ttft_ms, r.duration_ms, d.cache, r.client_disconnected, r.prompt, r.completion
FROM usage_rows_v3 AS r JOIN usage_dims AS d ON d.id = r.dims
)sql";

// Schema 3's table of calls, under the name it keeps in a schema 4 file (a schema 1 file is converted into
// it; schema 2 and 3 files have it as usage_rows).
constexpr const char* kRowsV3 = R"sql(
CREATE TABLE usage_rows_v3 (
  id                  INTEGER PRIMARY KEY,
  ts                  INTEGER NOT NULL,
  dims                INTEGER NOT NULL,
  request_id          TEXT NOT NULL,
  attempts            INTEGER NOT NULL,
  user_hash           TEXT NOT NULL,
  tools               TEXT NOT NULL,
  status              INTEGER NOT NULL,
  stream              INTEGER NOT NULL,
  prompt_tokens       INTEGER NOT NULL,
  completion_tokens   INTEGER NOT NULL,
  total_tokens        INTEGER NOT NULL,
  cached_tokens       INTEGER NOT NULL,
  reasoning_tokens    INTEGER NOT NULL,
  tokens_estimated    INTEGER NOT NULL,
  ttft_ms             REAL,
  duration_ms         REAL NOT NULL,
  client_disconnected INTEGER NOT NULL,
  prompt              TEXT,
  completion          TEXT
);
CREATE INDEX usage_rows_ts ON usage_rows_v3(ts);
)sql";

// Schema 2 or 3 to 4: the calls' table keeps its rows under its new name (its index keeps its name).
constexpr const char* kMigrateFrom3 = "ALTER TABLE usage_rows RENAME TO usage_rows_v3";

// The newest old row into usage_rows, converted (a user hash stays text: the view reads both).
constexpr const char* kMoveNewestV3 = R"sql(
INSERT INTO usage_rows (id, ts, dims, request_id, user_hash, status, prompt_tokens, completion_tokens,
                        total_tokens, cached_tokens, reasoning_tokens, tools, flags, ttft_us, duration_us,
                        prompt, completion)
SELECT id, ts, dims, request_id, user_hash, status, prompt_tokens, completion_tokens,
       NULLIF(total_tokens, prompt_tokens + completion_tokens), NULLIF(cached_tokens, 0),
       NULLIF(reasoning_tokens, 0), NULLIF(tools, '[]'),
       (attempts << 3) | ((client_disconnected != 0) << 2) | ((tokens_estimated != 0) << 1) | (stream != 0),
       CAST(round(ttft_ms * 1000) AS INTEGER), CAST(round(duration_ms * 1000) AS INTEGER), prompt, completion
FROM usage_rows_v3 ORDER BY id DESC LIMIT 1;
DELETE FROM usage_rows_v3 WHERE id = (SELECT MAX(id) FROM usage_rows_v3);
)sql";

// Schema 1 (one table `usage` with every column) to 4, in the transaction that creates schema 4: every
// distinct combination becomes a usage_dims row, every row goes to usage_rows_v3 with its id. Runs once, on
// the first open by a build with schema 2 or later, before the gateway listens: about 5 s per million rows
// on the 2-vCPU test machine. Each combination's max_ts is the newest row's ts, an upper bound that needs
// no GROUP BY (which took longer than the rest of the conversion together).
constexpr const char* kMigrateFrom1 = R"sql(
ALTER TABLE usage RENAME TO usage_v1;
DROP INDEX IF EXISTS usage_ts;
)sql";
constexpr const char* kMigrateFrom1Copy = R"sql(
INSERT OR IGNORE INTO usage_dims (api, operation, pool, deployment, model, backend, subscription, product, tags,
                                  error, usage_source, cache, max_ts)
SELECT api, operation, pool, deployment, model, backend, subscription, product, tags, error, usage_source,
       cache, (SELECT MAX(ts) FROM usage_v1)
FROM usage_v1;
INSERT INTO usage_rows_v3 (id, ts, dims, request_id, attempts, user_hash, tools, status, stream,
                           prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens,
                           tokens_estimated, ttft_ms, duration_ms, client_disconnected, prompt, completion)
SELECT u.id, u.ts, d.id, u.request_id, u.attempts, u.user_hash, u.tools, u.status, u.stream, u.prompt_tokens,
       u.completion_tokens, u.total_tokens, u.cached_tokens, u.reasoning_tokens, u.tokens_estimated, u.ttft_ms,
       u.duration_ms, u.client_disconnected, u.prompt, u.completion
FROM usage_v1 AS u JOIN usage_dims AS d
  ON d.api = u.api AND d.operation = u.operation AND d.pool = u.pool AND d.deployment = u.deployment AND
     d.model = u.model AND d.backend = u.backend AND d.subscription = u.subscription AND
     d.product = u.product AND d.tags = u.tags AND d.error = u.error AND d.usage_source = u.usage_source AND
     d.cache = u.cache
ORDER BY u.id;
DROP TABLE usage_v1;
)sql";

constexpr const char* kInsertHead =
    "INSERT INTO usage_rows (ts, dims, request_id, user_hash, status, prompt_tokens, completion_tokens, "
    "total_tokens, cached_tokens, reasoning_tokens, tools, flags, ttft_us, duration_us, prompt, completion) "
    "VALUES ";
constexpr int kColumns = 16;

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

constexpr const char* kDimsColumns =
    "api, operation, pool, deployment, model, backend, subscription, product, tags, error, usage_source, "
    "cache";
constexpr const char* kFindDims =
    "SELECT id, max_ts FROM usage_dims WHERE api = ?1 AND operation = ?2 AND pool = ?3 AND "
    "deployment = ?4 AND model = ?5 AND backend = ?6 AND subscription = ?7 AND product = ?8 AND "
    "tags = ?9 AND error = ?10 AND usage_source = ?11 AND cache = ?12";
constexpr const char* kRaiseMaxTs = "UPDATE usage_dims SET max_ts = ?2 WHERE id = ?1 AND max_ts < ?2";

// Chunks keep each delete transaction (and the WAL growth it causes) short.
constexpr const char* kPrune =
    "DELETE FROM usage_rows WHERE id IN (SELECT id FROM usage_rows WHERE ts < ?1 ORDER BY ts LIMIT 5000)";
constexpr const char* kPruneV3 =
    "DELETE FROM usage_rows_v3 WHERE id IN (SELECT id FROM usage_rows_v3 WHERE ts < ?1 ORDER BY ts LIMIT "
    "5000)";
// Combinations no row can use any more: their every row was older than the retention, and is gone.
constexpr const char* kPruneDims = "DELETE FROM usage_dims WHERE max_ts < ?1";

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

// The 16 bytes of a request id of 32 lowercase hex digits (see kSchema); false for any other id, upper case
// included: the view gives back lower case only. Without a branch per digit: those mispredicted on the
// random digits of the gateway's ids, the hottest instructions of the dispatcher's bind_row at 64
// connections (bench/RESULTS.md).
bool compact_request_id(std::string_view id, std::array<unsigned char, 16>& out) {
  return id.size() == 32 && util::lower_hex_to_bytes(id, out.data());
}

static_assert(kUserHashHexChars == 16, "usage_db.h: Insert::hashes holds 8 bytes per user hash");

// The 8 bytes of a user hash of 16 lowercase hex digits (identity.h: the form the gateway writes); false
// for any other value, the empty one (no user id) included.
bool compact_user_hash(std::string_view hash, std::array<unsigned char, 8>& out) {
  return hash.size() == kUserHashHexChars && util::lower_hex_to_bytes(hash, out.data());
}

// usage_rows.flags: attempts << 3 | client_disconnected << 2 | tokens_estimated << 1 | stream.
int64_t usage_flags(const PackedUsageView& r) {
  return static_cast<int64_t>(r.attempts) << 3 | int64_t{r.client_disconnected} << 2 |
         int64_t{r.tokens_estimated} << 1 | int64_t{r.stream};
}

// Milliseconds to the nearest whole microsecond (usage_rows.ttft_us, duration_us).
int64_t whole_microseconds(double ms) { return std::llround(ms * 1000.0); }

// Binds the twelve dimension columns of `r` to parameters 1 .. 12 (kFindDims, and the insert into
// usage_dims).
void bind_dims(sqlite3_stmt* s, const PackedUsageView& r) {
  const std::string_view dims[] = {r.api,   r.operation, r.pool,         r.deployment,
                                   r.model, r.backend,   r.subscription, r.product,
                                   r.tags,  r.error,     r.usage_source, r.cache};
  for (int i = 0; i < 12; ++i) bind_text(s, i + 1, dims[i]);
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
  // The commits' WAL frames are written in one call each (wal_vfs.h); null: the default VFS.
  const char* vfs = joined_wal_vfs();
  const int rc = sqlite3_open_v2(path.c_str(), &db_,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) {
    std::string message =
        "usage log: cannot open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error(message);
  }
  try {
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec(("PRAGMA journal_size_limit=" + std::to_string(kWalSizeLimitBytes)).c_str());
    exec(("PRAGMA cache_size=-" + std::to_string(kCacheKiB)).c_str());
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
    try {
      if (found >= 1 && found <= 3) {
        util::log_info("usage log: converting " + path + " to schema version " +
                       std::to_string(kUsageSchemaVersion) +
                       (found == 1 ? " (repeated columns in usage_dims)" : " (compact rows; old rows stay)"));
      }
      if (found == 1) {
        exec(kMigrateFrom1);
        exec(kSchema);
        exec(kRowsV3);
        exec(kMigrateFrom1Copy);
      } else if (found == 2 || found == 3) {
        exec(kMigrateFrom3);
      }
      exec(kSchema);
      if (found >= 1 && found <= 3) exec(kMoveNewestV3);
      // The view is made anew on every open (and when the old rows are gone). A table of that name is not
      // a file this gateway wrote.
      if (table_exists("usage", "table")) {
        throw std::runtime_error("usage log: " + path +
                                 " has a table named usage: not a spillway usage log, or a damaged one");
      }
      drop_v3_if_empty();
      create_view();
      exec(("PRAGMA user_version=" + std::to_string(kUsageSchemaVersion)).c_str());
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    const auto prepare = [&](const std::string& sql, sqlite3_stmt** stmt) {
      if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
        throw std::runtime_error("usage log: " + path + ": " + sqlite3_errmsg(db_));
      }
    };
    prepare(insert_sql(1), &insert_.stmt);
    insert_.bound.assign(kColumns, Bound{});
    insert_.ids.resize(1);
    insert_.hashes.resize(1);
    prepare(insert_sql(kRowsPerInsert), &insert_many_.stmt);
    insert_many_.bound.assign(kRowsPerInsert * kColumns, Bound{});
    insert_many_.ids.resize(kRowsPerInsert);
    insert_many_.hashes.resize(kRowsPerInsert);
    prepare(kFindDims, &find_dims_);
    prepare(std::string("INSERT INTO usage_dims (") + kDimsColumns +
                ", max_ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            &insert_dims_);
    prepare(kRaiseMaxTs, &raise_max_ts_);
    prepare(kPrune, &prune_);
    if (has_v3_) prepare(kPruneV3, &prune_v3_);
    prepare(kPruneDims, &prune_dims_);
    prepare("BEGIN IMMEDIATE", &begin_);
    prepare("COMMIT", &commit_);
  } catch (...) {
    close();
    throw;
  }
}

UsageDb::~UsageDb() { close(); }

// Two threads share the connection, one checkpoint at a time (`running`): one at normal priority, one at
// SCHED_IDLE. Two, because a thread of a process without CAP_SYS_NICE cannot leave SCHED_IDLE again.
struct UsageDb::Checkpointer {
  sqlite3* db = nullptr;  // the threads' own connection
  std::mutex mu;
  std::condition_variable wake;  // the threads: asked, stop, held lifted
  std::condition_variable idle;  // a commit past kMaxWalFrames: the checkpoint under way finished
  bool asked = false;            // the next six guarded by mu
  bool asked_idle = false;       // which thread is asked: the idle-priority one
  bool running = false;          // a checkpoint is under way (a thread's, or a commit's)
  bool stop = false;
  bool held = false;
  bool failing = false;  // the last checkpoint failed (logged once until one succeeds)
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> done_idle{0};
  std::atomic<uint64_t> done_inline{0};
  std::atomic<uint64_t> waits{0};
  bool idle_policy = false;  // the idle thread runs at SCHED_IDLE (set once, at start)
  std::thread thread;
  std::thread idle_thread;
};

void UsageDb::start_checkpointer() {
  if (checkpointer_ || !db_) return;
  // Not fatal: the commits then checkpoint by themselves, as SQLite does by default.
  const auto without_thread = [&](const std::string& why) {
    util::log_warn("usage log: " + path_ + ": no checkpoint thread, commits checkpoint themselves: " + why);
  };
  auto c = std::make_unique<Checkpointer>();
  // A connection looks at the WAL only from its first read on: until then a checkpoint through it does
  // nothing, successfully. Asking for the journal mode reads the file.
  std::string mode;
  const int rc = sqlite3_open_v2(path_.c_str(), &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      mode = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
  }
  if (rc != SQLITE_OK || mode != "wal") {
    const std::string message = !c->db         ? "out of memory"
                                : mode.empty() ? sqlite3_errmsg(c->db)
                                               : "journal mode " + mode;
    sqlite3_close(c->db);
    without_thread(message);
    return;
  }
  checkpointer_ = std::move(c);
  try {
    checkpointer_->thread = util::start_quiet_thread([this] { run_checkpoints(false); });
    pthread_setname_np(checkpointer_->thread.native_handle(), "spw-usage-ckpt");
    checkpointer_->idle_thread = util::start_quiet_thread([this] { run_checkpoints(true); });
    pthread_setname_np(checkpointer_->idle_thread.native_handle(), "spw-usage-ckpti");
    sched_param param{};
    // Where SCHED_IDLE cannot be set, both threads run at normal priority.
    checkpointer_->idle_policy =
        pthread_setschedparam(checkpointer_->idle_thread.native_handle(), SCHED_IDLE, &param) == 0;
  } catch (const std::system_error& e) {
    stop_checkpointer();
    checkpointer_.reset();
    without_thread(e.what());
    return;
  }
  // Replaces SQLite's automatic checkpoint, which is a WAL hook too.
  sqlite3_wal_hook(db_, &UsageDb::on_wal_commit, this);
}

int UsageDb::on_wal_commit(void* self, sqlite3* db, const char* name, int frames) {
  auto* u = static_cast<UsageDb*>(self);
  u->wal_frames_.store(frames, std::memory_order_relaxed);
  if (frames < kCheckpointFrames) return SQLITE_OK;
  Checkpointer& c = *u->checkpointer_;
  std::unique_lock lock(c.mu);
  if (frames < kMaxWalFrames) {
    // While one runs, the next commit asks again: the frames appended meanwhile are still to copy.
    if (!c.running) {
      c.asked = true;
      c.asked_idle = u->checkpoints_idle_.load(std::memory_order_relaxed);
      c.wake.notify_all();
    }
    return SQLITE_OK;
  }
  if (c.running) {
    // An idle-priority checkpoint on a machine that turned busy is slow, not stopped: SCHED_IDLE still
    // gets a sliver of the CPU, and the WAL takes seconds of traffic to grow this long.
    ++c.waits;
    c.idle.wait(lock, [&] { return !c.running; });
  }
  c.asked = false;
  c.running = true;
  lock.unlock();
  // No writer can append now (this is the writer, between transactions): the checkpoint copies every
  // frame, and the next transaction restarts the WAL. A failure leaves the WAL as it is, to try again.
  if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) == SQLITE_OK) {
    ++c.done_inline;
  }
  lock.lock();
  c.running = false;
  return SQLITE_OK;
}

void UsageDb::run_checkpoints(bool idle) {
  Checkpointer& c = *checkpointer_;
  std::unique_lock lock(c.mu);
  for (;;) {
    c.wake.wait(lock, [&] { return c.stop || (c.asked && c.asked_idle == idle && !c.running); });
    if (c.stop) break;
    c.asked = false;
    c.running = true;
    c.wake.wait(lock, [&] { return c.stop || !c.held; });
    const bool stopping = c.stop;
    lock.unlock();
    const int rc =
        stopping ? SQLITE_OK
                 : sqlite3_wal_checkpoint_v2(c.db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
    c.running = false;
    if (rc == SQLITE_OK) {
      ++c.done;
      if (idle) ++c.done_idle;
      c.failing = false;
    } else if (!c.failing) {
      c.failing = true;
      util::log_warn("usage log: " + path_ +
                     ": a checkpoint failed, the WAL grows until one succeeds: " + sqlite3_errmsg(c.db));
    }
    c.idle.notify_all();
  }
}

bool UsageDb::checkpoints_can_idle() const { return checkpointer_ && checkpointer_->idle_policy; }
uint64_t UsageDb::checkpoints_idle_done() const {
  return checkpointer_ ? checkpointer_->done_idle.load() : 0;
}
uint64_t UsageDb::checkpoints() const { return checkpointer_ ? checkpointer_->done.load() : 0; }
uint64_t UsageDb::checkpoints_inline() const { return checkpointer_ ? checkpointer_->done_inline.load() : 0; }
uint64_t UsageDb::checkpoint_waits() const { return checkpointer_ ? checkpointer_->waits.load() : 0; }

void UsageDb::hold_checkpoints_for_test(bool hold) {
  if (!checkpointer_) return;
  {
    std::lock_guard lock(checkpointer_->mu);
    checkpointer_->held = hold;
  }
  checkpointer_->wake.notify_all();
}

// Binds `r` to parameters base + 1 .. base + kColumns of `insert`, without copying its texts: the packed
// string `r` views must outlive the statement's step. `dims` is the id of its usage_dims row.
void UsageDb::bind_row(Insert& insert, int base, const PackedUsageView& r, int64_t dims) {
  sqlite3_stmt* s = insert.stmt;
  Bound* bound = insert.bound.data() + base;  // bound[k] is parameter base + k + 1
  const auto set = [&](int column, Bound::Kind kind, int64_t bits, auto&& bind) {
    Bound& b = bound[column - 1];
    if (b.kind == kind && b.bits == bits) return;
    b = bind() == SQLITE_OK ? Bound{kind, bits} : Bound{};
  };
  const auto int64 = [&](int column, int64_t v) {
    set(column, Bound::kInt, v, [&] { return sqlite3_bind_int64(s, base + column, v); });
  };
  const auto null = [&](int column) {
    set(column, Bound::kNull, 0, [&] { return sqlite3_bind_null(s, base + column); });
  };
  const auto text = [&](int column, std::string_view v) {
    bind_text(s, base + column, v);
    bound[column - 1] = Bound{};
  };
  const auto optional_text = [&](int column, const std::optional<std::string_view>& v) {
    if (v) {
      text(column, *v);
    } else {
      null(column);
    }
  };
  int64(1, r.time_ms);
  int64(2, dims);
  // Hex text as its bytes (kept in `bytes` until the step), when `compact` could decode it; else the text.
  const auto hex_or_text = [&](int column, std::string_view v, auto& bytes, auto compact) {
    if (compact(v, bytes)) {
      sqlite3_bind_blob(s, base + column, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
      bound[column - 1] = Bound{};
    } else {
      text(column, v);
    }
  };
  const auto row = static_cast<std::size_t>(base / kColumns);
  hex_or_text(3, r.request_id, insert.ids[row], compact_request_id);
  hex_or_text(4, r.user_hash, insert.hashes[row], compact_user_hash);
  int64(5, r.status);
  int64(6, r.prompt_tokens);
  int64(7, r.completion_tokens);
  // NULL for the usual value (the view puts it back): a byte of record instead of one to nine.
  const auto int64_or_null = [&](int column, int64_t v, int64_t usual) {
    if (v == usual) {
      null(column);
    } else {
      int64(column, v);
    }
  };
  int64_or_null(8, r.total_tokens, r.prompt_tokens + r.completion_tokens);
  int64_or_null(9, r.cached_tokens, 0);
  int64_or_null(10, r.reasoning_tokens, 0);
  if (r.tools.empty() || r.tools == "[]") {
    null(11);
  } else {
    text(11, r.tools);
  }
  int64(12, usage_flags(r));
  if (r.ttft_ms >= 0) {
    int64(13, whole_microseconds(r.ttft_ms));
  } else {
    null(13);
  }
  int64(14, whole_microseconds(r.duration_ms));
  optional_text(15, r.prompt);
  optional_text(16, r.completion);
}

void UsageDb::stop_checkpointer() {
  if (!checkpointer_ || !checkpointer_->db) return;
  {
    std::lock_guard lock(checkpointer_->mu);
    checkpointer_->stop = true;
  }
  checkpointer_->wake.notify_all();
  if (checkpointer_->thread.joinable()) checkpointer_->thread.join();
  if (checkpointer_->idle_thread.joinable()) checkpointer_->idle_thread.join();
  sqlite3_close(checkpointer_->db);
  checkpointer_->db = nullptr;
  // Back to SQLite's own checkpoints in the commits (wal_autocheckpoint, 1000 pages).
  sqlite3_wal_autocheckpoint(db_, kCheckpointFrames);
}

void UsageDb::close() {
  stop_checkpointer();  // first: the last connection to close does the final checkpoint
  checkpointer_.reset();
  for (sqlite3_stmt** s : {&insert_.stmt, &insert_many_.stmt, &find_dims_, &insert_dims_, &raise_max_ts_,
                           &prune_, &prune_v3_, &prune_dims_, &begin_, &commit_}) {
    sqlite3_finalize(*s);  // a no-op on null
    *s = nullptr;
  }
  // The last connection to close checkpoints the WAL into the main file and removes it.
  sqlite3_close(db_);
  db_ = nullptr;
}

bool UsageDb::table_exists(const char* name, const char* type) {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db_, "SELECT 1 FROM sqlite_master WHERE name = ?1 AND type = ?2", -1, &s, nullptr);
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, type, -1, SQLITE_STATIC);
  const bool found = s != nullptr && sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return found;
}

void UsageDb::drop_v3_if_empty() {
  has_v3_ = table_exists("usage_rows_v3", "table");
  if (!has_v3_) return;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db_, "SELECT 1 FROM usage_rows_v3 LIMIT 1", -1, &s, nullptr);
  const int rc = s != nullptr ? sqlite3_step(s) : SQLITE_ERROR;
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return;  // rows left (or an error: the table stays, the view reads it)
  exec("DROP TABLE usage_rows_v3");
  has_v3_ = false;
}

void UsageDb::create_view() {
  std::string sql = "DROP VIEW IF EXISTS usage; CREATE VIEW usage AS ";
  if (has_v3_) {
    sql += kViewSelectV3;
    sql += "UNION ALL";
  }
  sql += kViewSelect;
  exec(sql.c_str());
}

void UsageDb::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = "usage log: " + path_ + ": " + (err ? err : "error");
    sqlite3_free(err);
    throw std::runtime_error(message);
  }
}

bool UsageDb::insert_packed(const std::vector<std::string>& packed, std::string& error, Pace pace,
                            std::chrono::steady_clock::duration yield_budget) {
  std::size_t committed = 0;
  const auto yield_until = pace == Pace::kYield ? std::chrono::steady_clock::now() + yield_budget
                                                : std::chrono::steady_clock::time_point{};
  return insert_rows(packed, nullptr, pace, yield_until, committed, error);
}

bool UsageDb::insert(const std::vector<UsageRecord>& records, std::string& error) {
  std::vector<std::string> packed;
  packed.reserve(records.size());
  for (const UsageRecord& r : records) packed.push_back(pack_usage(r));
  return insert_packed(packed, error);
}

bool UsageDb::insert_until(const std::vector<std::string>& packed, const std::atomic<bool>& stop,
                           std::size_t& committed, std::string& error) {
  return insert_rows(packed, &stop, Pace::kStraight, {}, committed, error);
}

int64_t UsageDb::dims_id(const PackedUsageView& r) {
  // Consecutive rows mostly share their combination: one comparison instead of hashing the key.
  if (last_dims_ != nullptr && last_dims_->first == r.dims_key) return raise_max_ts(last_dims_->second, r);
  auto it = dims_.find(r.dims_key);
  if (it == dims_.end()) {
    // Past the bound (client-named pools and models can make combinations without end) the cache starts
    // over; a combination it forgot is found again with one indexed SELECT.
    if (dims_.size() >= kDimsCacheSize) forget_dims();
    Dims d;
    bind_dims(find_dims_, r);
    int rc = sqlite3_step(find_dims_);
    if (rc == SQLITE_ROW) {
      d = {sqlite3_column_int64(find_dims_, 0), sqlite3_column_int64(find_dims_, 1)};
      rc = SQLITE_DONE;
    }
    sqlite3_reset(find_dims_);
    if (rc != SQLITE_DONE) return -1;
    if (d.id < 0) {
      d.max_ts = r.time_ms + kDimsTsSlackMs;
      bind_dims(insert_dims_, r);
      sqlite3_bind_int64(insert_dims_, 13, d.max_ts);
      if (step_once(insert_dims_) != SQLITE_DONE) return -1;
      d.id = sqlite3_last_insert_rowid(db_);
    }
    it = dims_.emplace(std::string(r.dims_key), d).first;
  }
  last_dims_ = &*it;
  return raise_max_ts(it->second, r);
}

int64_t UsageDb::raise_max_ts(Dims& d, const PackedUsageView& r) {
  if (r.time_ms > d.max_ts) {  // at most once per kDimsTsSlackMs of time per combination
    sqlite3_bind_int64(raise_max_ts_, 1, d.id);
    sqlite3_bind_int64(raise_max_ts_, 2, r.time_ms + kDimsTsSlackMs);
    if (step_once(raise_max_ts_) != SQLITE_DONE) return -1;
    d.max_ts = r.time_ms + kDimsTsSlackMs;
  }
  return d.id;
}

void UsageDb::forget_dims() {
  dims_.clear();
  last_dims_ = nullptr;
}

namespace {

// A batch's records were packed by the request workers, each in its own allocation, written on another
// CPU some milliseconds before: reading one was a cache miss per line (unpack_usage's first load alone
// was 40% of its samples, the function 8% of the dispatcher's at 64 connections). The records a few rows
// ahead are fetched while a row is bound and inserted (a microsecond or two each).
constexpr std::size_t kPrefetchRows = 4;

void prefetch_record(const std::string& record) {
  // The numbers and the short texts come first; a logged prompt (usage_log.log_prompts) is read in order.
  const std::size_t head = record.size() < 512 ? record.size() : 512;
  for (std::size_t at = 0; at < head; at += 64) __builtin_prefetch(record.data() + at);
}

}  // namespace

bool UsageDb::insert_rows(const std::vector<std::string>& packed, const std::atomic<bool>* stop, Pace pace,
                          std::chrono::steady_clock::time_point yield_until, std::size_t& committed,
                          std::string& error) {
  committed = 0;
  if (packed.empty()) return true;
  if (step_once(begin_) != SQLITE_DONE) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  const auto fail = [&] {
    error = sqlite3_errmsg(db_);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    // Combinations inserted, and max_ts raised, by the transaction are gone with it: the cache must not
    // remember them.
    forget_dims();
    return false;
  };
  // kRowsPerInsert rows per statement while that many are left, then one at a time: SQLite's work per
  // statement (opening the cursors, halting, resetting) is shared by the rows.
  for (std::size_t i = 0; i < kPrefetchRows && i < packed.size(); ++i) prefetch_record(packed[i]);
  std::size_t n = 0;
  while (n < packed.size()) {
    const std::size_t rows = packed.size() - n >= kRowsPerInsert ? kRowsPerInsert : 1;
    Insert& insert = rows == 1 ? insert_ : insert_many_;
    sqlite3_stmt* s = insert.stmt;
    for (std::size_t i = 0; i < rows; ++i) {
      if (n + i + kPrefetchRows < packed.size()) prefetch_record(packed[n + i + kPrefetchRows]);
      const PackedUsageView row = unpack_usage(packed[n + i]);
      const int64_t dims = dims_id(row);
      if (dims < 0) {
        sqlite3_reset(s);
        return fail();
      }
      // Every parameter is set for every row: bound now, or still bound to the same value from the
      // statement's last run (bind_row), so no clear_bindings between statements.
      bind_row(insert, static_cast<int>(i) * kColumns, row, dims);
    }
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return fail();
    n += rows;
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
    if (pace == Pace::kYield && n < packed.size() && std::chrono::steady_clock::now() < yield_until) {
      sched_yield();
      ++yields_;
    }
  }
  if (step_once(commit_) != SQLITE_DONE) return fail();
  committed = n;
  return true;
}

int64_t UsageDb::prune(int64_t before_ms) {
  int64_t total = 0;
  for (sqlite3_stmt* prune : {prune_, prune_v3_}) {
    if (prune == nullptr) continue;
    for (;;) {
      sqlite3_bind_int64(prune, 1, before_ms);
      const int rc = sqlite3_step(prune);
      sqlite3_reset(prune);
      if (rc != SQLITE_DONE) return total;
      const int n = sqlite3_changes(db_);
      total += n;
      if (n == 0) break;
    }
  }
  // Every row older than `before_ms` is gone, so are the combinations only they used.
  sqlite3_bind_int64(prune_dims_, 1, before_ms);
  if (step_once(prune_dims_) == SQLITE_DONE && sqlite3_changes(db_) > 0) forget_dims();
  // The last old row of a converted file gone: the view reads usage_rows alone from now on.
  if (has_v3_) {
    try {
      exec("BEGIN IMMEDIATE");
      try {
        drop_v3_if_empty();
        if (!has_v3_) create_view();
        exec("COMMIT");
        if (!has_v3_) {
          sqlite3_finalize(prune_v3_);
          prune_v3_ = nullptr;
        }
      } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        has_v3_ = table_exists("usage_rows_v3", "table");
        throw;
      }
    } catch (const std::exception& e) {
      util::log_warn(std::string(e.what()) + " (the old rows' table stays until the next prune)");
    }
  }
  return total;
}

}  // namespace spillway::telemetry
