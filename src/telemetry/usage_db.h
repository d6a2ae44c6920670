#pragma once
// The usage log's SQLite file: schema, batched inserts, retention pruning, checkpoints. One UsageDb is used
// by one thread at a time (the usage writer's two threads take turns under its lock), plus, once
// start_checkpointer() is called, two checkpoint threads of its own (one at idle priority) that share a
// connection of their own.
// docs/usage-log.md documents the schema.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "telemetry/usage_record.h"

struct sqlite3;
struct sqlite3_stmt;

namespace spillway::telemetry {

// PRAGMA user_version of the schema this build writes.
inline constexpr int kUsageSchemaVersion = 4;

class UsageDb {
 public:
  // Rows per INSERT statement while a batch has that many left (the rest go one by one).
  static constexpr std::size_t kRowsPerInsert = 16;
  // usage_dims.max_ts is raised to a row's ts plus this when the row's ts passes it: one UPDATE per hour of
  // traffic per combination, and a combination outlives its last row by at most this much.
  static constexpr int64_t kDimsTsSlackMs = 3'600'000;
  // Combinations the writer remembers (their id and max_ts); past this it forgets them all.
  static constexpr std::size_t kDimsCacheSize = 4096;
  // How long a statement waits for another connection's lock before it fails.
  static constexpr int kBusyTimeoutMs = 5000;
  // A commit that leaves the WAL at least this many frames (pages) long starts a checkpoint: SQLite's own
  // default (wal_autocheckpoint), about 4 MiB with 4 KiB pages.
  static constexpr int kCheckpointFrames = 1000;
  // With the checkpoint thread: a commit that leaves the WAL this long waits for the thread's checkpoint
  // and then checkpoints itself, so that the WAL restarts (see start_checkpointer()).
  static constexpr int kMaxWalFrames = 10 * kCheckpointFrames;
  // Once restarted after it grew past this, the WAL file is cut back to it (PRAGMA journal_size_limit).
  static constexpr int64_t kWalSizeLimitBytes = 8 << 20;
  // The writer's page cache (PRAGMA cache_size), instead of SQLite's 2000 KiB. Inserts touch only the right
  // edge of each B-tree; a 1024-row batch dirties about 60 pages, and a transaction bigger than the cache
  // spills its pages to the WAL early (correct, only more writes). At 64 connections the gateway's RSS
  // after 30 s was 23.4-23.7 MiB instead of 24.7-26.4, with the same CPU per request (bench/RESULTS.md).
  static constexpr int kCacheKiB = 1024;

  // Opens or creates `path`, switches it to WAL with synchronous=NORMAL, creates the schema if missing and
  // converts a schema 1, 2 or 3 file. Throws std::runtime_error naming the file (never a secret) when it
  // cannot.
  explicit UsageDb(const std::string& path);
  ~UsageDb();
  UsageDb(const UsageDb&) = delete;
  UsageDb& operator=(const UsageDb&) = delete;

  // How a batch shares the CPU. kYield gives it up (sched_yield) after each statement but the last, so a
  // batch written at normal priority on a busy machine (about 1.5 ms of CPU per 1024 rows) runs in
  // pieces of one statement (about 25 us) between the requests that want the core, instead of holding
  // it for a whole time slice while they wait (bench/RESULTS.md, fifteenth session: p99 at 64
  // connections 6.35 -> 5.29 ms). A yield with nothing else to run returns at once. It yields only until
  // the batch has taken `yield_budget` of wall time, then goes on straight: on a crowded machine each
  // yield can wait for a few other tasks' time slices, and a batch that yields to the end lets records
  // pile up meanwhile (at 64 connections on the test machine, up to 5.5k waiting instead of 1.1k).
  enum class Pace { kStraight, kYield };
  static constexpr std::chrono::milliseconds kYieldBudget{20};

