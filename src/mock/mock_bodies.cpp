#include "mock/mock_bodies.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "util/json.h"

namespace spillway::mock {
namespace {

constexpr int kEmbeddingDimensions = 8;

void append_int(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

// "wK " for K = first .. last, inclusive.
void append_words(std::string& out, int64_t first, int64_t last) {
  for (int64_t k = first; k <= last; ++k) {
    out.push_back('w');
    append_int(out, k);
    out.push_back(' ');
  }
}

void append_usage(std::string& out, Operation operation, const Completion& c) {
  const bool responses = operation == Operation::kResponse;
  out += responses ? R"("usage":{"input_tokens":)" : R"("usage":{"prompt_tokens":)";
  append_int(out, c.prompt_tokens);
  out += responses ? R"(,"output_tokens":)" : R"(,"completion_tokens":)";
  append_int(out, c.completion_tokens);
  out += R"(,"total_tokens":)";
  append_int(out, c.prompt_tokens + c.completion_tokens);
  out += responses ? R"(,"input_tokens_details":{"cached_tokens":)"
                   : R"(,"prompt_tokens_details":{"cached_tokens":)";
  append_int(out, c.cached_tokens);
  out += "}}";
}

// The Responses API object; `completed` adds the output text and the usage.
void append_response_object(std::string& out, const Completion& c, bool completed) {
  out += R"({"id":)";
  util::append_json_string(out, c.id);
  out += completed ? R"(,"object":"response","status":"completed","model":)"
                   : R"(,"object":"response","status":"in_progress","model":)";
  util::append_json_string(out, c.model);
  if (!completed) {
    out += R"(,"output":[]})";
    return;
  }
  out += R"(,"output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":")";
  append_words(out, 1, c.completion_tokens);
  out += R"("}]}])";
  if (c.usage) {
    out.push_back(',');
    append_usage(out, Operation::kResponse, c);
  }
  out.push_back('}');
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

void append_base64(std::string& out, const unsigned char* data, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < n; i += 3) {
    const uint32_t b = (uint32_t{data[i]} << 16) | (i + 1 < n ? uint32_t{data[i + 1]} << 8 : 0) |
                       (i + 2 < n ? uint32_t{data[i + 2]} : 0);
    out.push_back(kAlphabet[(b >> 18) & 63]);
    out.push_back(kAlphabet[(b >> 12) & 63]);
    out.push_back(i + 1 < n ? kAlphabet[(b >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? kAlphabet[b & 63] : '=');
  }
}

// As OpenAI does for encoding_format "base64": the little-endian float32 values, base64-encoded, as a
// JSON string; else a JSON array of numbers.
void append_embedding_vector(std::string& out, uint64_t input_hash, bool base64) {
  float values[kEmbeddingDimensions];
  double norm = 0;
  for (int d = 0; d < kEmbeddingDimensions; ++d) {
    const uint64_t bits = splitmix64(input_hash + static_cast<uint64_t>(d));
    values[d] = static_cast<float>(static_cast<double>(bits >> 11) * 0x1.0p-52 - 1.0);  // [-1, 1)
    norm += static_cast<double>(values[d]) * values[d];
  }
  norm = norm > 0 ? std::sqrt(norm) : 1;
  if (base64) {
    unsigned char bytes[kEmbeddingDimensions * 4];
    for (int d = 0; d < kEmbeddingDimensions; ++d) {
      const float v = static_cast<float>(values[d] / norm);
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      for (int k = 0; k < 4; ++k) bytes[d * 4 + k] = static_cast<unsigned char>(bits >> (8 * k));
    }
    out.push_back('"');
    append_base64(out, bytes, sizeof bytes);
    out.push_back('"');
    return;
  }
  out.push_back('[');
  for (int d = 0; d < kEmbeddingDimensions; ++d) {
    if (d > 0) out.push_back(',');
    char digits[32];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, static_cast<float>(values[d] / norm));
    out.append(digits, end);
  }
  out.push_back(']');
}

}  // namespace

void append_error(std::string& out, std::string_view message, std::string_view type, std::string_view code,
                  std::string_view param) {
  out += R"({"error":{"message":)";
  util::append_json_string(out, message);
  out += R"(,"type":)";
  util::append_json_string(out, type);
  out += R"(,"param":)";
  if (param.empty()) {
    out += "null";
  } else {
    util::append_json_string(out, param);
  }
  out += R"(,"code":)";
  util::append_json_string(out, code);
  out += "}}";
}

void append_completion_body(std::string& out, Operation operation, const Completion& c) {
  if (operation == Operation::kResponse) return append_response_object(out, c, true);
  const bool chat = operation == Operation::kChat;
  out += R"({"id":)";
  util::append_json_string(out, c.id);
  out += chat ? R"(,"object":"chat.completion","created":)" : R"(,"object":"text_completion","created":)";
  append_int(out, c.created);
  out += R"(,"model":)";
  util::append_json_string(out, c.model);
  out += chat ? R"(,"choices":[{"index":0,"message":{"role":"assistant","content":")"
              : R"(,"choices":[{"index":0,"text":")";
  append_words(out, 1, c.completion_tokens);
  out += chat ? R"("},"finish_reason":"stop"}])" : R"(","finish_reason":"stop"}])";
  if (c.usage) {
    out.push_back(',');
    append_usage(out, operation, c);
  }
  out.push_back('}');
}

