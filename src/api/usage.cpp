#include "api/usage.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "api/json_doc.h"

namespace spillway::api {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// A token count: a non-negative integer (integral doubles accepted, anything else counts as 0).
int64_t count_of(const element& e) {
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return i < 0 ? 0 : i;
  uint64_t u;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return INT64_MAX;  // > INT64_MAX: saturate
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS && d >= 0 && d < 9.2e18 &&
      d == static_cast<double>(static_cast<int64_t>(d))) {
    return static_cast<int64_t>(d);
  }
  return 0;
}

// The usage members read, by name. Each is taken at its first occurrence, as a DOM lookup (at_key) takes a
// repeated key.
enum UsageMember {
  kPromptTokens,
  kInputTokens,
  kCompletionTokens,
  kOutputTokens,
  kTotalTokens,
  kPromptDetails,
  kInputDetails,
  kCompletionDetails,
  kOutputDetails,
  kUsageMembers
};
constexpr std::array<std::string_view, kUsageMembers> kUsageMemberNames = {
    "prompt_tokens",        "input_tokens",          "completion_tokens",    "output_tokens",
    "total_tokens",         "prompt_tokens_details", "input_tokens_details", "completion_tokens_details",
    "output_tokens_details"};

struct UsageMembers {
  std::array<element, kUsageMembers> value{};
  std::array<bool, kUsageMembers> present{};

  // One pass over the object (a lookup per name scanned it once per name).
  explicit UsageMembers(const object& u) {
    for (const auto field : u) {
      for (std::size_t m = 0; m < kUsageMembers; ++m) {
        if (field.key == kUsageMemberNames[m]) {
          if (!present[m]) {
            present[m] = true;
            value[m] = field.value;
          }
          break;
        }
      }
    }
  }
  // The first of `members` present and not null.
  std::optional<int64_t> first_count(std::initializer_list<UsageMember> members) const {
    for (const UsageMember m : members) {
      if (present[m] && !value[m].is_null()) return count_of(value[m]);
    }
    return std::nullopt;
  }
  // `key` of the first of the `parents` that is an object and has it (not null).
  int64_t nested_count(std::initializer_list<UsageMember> parents, std::string_view key) const {
    for (const UsageMember parent : parents) {
      object details;
      if (!present[parent] || value[parent].get_object().get(details) != simdjson::SUCCESS) continue;
      element e;
      if (details.at_key(key).get(e) == simdjson::SUCCESS && !e.is_null()) return count_of(e);
    }
    return 0;
  }
};

Usage usage_from(const object& u) {
  const UsageMembers members(u);
  Usage usage;
  const auto prompt = members.first_count({kPromptTokens, kInputTokens});
  const auto completion = members.first_count({kCompletionTokens, kOutputTokens});
  const auto total = members.first_count({kTotalTokens});
  usage.prompt_tokens = prompt.value_or(0);
  usage.completion_tokens = completion.value_or(0);
  usage.total_tokens = total ? *total : usage.prompt_tokens + usage.completion_tokens;
  usage.cached_tokens = members.nested_count({kPromptDetails, kInputDetails}, "cached_tokens");
  usage.reasoning_tokens = members.nested_count({kCompletionDetails, kOutputDetails}, "reasoning_tokens");
  return usage;
}

constexpr std::string_view kUsageKey = "\"usage\"";

// Every payload that carries usage spells the key literally; skipping the parse for the others keeps
// the per-chunk cost of a stream near zero. The first occurrence counts.
//
// How: in the first 4 KiB (where a chat completion's "usage" lies), 16 bytes at a time, looking only at
// the places where a quote is followed by 'u'. string_view::find calls memchr once per quote, and a chat
// completion has some forty quotes before its "usage" (about 1k instructions; this is about a third).
// Beyond 4 KiB, find: memchr's wider loop crosses long runs without quotes (embeddings) faster.
const char* find_usage_key(std::string_view json) {
  const char* p = json.data();
  const char* const end = p + json.size();
#if defined(__SSE2__)
  constexpr std::size_t kVectorScan = 4096;
  const char* const vector_end = p + std::min(json.size(), kVectorScan);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i u = _mm_set1_epi8('u');
  // Each step looks at the pairs starting at p .. p+15, whose second bytes reach p+16.
  while (vector_end - p >= 17) {
    const __m128i first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i second = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
    auto pairs = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(first, quote), _mm_cmpeq_epi8(second, u))));
    while (pairs != 0) {
      const char* candidate = p + __builtin_ctz(pairs);
      if (static_cast<std::size_t>(end - candidate) >= kUsageKey.size() &&
          std::memcmp(candidate, kUsageKey.data(), kUsageKey.size()) == 0) {
        return candidate;
      }
      pairs &= pairs - 1;
    }
    p += 16;
  }
