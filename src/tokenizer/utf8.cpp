#include "tokenizer/utf8.h"

#include <cstdint>
#include <cstring>

namespace spillway::tokenizer {
namespace {

// Length of the well-formed sequence at [p, end), or 0 if ill-formed. *consumed gets the length of the
// maximal subpart to replace (at least 1) when ill-formed.
std::size_t sequence_length(const unsigned char* p, const unsigned char* end, std::size_t* consumed) {
  const unsigned char b0 = p[0];
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *consumed = 1;
    return 0;
  }
  std::size_t i = 1;
  for (; i <= need; ++i) {
    if (p + i >= end) break;
    const unsigned char b = p[i];
    const unsigned char l = i == 1 ? lo : 0x80;
    const unsigned char h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) break;
  }
  if (i == need + 1) return need + 1;
  *consumed = i;
  return 0;
}

// Number of leading ASCII bytes of [p, end), eight at a time.
std::size_t ascii_prefix(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p;
  while (end - q >= 8) {
    uint64_t w;
    std::memcpy(&w, q, 8);
    if (w & 0x8080808080808080ull) break;
    q += 8;
  }
  while (q < end && *q < 0x80) ++q;
  return static_cast<std::size_t>(q - p);
}

}  // namespace

bool is_ascii(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  return ascii_prefix(p, p + s.size()) == s.size();
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    p += ascii_prefix(p, end);
    if (p == end) break;
    std::size_t consumed;
    const std::size_t n = sequence_length(p, end, &consumed);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  const auto* begin = reinterpret_cast<const unsigned char*>(s.data());
  const auto* p = begin;
  const auto* end = p + s.size();
  while (p < end) {
    const std::size_t a = ascii_prefix(p, end);
    out.append(reinterpret_cast<const char*>(p), a);
    p += a;
    if (p == end) break;
    std::size_t consumed;
    const std::size_t n = sequence_length(p, end, &consumed);
    if (n != 0) {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    } else {
      out.append("\xEF\xBF\xBD");
      p += consumed;
    }
  }
  return out;
}

}  // namespace spillway::tokenizer
