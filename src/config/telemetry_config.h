#pragma once
// Config of observability: user identity hashing, token metrics, usage log, header enrichment, OTLP
// export. Loaded by config/telemetry_loader.cpp.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace spillway::config {

struct IdentitySettings {};   // filled by the observability feature (#5)
// `usage_log`: one record per LLM call in an embedded SQLite file, written by a dedicated thread.
// Absent section = no usage log (the access log on stdout remains). docs/usage-log.md has the schema.
struct UsageLogSettings {
  bool enabled = false;     // the section is present
  std::string sqlite_path;  // `sqlite`; relative to the working directory
  bool log_prompts = false;
  std::size_t max_prompt_bytes = 4096;  // cap of the stored prompt and of the stored completion each
  std::chrono::milliseconds retention{30LL * 24 * 3600 * 1000};  // rows older than this are pruned
  std::chrono::milliseconds flush_interval{200};                 // longest wait before a commit
  int batch_size = 256;                                          // rows per transaction at most
  std::size_t queue_capacity = 65536;                            // records waiting; beyond: dropped
};
struct PoliciesSettings {};   // filled by the observability feature (#5)
// `telemetry`: optional OTLP/HTTP (JSON) export of usage records (logs) and token sums (metrics).
struct TelemetrySettings {
  bool otlp_enabled = false;  // `otlp` is set
  std::string otlp_url;       // as configured, e.g. http://127.0.0.1:4318
  bool otlp_tls = false;
  std::string otlp_host;
  uint16_t otlp_port = 0;
  std::string otlp_base_path;                     // "" or "/base"; /v1/logs and /v1/metrics are appended
  std::chrono::milliseconds otlp_interval{5000};  // batch period of logs and metrics
  // Extra request headers (e.g. a collector's API key): `otlp_headers` values and `otlp_headers_env`
  // values resolved from the environment. Values are secrets: never log them.
  std::vector<std::pair<std::string, std::string>> otlp_headers;
  std::size_t otlp_queue_capacity = 8192;  // records waiting for export; beyond: dropped (counted)
  int otlp_max_attempts = 5;               // per batch, then the batch is dropped (counted)
  std::chrono::milliseconds otlp_timeout{5000};  // connect / response deadline of one POST
};

}  // namespace spillway::config
