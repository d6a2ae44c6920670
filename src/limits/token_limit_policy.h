#pragma once
// Policy "token_limit": tokens_per_minute over a sliding 60 s window and a token quota per calendar
// period, per counter. Before forwarding it reserves the request's worst case (limits/reservation.h) in
// the quota bucket and the window, all or nothing; a spent quota answers 403, a full window 429 with
// retry-after. When the response ends the reservation is settled to the real usage
// (limits/reservation.h settled_tokens): non-streamed responses in on_response, so the headers show the
// settled numbers; streams and failures in on_complete.
//
// Response headers: x-ratelimit-remaining-tokens (window), x-quota-remaining-tokens (quota) and, once
// settled before the head is sent (non-streamed), x-tokens-consumed.
//
// The prompt estimate of a body of EstimateOffload::kMinBytes or more is counted on the offload thread
// (limits/estimate_offload.h), when the policy has one, so that the worker serves its other connections
// meanwhile.

#include <array>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "limits/estimate_offload.h"
#include "limits/policy_support.h"
#include "limits/prompt_estimator.h"
#include "limits/quota_period.h"
#include "pipeline/policy.h"
#include "state/store.h"
#include "util/clock.h"

namespace spillway::limits {

class TokenLimitPolicy final : public pipeline::Policy {
 public:
  // REQUIRES: subscriptions and products outlive the policy (they live in its config snapshot).
  // `offload` may be null: every estimate is then counted on the worker.
  TokenLimitPolicy(const std::map<std::string, config::Subscription>& subscriptions,
                   const std::map<std::string, config::Product>& products,
                   std::shared_ptr<state::Store> store, const util::Clock& clock,
                   std::shared_ptr<const PromptEstimator> estimator,
                   std::shared_ptr<EstimateOffload> offload = nullptr);

  // pipeline::Policy
  std::string_view name() const override { return "token_limit"; }
  bool needs_io(const pipeline::RequestContext& ctx) const override;
  std::optional<pipeline::Reply> on_request(pipeline::RequestContext& ctx) override;
  boost::asio::awaitable<std::optional<pipeline::Reply>> on_request_async(
      pipeline::RequestContext& ctx) override;
  void on_response(pipeline::RequestContext& ctx, http::HeaderList& headers) override;
  void on_complete(pipeline::RequestContext& ctx) override;

  // Whether any subscription has a token limit (the runtime leaves the policy out otherwise).
  bool active() const { return !index_.empty(); }

 private:
  struct Plan {
    const config::TokenLimitSettings* settings = nullptr;
    int64_t requested = 0;  // the uncapped reservation
    std::array<state::Charge, 2> charges{};
    std::size_t count = 0;
    PeriodBounds period;
  };
  // The settings that limit the request, or null.
  const config::TokenLimitSettings* limiting(pipeline::RequestContext& ctx) const;
  // The prompt tokens to reserve for the request under `settings`.
  int64_t prompt_tokens(const pipeline::RequestContext& ctx,
                        const config::TokenLimitSettings& settings) const;
  // Whether the request's prompt estimate goes to the offload thread.
  bool offloads(const pipeline::RequestContext& ctx) const;
  // Fills `plan` and the keys in ctx.limits; false when nothing is charged.
  bool prepare(pipeline::RequestContext& ctx, const config::TokenLimitSettings& settings, int64_t prompt,
               Plan& plan) const;
  std::optional<pipeline::Reply> finish(pipeline::RequestContext& ctx, const Plan& plan,
                                        const state::Reservation& reservation) const;
  void settle(pipeline::RequestContext& ctx) const;

  LimitIndex<config::TokenLimitSettings> index_;
  std::shared_ptr<state::Store> store_;
  const util::Clock& clock_;
  std::shared_ptr<const PromptEstimator> estimator_;
  std::shared_ptr<EstimateOffload> offload_;
};

}  // namespace spillway::limits
