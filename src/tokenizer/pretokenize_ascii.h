#pragma once
// The pre-tokenisation scanners' ASCII fast paths (pretokenize.h has the patterns). They cut a piece as the
// general scanners in pretokenize.cpp would, looking only at ASCII bytes, and give up (0) where a non-ASCII
// byte could change the piece. Inline, so that the tokenizer's loop over text that is all ASCII calls them
// without a call per piece (tokenizer.cpp). pretokenize_test holds them to the general scanners.

#include <array>
#include <cstddef>
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace spillway::tokenizer::detail {

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at p: its length, or 0.
inline std::size_t contraction(const unsigned char* p, const unsigned char* end) {
  if (end - p < 2 || p[0] != '\'') return 0;
  const unsigned char a = p[1] | 0x20;  // ASCII lower case (only compared with letters)
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (end - p >= 3) {
    const unsigned char b = p[2] | 0x20;
    if ((a == 'r' || a == 'v') && b == 'e') return 3;
    if (a == 'l' && b == 'l') return 3;
    if (p[1] == 0xC5 && p[2] == 0xBF) return 3;  // U+017F LATIN SMALL LETTER LONG S folds to s
  }
  return 0;
}

// ASCII bytes of the letter classes: \p{L} is [A-Za-z] there, [Lu Lt Lm Lo M] is [A-Z] and
// [Ll Lm Lo M] is [a-z] (ASCII has no Lt, Lm, Lo or marks; pretokenize_test checks this against the
// table). The scanners below take ASCII bytes without decoding them or looking up their class: most text
// is mostly ASCII, and these loops were most of o200k's pre-tokenisation (callgrind).
inline bool ascii_upper(unsigned char b) { return static_cast<unsigned char>(b - 'A') < 26; }
inline bool ascii_lower(unsigned char b) { return static_cast<unsigned char>(b - 'a') < 26; }
inline bool ascii_letter(unsigned char b) { return ascii_lower(static_cast<unsigned char>(b | 0x20)); }

// The end of the run of bytes from q that are [a-z] (kFold false) or [A-Za-z] (kFold true). Words are cut
// 16 bytes at a time while 16 are left (SSE2): one mask instead of a compare and a branch per letter, and
// no mispredicted loop exit at every word's end.
template <bool kFold>
inline const unsigned char* skip_ascii_lower(const unsigned char* q, const unsigned char* end) {
#if defined(__SSE2__)
  // b - 'a' + 0x80 (mod 256) is below 0x80 + 26 as a signed byte only for b in 'a'..'z'.
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80 - 'a'));
  const __m128i limit = _mm_set1_epi8(static_cast<char>(-128 + 26));
  const __m128i fold = _mm_set1_epi8(kFold ? 0x20 : 0);
  while (end - q >= 16) {
    const __m128i v = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), fold);
    const __m128i in = _mm_cmplt_epi8(_mm_add_epi8(v, bias), limit);
    const unsigned out = ~static_cast<unsigned>(_mm_movemask_epi8(in)) & 0xFFFFu;
    if (out != 0) return q + __builtin_ctz(out);
    q += 16;
  }
#endif
  while (q < end && (kFold ? ascii_letter(*q) : ascii_lower(*q))) ++q;
  return q;
}

// ASCII bytes by what the patterns ask of them. The table is written out here; pretokenize_test checks it
// against the Unicode table for all 128 bytes (ascii_kinds_mismatch): letters and digits as the
// scanners above assume, White_Space is \t \n \v \f \r and space, and every other byte, control characters
// included, is [^\s\p{L}\p{N}].
enum AsciiKind : uint8_t { kAsciiPunct, kAsciiUpper, kAsciiLower, kAsciiDigit, kAsciiSpace, kAsciiLineBreak };

constexpr std::array<uint8_t, 128> make_ascii_kinds() {
  std::array<uint8_t, 128> t{};  // kAsciiPunct
  for (int b = 'A'; b <= 'Z'; ++b) t[b] = kAsciiUpper;
  for (int b = 'a'; b <= 'z'; ++b) t[b] = kAsciiLower;
  for (int b = '0'; b <= '9'; ++b) t[b] = kAsciiDigit;
  t['\t'] = t['\v'] = t['\f'] = t[' '] = kAsciiSpace;
  t['\r'] = t['\n'] = kAsciiLineBreak;
  return t;
}
constexpr std::array<uint8_t, 128> kAsciiKinds = make_ascii_kinds();

// REQUIRES: b < 0x80.
inline AsciiKind ascii_kind(unsigned char b) { return static_cast<AsciiKind>(kAsciiKinds[b]); }
inline bool is_letter_kind(AsciiKind k) { return k == kAsciiUpper || k == kAsciiLower; }

