#include "http/fast_head.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "util/ascii.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace spillway::http::detail {

namespace {

// RFC 9110 tchar: the bytes Beast takes in a method and a field name.
constexpr bool is_tchar(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return c != 0 && std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

struct CharTable {
  bool token[256] = {};
  constexpr CharTable() {
    for (int c = 0; c < 256; ++c) token[c] = is_tchar(static_cast<unsigned char>(c));
  }
};
constexpr CharTable kChars;

bool token_byte(char c) { return kChars.token[static_cast<unsigned char>(c)]; }

// Beast's request-target bytes: anything but controls, space and DEL (obs-text included).
bool target_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

// The first byte in [p, end) that may not appear in a field value or reason phrase (Beast's
// parse_token_to_eol: a control other than HTAB, or DEL), or `end`. The CR of a well-formed line's end is
// such a byte. Sixteen bytes at a time: values (keys, user agents, dates) are most of a head's bytes.
const char* find_control(const char* p, const char* end) {
#ifdef __SSE2__
  const __m128i k1f = _mm_set1_epi8(0x1f);
  const __m128i ht = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i bad = _mm_cmpeq_epi8(_mm_min_epu8(v, k1f), v);  // v <= 0x1f, unsigned
    bad = _mm_andnot_si128(_mm_cmpeq_epi8(v, ht), bad);
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, del));
    if (const int mask = _mm_movemask_epi8(bad); mask != 0)
      return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  for (; p < end; ++p) {
    const auto u = static_cast<unsigned char>(*p);
    if ((u < 0x20 && u != '\t') || u == 0x7f) return p;
  }
  return end;
}

bool ascii_iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (util::ascii_lower(a[i]) != lower[i]) return false;
  return true;
}

// "HTTP/1.0" or "HTTP/1.1" at p (8 bytes available): 10 or 11, else 0.
unsigned http_version(const char* p) {
  if (std::memcmp(p, "HTTP/1.", 7) != 0) return 0;
  if (p[7] == '1') return 11;
  if (p[7] == '0') return 10;
  return 0;
}

// Records what Beast's do_field would for the fields that frame the message or decide keep-alive, given
// the lowercase name. False for the ones left to Beast.
bool note_field(std::string_view name, std::string_view value, FastHead& head) {
  switch (name.size()) {
    case 7:
      return name != "upgrade";
    case 10:
      if (name != "connection") return true;
      if (ascii_iequals(value, "close")) {
        head.connection_close = true;
        return true;
      }
      if (ascii_iequals(value, "keep-alive")) {
        head.connection_keep_alive = true;
        return true;
      }
      return false;  // a list, "upgrade", anything else: Beast's token list parser
    case 14: {
      if (name != "content-length") return true;
      // One field of 1-19 digits (below 10^19: no overflow); a repeat, a list or a longer number go to Beast.
      if (head.has_content_length || value.empty() || value.size() > 19) return false;
      std::uint64_t v = 0;
      for (const char c : value) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
      head.has_content_length = true;
      head.content_length = v;
      return true;
    }
    case 16:
      return name != "proxy-connection";
    case 17:
      return name != "transfer-encoding";
    default:
      return true;
  }
}

// The field lines from p, up to and including the blank line, within [p, end). Returns the head's end, or
// nullptr when the head is not complete and plain.
const char* parse_fields(const char* p, const char* end, HeaderList& headers, FastHead& head) {
  std::size_t count = 0;
  for (;;) {
    if (end - p < 2) return nullptr;
    if (p[0] == '\r') {
      if (p[1] != '\n') return nullptr;
      trim_headers(headers, count);
      return p + 2;
    }
    const char* const name = p;
    while (p < end && token_byte(*p)) ++p;
    if (p == name || p >= end || *p != ':') return nullptr;
    const std::string_view name_sv(name, static_cast<std::size_t>(p - name));
    ++p;
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    const char* const value = p;
    p = find_control(p, end);
    // CR LF. A folded continuation line (obs-fold) after it starts with SP or HTAB, no field name: the
    // next round sends it to Beast.
    if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return nullptr;
    const char* value_end = p;
    while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) --value_end;
    p += 2;
    put_header(headers, count, name_sv, {value, static_cast<std::size_t>(value_end - value)});
    const auto& field = headers[count - 1];
    if (!note_field(field.first, field.second, head)) return nullptr;
  }
}

}  // namespace

void put_header(HeaderList& headers, std::size_t& count, std::string_view name, std::string_view value) {
  if (count < headers.size()) {
    util::assign_ascii_lower(headers[count].first, name);
    headers[count].second.assign(value.data(), value.size());
  } else {
    headers.emplace_back();
    util::assign_ascii_lower(headers.back().first, name);
    headers.back().second.assign(value.data(), value.size());
  }
  ++count;
}

bool parse_request_head(std::string_view in, std::size_t header_limit, std::uint64_t body_limit, Request& out,
                        FastHead& head) {
  head = FastHead{};
  const char* const begin = in.data();
  const char* const end = begin + std::min(in.size(), header_limit);
  const char* p = begin;
  // method SP
  while (p < end && token_byte(*p)) ++p;
  if (p == begin || p >= end || *p != ' ') return false;
  const char* const method_end = p++;
  // request-target SP
  const char* const target = p;
  while (p < end && target_byte(*p)) ++p;
  if (p == target || p >= end || *p != ' ') return false;
  const char* const target_end = p++;
  // HTTP-version CRLF
  if (end - p < 10 || p[8] != '\r' || p[9] != '\n') return false;
  head.version = http_version(p);
  if (head.version == 0) return false;
  p += 10;
  p = parse_fields(p, end, out.headers, head);
  if (p == nullptr) return false;
  if (head.has_content_length && head.content_length > body_limit) return false;  // Beast's body_limit error
  out.method.assign(begin, static_cast<std::size_t>(method_end - begin));
  out.target.assign(target, static_cast<std::size_t>(target_end - target));
  head.size = static_cast<std::size_t>(p - begin);
  return true;
}

bool parse_response_head(std::string_view in, std::size_t header_limit, HeaderList& headers, FastHead& head) {
  head = FastHead{};
  const char* const begin = in.data();
  const char* const end = begin + std::min(in.size(), header_limit);
  const char* p = begin;
  // HTTP-version SP status-code SP
  if (end - p < 13 || p[8] != ' ' || p[12] != ' ') return false;
  head.version = http_version(p);
  if (head.version == 0) return false;
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    status = status * 10 + (p[i] - '0');
  }
  // No body whatever the fields say (1xx, 204, 304), or statuses Beast may take differently: Beast's.
  if (status < 200 || status > 599 || status == 204 || status == 304) return false;
  head.status = status;
  p += 13;
  // reason-phrase CRLF
  p = find_control(p, end);
  if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return false;
  p += 2;
  p = parse_fields(p, end, headers, head);
  // Without a Content-Length the body runs to the end of the connection or is chunked: Beast's.
  if (p == nullptr || !head.has_content_length) return false;
  head.size = static_cast<std::size_t>(p - begin);
  return true;
}

}  // namespace spillway::http::detail
