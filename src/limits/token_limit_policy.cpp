#include "limits/token_limit_policy.h"

#include <algorithm>

#include "api/errors.h"
#include "api/route.h"
#include "limits/reservation.h"
#include "pipeline/reply.h"

namespace spillway::limits {
namespace {

// The gateway's error codes for an upstream exchange that failed on the way (a backend may have been
// generating tokens when it broke), as opposed to an error answer.
bool is_transport_failure(std::string_view error_code) {
  return error_code == "backend_timeout" || error_code == "bad_backend_response" ||
         error_code == "backend_unavailable";
}

int64_t seconds_since_epoch(SystemTime t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

TokenLimitPolicy::TokenLimitPolicy(const std::map<std::string, config::Subscription>& subscriptions,
                                   const std::map<std::string, config::Product>& products,
                                   std::shared_ptr<state::Store> store, const util::Clock& clock,
                                   std::shared_ptr<const PromptEstimator> estimator,
                                   std::shared_ptr<EstimateOffload> offload)
    : index_(subscriptions, products, &config::Subscription::token_limit, &config::Product::token_limit),
      store_(std::move(store)),
      clock_(clock),
      estimator_(std::move(estimator)),
      offload_(std::move(offload)) {}

bool TokenLimitPolicy::offloads(const pipeline::RequestContext& ctx) const {
  return offload_ && ctx.request && ctx.request->body.size() >= EstimateOffload::kMinBytes;
}

bool TokenLimitPolicy::needs_io(const pipeline::RequestContext& ctx) const {
  return store_->needs_io() || offloads(ctx);
}

const config::TokenLimitSettings* TokenLimitPolicy::limiting(pipeline::RequestContext& ctx) const {
  const config::TokenLimitSettings* settings = index_.find(ctx.subscription);
  if (!settings || !is_limited_operation(ctx) || !ensure_fields(ctx)) return nullptr;
  return settings;
}

int64_t TokenLimitPolicy::prompt_tokens(const pipeline::RequestContext& ctx,
                                        const config::TokenLimitSettings& settings) const {
  if (!settings.estimate_prompt_tokens || !ctx.request) return 0;
  const std::string_view model = ctx.fields.model.empty() ? std::string_view(ctx.pool) : ctx.fields.model;
  return estimator_->estimate(model, api::operation_name(ctx.route.op), ctx.request->body,
                              ctx.fields.document.get());
}

bool TokenLimitPolicy::prepare(pipeline::RequestContext& ctx, const config::TokenLimitSettings& settings,
                               int64_t prompt, Plan& plan) const {
  plan.settings = &settings;
  const api::Operation op = ctx.route.op;
  plan.requested =
      token_reservation(settings, prompt, ctx.fields.max_tokens, op != api::Operation::kEmbeddings);

  const SystemTime now = clock_.system_now();
  pipeline::LimitsState& l = ctx.limits;
  l.reserved_at = now;
  const CounterSubject subject = counter_subject(ctx);
  if (settings.quota) {
    plan.period = quota_period_bounds(settings.quota_period, now);
    l.quota_key = "quota:";
    l.quota_key += quota_period_name(settings.quota_period);
    l.quota_key += '@';
    l.quota_key += std::to_string(seconds_since_epoch(plan.period.start));
    l.quota_key += ':';
    append_counter_key(l.quota_key, settings.counter, subject);
    l.quota_limit = *settings.quota;
    l.quota_tokens = capped(plan.requested, l.quota_limit);
    l.quota_expires = plan.period.end;
    plan.charges[plan.count++] = state::Charge{.type = state::CounterType::kQuota,
                                               .key = l.quota_key,
                                               .amount = l.quota_tokens,
                                               .limit = l.quota_limit,
                                               .expires = l.quota_expires};
  }
  if (settings.tokens_per_minute) {
    l.window_key = "tpm:";
    append_counter_key(l.window_key, settings.counter, subject);
    l.window_limit = *settings.tokens_per_minute;
    l.window_tokens = capped(plan.requested, l.window_limit);
    plan.charges[plan.count++] = state::Charge{.type = state::CounterType::kWindow,
                                               .key = l.window_key,
                                               .amount = l.window_tokens,
                                               .limit = l.window_limit,
                                               .expires = {}};
  }
  return plan.count > 0;
}

std::optional<pipeline::Reply> TokenLimitPolicy::finish(pipeline::RequestContext& ctx, const Plan& plan,
                                                        const state::Reservation& reservation) const {
  pipeline::LimitsState& l = ctx.limits;
  if (reservation.granted) {
    for (std::size_t i = 0; i < plan.count; ++i) {
      const int64_t remaining = reservation.results[i].remaining;
      (plan.charges[i].type == state::CounterType::kQuota ? l.quota_remaining : l.tokens_remaining) =
          remaining;
    }
    l.tokens_held = true;
    return std::nullopt;
  }
  // Nothing is held: the store took back what it had added before the refusal.
  const std::size_t refused = reservation.refused;
  for (std::size_t i = 0; i < refused; ++i) {
    // Granted then taken back: what was free before.
    const int64_t before =
        std::min(plan.charges[i].limit, reservation.results[i].remaining + plan.charges[i].amount);
    (plan.charges[i].type == state::CounterType::kQuota ? l.quota_remaining : l.tokens_remaining) = before;
  }
  const state::Charge& charge = plan.charges[refused];
  const state::ChargeResult& result = reservation.results[refused];
  api::ApiError error;
  if (charge.type == state::CounterType::kQuota) {
    l.quota_remaining = result.remaining;
    ctx.limit_rejection = "token_quota";
    error = api::errors::quota_exceeded(charge.limit, quota_period_name(plan.settings->quota_period),
                                        charge.amount, result.remaining, format_utc(plan.period.end));
  } else {
    l.tokens_remaining = result.remaining;
    ctx.limit_rejection = "token_limit";
    error = api::errors::token_rate_exceeded(charge.limit, charge.amount, result.remaining,
                                             std::max<int64_t>(1, result.retry_after.count()));
  }
  ctx.error_code = error.code;
  return pipeline::error_reply(error);
}

std::optional<pipeline::Reply> TokenLimitPolicy::on_request(pipeline::RequestContext& ctx) {
  const config::TokenLimitSettings* settings = limiting(ctx);
  if (!settings) return std::nullopt;
  Plan plan;
  if (!prepare(ctx, *settings, prompt_tokens(ctx, *settings), plan)) return std::nullopt;
  const state::Reservation reservation =
      store_->reserve(std::span(plan.charges.data(), plan.count), ctx.limits.reserved_at);
  return finish(ctx, plan, reservation);
}

boost::asio::awaitable<std::optional<pipeline::Reply>> TokenLimitPolicy::on_request_async(
    pipeline::RequestContext& ctx) {
  const config::TokenLimitSettings* settings = limiting(ctx);
  if (!settings) co_return std::nullopt;
  int64_t prompt = 0;
  if (settings->estimate_prompt_tokens && offloads(ctx)) {
    // ctx (its body and parsed document) stays as it is while this coroutine waits.
    prompt = co_await offload_->run([this, &ctx, settings] { return prompt_tokens(ctx, *settings); });
  } else {
    prompt = prompt_tokens(ctx, *settings);
  }
  Plan plan;
  if (!prepare(ctx, *settings, prompt, plan)) co_return std::nullopt;
  const std::span<const state::Charge> charges(plan.charges.data(), plan.count);
  const SystemTime now = ctx.limits.reserved_at;
  const state::Reservation reservation = co_await store_->reserve_async(charges, now);
  co_return finish(ctx, plan, reservation);
}

void TokenLimitPolicy::settle(pipeline::RequestContext& ctx) const {
  pipeline::LimitsState& l = ctx.limits;
  if (!l.tokens_held) return;
  l.tokens_held = false;
  const RequestOutcome outcome{.forwarded = ctx.attempts > 0,
                               .refused = ctx.status >= 400 && !is_transport_failure(ctx.error_code),
                               .usage_present = ctx.usage_present,
                               .total_tokens = ctx.usage.total_tokens};
  const std::optional<int64_t> actual = settled_tokens(outcome);
  l.tokens_consumed = actual.value_or(std::max(l.window_tokens, l.quota_tokens));
  if (!actual) return;  // keep what was reserved

  std::array<state::Adjustment, 2> adjustments{};
  std::array<int64_t*, 2> shown{};
  std::size_t n = 0;
  if (l.quota_limit > 0 && *actual != l.quota_tokens) {
    shown[n] = &l.quota_remaining;
    adjustments[n++] = state::Adjustment{.type = state::CounterType::kQuota,
                                         .key = l.quota_key,
                                         .delta = *actual - l.quota_tokens,
                                         .limit = l.quota_limit,
                                         .reserved_at = l.reserved_at,
                                         .expires = l.quota_expires};
  }
  if (l.window_limit > 0 && *actual != l.window_tokens) {
    shown[n] = &l.tokens_remaining;
    adjustments[n++] = state::Adjustment{.type = state::CounterType::kWindow,
                                         .key = l.window_key,
                                         .delta = *actual - l.window_tokens,
                                         .limit = l.window_limit,
                                         .reserved_at = l.reserved_at,
                                         .expires = {}};
  }
  if (n == 0) return;
  std::array<int64_t, 2> remaining{};
  store_->adjust(std::span(adjustments.data(), n), clock_.system_now(), std::span(remaining.data(), n));
  for (std::size_t i = 0; i < n; ++i) {
    if (remaining[i] >= 0) {
      *shown[i] = remaining[i];
    } else {  // the store cannot tell without I/O: what this request gave back or took
      *shown[i] = std::clamp<int64_t>(*shown[i] - adjustments[i].delta, 0, adjustments[i].limit);
    }
  }
}

void TokenLimitPolicy::on_response(pipeline::RequestContext& ctx, http::HeaderList& headers) {
  const pipeline::LimitsState& l = ctx.limits;
  if (!ctx.stream) settle(ctx);  // the usage is known now (or never will be)
  if (l.tokens_remaining >= 0) {
    headers.emplace_back("x-ratelimit-remaining-tokens", std::to_string(l.tokens_remaining));
  }
  if (l.quota_remaining >= 0)
    headers.emplace_back("x-quota-remaining-tokens", std::to_string(l.quota_remaining));
  if (l.tokens_consumed >= 0) headers.emplace_back("x-tokens-consumed", std::to_string(l.tokens_consumed));
}

void TokenLimitPolicy::on_complete(pipeline::RequestContext& ctx) { settle(ctx); }

}  // namespace spillway::limits
