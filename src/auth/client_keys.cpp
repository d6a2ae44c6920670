#include "auth/client_keys.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>

namespace spillway::auth {
namespace {

std::string sha256(std::string_view data) {
  std::string digest(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(digest.data()));
  return digest;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view extract_client_key(const http::HeaderList& headers) {
  if (auto v = trim(http::find_header(headers, "api-key")); !v.empty()) return v;
  if (auto v = trim(http::find_header(headers, "ocp-apim-subscription-key")); !v.empty()) return v;
  std::string_view auth = trim(http::find_header(headers, "authorization"));
  constexpr std::string_view kBearer = "bearer ";
  if (auth.size() > kBearer.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kBearer.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(auth[i])) != kBearer[i]) match = false;
    }
    if (match) return trim(auth.substr(kBearer.size()));
  }
  return {};
}

ClientKeyIndex::ClientKeyIndex(const std::map<std::string, config::Subscription>& subscriptions) {
  for (const auto& [name, sub] : subscriptions) {
    if (!sub.key.empty()) by_digest_.emplace(sha256(sub.key), &sub);
  }
}

const config::Subscription* ClientKeyIndex::find(std::string_view key) const {
  if (key.empty()) return nullptr;
  auto it = by_digest_.find(sha256(key));
  if (it == by_digest_.end()) return nullptr;
  const std::string& expected = it->second->key;
  if (expected.size() != key.size() || CRYPTO_memcmp(expected.data(), key.data(), key.size()) != 0)
    return nullptr;
  return it->second;
}

}  // namespace spillway::auth
