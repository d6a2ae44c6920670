#pragma once
// Config of observability: user identity hashing, token metrics, usage log, header enrichment, OTLP
// export. Loaded by config/telemetry_loader.cpp.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spillway::config {

// `identity`: where the user id comes from and the key it is hashed with. Only the keyed hash
// (telemetry/identity.h) is ever used; the raw id never leaves the process.
struct UserIdSource {
  enum class Kind { kHeader, kJwtClaim };
  Kind kind = Kind::kHeader;
  std::string name;  // header name (lowercase) or JWT claim
};
struct IdentitySettings {
  std::vector<UserIdSource> user_id;  // the first source present wins
  std::string user_hash_key_env = "SPILLWAY_USER_HASH_KEY";
  std::string user_hash_key;  // resolved at load time; "" when the variable is unset. Secret: never log.
};
// `usage_log`: one record per LLM call in an embedded SQLite file, written by a dedicated thread.
// Absent section = no usage log (the access log on stdout remains). docs/usage-log.md has the schema.
struct UsageLogSettings {
  bool enabled = false;     // the section is present
  std::string sqlite_path;  // `sqlite`; relative to the working directory
  bool log_prompts = false;
  std::size_t max_prompt_bytes = 4096;  // cap of the stored prompt and of the stored completion each
  std::chrono::milliseconds retention{30LL * 24 * 3600 * 1000};  // rows older than this are pruned
  std::chrono::milliseconds flush_interval{200};                 // longest wait before a commit
  int batch_size = 1024;                                         // rows per transaction at most
  std::size_t queue_capacity = 65536;                            // records waiting; beyond: dropped
  // Inserts on a second thread at SCHED_IDLE while the machine has idle CPU (docs/usage-log.md); false:
  // one writer thread at normal priority does everything.
  bool idle_writer = true;
};
// One dimension of the token metrics (`policies.token_metrics.dimensions`).
struct MetricDimension {
  // clang-format off
  enum class Kind { kApi, kOperation, kDeployment, kModel, kBackend, kSubscription, kProduct, kUserHash,
                    kTool, kTag, kHeader };
  // clang-format on
  Kind kind = Kind::kApi;
  std::string name;   // tag name (kTag) or lowercase header name (kHeader); else ""
  std::string label;  // Prometheus label name: "api", ..., "tag_team", "header_x_app"
};
// `policies.headers`: header enrichment of requests to backends.
struct HeadersSettings {
  std::vector<std::pair<std::string, std::string>> set;      // lowercase name -> value, config order
  std::vector<std::string> remove;                           // lowercase names
  std::vector<std::pair<std::string, std::string>> baggage;  // W3C baggage key -> value (not encoded)
  bool traceparent = true;                                   // propagate / start a W3C trace context
};
// api, operation, deployment, backend, subscription.
inline std::vector<MetricDimension> default_metric_dimensions() {
  using Kind = MetricDimension::Kind;
  return {{Kind::kApi, "", "api"},
          {Kind::kOperation, "", "operation"},
          {Kind::kDeployment, "", "deployment"},
          {Kind::kBackend, "", "backend"},
          {Kind::kSubscription, "", "subscription"}};
}
// `policies.token_metrics`.
struct TokenMetricsSettings {
  std::vector<MetricDimension> dimensions = default_metric_dimensions();
  std::size_t max_series = 1000;  // distinct dimension label sets per metric
};
// `policies`.
struct PoliciesSettings {
  std::optional<HeadersSettings> headers;  // absent = no header enrichment
  TokenMetricsSettings token_metrics;
  bool semantic_cache = false;  // `enabled`; true is rejected until the cache exists
  bool content_safety = false;  // `enabled`; true is rejected until content safety exists
};
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
  std::size_t otlp_queue_capacity = 8192;        // records waiting for export; beyond: dropped (counted)
  int otlp_max_attempts = 5;                     // per batch, then the batch is dropped (counted)
  std::chrono::milliseconds otlp_timeout{5000};  // connect / response deadline of one POST
};

}  // namespace spillway::config
