#pragma once
// Counter keys: which budget a request is counted in. A key names the kind of counter and its value,
// e.g. "sub:team-search", "product:standard", "user:3f9a...", "tag:team=search", "api:openai",
// "deployment:gpt-4o". Requests with the same key share one budget, whatever their product. Keys never
// contain a raw user id: only the keyed hash from the identity policy.

#include <string>
#include <string_view>

#include "config/config.h"

namespace spillway::limits {

// Who and what one request is, as far as counters go.
struct CounterSubject {
  const config::Subscription* subscription = nullptr;  // REQUIRES: non-null
  std::string_view user_hash;   // "" when unknown: a `user` counter then counts by subscription
  std::string_view api;         // the api's name ("" when the route has none)
  std::string_view deployment;  // the pool name the client used
};

// Appends the key of `counter` for `subject` to `out`.
void append_counter_key(std::string& out, const config::Counter& counter, const CounterSubject& subject);

// The tag value a `tag:NAME` counter uses for a subscription without that tag.
inline constexpr std::string_view kNoTagValue = "(none)";

}  // namespace spillway::limits
