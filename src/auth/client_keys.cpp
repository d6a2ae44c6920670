#include "auth/client_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <stdexcept>

#include "util/ascii.h"
#include "util/keyed_hash.h"

namespace spillway::auth {
namespace {

std::string sha256(std::string_view data) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once: lookups take locks
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  unsigned int length = 0;
  if (md == nullptr || EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(digest.data()),
                                  &length, md, nullptr) != 1) {
    return {};  // matches no key: the index holds only 32-byte digests
  }
  return digest;
}

bool same_key(const config::Subscription& sub, std::string_view key) {
  return sub.key.size() == key.size() && CRYPTO_memcmp(sub.key.data(), key.data(), key.size()) == 0;
}

}  // namespace

std::string_view extract_client_key(const http::HeaderList& headers) {
  if (auto v = util::trim_ows(http::find_header(headers, "api-key")); !v.empty()) return v;
  if (auto v = util::trim_ows(http::find_header(headers, "ocp-apim-subscription-key")); !v.empty()) return v;
  std::string_view auth = util::trim_ows(http::find_header(headers, "authorization"));
  constexpr std::string_view kBearer = "bearer ";
  if (auth.size() > kBearer.size() && util::ascii_iequals(auth.substr(0, kBearer.size()), kBearer)) {
    return util::trim_ows(auth.substr(kBearer.size()));
  }
  return {};
}

ClientKeyIndex::ClientKeyIndex(const std::map<std::string, config::Subscription>& subscriptions) {
  for (const auto& [name, sub] : subscriptions) {
    if (sub.key.empty()) continue;
    std::string digest = sha256(sub.key);
    if (digest.empty()) throw std::runtime_error("subscription keys: SHA-256 is not available from OpenSSL");
    by_digest_.emplace(std::move(digest), &sub);
  }
}

const config::Subscription* ClientKeyIndex::find(std::string_view key) const {
  if (key.empty()) return nullptr;
  // Clients send the same key with every request: each thread remembers which subscription a key it saw
  // belongs to, by a keyed hash of the key (util/keyed_hash.h). A hit is confirmed with the same
  // constant-time comparison, so the cache can only save work, never admit a wrong key; unknown keys are
  // not remembered and always take the SHA-256 path.
  thread_local util::HashedCache<const config::Subscription*, 64> cache;
  const util::Hash128 h = util::keyed_hash128(key);
  if (const config::Subscription* const* hit = cache.find(cache_owner_, h); hit && same_key(**hit, key)) {
    return *hit;
  }
  auto it = by_digest_.find(sha256(key));
  if (it == by_digest_.end() || !same_key(*it->second, key)) return nullptr;
  cache.put(cache_owner_, h, it->second);
  return it->second;
}

}  // namespace spillway::auth
