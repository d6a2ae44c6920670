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

#include <array>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
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
  TokenLimitPolicy(const std::map<std::string, config::Subscription>& subscriptions,
                   const std::map<std::string, config::Product>& products,
                   std::shared_ptr<state::Store> store, const util::Clock& clock,
                   std::shared_ptr<const PromptEstimator> estimator);

  // pipeline::Policy
  std::string_view name() const override { return "token_limit"; }
  bool needs_io() const override { return store_->needs_io(); }
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
  // Fills `plan` and the keys in ctx.limits; false when the request is not limited.
  bool prepare(pipeline::RequestContext& ctx, Plan& plan) const;
  std::optional<pipeline::Reply> finish(pipeline::RequestContext& ctx, const Plan& plan,
                                        const state::Reservation& reservation) const;
  void settle(pipeline::RequestContext& ctx) const;

  LimitIndex<config::TokenLimitSettings> index_;
  std::shared_ptr<state::Store> store_;
  const util::Clock& clock_;
  std::shared_ptr<const PromptEstimator> estimator_;
};

}  // namespace spillway::limits
