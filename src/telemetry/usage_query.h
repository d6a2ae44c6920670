#pragma once
// `spillway usage top|series`: the queries over the usage log, their SQL, and their output (tables for
// people, JSON for machines). The SQL is built from whitelisted pieces; user input only ever reaches it as
// bound parameters.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace spillway::telemetry {

enum class UsageMetric {
  kTotalTokens,
  kPromptTokens,
  kCompletionTokens,
  kCachedTokens,
  kReasoningTokens,
  kRequests
};

struct UsageDimension {
  enum class Kind { kColumn, kTool, kTag };
  Kind kind = Kind::kColumn;
  std::string name;  // the column (kColumn) or tag name (kTag); "tool" for kTool
  std::string label() const { return kind == Kind::kTag ? "tag:" + name : name; }
};

// api|operation|pool|deployment|model|backend|subscription|product|user_hash|status|error|usage_source|
// cache|tool|tag:NAME. nullopt (with `error`) otherwise.
std::optional<UsageDimension> parse_dimension(std::string_view text, std::string& error);
std::optional<UsageMetric> parse_metric(std::string_view text);
std::string_view metric_name(UsageMetric m);
// "90s", "15m", "24h", "7d", "2w" (a whole number and a unit); nullopt otherwise.
std::optional<std::chrono::milliseconds> parse_span(std::string_view text);

struct UsageQuery {
  bool series = false;  // false: top
  UsageDimension dim;
  UsageMetric metric = UsageMetric::kTotalTokens;
  int64_t since_ms = 0;          // rows with ts >= since_ms (Unix ms)
  int64_t every_ms = 3'600'000;  // series bucket width
  int limit = 20;                // top: rows; series: 0 = every key, else the top `limit` keys overall
  // For display only.
  std::string since_text = "24h";
  std::string every_text = "1h";
};

using SqlValue = std::variant<int64_t, std::string>;
struct Sql {
  std::string text;
  std::vector<SqlValue> binds;  // ?1, ?2, ... in order
};
// Result columns: bucket (series; else 0), key (TEXT or NULL), requests, prompt_tokens,
// completion_tokens, total_tokens, cached_tokens, reasoning_tokens.
Sql build_usage_sql(const UsageQuery& q);

struct UsageRow {
  int64_t bucket_ms = 0;
  std::optional<std::string> key;  // nullopt: no value ("" and NULL)
  int64_t requests = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t reasoning_tokens = 0;
  int64_t metric(UsageMetric m) const;
};

// Runs the query on the file read-only. Throws std::runtime_error (naming the file) on failure, e.g. no
// such file or not a usage log.
std::vector<UsageRow> run_usage_query(const std::string& db_path, const UsageQuery& q);

std::string format_usage_table(const UsageQuery& q, const std::vector<UsageRow>& rows);
std::string format_usage_json(const UsageQuery& q, const std::vector<UsageRow>& rows);
// "2026-01-31T10:00:00Z"
std::string iso_utc(int64_t unix_ms);

}  // namespace spillway::telemetry
