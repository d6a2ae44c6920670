#pragma once
// User identity: the raw user id of a request is reduced at once to a keyed hash, and only that hash is
// used anywhere (metrics, usage log, logs). The raw id never leaves the process.
//
// user_hash = the first kUserHashHexChars lowercase hex characters of HMAC-SHA256(key, raw id), i.e. its
// first 64 bits. The key comes from the environment (identity.user_hash_key_env); without the key there
// is no hash.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/telemetry_config.h"
#include "http/types.h"

struct evp_md_ctx_st;

namespace spillway::telemetry {

inline constexpr std::size_t kUserHashHexChars = 16;

// Full lowercase hex HMAC-SHA256(key, message) (64 characters).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// Hashes user ids with one key. Thread-safe. The HMAC's inner and outer SHA-256 states are computed once
// from the key, and each thread remembers the hashes of the last ids it saw (up to 1024, indexed by a keyed
// hash, util/keyed_hash.h): the same users come back request after request.
class UserHasher {
 public:
  // An empty key disables hashing (hash() returns "").
  explicit UserHasher(std::string key);
  ~UserHasher();
  UserHasher(const UserHasher&) = delete;
  UserHasher& operator=(const UserHasher&) = delete;

  bool enabled() const { return !key_.empty(); }
  // The user hash of `raw_id` ("" for an empty id or when disabled).
  std::string hash(std::string_view raw_id) const;

 private:
  // The full HMAC from the precomputed states into `out` (32 bytes); false if OpenSSL failed.
  bool hmac(std::string_view message, unsigned char* out) const;

  std::string key_;  // secret: never log
  uint64_t cache_owner_;
  evp_md_ctx_st* inner_ = nullptr;  // SHA-256 after (key ^ ipad), or null if OpenSSL failed
  evp_md_ctx_st* outer_ = nullptr;  // SHA-256 after (key ^ opad)
};

// The raw user id of a request from the configured sources, the first present and non-empty one
// (surrounding spaces trimmed). JWT claim sources are skipped until JWT validation exists (TODO(#8)).
// The result is a view into `headers`.
std::string_view find_user_id(const config::IdentitySettings& identity, const http::HeaderList& headers);

}  // namespace spillway::telemetry