  // Inserts every record (packed by pack_usage) in one transaction. On failure rolls back, and returns
  // false with `error` set.
  bool insert_packed(const std::vector<std::string>& packed, std::string& error, Pace pace = Pace::kStraight,
                     std::chrono::steady_clock::duration yield_budget = kYieldBudget);
  // The same for records not packed yet (tests, tools).
  bool insert(const std::vector<UsageRecord>& records, std::string& error);
  // Like insert_packed(), but `stop` is read after each statement (kRowsPerInsert rows at most): once it is
  // raised, the rows inserted so far are committed and the call returns. `committed` is how many of the first
  // records are now stored (all of them unless stopped early; 0 on failure). At least one row is written per
  // call.
  bool insert_until(const std::vector<std::string>& packed, const std::atomic<bool>& stop,
                    std::size_t& committed, std::string& error);
  // Times a batch gave up the CPU (Pace::kYield), since the file was opened.
  uint64_t yields() const { return yields_; }
  // Moves the checkpoints off the committing thread. Without it a commit that fills the WAL
  // (kCheckpointFrames) copies its pages into the main file itself, two fsyncs included: 20-30 ms on the
  // test machine, but now and then 300 ms when the disk is slow to sync, while records pile up in the
  // usage writer's queue (7.2k once in a 60 s run at 64 connections; on a slower disk, until it drops).
  // With it, such a commit only wakes a checkpoint thread, which uses a second connection (SQLite's
  // PASSIVE mode: it copies what was committed when it began and never blocks the writer), and the
  // writer goes on appending meanwhile. The WAL restarts from its start at the first commit after a
  // checkpoint that found no frame left to copy; a writer that keeps appending during every checkpoint
  // would grow it without end, so past kMaxWalFrames the commit waits for the thread and checkpoints
  // itself, as without the thread. Call once, before the first insert; close() stops the thread.
  void start_checkpointer();
  // Waits for a checkpoint under way, ends the thread, and leaves the checkpoints to the commits again
  // (the counts below are final). close() calls it.
  void stop_checkpointer();
  // Whether the next checkpoints run at Linux's SCHED_IDLE priority (true) or at normal priority (false,
  // the default), as the usage writer's idle meter says the machine has CPU to spare or not; any thread.
  // There are two checkpoint threads, one of each priority (`spw-usage-ckpti`, `spw-usage-ckpt`): a
  // thread of a process without CAP_SYS_NICE cannot leave SCHED_IDLE again. At one connection a
  // checkpoint at normal priority (6-7 ms of CPU per 1000 pages) sat in front of requests: p99 251-358
  // us against 200-291 when the checkpoints ran in the idle-priority thread's commits (bench/RESULTS.md,
  // sixteenth session).
  void set_checkpoints_idle(bool idle) { checkpoints_idle_.store(idle, std::memory_order_relaxed); }
  // The idle-priority thread could be set to SCHED_IDLE; checkpoints it did.
  bool checkpoints_can_idle() const;
  uint64_t checkpoints_idle_done() const;
  // Checkpoints done by the checkpoint thread, and by commits past kMaxWalFrames, since the file was opened.
  uint64_t checkpoints() const;
  uint64_t checkpoints_inline() const;
  // The WAL's length in frames after the last commit (0 before the first commit).
  int wal_frames() const { return wal_frames_.load(std::memory_order_relaxed); }
  // Tests: while held, the checkpoint threads take the next checkpoint they are asked for and wait before
  // doing it (so it stays under way).
  void hold_checkpoints_for_test(bool hold);
  // Commits that waited for the checkpoint thread (past kMaxWalFrames).
  uint64_t checkpoint_waits() const;

  // Deletes the rows with time_ms < `before_ms`, in short transactions, then the combinations no row can
  // use any more. Returns the number of rows deleted.
  int64_t prune(int64_t before_ms);
  const std::string& path() const { return path_; }

