#pragma once
// What the request and token limit policies share: the limits that apply to a subscription, the request
// fields they need before the proxy inspects the body, and the counter subject of a request.

#include <map>
#include <string>
#include <unordered_map>

#include "config/config.h"
#include "limits/counter_key.h"
#include "pipeline/request_context.h"

namespace spillway::limits {

// For each subscription, the limit of type T that applies: its own (token_limit / request_limit), else
// its product's, else none. Built once per config snapshot; lookups by the subscription's address.
template <class T>
class LimitIndex {
 public:
  using Member = std::optional<T> config::Subscription::*;
  using ProductMember = std::optional<T> config::Product::*;

  LimitIndex(const std::map<std::string, config::Subscription>& subscriptions,
             const std::map<std::string, config::Product>& products, Member own, ProductMember of_product) {
    for (const auto& [name, sub] : subscriptions) {
      const T* limit = nullptr;
      if (sub.*own) {
        limit = &*(sub.*own);
      } else if (auto it = products.find(sub.product); it != products.end() && it->second.*of_product) {
        limit = &*(it->second.*of_product);
      }
      if (limit) by_subscription_.emplace(&sub, limit);
    }
  }
  // nullptr when no limit applies (or no subscription: authentication is off).
  const T* find(const config::Subscription* sub) const {
    if (!sub) return nullptr;
    auto it = by_subscription_.find(sub);
    return it == by_subscription_.end() ? nullptr : it->second;
  }
  bool empty() const { return by_subscription_.empty(); }

 private:
  std::unordered_map<const config::Subscription*, const T*> by_subscription_;
};

// Whether ctx.fields and ctx.pool are usable: the proxy inspects the body before the policies run. False
// when the body is invalid; the proxy answers 400 for it after the policies, and the limits let it pass.
bool ensure_fields(pipeline::RequestContext& ctx);

CounterSubject counter_subject(const pipeline::RequestContext& ctx);

// Whether a request costs anything against limits (GET models is answered by the gateway itself).
bool is_limited_operation(const pipeline::RequestContext& ctx);

}  // namespace spillway::limits
