#include "telemetry/usage_record.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "util/json.h"
#include "util/raw_writer.h"

namespace spillway::telemetry {
namespace {

// pack_usage's layout: Numbers, then each Text in order as a uint32 length and its bytes.
struct Numbers {
  int64_t time_ms, prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens;
  double ttft_ms, duration_ms;
  int32_t attempts, status;
  uint8_t stream, tokens_estimated, client_disconnected, has_prompt, has_completion;
};
// The texts, in their order in the layout. Tags and tools are written as JSON, not copied. The columns of
// the usage log's dimension table (usage_db.cpp) come first, together: their bytes, lengths included, are
// the dimensions' key (PackedUsageView::dims_key) without a copy.
enum Text : int {
  kApi,
  kOperation,
  kPool,
  kDeployment,
  kModel,
  kBackend,
  kSubscription,
  kProduct,
  kTags,
  kError,
  kUsageSource,
  kCache,
  kDimsEnd,  // the texts above are the dimensions
  kRequestId = kDimsEnd,
  kUserHash,
  kTools,
  kPrompt,
  kCompletion,
  kTexts
};

// Where the JSON of tags and tools goes: pack_usage's buffer, sized beforehand (at most
// util::kJsonEscapedMaxPerByte bytes per byte of text, plus the punctuation; a util::RawWriter), or a
// string (tags_json, tools_json).
struct StringOut {
  std::string& s;
  void push_back(char c) { s.push_back(c); }
  void append_json_string(std::string_view v) { util::append_json_string(s, v); }
};

// Tags: any range of (name, value) pairs, written in its order.
template <class Out, class Tags>
void write_tags(Out& out, const Tags& tags) {
  out.push_back('{');
  bool first = true;
  for (const auto& [name, value] : tags) {
    if (!first) out.push_back(',');
    first = false;
    out.append_json_string(name);
    out.push_back(':');
    out.append_json_string(value);
  }
  out.push_back('}');
}

template <class Out>
void write_tools(Out& out, std::span<const std::string> tools) {
  out.push_back('[');
  for (std::size_t i = 0; i < tools.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append_json_string(tools[i]);
  }
  out.push_back(']');
}

}  // namespace

UsageRecordRef ref_of(const UsageRecord& r) {
  UsageRecordRef v;
  v.time_ms = r.time_ms;
  v.request_id = r.request_id;
  v.api = r.api;
  v.operation = r.operation;
  v.pool = r.pool;
  v.deployment = r.deployment;
  v.model = r.model;
  v.backend = r.backend;
  v.attempts = r.attempts;
  v.subscription = r.subscription;
  v.product = r.product;
  v.tags = &r.tags;
  v.user_hash = r.user_hash;
  v.tools = r.tools;
  v.status = r.status;
  v.error = r.error;
  v.stream = r.stream;
  v.prompt_tokens = r.prompt_tokens;
  v.completion_tokens = r.completion_tokens;
  v.total_tokens = r.total_tokens;
  v.cached_tokens = r.cached_tokens;
  v.reasoning_tokens = r.reasoning_tokens;
  v.tokens_estimated = r.tokens_estimated;
  v.usage_source = r.usage_source;
  v.ttft_ms = r.ttft_ms;
  v.duration_ms = r.duration_ms;
  v.cache = r.cache;
  v.client_disconnected = r.client_disconnected;
  if (r.prompt) v.prompt = *r.prompt;
  if (r.completion) v.completion = *r.completion;
  return v;
}

UsageRecord to_record(const UsageRecordRef& v) {
  UsageRecord r;
  r.time_ms = v.time_ms;
  r.request_id = v.request_id;
  r.api = v.api;
  r.operation = v.operation;
  r.pool = v.pool;
  r.deployment = v.deployment;
  r.model = v.model;
  r.backend = v.backend;
  r.attempts = v.attempts;
  r.subscription = v.subscription;
  r.product = v.product;
  if (v.tags) r.tags = *v.tags;
  if (v.tag_map) r.tags.assign(v.tag_map->begin(), v.tag_map->end());
  r.user_hash = v.user_hash;
  r.tools.assign(v.tools.begin(), v.tools.end());
  r.status = v.status;
  r.error = v.error;
  r.stream = v.stream;
  r.prompt_tokens = v.prompt_tokens;
  r.completion_tokens = v.completion_tokens;
  r.total_tokens = v.total_tokens;
  r.cached_tokens = v.cached_tokens;
  r.reasoning_tokens = v.reasoning_tokens;
  r.tokens_estimated = v.tokens_estimated;
  r.usage_source = v.usage_source;
  r.ttft_ms = v.ttft_ms;
  r.duration_ms = v.duration_ms;
  r.cache = v.cache;
  r.client_disconnected = v.client_disconnected;
  if (v.prompt) r.prompt = std::string(*v.prompt);
  if (v.completion) r.completion = std::string(*v.completion);
  return r;
}

std::string pack_usage(const UsageRecord& r) { return pack_usage(ref_of(r)); }

std::string pack_usage(const UsageRecordRef& r) {
  std::string_view texts[kTexts];  // kTags and kTools stay empty: they are written as JSON below
  texts[kRequestId] = r.request_id;
  texts[kApi] = r.api;
  texts[kOperation] = r.operation;
  texts[kPool] = r.pool;
  texts[kDeployment] = r.deployment;
  texts[kModel] = r.model;
  texts[kBackend] = r.backend;
  texts[kSubscription] = r.subscription;
  texts[kProduct] = r.product;
  texts[kUserHash] = r.user_hash;
  texts[kError] = r.error;
  texts[kUsageSource] = r.usage_source;
  texts[kCache] = r.cache;
  if (r.prompt) texts[kPrompt] = *r.prompt;
  if (r.completion) texts[kCompletion] = *r.completion;
  // The most it can take: the texts as they are, tags and tools escaped at worst.
  constexpr std::size_t kEsc = util::kJsonEscapedMaxPerByte;
  std::size_t size = sizeof(Numbers) + kTexts * sizeof(uint32_t) + 2 + 2;  // the JSON brackets
  for (const std::string_view t : texts) size += t.size();
  const auto tags_size = [](const auto& tags) {
    std::size_t n = 0;
    for (const auto& [k, v] : tags) n += kEsc * (k.size() + v.size()) + 6;  // quotes, colon, comma
    return n;
  };
  if (r.tags) size += tags_size(*r.tags);
  if (r.tag_map) size += tags_size(*r.tag_map);
  for (const auto& t : r.tools) size += kEsc * t.size() + 3;
  std::string out;
  out.resize(size);
  util::RawWriter w{out.data()};
  Numbers n{};
  n.time_ms = r.time_ms;
  n.prompt_tokens = r.prompt_tokens;
  n.completion_tokens = r.completion_tokens;
  n.total_tokens = r.total_tokens;
  n.cached_tokens = r.cached_tokens;
  n.reasoning_tokens = r.reasoning_tokens;
  n.ttft_ms = r.ttft_ms;
  n.duration_ms = r.duration_ms;
  n.attempts = r.attempts;
  n.status = r.status;
  n.stream = r.stream;
  n.tokens_estimated = r.tokens_estimated;
  n.client_disconnected = r.client_disconnected;
  n.has_prompt = r.prompt.has_value();
  n.has_completion = r.completion.has_value();
  w.append(std::string_view(reinterpret_cast<const char*>(&n), sizeof n));
  for (int i = 0; i < kTexts; ++i) {
    char* const length_at = w.p;
    w.p += sizeof(uint32_t);
    if (i == kTags) {
      if (r.tags) {
        write_tags(w, *r.tags);
      } else if (r.tag_map) {
        write_tags(w, *r.tag_map);
      } else {
        w.append("{}");
      }
    } else if (i == kTools) {
      write_tools(w, r.tools);
    } else {
      w.append(texts[i]);
    }
    // A text past 4 GiB (only a request body near that size could carry one) is cut to fit its length.
    const auto written = static_cast<std::size_t>(w.p - length_at) - sizeof(uint32_t);
    const auto length = static_cast<uint32_t>(std::min<std::size_t>(written, UINT32_MAX));
    w.p = length_at + sizeof(uint32_t) + length;
    std::memcpy(length_at, &length, sizeof length);
  }
  out.resize(static_cast<std::size_t>(w.p - out.data()));
  return out;
}

PackedUsageView unpack_usage(std::string_view packed) {
  Numbers n;
  std::memcpy(&n, packed.data(), sizeof n);
  std::size_t at = sizeof n;
  std::string_view texts[kTexts];
  std::size_t dims_end = at;
  for (int i = 0; i < kTexts; ++i) {
    uint32_t length;
    std::memcpy(&length, packed.data() + at, sizeof length);
    at += sizeof length;
    texts[i] = packed.substr(at, length);
    at += length;
    if (i + 1 == kDimsEnd) dims_end = at;
  }
  PackedUsageView row;
  row.dims_key = packed.substr(sizeof n, dims_end - sizeof n);
  row.time_ms = n.time_ms;
  row.request_id = texts[kRequestId];
  row.api = texts[kApi];
  row.operation = texts[kOperation];
  row.pool = texts[kPool];
  row.deployment = texts[kDeployment];
  row.model = texts[kModel];
  row.backend = texts[kBackend];
  row.attempts = n.attempts;
  row.subscription = texts[kSubscription];
  row.product = texts[kProduct];
  row.tags = texts[kTags];
  row.user_hash = texts[kUserHash];
  row.tools = texts[kTools];
  row.status = n.status;
  row.error = texts[kError];
  row.stream = n.stream != 0;
  row.prompt_tokens = n.prompt_tokens;
  row.completion_tokens = n.completion_tokens;
  row.total_tokens = n.total_tokens;
  row.cached_tokens = n.cached_tokens;
  row.reasoning_tokens = n.reasoning_tokens;
  row.tokens_estimated = n.tokens_estimated != 0;
  row.usage_source = texts[kUsageSource];
  row.ttft_ms = n.ttft_ms;
  row.duration_ms = n.duration_ms;
  row.cache = texts[kCache];
  row.client_disconnected = n.client_disconnected != 0;
  if (n.has_prompt) row.prompt = texts[kPrompt];
  if (n.has_completion) row.completion = texts[kCompletion];
  return row;
}

std::string tags_json(const std::vector<std::pair<std::string, std::string>>& tags) {
  std::string out;
  StringOut o{out};
  write_tags(o, tags);
  return out;
}

std::string tools_json(const std::vector<std::string>& tools) {
  std::string out;
  StringOut o{out};
  write_tools(o, tools);
  return out;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the sequence that would be cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

void redact(std::string& text, const std::vector<std::string>& secrets) {
  static constexpr std::string_view kMark = "[redacted]";
  for (const auto& s : secrets) {
    if (s.empty()) continue;
    for (std::size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + kMark.size())) {
      text.replace(pos, s.size(), kMark);
    }
  }
}

}  // namespace spillway::telemetry
