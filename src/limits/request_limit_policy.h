#pragma once
// Policy "request_limit": requests_per_minute per counter over a sliding 60 s window (state/store.h).
// A request that does not fit gets 429 with retry-after; every answer carries
// x-ratelimit-remaining-requests. Every request that passes counts, whatever its outcome.

#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "limits/policy_support.h"
#include "pipeline/policy.h"
#include "state/store.h"
#include "util/clock.h"

namespace spillway::limits {

class RequestLimitPolicy final : public pipeline::Policy {
 public:
  // REQUIRES: subscriptions and products outlive the policy (they live in its config snapshot).
  RequestLimitPolicy(const std::map<std::string, config::Subscription>& subscriptions,
                     const std::map<std::string, config::Product>& products,
                     std::shared_ptr<state::Store> store, const util::Clock& clock);

  // pipeline::Policy
  std::string_view name() const override { return "request_limit"; }
  bool needs_io(const pipeline::RequestContext&) const override { return store_->needs_io(); }
  std::optional<pipeline::Reply> on_request(pipeline::RequestContext& ctx) override;
  boost::asio::awaitable<std::optional<pipeline::Reply>> on_request_async(
      pipeline::RequestContext& ctx) override;
  void on_response(pipeline::RequestContext& ctx, http::HeaderList& headers) override;

  // Whether any subscription has a request limit (the runtime leaves the policy out otherwise).
  bool active() const { return !index_.empty(); }

 private:
  // The settings that apply and the counter key (into `key`); nullptr when the request is not limited.
  const config::RequestLimitSettings* prepare(pipeline::RequestContext& ctx, std::string& key) const;
  std::optional<pipeline::Reply> finish(pipeline::RequestContext& ctx,
                                        const config::RequestLimitSettings& limit,
                                        const state::Reservation& reservation) const;

  LimitIndex<config::RequestLimitSettings> index_;
  std::shared_ptr<state::Store> store_;
  const util::Clock& clock_;
};

}  // namespace spillway::limits
