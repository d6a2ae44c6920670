#include "util/json.h"

#include <bit>
#include <cstring>

#include "util/raw_writer.h"

namespace spillway::util {
namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len;
  uint32_t min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  uint32_t cp = b0 & (0xFF >> (len + 1));
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// A byte that cannot be copied as it is: '"', '\\', a control character (< 0x20 or 0x7F), or a non-ASCII
// byte (copied only once its UTF-8 sequence is checked).
constexpr bool needs_attention(unsigned char c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x7F; }

// The index of the first byte at or after `i` that needs attention, or s.size().
std::size_t next_special(std::string_view s, std::size_t i) {
  const char* p = s.data();
  const std::size_t n = s.size();
  if constexpr (std::endian::native == std::endian::little) {
    // Eight bytes at a time: a byte's high bit in `hit` is set when it needs attention. The "has zero
    // byte" tests can flag false positives only above a true hit (borrows run upwards), so the lowest
    // flagged byte is exact.
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      const uint64_t hit = (w & kHigh)                          // >= 0x80
                           | ((w - kOnes * 0x20) & ~w & kHigh)  // < 0x20
                           | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\')) |
                           has_zero(w ^ (kOnes * 0x7F));
      if (hit != 0) return i + static_cast<std::size_t>(std::countr_zero(hit) / 8);
    }
  }
  while (i < n && !needs_attention(static_cast<unsigned char>(p[i]))) ++i;
  return i;
}

// The escaping itself, for any `out` with append(const char*, size_t).
template <class Out>
void escape_into(Out& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t run = 0;  // start of the bytes not yet appended, all of them copied as they are
  std::size_t i = 0;
  while ((i = next_special(s, i)) < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      if (const std::size_t len = utf8_sequence_length(s, i); len != 0) {
        i += len;  // valid: stays in the run
        continue;
      }
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out.append("\\\"", 2);
        break;
      case '\\':
        out.append("\\\\", 2);
        break;
      case '\n':
        out.append("\\n", 2);
        break;
      case '\r':
        out.append("\\r", 2);
        break;
      case '\t':
        out.append("\\t", 2);
        break;
      default:
        if (c >= 0x80) {
          out.append("\xEF\xBF\xBD", 3);  // invalid UTF-8: one U+FFFD per byte
        } else {
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out.append(esc, 6);
        }
    }
    run = ++i;
  }
  out.append(s.data() + run, s.size() - run);
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size());
  escape_into(out, s);
}

char* write_json_escaped(char* out, std::string_view s) {
  RawWriter raw{out};
  escape_into(raw, s);
  return raw.p;
}

}  // namespace spillway::util