#endif
  const std::string_view rest(p, static_cast<std::size_t>(end - p));
  const std::size_t at = rest.find(kUsageKey);
  return at == std::string_view::npos ? nullptr : p + at;
}

bool is_final_response_event(std::string_view type) {
  return type == "response.completed" || type == "response.incomplete" || type == "response.failed";
}

// The whole document through the DOM: the reference semantics, and the way for what usage_from_suffix
// leaves undecided.
std::optional<Usage> extract_usage_dom(std::string_view json) {
  const ParsedJson doc(json);
  if (doc.error() != simdjson::SUCCESS) return std::nullopt;
  object root;
  if (doc.root().get_object().get(root) != simdjson::SUCCESS) return std::nullopt;

  object usage;
  if (root.at_key("usage").get_object().get(usage) == simdjson::SUCCESS) return usage_from(usage);

  // Responses API stream: {"type":"response.completed","response":{...,"usage":{...}}}
  std::string_view type;
  if (root.at_key("type").get_string().get(type) == simdjson::SUCCESS && is_final_response_event(type)) {
    if (root.at_pointer("/response/usage").get_object().get(usage) == simdjson::SUCCESS)
      return usage_from(usage);
  }
  return std::nullopt;
}

// The usual usage suffix read by hand, without simdjson's fixed cost (some 3k instructions for the couple
// of hundred bytes). `in` starts at the key "usage" of a root member. It takes only a suffix that is plain:
// ASCII strings without control characters, integers of at most 18 digits as counts, nesting at most 32
// deep, the usage member an object, and nothing but whitespace after the root's closing brace. Whatever
// it takes is valid JSON ("{" + suffix) and yields what usage_from() over simdjson's parse does; anything
// else returns nullopt and goes the simdjson way.
class PlainSuffix {
 public:
  explicit PlainSuffix(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  std::optional<Usage> read() {
    std::string_view key;
    if (!string(key) || !colon() || !usage_object()) return std::nullopt;
    for (;;) {
      ws();
      if (p_ == end_) return std::nullopt;
      if (*p_ == '}') break;
      if (*p_++ != ',') return std::nullopt;
      ws();
      if (!string(key) || !colon() || !skip_value(0)) return std::nullopt;
    }
    ++p_;
    ws();
    if (p_ != end_) return std::nullopt;
    Usage usage;
    const auto prompt = first({kPromptTokens, kInputTokens});
    const auto completion = first({kCompletionTokens, kOutputTokens});
    const auto total = first({kTotalTokens});
    usage.prompt_tokens = prompt.value_or(0);
    usage.completion_tokens = completion.value_or(0);
    usage.total_tokens = total ? *total : usage.prompt_tokens + usage.completion_tokens;
    usage.cached_tokens = nested({kPromptDetails, kInputDetails});
    usage.reasoning_tokens = nested({kCompletionDetails, kOutputDetails});
    return usage;
  }

 private:
  static constexpr int kMaxDepth = 32;
  // What a member of the usage object held at its first occurrence.
  enum class Kind : unsigned char { kAbsent, kNull, kCount, kObject, kOther };
  struct Member {
    Kind kind = Kind::kAbsent;
    int64_t count = 0;
    Kind inner_kind = Kind::kAbsent;  // a details object's cached_tokens / reasoning_tokens
    int64_t inner_count = 0;
  };

  std::optional<int64_t> first(std::initializer_list<UsageMember> members) const {
    for (const UsageMember m : members) {
      const Member& v = members_[m];
      if (v.kind == Kind::kAbsent || v.kind == Kind::kNull) continue;
      return v.kind == Kind::kCount ? v.count : 0;  // an object, string or boolean counts 0 (count_of)
    }
    return std::nullopt;
  }
  int64_t nested(std::initializer_list<UsageMember> parents) const {
    for (const UsageMember m : parents) {
      const Member& v = members_[m];
      if (v.kind != Kind::kObject || v.inner_kind == Kind::kAbsent || v.inner_kind == Kind::kNull) continue;
      return v.inner_kind == Kind::kCount ? v.inner_count : 0;
    }
    return 0;
  }

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool colon() {
    ws();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    ws();
    return true;
  }
  // The first byte in [p, end) that ends a run of plain string bytes: a quote, a backslash, a control
  // character or a non-ASCII byte; `end` if none.
  static const char* string_stop(const char* p, const char* end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (end - p >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      // Signed: bytes of 0x80 and more are negative, below 0x20 too.
      const __m128i stop = _mm_or_si128(_mm_cmplt_epi8(v, space),
                                        _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
      if (const int mask = _mm_movemask_epi8(stop); mask != 0)
        return p + __builtin_ctz(static_cast<unsigned>(mask));
      p += 16;
    }
#endif
    for (; p < end; ++p) {
      const auto c = static_cast<unsigned char>(*p);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
    }
    return end;
  }
  // A string of ASCII without control characters or \u escapes; `out` is its raw text, escapes as written
  // (so a name with an escape never equals a member name: those have no backslash, and only \u could spell
  // one of their letters).
  bool string(std::string_view& out) {
    const char* p = p_;
    if (p == end_ || *p != '"') return false;
    const char* const begin = ++p;
    for (;;) {
      p = string_stop(p, end_);
      if (p == end_) return false;
      if (*p == '"') break;
      if (*p != '\\' || ++p == end_) return false;  // a control character, non-ASCII, or a cut escape
      switch (*p++) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          break;
        default:  // \u (surrogate pairs: simdjson's rules) and invalid escapes
          return false;
      }
    }
    out = std::string_view(begin, static_cast<std::size_t>(p - begin));
    p_ = p + 1;
    return true;
  }
  // An integer of JSON's grammar with 1-18 digits (no fraction or exponent), as count_of reads it.
  bool integer(int64_t& out) {
    const bool negative = p_ < end_ && *p_ == '-';
    if (negative) ++p_;
    const char* const digits = p_;
    uint64_t v = 0;  // unsigned: a long run of digits wraps (and is refused below), no overflow
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') v = v * 10 + static_cast<uint64_t>(*p_++ - '0');
    const auto n = p_ - digits;
    if (n == 0 || n > 18 || (n > 1 && *digits == '0')) return false;
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    out = negative ? 0 : static_cast<int64_t>(v);
    return true;
  }
  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }
  // One value of any kind, checked and passed over.
  bool skip_value(int depth) {
    if (p_ == end_ || depth > kMaxDepth) return false;
    std::string_view text;
    int64_t n;
    switch (*p_) {
      case '"':
        return string(text);
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      case '{':
        return elements('}', [&] {
          std::string_view key;
          return string(key) && colon() && skip_value(depth + 1);
        });
      case '[':
        return elements(']', [&] { return skip_value(depth + 1); });
      default:
        return integer(n);
    }
  }
  // An object's or array's elements, from its opening bracket (at p_) to `close`: each read by `element`
  // (a member's name, colon and value, or a value).
  template <class Element>
  bool elements(char close, Element element) {
    ++p_;
    ws();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    for (;;) {
      if (!element()) return false;
      ws();
      if (p_ == end_) return false;
      if (*p_ == close) {
        ++p_;
        return true;
      }
      if (*p_++ != ',') return false;
      ws();
    }
  }
  // A count member's value: an integer, null, or another kind (counted 0).
  bool count_value(Kind& kind, int64_t& count, int depth) {
    if (p_ == end_) return false;
    if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) {
      kind = Kind::kCount;
      return integer(count);
    }
    kind = *p_ == 'n' ? Kind::kNull : Kind::kOther;
    return skip_value(depth);
  }
  bool usage_object() {
    if (p_ == end_ || *p_ != '{') return false;  // null or another kind: simdjson's way decides
    return elements('}', [&] {
      std::string_view key;
      return string(key) && colon() && member(key);
    });
  }
  // A member of the usage object (depth 2).
  bool member(std::string_view key) {
    std::size_t m = 0;
    while (m < kUsageMembers && key != kUsageMemberNames[m]) ++m;
    if (m == kUsageMembers || members_[m].kind != Kind::kAbsent) {  // not read, or a repeat
      Kind kind;
      int64_t count;
      return m == kUsageMembers ? skip_value(2) : count_value(kind, count, 2);
    }
    Member& v = members_[m];
    if (m < kPromptDetails) return count_value(v.kind, v.count, 2);
    if (p_ == end_ || *p_ != '{') {
      v.kind = p_ < end_ && *p_ == 'n' ? Kind::kNull : Kind::kOther;
      return skip_value(2);
    }
    v.kind = Kind::kObject;
    using namespace std::string_view_literals;
    const std::string_view inner =
        m == kPromptDetails || m == kInputDetails ? "cached_tokens"sv : "reasoning_tokens"sv;
    return elements('}', [&] {
      std::string_view name;
      if (!string(name) || !colon()) return false;
      if (name == inner && v.inner_kind == Kind::kAbsent) return count_value(v.inner_kind, v.inner_count, 3);
      return skip_value(3);
    });
  }

  const char* p_;
  const char* const end_;
  std::array<Member, kUsageMembers> members_{};
};

