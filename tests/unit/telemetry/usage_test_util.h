#pragma once
// Helpers shared by the usage-log tests: temporary directories and hand-made records.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "telemetry/usage_record.h"

namespace spillway::telemetry::test_util {

// A fresh directory under the system temp dir, removed with its content on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "spw-usage-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

// SELECT of one integer from a database file, on a separate connection (as `spillway usage` would).
inline int64_t query_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t v = -1;
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

inline std::string query_text(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
  std::string v = "<no row>";
  if (sqlite3_step(s) == SQLITE_ROW) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    v = t ? t : "<null>";
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

inline UsageRecord sample_record(int64_t time_ms, std::string id, std::string subscription = "team-a",
                                 int64_t prompt = 10, int64_t completion = 20) {
  UsageRecord r;
  r.time_ms = time_ms;
  r.request_id = std::move(id);
  r.api = "openai";
  r.operation = "chat.completions";
  r.pool = "gpt-4o";
  r.deployment = "gpt-4o-dep";
  r.model = "gpt-4o";
  r.backend = "az";
  r.attempts = 1;
  r.subscription = std::move(subscription);
  r.product = "standard";
  r.tags = {{"team", "search"}};
  r.user_hash = "u1";
  r.status = 200;
  r.prompt_tokens = prompt;
  r.completion_tokens = completion;
  r.total_tokens = prompt + completion;
  r.usage_source = "backend";
  r.ttft_ms = 12.5;
  r.duration_ms = 40;
  return r;
}

}  // namespace spillway::telemetry::test_util
