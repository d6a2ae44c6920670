#include "limits/policy_support.h"

namespace spillway::limits {

bool ensure_fields(pipeline::RequestContext& ctx) { return ctx.body_valid; }

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
