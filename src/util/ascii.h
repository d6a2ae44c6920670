#pragma once
// ASCII for protocol text: case folding (header names: bytes A-Z become a-z, every other byte is kept) and
// hex digits.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace spillway::util {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// Whether `a` and `b` are the same bytes but for ASCII case (header values such as codings).
inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// `s` without the optional whitespace (spaces and tabs) around it: a header value, or one item of a
// comma-separated list (RFC 9110, 5.6.3).
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The next item of the comma-separated list `rest` (RFC 9110, 5.6.1), without the whitespace around it (empty
// for an empty item); `rest` is left after the item's comma, empty after the last item.
inline std::string_view take_list_item(std::string_view& rest) {
  const std::size_t comma = rest.find(',');
  const std::string_view item = trim_ows(rest.substr(0, comma));
  rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  return item;
}

// The value of a lower-case hex digit (hex as this gateway writes it); -1 for any other byte, A-F included.
constexpr int lower_hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The value of a hex digit of either case; -1 for any other byte.
constexpr int hex_digit(char c) {
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return lower_hex_digit(c);
}

namespace detail {
// lower_hex_digit() of every byte value.
inline constexpr auto kLowerHexDigits = [] {
  struct {
    int8_t of[256];
  } t{};
  for (int c = 0; c < 256; ++c) t.of[c] = static_cast<int8_t>(lower_hex_digit(static_cast<char>(c)));
  return t;
}();
}  // namespace detail

// The bytes that `hex` spells in lowercase hex digits, two per byte, into out[0 .. hex.size() / 2); false
// when hex.size() is odd or any byte is not a lowercase hex digit (out then holds garbage). A table lookup
// per digit and one check at the end: a comparison and a branch per digit mispredict on random digits
// (bench/micro: BM_HexToBytesPerDigitBranches against BM_HexToBytes, 32-digit random ids).
inline bool lower_hex_to_bytes(std::string_view hex, unsigned char* out) {
  if (hex.size() % 2 != 0) return false;
  int bad = 0;  // negative once any digit was not one
  for (std::size_t i = 0; i < hex.size() / 2; ++i) {
    const int hi = detail::kLowerHexDigits.of[static_cast<unsigned char>(hex[2 * i])];
    const int lo = detail::kLowerHexDigits.of[static_cast<unsigned char>(hex[2 * i + 1])];
    bad |= hi | lo;
    out[i] = static_cast<unsigned char>((hi & 0xf) << 4 | (lo & 0xf));  // no shift of a negative value
  }
  return bad >= 0;
}

namespace detail {

// The eight bytes of w with A-Z lowered, in parallel: a byte's high bit in `upper` is set when the byte is
// below 0x80, at least 'A' and at most 'Z' (each sum stays within its byte: the addends are below 0x80).
inline uint64_t lower8(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t low7 = w & ~kHigh;
  const uint64_t at_least_a = low7 + (0x80 - 'A') * kOnes;
  const uint64_t above_z = low7 + (0x7F - 'Z') * kOnes;
  const uint64_t upper = at_least_a & ~above_z & ~w & kHigh;
  return w | (upper >> 2);  // 0x80 >> 2 = 0x20, the case bit
}

inline void store_lower8(char* dst, const char* src) {
  uint64_t w;
  std::memcpy(&w, src, 8);
  w = lower8(w);
  std::memcpy(dst, &w, 8);
}

inline void store_lower4(char* dst, const char* src) {
  uint32_t w;
  std::memcpy(&w, src, 4);
  w = static_cast<uint32_t>(lower8(w));  // the upper four bytes are zero: lowering leaves them so
  std::memcpy(dst, &w, 4);
}

}  // namespace detail

// out = in with A-Z lowered; reuses out's capacity. A word at a time, the last one overlapping the one
// before (rewriting bytes already lowered changes nothing), so no copy has a variable length: header
// names are most of a request's head by count, and a byte-at-a-time loop over them showed in profiles.
inline void assign_ascii_lower(std::string& out, std::string_view in) {
  const std::size_t n = in.size();
  out.resize(n);
  char* dst = out.data();
  const char* src = in.data();
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 <= n; i += 8) detail::store_lower8(dst + i, src + i);
    if (n % 8 != 0) detail::store_lower8(dst + n - 8, src + n - 8);
  } else if (n >= 4) {
    detail::store_lower4(dst, src);
    detail::store_lower4(dst + n - 4, src + n - 4);
  } else {
    for (std::size_t i = 0; i < n; ++i) dst[i] = ascii_lower(src[i]);
  }
}

}  // namespace spillway::util