 private:
  void exec(const char* sql);
  // Whether sqlite_master has an entry `name` of `type` ("table", "view").
  bool table_exists(const char* name, const char* type);
  // Sets has_v3_; drops usage_rows_v3 (schema 3's rows of a converted file) once it is empty. Inside the
  // caller's transaction; the view must be made again after (create_view()).
  void drop_v3_if_empty();
  // (Re)creates the view `usage` over usage_rows, and usage_rows_v3 while it exists (has_v3_).
  void create_view();
  // Finalizes the statements and closes the connection (each may be null); used by the destructor and by
  // a constructor that fails half-way.
  void close();
  // `yield_until`: steady clock; kYield yields after a statement only before then.
  bool insert_rows(const std::vector<std::string>& packed, const std::atomic<bool>* stop, Pace pace,
                   std::chrono::steady_clock::time_point yield_until, std::size_t& committed,
                   std::string& error);
  // The usage_dims id of `r`'s combination (inserted if new), its max_ts raised to cover r.time_ms; inside
  // the caller's transaction. -1 on a database error.
  int64_t dims_id(const PackedUsageView& r);

  // What each parameter of an INSERT statement was last bound to. SQLite keeps bindings across
  // sqlite3_reset, so a number or NULL equal to the last one bound at that place is not bound again (in a
  // batch most of a row's numbers repeat: status, attempts, flags, zero token counts; each bind costs
  // about a hundred instructions). Texts are always bound: they are bound SQLITE_STATIC, pointing into
  // the batch being written.
  struct Bound {
    enum Kind : uint8_t { kUnknown, kInt, kNull };
    Kind kind = kUnknown;
    int64_t bits = 0;  // the integer
  };
  struct Insert {
    sqlite3_stmt* stmt = nullptr;
    std::vector<Bound> bound;  // per parameter, from 0
    // Per row of the statement: the bytes of its request id and user hash when bound as BLOBs
    // (SQLITE_STATIC, so they stay here until the step).
    std::vector<std::array<unsigned char, 16>> ids;
    std::vector<std::array<unsigned char, 8>> hashes;  // kUserHashHexChars / 2 (usage_db.cpp checks)
  };
  void bind_row(Insert& insert, int base, const PackedUsageView& r, int64_t dims);

  struct Dims {
    int64_t id = -1;
    int64_t max_ts = 0;  // as stored: a rolled back transaction clears the cache
  };
  // Raises d.max_ts to cover r.time_ms (an UPDATE when it must grow); d.id, or -1 on a database error.
  int64_t raise_max_ts(Dims& d, const PackedUsageView& r);
  // Empties the cache of combinations (past its bound, after a rollback or a prune).
  void forget_dims();
  // SQLite's WAL hook (after each commit on db_): asks for, or past kMaxWalFrames does, a checkpoint.
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int frames);
  void run_checkpoints(bool idle);
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
  };

  std::string path_;
  sqlite3* db_ = nullptr;
  Insert insert_;       // one row
  Insert insert_many_;  // kRowsPerInsert rows
  sqlite3_stmt* find_dims_ = nullptr;
  sqlite3_stmt* insert_dims_ = nullptr;
  sqlite3_stmt* raise_max_ts_ = nullptr;
  sqlite3_stmt* prune_ = nullptr;
  sqlite3_stmt* prune_v3_ = nullptr;  // while usage_rows_v3 exists
  sqlite3_stmt* prune_dims_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;                                         // BEGIN IMMEDIATE
  sqlite3_stmt* commit_ = nullptr;                                        // COMMIT
  std::unordered_map<std::string, Dims, KeyHash, std::equal_to<>> dims_;  // by PackedUsageView::dims_key
  std::pair<const std::string, Dims>* last_dims_ = nullptr;               // the last row's, in dims_
  uint64_t yields_ = 0;
  bool has_v3_ = false;  // usage_rows_v3 exists (a converted file's old rows)
  std::atomic<int> wal_frames_{0};
  std::atomic<bool> checkpoints_idle_{false};
  struct Checkpointer;  // the checkpoint thread and its connection (usage_db.cpp)
  std::unique_ptr<Checkpointer> checkpointer_;
};

}  // namespace spillway::telemetry
