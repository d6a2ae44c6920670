#pragma once
// The usage log's SQLite file: schema, batched inserts, retention pruning. One UsageDb is used by one
// thread at a time (the usage writer's two threads take turns under its lock). docs/usage-log.md
// documents the schema.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "telemetry/usage_record.h"

struct sqlite3;
struct sqlite3_stmt;

namespace spillway::telemetry {

// PRAGMA user_version of the schema this build writes.
inline constexpr int kUsageSchemaVersion = 1;

class UsageDb {
 public:
  // Rows per INSERT statement while a batch has that many left (the rest go one by one).
  static constexpr std::size_t kRowsPerInsert = 16;

  // Opens or creates `path`, switches it to WAL with synchronous=NORMAL, creates the schema if missing.
  // Throws std::runtime_error naming the file (never a secret) when it cannot.
  explicit UsageDb(const std::string& path);
  ~UsageDb();
  UsageDb(const UsageDb&) = delete;
  UsageDb& operator=(const UsageDb&) = delete;

  // Inserts every record (packed by pack_usage) in one transaction. On failure rolls back, and returns
  // false with `error` set.
  bool insert_packed(const std::vector<std::string>& packed, std::string& error);
  // The same for records not packed yet (tests, tools).
  bool insert(const std::vector<UsageRecord>& records, std::string& error);
  // Like insert_packed(), but `stop` is read after each statement (kRowsPerInsert rows at most): once it is
  // raised, the rows inserted so far are committed and the call returns. `committed` is how many of the first
  // records are now stored (all of them unless stopped early; 0 on failure). At least one row is written per
  // call.
  bool insert_until(const std::vector<std::string>& packed, const std::atomic<bool>& stop,
                    std::size_t& committed, std::string& error);
  // Deletes the rows with time_ms < `before_ms`, in short transactions. Returns the number deleted.
  int64_t prune(int64_t before_ms);
  const std::string& path() const { return path_; }

 private:
  void exec(const char* sql);
  // Finalizes the statements and closes the connection (each may be null); used by the destructor and by
  // a constructor that fails half-way.
  void close();
  bool insert_rows(const std::vector<std::string>& packed, const std::atomic<bool>* stop,
                   std::size_t& committed, std::string& error);

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;       // one row
  sqlite3_stmt* insert_many_ = nullptr;  // kRowsPerInsert rows
  sqlite3_stmt* prune_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;   // BEGIN IMMEDIATE
  sqlite3_stmt* commit_ = nullptr;  // COMMIT
};

}  // namespace spillway::telemetry
