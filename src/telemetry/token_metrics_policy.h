#pragma once
// The policy adapters of telemetry/token_metrics.h.
//
// "request_metrics" goes first in the chain, so its on_complete runs last and for every routed request,
// rejected ones included (401, 429, ...): requests by status, durations, limit rejections.
// "token_metrics" goes last, so its on_complete runs first, for the requests that passed every inbound
// policy: tokens by the configured dimensions.

#include <memory>

#include "pipeline/policy.h"
#include "telemetry/token_metrics.h"

namespace spillway::telemetry {

// The facts of a finished request. Views into ctx: REQUIRES ctx outlives the result.
RequestFacts facts_from(const pipeline::RequestContext& ctx);

class RequestMetricsPolicy final : public pipeline::Policy {
 public:
  RequestMetricsPolicy(MetricsRegistry& registry, const config::TokenMetricsSettings& settings)
      : metrics_(registry, settings) {}

  // pipeline::Policy
  std::string_view name() const override { return "request_metrics"; }
  void on_complete(pipeline::RequestContext& ctx) override;

 private:
  RequestMetrics metrics_;
};

class TokenMetricsPolicy final : public pipeline::Policy {
 public:
  TokenMetricsPolicy(MetricsRegistry& registry, const config::TokenMetricsSettings& settings)
      : metrics_(registry, settings) {}

  // pipeline::Policy
  std::string_view name() const override { return "token_metrics"; }
  void on_complete(pipeline::RequestContext& ctx) override;

 private:
  TokenMetrics metrics_;
};

}  // namespace spillway::telemetry
