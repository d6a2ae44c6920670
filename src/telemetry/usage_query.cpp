#include "telemetry/usage_query.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <stdexcept>

#include "util/json.h"

namespace spillway::telemetry {
namespace {

constexpr std::array<std::string_view, 13> kColumns = {
    "api",     "operation", "pool",   "deployment", "model",        "backend", "subscription",
    "product", "user_hash", "status", "error",      "usage_source", "cache"};

bool valid_tag_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// FROM clause with the usage table as `u` (and the tools as `t`).
std::string from_clause(const UsageDimension& d, std::string_view u, std::string_view t) {
  std::string out = "usage AS " + std::string(u);
  if (d.kind == UsageDimension::Kind::kTool) {
    out += ", json_each(" + std::string(u) + ".tools) AS " + std::string(t);
  }
  return out;
}

// The grouping key as TEXT; '' when the record has no value. ?4 is the tag's JSON path.
std::string key_expr(const UsageDimension& d, std::string_view u, std::string_view t) {
  switch (d.kind) {
    case UsageDimension::Kind::kTool:
      return "IFNULL(CAST(" + std::string(t) + ".value AS TEXT), '')";
    case UsageDimension::Kind::kTag:
      return "IFNULL(CAST(json_extract(" + std::string(u) + ".tags, ?4) AS TEXT), '')";
    case UsageDimension::Kind::kColumn:
      break;
  }
  return "IFNULL(CAST(" + std::string(u) + "." + d.name + " AS TEXT), '')";
}

std::string metric_aggregate(UsageMetric m, std::string_view u) {
  if (m == UsageMetric::kRequests) return "COUNT(*)";
  return "SUM(" + std::string(u) + "." + std::string(metric_name(m)) + ")";
}

void append_int(std::string& out, std::string_view name, int64_t v) {
  out += ",\"";
  out += name;
  out += "\":";
  out += std::to_string(v);
}

std::string key_text(const std::optional<std::string>& key) { return key ? *key : "(none)"; }

std::string pad_left(const std::string& s, std::size_t w) {
  return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}
std::string pad_right(const std::string& s, std::size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

// Renders rows of cells; columns after the first `left` ones are right-aligned (numbers).
std::string render(const std::vector<std::vector<std::string>>& cells, std::size_t left) {
  std::vector<std::size_t> width;
  for (const auto& row : cells) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) line += "  ";
      line += i < left ? pad_right(row[i], width[i]) : pad_left(row[i], width[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<UsageDimension> parse_dimension(std::string_view text, std::string& error) {
  UsageDimension d;
  if (text == "tool" || text == "tools") {
    d.kind = UsageDimension::Kind::kTool;
    d.name = "tool";
    return d;
  }
  if (text.starts_with("tag:")) {
    const std::string_view name = text.substr(4);
    if (!valid_tag_name(name)) {
      error = "tag names are letters, digits, '_', '-' and '.'";
      return std::nullopt;
    }
    d.kind = UsageDimension::Kind::kTag;
    d.name = std::string(name);
    return d;
  }
  if (text == "user") text = "user_hash";
  for (std::string_view c : kColumns) {
    if (text == c) {
      d.name = std::string(c);
      return d;
    }
  }
  error = "unknown dimension '" + std::string(text) +
          "' (api, operation, pool, deployment, model, backend, subscription, product, user_hash, status, "
          "error, usage_source, cache, tool, tag:NAME)";
  return std::nullopt;
}

std::optional<UsageMetric> parse_metric(std::string_view text) {
  for (UsageMetric m : {UsageMetric::kTotalTokens, UsageMetric::kPromptTokens, UsageMetric::kCompletionTokens,
                        UsageMetric::kCachedTokens, UsageMetric::kReasoningTokens, UsageMetric::kRequests}) {
    if (text == metric_name(m)) return m;
  }
  return std::nullopt;
}

std::string_view metric_name(UsageMetric m) {
  switch (m) {
    case UsageMetric::kTotalTokens:
      return "total_tokens";
    case UsageMetric::kPromptTokens:
      return "prompt_tokens";
    case UsageMetric::kCompletionTokens:
      return "completion_tokens";
    case UsageMetric::kCachedTokens:
      return "cached_tokens";
    case UsageMetric::kReasoningTokens:
      return "reasoning_tokens";
    case UsageMetric::kRequests:
      return "requests";
  }
  return "total_tokens";
}

std::optional<std::chrono::milliseconds> parse_span(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || n <= 0 || n > 1'000'000) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  int64_t ms = 0;
  if (unit == "s") {
    ms = 1000;
  } else if (unit == "m") {
    ms = 60'000;
  } else if (unit == "h") {
    ms = 3'600'000;
  } else if (unit == "d") {
    ms = 86'400'000;
  } else if (unit == "w") {
    ms = 7 * 86'400'000LL;
  } else {
    return std::nullopt;
  }
  return std::chrono::milliseconds(n * ms);
}

Sql build_usage_sql(const UsageQuery& q) {
  const std::string key = key_expr(q.dim, "u", "t");
  const std::string metric_col(q.metric == UsageMetric::kRequests ? "requests" : metric_name(q.metric));
  std::string sql = "SELECT ";
  sql += q.series ? "(u.ts / ?3) * ?3" : "0";
  sql += " AS bucket, " + key +
         " AS k, COUNT(*) AS requests, SUM(u.prompt_tokens) AS prompt_tokens, "
         "SUM(u.completion_tokens) AS completion_tokens, SUM(u.total_tokens) AS total_tokens, "
         "SUM(u.cached_tokens) AS cached_tokens, SUM(u.reasoning_tokens) AS reasoning_tokens FROM " +
         from_clause(q.dim, "u", "t") + " WHERE u.ts >= ?1";
  if (q.series) {
    if (q.limit > 0) {
      sql += " AND " + key + " IN (SELECT " + key_expr(q.dim, "u2", "t2") + " AS k2 FROM " +
             from_clause(q.dim, "u2", "t2") + " WHERE u2.ts >= ?1 GROUP BY k2 ORDER BY " +
             metric_aggregate(q.metric, "u2") + " DESC, k2 LIMIT ?2)";
    }
    sql += " GROUP BY bucket, k ORDER BY bucket, " + metric_col + " DESC, k";
  } else {
    sql += " GROUP BY k ORDER BY " + metric_col + " DESC, k LIMIT ?2";
  }
  Sql out;
  out.text = std::move(sql);
  out.binds.emplace_back(q.since_ms);
  out.binds.emplace_back(static_cast<int64_t>(q.limit > 0 ? q.limit : -1));
  out.binds.emplace_back(std::max<int64_t>(q.every_ms, 1));
  out.binds.emplace_back(q.dim.kind == UsageDimension::Kind::kTag ? "$.\"" + q.dim.name + "\""
                                                                  : std::string());
  return out;
}

int64_t UsageRow::metric(UsageMetric m) const {
  switch (m) {
    case UsageMetric::kTotalTokens:
      return total_tokens;
    case UsageMetric::kPromptTokens:
      return prompt_tokens;
    case UsageMetric::kCompletionTokens:
      return completion_tokens;
    case UsageMetric::kCachedTokens:
      return cached_tokens;
    case UsageMetric::kReasoningTokens:
      return reasoning_tokens;
    case UsageMetric::kRequests:
      return requests;
  }
  return 0;
}

std::vector<UsageRow> run_usage_query(const std::string& db_path, const UsageQuery& q) {
  sqlite3* db = nullptr;
  // Read-write without create: a mistyped path fails instead of creating an empty file; query_only keeps
  // this connection from changing anything. WAL lets it read while the gateway writes.
  int rc = sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  if (rc != SQLITE_OK) {
    std::string message =
        "cannot open usage log " + db_path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    throw std::runtime_error(message);
  }
  struct Closer {
    sqlite3* db;
    sqlite3_stmt* stmt = nullptr;
    ~Closer() {
      sqlite3_finalize(stmt);
      sqlite3_close(db);
    }
  } closer{db};
  sqlite3_busy_timeout(db, 5000);
  sqlite3_exec(db, "PRAGMA query_only=1", nullptr, nullptr, nullptr);
  const Sql sql = build_usage_sql(q);
  if (sqlite3_prepare_v2(db, sql.text.c_str(), -1, &closer.stmt, nullptr) != SQLITE_OK) {
    const std::string why = sqlite3_errmsg(db);
    if (why.find("no such table") != std::string::npos) {
      throw std::runtime_error(db_path + " is not a spillway usage log");
    }
    throw std::runtime_error("usage log " + db_path + ": " + why);
  }
  const int params = sqlite3_bind_parameter_count(closer.stmt);
  for (int i = 0; i < params && i < static_cast<int>(sql.binds.size()); ++i) {
    if (const auto* v = std::get_if<int64_t>(&sql.binds[i])) {
      sqlite3_bind_int64(closer.stmt, i + 1, *v);
    } else {
      const auto& s = std::get<std::string>(sql.binds[i]);
      sqlite3_bind_text(closer.stmt, i + 1, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
  }
  std::vector<UsageRow> rows;
  while ((rc = sqlite3_step(closer.stmt)) == SQLITE_ROW) {
    UsageRow r;
    r.bucket_ms = sqlite3_column_int64(closer.stmt, 0);
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(closer.stmt, 1));
    if (text && *text) r.key = std::string(text);
    r.requests = sqlite3_column_int64(closer.stmt, 2);
    r.prompt_tokens = sqlite3_column_int64(closer.stmt, 3);
    r.completion_tokens = sqlite3_column_int64(closer.stmt, 4);
    r.total_tokens = sqlite3_column_int64(closer.stmt, 5);
    r.cached_tokens = sqlite3_column_int64(closer.stmt, 6);
    r.reasoning_tokens = sqlite3_column_int64(closer.stmt, 7);
    rows.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) throw std::runtime_error("usage log " + db_path + ": " + sqlite3_errmsg(db));
  return rows;
}

std::string iso_utc(int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_usage_table(const UsageQuery& q, const std::vector<UsageRow>& rows) {
  std::string out;
  const std::string metric(metric_name(q.metric));
  if (q.series) {
    out += metric + " by " + q.dim.label() + " every " + q.every_text + " since " + iso_utc(q.since_ms) +
           " (" + q.since_text + ")\n";
  } else {
    out += "top " + std::to_string(q.limit) + " " + q.dim.label() + " by " + metric + " since " +
           iso_utc(q.since_ms) + " (" + q.since_text + ")\n";
  }
  if (rows.empty()) {
    out += "no usage records in this period\n";
    return out;
  }
  std::vector<std::vector<std::string>> cells;
  if (q.series) {
    cells.push_back({"TIME (UTC)", upper(q.dim.label()), upper(metric)});
    if (q.metric != UsageMetric::kRequests) cells.back().push_back("REQUESTS");
    for (const UsageRow& r : rows) {
      cells.push_back({iso_utc(r.bucket_ms), key_text(r.key), std::to_string(r.metric(q.metric))});
      if (q.metric != UsageMetric::kRequests) cells.back().push_back(std::to_string(r.requests));
    }
    return out + render(cells, 2);
  }
  cells.push_back({"#", upper(q.dim.label()), "REQUESTS", "PROMPT_TOKENS", "COMPLETION_TOKENS",
                   "TOTAL_TOKENS", "CACHED_TOKENS"});
  std::size_t rank = 0;
  for (const UsageRow& r : rows) {
    cells.push_back({std::to_string(++rank), key_text(r.key), std::to_string(r.requests),
                     std::to_string(r.prompt_tokens), std::to_string(r.completion_tokens),
                     std::to_string(r.total_tokens), std::to_string(r.cached_tokens)});
  }
  // The rank is a number but reads better left-aligned next to the key.
  return out + render(cells, 2);
}

std::string format_usage_json(const UsageQuery& q, const std::vector<UsageRow>& rows) {
  std::string out = "{\"query\":";
  util::append_json_string(out, q.series ? "series" : "top");
  out += ",\"by\":";
  util::append_json_string(out, q.dim.label());
  out += ",\"metric\":";
  util::append_json_string(out, metric_name(q.metric));
  out += ",\"since\":";
  util::append_json_string(out, iso_utc(q.since_ms));
  append_int(out, "since_ms", q.since_ms);
  if (q.series) {
    out += ",\"every\":";
    util::append_json_string(out, q.every_text);
    append_int(out, "every_ms", q.every_ms);
  }
  if (!q.series || q.limit > 0) append_int(out, "limit", q.limit);
  out += ",\"rows\":[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const UsageRow& r = rows[i];
    if (i) out += ',';
    out += '{';
    if (q.series) {
      out += "\"bucket\":";
      util::append_json_string(out, iso_utc(r.bucket_ms));
      append_int(out, "bucket_ms", r.bucket_ms);
      out += ',';
    }
    out += "\"key\":";
    if (r.key) {
      util::append_json_string(out, *r.key);
    } else {
      out += "null";
    }
    append_int(out, "value", r.metric(q.metric));
    append_int(out, "requests", r.requests);
    append_int(out, "prompt_tokens", r.prompt_tokens);
    append_int(out, "completion_tokens", r.completion_tokens);
    append_int(out, "total_tokens", r.total_tokens);
    append_int(out, "cached_tokens", r.cached_tokens);
    append_int(out, "reasoning_tokens", r.reasoning_tokens);
    out += '}';
  }
  out += "]}\n";
  return out;
}

}  // namespace spillway::telemetry
