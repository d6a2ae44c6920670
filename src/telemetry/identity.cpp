#include "telemetry/identity.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstring>

#include "util/ascii.h"
#include "util/keyed_hash.h"

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

constexpr std::size_t kBlock = 64;    // SHA-256 block size
constexpr unsigned int kDigest = 32;  // SHA-256 digest size

const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // fetched once: lookups take locks
  return md;
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

UserHasher::UserHasher(std::string key) : key_(std::move(key)), cache_owner_(util::next_cache_owner()) {
  if (key_.empty()) return;
  const EVP_MD* md = sha256_md();
  // RFC 2104: a key longer than the block is hashed first; the block is the key zero-padded to 64 bytes.
  unsigned char block[kBlock] = {};
  unsigned int length = 0;
  if (key_.size() > kBlock) {
    if (md == nullptr || EVP_Digest(key_.data(), key_.size(), block, &length, md, nullptr) != 1) return;
  } else {
    std::memcpy(block, key_.data(), key_.size());
  }
  unsigned char ipad[kBlock];
  unsigned char opad[kBlock];
  for (std::size_t i = 0; i < kBlock; ++i) {
    ipad[i] = block[i] ^ 0x36;
    opad[i] = block[i] ^ 0x5c;
  }
  inner_ = EVP_MD_CTX_new();
  outer_ = EVP_MD_CTX_new();
  const bool ok = md != nullptr && inner_ != nullptr && outer_ != nullptr &&
                  EVP_DigestInit_ex2(inner_, md, nullptr) == 1 &&
                  EVP_DigestUpdate(inner_, ipad, kBlock) == 1 &&
                  EVP_DigestInit_ex2(outer_, md, nullptr) == 1 && EVP_DigestUpdate(outer_, opad, kBlock) == 1;
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
  if (!ok) {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    inner_ = outer_ = nullptr;
  }
}

UserHasher::~UserHasher() {
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
}

bool UserHasher::hmac(std::string_view message, unsigned char* out) const {
  if (inner_ == nullptr) return false;
  struct Scratch {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Scratch() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Scratch scratch;
  EVP_MD_CTX* ctx = scratch.ctx;
  unsigned char inner_digest[kDigest];
  unsigned int length = 0;
  return ctx != nullptr && EVP_MD_CTX_copy_ex(ctx, inner_) == 1 &&
         EVP_DigestUpdate(ctx, message.data(), message.size()) == 1 &&
         EVP_DigestFinal_ex(ctx, inner_digest, &length) == 1 && length == kDigest &&
         EVP_MD_CTX_copy_ex(ctx, outer_) == 1 && EVP_DigestUpdate(ctx, inner_digest, kDigest) == 1 &&
         EVP_DigestFinal_ex(ctx, out, &length) == 1 && length == kDigest;
}

std::string UserHasher::hash(std::string_view raw_id) const {
  if (key_.empty() || raw_id.empty()) return {};
  using Hex = std::array<char, kUserHashHexChars>;
  thread_local util::HashedCache<Hex, 1024> cache;
  const util::Hash128 h = util::keyed_hash128(raw_id);
  if (const Hex* hit = cache.find(cache_owner_, h)) return std::string(hit->data(), hit->size());
  std::string hex;
  unsigned char digest[kDigest];
  if (hmac(raw_id, digest)) {
    hex = to_hex(digest, kUserHashHexChars / 2);
  } else {
    hex = hmac_sha256_hex(key_, raw_id);  // OpenSSL's one-shot HMAC, should the precomputed states fail
    if (hex.empty()) return {};
    hex.resize(kUserHashHexChars);
  }
  Hex entry;
  std::memcpy(entry.data(), hex.data(), entry.size());
  cache.put(cache_owner_, h, entry);
  return hex;
}

std::string_view find_user_id(const config::IdentitySettings& identity, const http::HeaderList& headers) {
  for (const config::UserIdSource& source : identity.user_id) {
    if (source.kind != config::UserIdSource::Kind::kHeader) continue;
    for (const auto& [name, value] : headers) {
      if (name != source.name) continue;
      const std::string_view id = util::trim_ows(value);
      if (!id.empty()) return id;
    }
  }
  return {};
}

}  // namespace spillway::telemetry
