#pragma once
// OTLP/HTTP JSON encoding (opentelemetry-proto, JSON mapping: 64-bit integers and nanosecond times as
// decimal strings, enums as numbers) of usage records as log records, and of cumulative token and
// request sums as metrics. No I/O.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "telemetry/usage_record.h"

namespace spillway::telemetry {

struct OtlpResource {
  std::string service_name = "spillway";
  std::string service_version;
  std::string host_name;
};

// An ExportLogsServiceRequest for POST /v1/logs: one log record per usage record, its fields as
// attributes (tags as `tag.NAME`, tools as a string array), event.name "spillway.usage".
std::string encode_logs(const std::vector<UsageRecord>& records, const OtlpResource& resource,
                        int64_t observed_unix_ns);

// Cumulative sums since `start`, fed from usage records; encoded as an ExportMetricsServiceRequest for
// POST /v1/metrics:
//   spillway.tokens   {kind=prompt|completion|total|cached, api, operation, deployment, backend,
//   subscription} spillway.requests {status, api, operation, deployment, backend, subscription}
// At most `max_series` attribute sets per metric; the excess folds into one set whose values are "other".
// Single thread.
class TokenSums {
 public:
  explicit TokenSums(int64_t start_unix_ns, std::size_t max_series = 2000)
      : start_ns_(start_unix_ns), max_series_(max_series) {}
  void add(const UsageRecord& r);
  bool empty() const { return tokens_.empty() && requests_.empty(); }
  std::string encode(const OtlpResource& resource, int64_t now_unix_ns) const;

 private:
  struct Dims {
    std::string api, operation, deployment, backend, subscription;
    auto operator<=>(const Dims&) const = default;
  };
  struct Tokens {
    int64_t prompt = 0, completion = 0, total = 0, cached = 0;
  };
  int64_t start_ns_;
  std::size_t max_series_;
  std::map<Dims, Tokens> tokens_;
  std::map<std::pair<Dims, int>, int64_t> requests_;
};

}  // namespace spillway::telemetry
