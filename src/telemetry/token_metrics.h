#pragma once
// Per-request metrics with the platform's dimensions (policies.token_metrics):
//
//   spillway_tokens_total{kind, <dimensions>}       prompt | completion | total | cached tokens
//   spillway_requests_total{status, <dimensions but tool>}
//   spillway_request_duration_seconds{api, operation}   histogram, request received -> response done
//   spillway_gateway_overhead_seconds{api, operation}   histogram, duration minus time spent on backends
//   spillway_upstream_ttft_seconds{backend}             histogram, request received -> first token
//   spillway_limit_rejections_total{limit}
//
// Dimension values: an absent value (no subscription, no user id, no backend, ...) is "none". The `tool`
// dimension gives one series per tool name the request declares (each gets the request's full token
// counts), or "none"; so sums over `tool` count a request once per declared tool. Each family keeps at
// most max_series distinct dimension label sets (status and kind excluded); see telemetry/metrics.h for
// the fold into "other".

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/usage.h"
#include "config/telemetry_config.h"
#include "http/types.h"
#include "telemetry/metrics.h"

namespace spillway::telemetry {

inline constexpr std::string_view kNone = "none";

// What the metrics of one finished request are taken from. Views: REQUIRES they outlive the call.
struct RequestFacts {
  std::string_view api;
  std::string_view operation;
  std::string_view deployment;
  std::string_view model;
  std::string_view backend;
  std::string_view subscription;
  std::string_view product;
  std::string_view user_hash;
  const std::map<std::string, std::string>* tags = nullptr;  // the subscription's
  const http::HeaderList* headers = nullptr;                 // the client's request headers
  std::span<const std::string> tools;
  int status = 0;
  std::string_view limit_rejection;  // the limit that refused the request, "" if none
  std::optional<api::Usage> usage;   // when the backend reported it
  double duration_seconds = 0;
  double overhead_seconds = 0;
  std::optional<double> ttft_seconds;  // when a backend answered
};

// Resolves the configured dimensions of a request into label values.
class Dimensions {
 public:
  explicit Dimensions(std::vector<config::MetricDimension> dimensions);

  // Label names, in order; with_tool = false leaves the tool dimension out.
  std::vector<std::string> labels(bool with_tool) const;
  // Appends the values for `facts` (`tool` for the tool dimension) in label order.
  void values(const RequestFacts& facts, std::string_view tool, bool with_tool,
              std::vector<std::string_view>& out) const;
  bool has_tool() const;

 private:
  std::vector<config::MetricDimension> dims_;
};

// spillway_tokens_total. Thread-safe.
class TokenMetrics {
 public:
  TokenMetrics(MetricsRegistry& registry, const config::TokenMetricsSettings& settings);
  // Records the usage of a finished request; nothing when facts.usage is empty.
  void record(const RequestFacts& facts) const;

 private:
  Dimensions dims_;
  std::shared_ptr<CounterFamily> tokens_;
};

// spillway_requests_total, the latency histograms and spillway_limit_rejections_total. Thread-safe.
class RequestMetrics {
 public:
  RequestMetrics(MetricsRegistry& registry, const config::TokenMetricsSettings& settings);
  void record(const RequestFacts& facts) const;

 private:
  Dimensions dims_;
  std::shared_ptr<CounterFamily> requests_;
  std::shared_ptr<HistogramFamily> duration_;
  std::shared_ptr<HistogramFamily> overhead_;
  std::shared_ptr<HistogramFamily> ttft_;
  std::shared_ptr<CounterFamily> limit_rejections_;
};

}  // namespace spillway::telemetry
