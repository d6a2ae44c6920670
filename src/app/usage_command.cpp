#include "app/usage_command.h"

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <iostream>
#include <optional>

#include "telemetry/usage_query.h"

namespace spillway::app {
namespace {

constexpr const char* kUsageHelp = R"(usage: spillway usage top --by DIM [options]
       spillway usage series --by DIM --every SPAN [options]

  --by DIM         api, operation, pool, deployment, model, backend, subscription, product, user_hash,
                   status, error, usage_source, cache, tool, tag:NAME
  --since SPAN     records of the last SPAN (default 24h); SPAN is N followed by s, m, h, d or w
  --every SPAN     series: bucket width (default 1h)
  --metric M       total_tokens (default), prompt_tokens, completion_tokens, cached_tokens,
                   reasoning_tokens, requests
  --limit N        top: rows (default 20); series: only the N biggest keys (default all)
  --db FILE        the usage log (default ./spillway-usage.db)
  --config FILE    read the usage log's file from a gateway config (usage_log.sqlite)
  --json           JSON instead of a table
)";

int usage_error(const std::string& message) {
  std::cerr << "spillway usage: " << message << "\n" << kUsageHelp;
  return 2;
}

// usage_log.sqlite of a config file, without resolving anything else (no secrets needed).
std::optional<std::string> db_from_config(const std::string& file, std::string& error) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const std::exception& e) {
    error = "cannot read " + file + ": " + e.what();
    return std::nullopt;
  }
  const YAML::Node log = root.IsMap() ? root["usage_log"] : YAML::Node();
  if (!log.IsDefined()) {
    error = file + " has no usage_log section";
    return std::nullopt;
  }
  if (log.IsMap() && log["postgres"].IsDefined()) {
    error = "postgres is not available yet";
    return std::nullopt;
  }
  if (log.IsMap() && log["sqlite"].IsScalar()) return log["sqlite"].Scalar();
  return std::string("./spillway-usage.db");
}

}  // namespace

int run_usage(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsageHelp;
    return args.empty() ? 2 : 0;
  }
  telemetry::UsageQuery q;
  if (args[0] == "series") {
    q.series = true;
    q.limit = 0;
  } else if (args[0] != "top") {
    return usage_error("unknown subcommand '" + args[0] + "'");
  }
  std::string by;
  std::string db;
  std::string config_file;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      json = true;
      continue;
    }
    if (i + 1 >= args.size())
      return usage_error(a.starts_with("--") ? a + " needs a value" : "unknown argument '" + a + "'");
    const std::string& v = args[++i];
    if (a == "--by") {
      by = v;
    } else if (a == "--since") {
      auto span = telemetry::parse_span(v);
      if (!span) return usage_error("--since: expected a span such as 24h, 7d or 30m");
      q.since_text = v;
      q.since_ms = span->count();  // made absolute below
    } else if (a == "--every") {
      auto span = telemetry::parse_span(v);
      if (!span) return usage_error("--every: expected a span such as 1h, 15m or 1d");
      q.every_ms = span->count();
      q.every_text = v;
    } else if (a == "--metric") {
      auto m = telemetry::parse_metric(v);
      if (!m) return usage_error("--metric: unknown metric '" + v + "'");
      q.metric = *m;
    } else if (a == "--limit") {
      int n = 0;
      try {
        std::size_t used = 0;
        n = std::stoi(v, &used);
        if (used != v.size()) n = 0;
      } catch (const std::exception&) {
        n = 0;
      }
      if (n <= 0 || n > 100000) return usage_error("--limit: expected a whole number between 1 and 100000");
      q.limit = n;
    } else if (a == "--db") {
      db = v;
    } else if (a == "--config" || a == "-c") {
      config_file = v;
    } else {
      return usage_error("unknown argument '" + a + "'");
    }
  }
  if (by.empty()) return usage_error("--by DIM is required");
  std::string error;
  auto dim = telemetry::parse_dimension(by, error);
  if (!dim) return usage_error("--by: " + error);
  q.dim = *dim;
  if (!db.empty() && !config_file.empty()) return usage_error("give --db or --config, not both");
  if (!config_file.empty()) {
    auto from_config = db_from_config(config_file, error);
    if (!from_config) {
      std::cerr << "spillway usage: " << error << "\n";
      return 1;
    }
    db = *from_config;
  }
  if (db.empty()) db = "./spillway-usage.db";

  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const int64_t span_ms = q.since_ms > 0 ? q.since_ms : 24 * 3'600'000LL;
  q.since_ms = now_ms - span_ms;
  if (q.series) q.since_ms -= q.since_ms % q.every_ms;  // whole buckets
  try {
    const auto rows = telemetry::run_usage_query(db, q);
    std::cout << (json ? telemetry::format_usage_json(q, rows) : telemetry::format_usage_table(q, rows));
  } catch (const std::exception& e) {
    std::cerr << "spillway usage: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace spillway::app
