#include "util/keyed_hash.h"

#include <cstring>
#include <random>

namespace spillway::util {
namespace {

struct Keys {
  uint64_t k[4];
  Keys() {
    std::random_device rd;
    for (uint64_t& key : k) key = (uint64_t{rd()} << 32 | rd()) | 1;
  }
};

const Keys& keys() {
  static const Keys k;
  return k;
}

uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// The n < 8 bytes at p, zero-extended.
uint64_t load_tail(const char* p, std::size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

uint64_t mix(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

}  // namespace

Hash128 keyed_hash128(std::string_view s) {
  const uint64_t* k = keys().k;
  uint64_t a = k[0] ^ s.size();
  uint64_t b = k[1] ^ (uint64_t{s.size()} << 32);
  const char* p = s.data();
  std::size_t n = s.size();
  // Two lanes with their own keys over every 8-byte word; the length above tells apart inputs whose
  // zero-extended tails are equal.
  for (; n >= 8; p += 8, n -= 8) {
    const uint64_t w = load64(p);
    a = mix(a ^ w, k[2]);
    b = mix(b ^ w, k[3]);
  }
  const uint64_t w = load_tail(p, n);
  return {mix(a ^ w, k[2] ^ k[1]), mix(b ^ w, k[3] ^ k[0])};
}

uint64_t next_cache_owner() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace spillway::util