// The usage of a document whose first "usage" is at `at`, read without parsing what comes before it. In a
// valid document, "usage" with both quotes unescaped is a string token; if it is a member name of the root
// object, what follows it is the rest of that object, so "{" + that suffix is itself a valid object (a
// "usage" nested deeper leaves closing brackets over, one that is a value leaves no member, and either
// fails to parse). A backend puts usage last, so this parses a couple of hundred bytes instead of the whole
// response: by PlainSuffix when `plain` and the suffix is of its kind, else by simdjson. Returns nullopt
// when the suffix does not decide (the caller parses the whole document): it does not parse, it is long,
// or the member is not an object and another "usage" follows (a Responses API event can carry its usage
// in "response"). What comes before the member is not validated, so a body malformed only there still
// yields its usage.
std::optional<std::optional<Usage>> usage_from_suffix(std::string_view json, const char* at, bool plain) {
  constexpr std::size_t kMaxSuffix = 16 * 1024;  // and so the thread's copy never grows past this
  const auto suffix = static_cast<std::size_t>(json.data() + json.size() - at);
  if (suffix > kMaxSuffix) return std::nullopt;
  // An odd run of backslashes escapes the first quote: the match ends a string, it does not start one.
  std::size_t backslashes = 0;
  for (const char* p = at; p > json.data() && p[-1] == '\\'; --p) ++backslashes;
  if (backslashes % 2 != 0) return std::nullopt;
  if (plain) {
    if (auto usage = PlainSuffix(std::string_view(at, suffix)).read()) return std::optional<Usage>{*usage};
  }
  thread_local std::string object_json;
  object_json.clear();
  object_json.push_back('{');
  object_json.append(at, suffix);
  const ParsedJson doc(object_json);
  object root;
  if (doc.error() != simdjson::SUCCESS || doc.root().get_object().get(root) != simdjson::SUCCESS)
    return std::nullopt;
  object usage;
  if (root.at_key("usage").get_object().get(usage) == simdjson::SUCCESS)
    return std::optional<Usage>{usage_from(usage)};
  // A root-level "usage" that is not an object (null in every chunk of a stream that asked for usage).
  if (find_usage_key(std::string_view(at + 1, suffix - 1)) != nullptr) return std::nullopt;
  return std::optional<Usage>{};
}

}  // namespace

namespace detail {

std::optional<Usage> extract_usage(std::string_view json, bool plain_suffix) {
  const char* at = find_usage_key(json);
  if (at == nullptr) return std::nullopt;
  if (auto found = usage_from_suffix(json, at, plain_suffix)) return *found;
  return extract_usage_dom(json);
}

}  // namespace detail

std::optional<Usage> detail::read_plain_usage_suffix(std::string_view suffix) {
  return PlainSuffix(suffix).read();
}

std::optional<Usage> extract_usage(std::string_view json) { return detail::extract_usage(json, true); }

bool mentions_usage(std::string_view json) { return find_usage_key(json) != nullptr; }

bool is_usage_only_chunk(std::string_view json) {
  if (find_usage_key(json) == nullptr) return false;
  const ParsedJson doc(json);
  if (doc.error() != simdjson::SUCCESS) return false;
  object root;
  if (doc.root().get_object().get(root) != simdjson::SUCCESS) return false;
  simdjson::dom::array choices;
  if (root.at_key("choices").get_array().get(choices) != simdjson::SUCCESS || choices.size() != 0)
    return false;
  object usage;
  return root.at_key("usage").get_object().get(usage) == simdjson::SUCCESS;
}

}  // namespace spillway::api
