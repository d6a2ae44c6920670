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

// The usage of a document whose first "usage" is at `at`, read without parsing what comes before it. In a
// valid document, "usage" with both quotes unescaped is a string token; if it is a member name of the root
// object, what follows it is the rest of that object, so "{" + that suffix is itself a valid object (a
// "usage" nested deeper leaves closing brackets over, one that is a value leaves no member, and either
// fails to parse). A backend puts usage last, so this parses a couple of hundred bytes instead of the whole
// response. Returns nullopt when the suffix does not decide (the caller parses the whole document): it does
// not parse, it is long, or the member is not an object and another "usage" follows (a Responses API event
// can carry its usage in "response"). What comes before the member is not validated, so a body malformed
// only there still yields its usage.
std::optional<std::optional<Usage>> usage_from_suffix(std::string_view json, const char* at) {
  constexpr std::size_t kMaxSuffix = 16 * 1024;  // and so the thread's copy never grows past this
  const auto suffix = static_cast<std::size_t>(json.data() + json.size() - at);
  if (suffix > kMaxSuffix) return std::nullopt;
  // An odd run of backslashes escapes the first quote: the match ends a string, it does not start one.
  std::size_t backslashes = 0;
  for (const char* p = at; p > json.data() && p[-1] == '\\'; --p) ++backslashes;
  if (backslashes % 2 != 0) return std::nullopt;
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

std::optional<Usage> extract_usage(std::string_view json) {
  const char* at = find_usage_key(json);
  if (at == nullptr) return std::nullopt;
  if (auto found = usage_from_suffix(json, at)) return *found;
  return extract_usage_dom(json);
}

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
