#include "telemetry/token_metrics_policy.h"

#include <algorithm>
#include <chrono>

#include "api/route.h"
#include "telemetry/identity_policy.h"

namespace spillway::telemetry {
namespace {

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(std::max(d, std::chrono::steady_clock::duration::zero())).count();
}

}  // namespace

RequestFacts facts_from(const pipeline::RequestContext& ctx) {
  RequestFacts f;
  if (ctx.route.api != nullptr) f.api = ctx.route.api->name;
  f.operation = api::operation_name(ctx.route.op);
  f.deployment = ctx.deployment;
  f.model = !ctx.model.empty()          ? std::string_view(ctx.model)
            : !ctx.fields.model.empty() ? std::string_view(ctx.fields.model)
                                        : std::string_view(ctx.pool);
  f.backend = ctx.backend;
  if (ctx.subscription != nullptr) {
    f.subscription = ctx.subscription->name;
    f.product = ctx.subscription->product;
    f.tags = &ctx.subscription->tags;
  }
  f.user_hash = ctx.user_hash;
  if (ctx.request != nullptr) f.headers = &ctx.request->headers;
  f.tools = ctx.tools.empty() ? std::span<const std::string>(ctx.fields.tools)
                              : std::span<const std::string>(ctx.tools);
  f.status = ctx.status;
  f.limit_rejection = ctx.limit_rejection;
  if (ctx.usage_present) f.usage = ctx.usage;
  const auto duration = ctx.finished - ctx.started;
  f.duration_seconds = seconds(duration);
  f.overhead_seconds = seconds(duration - ctx.upstream_time);
  if (ctx.first_byte) f.ttft_seconds = seconds(*ctx.first_byte - ctx.started);
  return f;
}

void RequestMetricsPolicy::on_complete(pipeline::RequestContext& ctx) { metrics_.record(facts_from(ctx)); }

void TokenMetricsPolicy::on_complete(pipeline::RequestContext& ctx) {
  // This on_complete runs first of all: publish the tool names for the ones after it (usage log).
  publish_tools(ctx);
  metrics_.record(facts_from(ctx));
}

}  // namespace spillway::telemetry
