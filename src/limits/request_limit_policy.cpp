#include "limits/request_limit_policy.h"

#include "api/errors.h"
#include "pipeline/reply.h"

namespace spillway::limits {

RequestLimitPolicy::RequestLimitPolicy(const std::map<std::string, config::Subscription>& subscriptions,
                                       const std::map<std::string, config::Product>& products,
                                       std::shared_ptr<state::Store> store, const util::Clock& clock)
    : index_(subscriptions, products, &config::Subscription::request_limit, &config::Product::request_limit),
      store_(std::move(store)),
      clock_(clock) {}

const config::RequestLimitSettings* RequestLimitPolicy::prepare(pipeline::RequestContext& ctx,
                                                                std::string& key) const {
  const config::RequestLimitSettings* limit = index_.find(ctx.subscription);
  if (!limit || !is_limited_operation(ctx)) return nullptr;
  if (limit->counter.kind == config::CounterKind::kDeployment && !ensure_fields(ctx)) return nullptr;
  key = "rpm:";
  append_counter_key(key, limit->counter, counter_subject(ctx));
  return limit;
}

std::optional<pipeline::Reply> RequestLimitPolicy::finish(pipeline::RequestContext& ctx,
                                                          const config::RequestLimitSettings& limit,
                                                          const state::Reservation& reservation) const {
  const state::ChargeResult& result = reservation.results[0];
  ctx.limits.requests_remaining = result.remaining;
  if (reservation.granted) return std::nullopt;
  ctx.limit_rejection = "request_limit";
  const api::ApiError error = api::errors::request_rate_exceeded(
      limit.requests_per_minute, std::max<int64_t>(1, result.retry_after.count()));
  ctx.error_code = error.code;
  return pipeline::error_reply(error);
}

std::optional<pipeline::Reply> RequestLimitPolicy::on_request(pipeline::RequestContext& ctx) {
  std::string key;
  const config::RequestLimitSettings* limit = prepare(ctx, key);
  if (!limit) return std::nullopt;
  const state::Charge charge{.type = state::CounterType::kWindow,
                             .key = key,
                             .amount = 1,
                             .limit = limit->requests_per_minute,
                             .expires = {}};
  const state::Reservation reservation = store_->reserve(std::span(&charge, 1), clock_.system_now());
  return finish(ctx, *limit, reservation);
}

boost::asio::awaitable<std::optional<pipeline::Reply>> RequestLimitPolicy::on_request_async(
    pipeline::RequestContext& ctx) {
  std::string key;
  const config::RequestLimitSettings* limit = prepare(ctx, key);
  if (!limit) co_return std::nullopt;
  const state::Charge charge{.type = state::CounterType::kWindow,
                             .key = key,
                             .amount = 1,
                             .limit = limit->requests_per_minute,
                             .expires = {}};
  const std::span<const state::Charge> charges(&charge, 1);
  const state::SystemTime now = clock_.system_now();
  const state::Reservation reservation = co_await store_->reserve_async(charges, now);
  co_return finish(ctx, *limit, reservation);
}

void RequestLimitPolicy::on_response(pipeline::RequestContext& ctx, http::HeaderList& headers) {
  if (ctx.limits.requests_remaining >= 0) {
    headers.emplace_back("x-ratelimit-remaining-requests", std::to_string(ctx.limits.requests_remaining));
  }
}

}  // namespace spillway::limits