// The fast paths below cut a piece as the general scanners would, looking only at ASCII bytes: words with
// or without a prefix, numbers, punctuation, whitespace. Each returns 0, leaving the piece to the general
// scanner, as soon as a byte that ends a run is not ASCII: a letter, mark, number or White_Space character
// there could continue the run, or change which alternative matches.

// \p{N}{1,3} at p (an ASCII digit).
inline std::size_t ascii_numbers(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p + 1;
  while (q < end && q - p < 3 && *q < 0x80 && ascii_kind(*q) == kAsciiDigit) ++q;
  if (q - p < 3 && q < end && *q >= 0x80) return 0;
  return static_cast<std::size_t>(q - p);
}

// [^\s\p{L}\p{N}]+ from s (ASCII punctuation), then [\r\n]* ([\r\n/]* for o200k); the length from p.
template <bool kO200k>
inline std::size_t ascii_punctuation(const unsigned char* p, const unsigned char* s,
                                     const unsigned char* end) {
  const unsigned char* q = s + 1;
  while (q < end && *q < 0x80 && ascii_kind(*q) == kAsciiPunct) ++q;
  if (q < end && *q >= 0x80) return 0;
  while (q < end && (*q == '\r' || *q == '\n' || (kO200k && *q == '/'))) ++q;
  return static_cast<std::size_t>(q - p);
}

// \s*[\r\n]+|\s+(?!\S)|\s+ at p (ASCII White_Space), as pretokenize.cpp's whitespace().
inline std::size_t ascii_whitespace(const unsigned char* p, const unsigned char* end) {
  const unsigned char* q = p;
  const unsigned char* last_newline_end = nullptr;
  for (; q < end && *q < 0x80; ++q) {
    const AsciiKind k = ascii_kind(*q);
    if (k == kAsciiLineBreak) {
      last_newline_end = q + 1;
    } else if (k != kAsciiSpace) {
      break;
    }
  }
  if (q < end && *q >= 0x80) return 0;
  if (last_newline_end) return static_cast<std::size_t>(last_newline_end - p);
  if (q == end || q - p == 1) return static_cast<std::size_t>(q - p);
  return static_cast<std::size_t>(q - p - 1);  // all but the last: it may prefix what follows
}

// cl100k's \p{L}+ from s (an ASCII letter); the length from p.
inline std::size_t ascii_letters(const unsigned char* p, const unsigned char* s, const unsigned char* end) {
  const unsigned char* q = skip_ascii_lower<true>(s + 1, end);
  if (q < end && *q >= 0x80) return 0;
  return static_cast<std::size_t>(q - p);
}

// o200k's word from s (an ASCII letter): [A-Z]*[a-z]+ or [A-Z]+, then an optional contraction; the length
// from p.
inline std::size_t ascii_o200k_word(const unsigned char* p, const unsigned char* s,
                                    const unsigned char* end) {
  const unsigned char* q = s;
  while (q < end && ascii_upper(*q)) ++q;
  q = skip_ascii_lower<false>(q, end);
  if (q < end && *q >= 0x80) return 0;  // the word might go on
  return static_cast<std::size_t>(q - p) + contraction(q, end);
}

// The piece at p when the ASCII bytes around it decide it, else 0.
template <bool kO200k>
inline std::size_t ascii_piece(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  if (c >= 0x80) return 0;
  const AsciiKind k = ascii_kind(c);
  if (is_letter_kind(k)) return kO200k ? ascii_o200k_word(p, p, end) : ascii_letters(p, p, end);
  if (k == kAsciiDigit) return ascii_numbers(p, end);
  if (!kO200k && c == '\'') {
    if (const std::size_t n = contraction(p, end)) return n;
  }
  if (p + 1 == end) return 1;  // a last punctuation or White_Space byte is a piece of its own
  const unsigned char c1 = p[1];
  if (c1 >= 0x80) return 0;
  const AsciiKind k1 = ascii_kind(c1);
  // [^\r\n\p{L}\p{N}]? before a word: punctuation or White_Space other than a line break.
  if (is_letter_kind(k1) && k != kAsciiLineBreak) {
    return kO200k ? ascii_o200k_word(p, p + 1, end) : ascii_letters(p, p + 1, end);
  }
  if (k == kAsciiPunct) return ascii_punctuation<kO200k>(p, p, end);
  if (c == ' ' && k1 == kAsciiPunct) return ascii_punctuation<kO200k>(p, p + 1, end);
  return ascii_whitespace(p, end);
}

}  // namespace spillway::tokenizer::detail
