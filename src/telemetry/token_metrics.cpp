#include "telemetry/token_metrics.h"

#include <algorithm>

namespace spillway::telemetry {
namespace {

using Kind = config::MetricDimension::Kind;

std::string_view or_none(std::string_view v) { return v.empty() ? kNone : v; }

// Per-thread scratch for label values, so recording does not allocate once warm.
std::vector<std::string_view>& scratch() {
  thread_local std::vector<std::string_view> values;
  values.clear();
  return values;
}

}  // namespace

Dimensions::Dimensions(std::vector<config::MetricDimension> dimensions) : dims_(std::move(dimensions)) {}

bool Dimensions::has_tool() const {
  return std::any_of(dims_.begin(), dims_.end(), [](const auto& d) { return d.kind == Kind::kTool; });
}

std::vector<std::string> Dimensions::labels(bool with_tool) const {
  std::vector<std::string> out;
  for (const auto& d : dims_) {
    if (d.kind != Kind::kTool || with_tool) out.push_back(d.label);
  }
  return out;
}

void Dimensions::values(const RequestFacts& f, std::string_view tool, bool with_tool,
                        std::vector<std::string_view>& out) const {
  for (const auto& d : dims_) {
    std::string_view v;
    switch (d.kind) {
      case Kind::kApi:
        v = f.api;
        break;
      case Kind::kOperation:
        v = f.operation;
        break;
      case Kind::kDeployment:
        v = f.deployment;
        break;
      case Kind::kModel:
        v = f.model;
        break;
      case Kind::kBackend:
        v = f.backend;
        break;
      case Kind::kSubscription:
        v = f.subscription;
        break;
      case Kind::kProduct:
        v = f.product;
        break;
      case Kind::kUserHash:
        v = f.user_hash;
        break;
      case Kind::kTool:
        if (!with_tool) continue;
        v = tool;
        break;
      case Kind::kTag:
        if (f.tags != nullptr) {
          if (auto it = f.tags->find(d.name); it != f.tags->end()) v = it->second;
        }
        break;
      case Kind::kHeader:
        if (f.headers != nullptr) v = http::find_header(*f.headers, d.name);
        break;
    }
    out.push_back(or_none(v));
  }
}

TokenMetrics::TokenMetrics(MetricsRegistry& registry, const config::TokenMetricsSettings& settings)
    : dims_(settings.dimensions) {
  tokens_ = registry.counter(
      FamilyOptions{.name = "spillway_tokens_total",
                    .help = "Tokens used by requests, by kind (prompt, completion, total, cached) and the "
                            "configured dimensions (policies.token_metrics.dimensions).",
                    .labels = dims_.labels(true),
                    .fixed_labels = 0,
                    .max_series = settings.max_series},
      "kind", {"prompt", "completion", "total", "cached"});
}

void TokenMetrics::record(const RequestFacts& facts) const {
  if (!facts.usage) return;
  const api::Usage& u = *facts.usage;
  auto nonneg = [](int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(v, 0)); };
  const uint64_t amounts[4] = {nonneg(u.prompt_tokens), nonneg(u.completion_tokens), nonneg(u.total_tokens),
                               nonneg(u.cached_tokens)};
  std::vector<std::string_view>& values = scratch();
  if (!dims_.has_tool() || facts.tools.empty()) {
    dims_.values(facts, kNone, true, values);
    tokens_->add(values, amounts);
    return;
  }
  for (const std::string& tool : facts.tools) {
    values.clear();
    dims_.values(facts, tool, true, values);
    tokens_->add(values, amounts);
  }
}

RequestMetrics::RequestMetrics(MetricsRegistry& registry, const config::TokenMetricsSettings& settings)
    : dims_(settings.dimensions) {
  std::vector<std::string> request_labels = {"status"};
  for (auto& label : dims_.labels(false)) request_labels.push_back(std::move(label));
  requests_ = registry.counter(FamilyOptions{.name = "spillway_requests_total",
                                             .help = "Requests that matched an API route, by response status "
                                                     "and the configured dimensions except tool.",
                                             .labels = std::move(request_labels),
                                             .fixed_labels = 1,
                                             .max_series = settings.max_series});
  duration_ =
      registry.histogram(FamilyOptions{.name = "spillway_request_duration_seconds",
                                       .help = "Time from receiving a request to the end of its response.",
                                       .labels = {"api", "operation"},
                                       .max_series = settings.max_series},
                         latency_buckets());
  overhead_ = registry.histogram(
      FamilyOptions{.name = "spillway_gateway_overhead_seconds",
                    .help = "Time a request spent in the gateway itself: its duration minus the time spent "
                            "waiting on backends.",
                    .labels = {"api", "operation"},
                    .max_series = settings.max_series},
      latency_buckets());
  ttft_ = registry.histogram(
      FamilyOptions{.name = "spillway_upstream_ttft_seconds",
                    .help = "Time from receiving a request to the first token from the backend (streams: the "
                            "first event; otherwise the response head).",
                    .labels = {"backend"},
                    .max_series = settings.max_series},
      latency_buckets());
  limit_rejections_ = registry.counter(
      FamilyOptions{.name = "spillway_limit_rejections_total",
                    .help = "Requests refused by a limit (request_limit, token_limit, token_quota).",
                    .labels = {"limit"},
                    .max_series = settings.max_series});
}

void RequestMetrics::record(const RequestFacts& facts) const {
  std::vector<std::string_view>& values = scratch();
  const std::string status = std::to_string(facts.status);
  values.push_back(status);
  dims_.values(facts, kNone, false, values);
  requests_->inc(values);

  const std::string_view route[2] = {or_none(facts.api), or_none(facts.operation)};
  duration_->observe(route, facts.duration_seconds);
  overhead_->observe(route, facts.overhead_seconds);
  if (facts.ttft_seconds) {
    const std::string_view backend[1] = {or_none(facts.backend)};
    ttft_->observe(backend, *facts.ttft_seconds);
  }
  if (!facts.limit_rejection.empty()) {
    const std::string_view limit[1] = {facts.limit_rejection};
    limit_rejections_->inc(limit);
  }
}

}  // namespace spillway::telemetry