uint64_t embedding_input_hash(std::string_view bytes, uint64_t kind) {
  uint64_t h = 0xCBF29CE484222325ULL ^ kind;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ULL;
  }
  return h;
}

void append_embeddings_body(std::string& out, const uint64_t* input_hashes, std::size_t count,
                            std::string_view model, int64_t prompt_tokens, bool usage, bool base64) {
  out += R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out.push_back(',');
    out += R"({"object":"embedding","index":)";
    append_int(out, static_cast<int64_t>(i));
    out += R"(,"embedding":)";
    append_embedding_vector(out, input_hashes[i], base64);
    out.push_back('}');
  }
  out += R"(],"model":)";
  util::append_json_string(out, model);
  if (usage) {
    out += R"(,"usage":{"prompt_tokens":)";
    append_int(out, prompt_tokens);
    out += R"(,"total_tokens":)";
    append_int(out, prompt_tokens);
    out.push_back('}');
  }
  out.push_back('}');
}

void append_model_list(std::string& out) {
  out += R"({"object":"list","data":[{"id":"mock-model","object":"model","created":1700000000,)"
         R"("owned_by":"spillway-mock"}]})";
}

EventStream::EventStream(Operation operation, const Completion& completion, bool include_usage)
    : operation_(operation),
      completion_(completion),
      include_usage_(include_usage && completion.usage && operation != Operation::kResponse),
      phase_(operation == Operation::kCompletion ? Phase::kTokens : Phase::kStart) {}

void EventStream::append_chunk_prefix(std::string& out) const {
  out += R"(data: {"id":)";
  util::append_json_string(out, completion_.id);
  out += operation_ == Operation::kChat ? R"(,"object":"chat.completion.chunk","created":)"
                                        : R"(,"object":"text_completion","created":)";
  append_int(out, completion_.created);
  out += R"(,"model":)";
  util::append_json_string(out, completion_.model);
  out += R"(,"choices":)";
}

void EventStream::append_chunk_suffix(std::string& out) const {
  out += include_usage_ ? ",\"usage\":null}\n\n" : "}\n\n";
}

bool EventStream::next(std::string& out) {
  const bool chat = operation_ == Operation::kChat;
  if (operation_ == Operation::kResponse) {
    switch (phase_) {
      case Phase::kStart:
        out +=
            "event: response.created\ndata: "
            "{\"type\":\"response.created\",\"sequence_number\":0,\"response\":";
        append_response_object(out, completion_, false);
        out += "}\n\n";
        phase_ = Phase::kTokens;
        return true;
      case Phase::kTokens:
        if (tokens_sent_ < completion_.completion_tokens) {
          ++tokens_sent_;
          out +=
              "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
              "\"sequence_number\":";
          append_int(out, tokens_sent_);
          out += R"(,"item_id":"msg_)";
          util::append_json_escaped(out, completion_.id);
          out += R"(","output_index":0,"content_index":0,"delta":")";
          append_words(out, tokens_sent_, tokens_sent_);
          out += "\"}\n\n";
          return true;
        }
        out += "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":";
        append_int(out, tokens_sent_ + 1);
        out += R"(,"response":)";
        append_response_object(out, completion_, true);
        out += "}\n\n";
        phase_ = Phase::kDone;
        return true;
      default:
        return false;
    }
  }
  switch (phase_) {
    case Phase::kStart:
      append_chunk_prefix(out);
      out += R"([{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}])";
      append_chunk_suffix(out);
      phase_ = Phase::kTokens;
      return true;
    case Phase::kTokens:
      if (tokens_sent_ < completion_.completion_tokens) {
        ++tokens_sent_;
        append_chunk_prefix(out);
        out += chat ? R"([{"index":0,"delta":{"content":")" : R"([{"index":0,"text":")";
        append_words(out, tokens_sent_, tokens_sent_);
        out += chat ? R"("},"finish_reason":null}])" : R"(","finish_reason":null}])";
        append_chunk_suffix(out);
        return true;
      }
      phase_ = Phase::kEnd;
      [[fallthrough]];
    case Phase::kEnd:
      if (end_step_ == 0) {
        ++end_step_;
        append_chunk_prefix(out);
        out += chat ? R"([{"index":0,"delta":{},"finish_reason":"stop"}])"
                    : R"([{"index":0,"text":"","finish_reason":"stop"}])";
        append_chunk_suffix(out);
        return true;
      }
      if (end_step_ == 1 && include_usage_) {
        ++end_step_;
        append_chunk_prefix(out);
        out += "[],";
        append_usage(out, operation_, completion_);
        out += "}\n\n";
        return true;
      }
      out += "data: [DONE]\n\n";
      phase_ = Phase::kDone;
      return true;
    case Phase::kDone:
      return false;
  }
  return false;
}

}  // namespace spillway::mock
