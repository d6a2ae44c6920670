#include "telemetry/identity.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace spillway::telemetry {
namespace {

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xF];
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &length) == nullptr) {
    return {};
  }
  return to_hex(digest, length);
}

std::string UserHasher::hash(std::string_view raw_id) const {
  if (key_.empty() || raw_id.empty()) return {};
  std::string hex = hmac_sha256_hex(key_, raw_id);
  hex.resize(std::min(hex.size(), kUserHashHexChars));
  return hex;
}

std::string_view find_user_id(const config::IdentitySettings& identity, const http::HeaderList& headers) {
  for (const config::UserIdSource& source : identity.user_id) {
    if (source.kind != config::UserIdSource::Kind::kHeader) continue;
    for (const auto& [name, value] : headers) {
      if (name != source.name) continue;
      const std::string_view id = trim(value);
      if (!id.empty()) return id;
    }
  }
  return {};
}

}  // namespace spillway::telemetry
