#include "limits/policy_support.h"

#include <variant>

#include "api/request_body.h"

namespace spillway::limits {

bool ensure_fields(pipeline::RequestContext& ctx) {
  if (ctx.limits.fields_inspected || !ctx.pool.empty()) return true;
  if (!ctx.request) return false;
  auto inspected = api::inspect_body(ctx.request->body, ctx.route);
  auto* fields = std::get_if<api::RequestFields>(&inspected);
  if (!fields) return false;
  ctx.fields = std::move(*fields);
  ctx.pool = ctx.route.model_in_body ? ctx.fields.model : ctx.route.deployment;
  ctx.limits.fields_inspected = true;
  return true;
}

CounterSubject counter_subject(const pipeline::RequestContext& ctx) {
  return CounterSubject{.subscription = ctx.subscription,
                        .user_hash = ctx.user_hash,
                        .api = ctx.route.api ? std::string_view(ctx.route.api->name) : std::string_view(),
                        .deployment = ctx.pool};
}

bool is_limited_operation(const pipeline::RequestContext& ctx) {
  return ctx.route.op != api::Operation::kModels;
}

}  // namespace spillway::limits
