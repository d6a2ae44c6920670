#pragma once
// Client (subscription) keys: which subscription a presented key belongs to. Lookup is by SHA-256 of the
// key and the match is confirmed with a constant-time comparison, so timing does not reveal key bytes.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/config.h"
#include "http/types.h"
#include "util/keyed_hash.h"

namespace spillway::auth {

// The key the client presented: `api-key`, then `ocp-apim-subscription-key`, then
// `authorization: Bearer <key>` (scheme case-insensitive). Empty when none.
std::string_view extract_client_key(const http::HeaderList& headers);

class ClientKeyIndex {
 public:
  // REQUIRES: `subscriptions` outlives the index.
  explicit ClientKeyIndex(const std::map<std::string, config::Subscription>& subscriptions);
  // The subscription owning `key`, or null.
  const config::Subscription* find(std::string_view key) const;
  bool empty() const { return by_digest_.empty(); }

 private:
  std::unordered_map<std::string, const config::Subscription*> by_digest_;  // raw SHA-256 -> subscription
  uint64_t cache_owner_ = util::next_cache_owner();                         // of the per-thread key cache
};

}  // namespace spillway::auth
