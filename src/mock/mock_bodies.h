#pragma once
// The JSON the mock answers with, written by hand into caller-owned buffers (no DOM). Every function
// appends to `out` and is deterministic: the same arguments always give the same bytes.
//
// Completion text is `completion` words "w1 w2 ... wN " (each word "wK " is one token), so a client can
// check that a relayed stream lost or duplicated nothing.

#include <cstdint>
#include <string>
#include <string_view>

namespace spillway::mock {

enum class Operation { kChat, kCompletion, kEmbedding, kResponse };

// What one generated answer is made of; shared by a non-streamed body and every chunk of a stream.
struct Completion {
  std::string_view id;  // "chatcmpl-mock-7", "cmpl-mock-7" or "resp_mock_7"
  int64_t created = 0;  // unix seconds
  std::string_view model;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  bool usage = true;  // false: the answer carries no usage at all (x-mock-usage: none)
};

// {"error":{"message":..,"type":..,"param":..,"code":..}}; an empty `param` is written as null.
void append_error(std::string& out, std::string_view message, std::string_view type, std::string_view code,
                  std::string_view param = {});

// The non-streamed body of a chat completion, text completion or Responses API call.
// REQUIRES: `operation` is not kEmbedding.
void append_completion_body(std::string& out, Operation operation, const Completion& completion);

// One deterministic unit-length 8-dimensional vector per input hash (see embedding_input_hash).
// `base64`: vectors as base64 strings of little-endian float32 (encoding_format "base64").
void append_embeddings_body(std::string& out, const uint64_t* input_hashes, std::size_t count,
                            std::string_view model, int64_t prompt_tokens, bool usage, bool base64 = false);
// FNV-1a over the bytes of an embeddings input; `kind` separates strings from token arrays.
uint64_t embedding_input_hash(std::string_view bytes, uint64_t kind);

// GET /v1/models: a list with the single model "mock-model".
void append_model_list(std::string& out);

// The SSE events of one streamed answer, in order. Chat: a role chunk, one chunk per token, a finish
// chunk, the usage chunk (when asked for and usage is on), `data: [DONE]`. Completions: the same without
// the role chunk. Responses: response.created, one response.output_text.delta per token,
// response.completed (its response carries the usage). When `include_usage` is set (chat and completions)
// every chunk also carries "usage":null, as OpenAI does.
class EventStream {
 public:
  // REQUIRES: `operation` is not kEmbedding; `completion` outlives the stream.
  EventStream(Operation operation, const Completion& completion, bool include_usage);

  // Appends the next complete event ("data: ...\n\n" or "event: ...\ndata: ...\n\n") to `out`.
  // Returns false, appending nothing, once the stream is complete.
  bool next(std::string& out);
  // True when the next event is a token event.
  bool next_is_token() const {
    return phase_ == Phase::kTokens && tokens_sent_ < completion_.completion_tokens;
  }
  // True once the opening events (role chunk, response.created) are sent.
  bool started() const { return phase_ != Phase::kStart; }
  int64_t tokens_sent() const { return tokens_sent_; }
  bool done() const { return phase_ == Phase::kDone; }

 private:
  enum class Phase { kStart, kTokens, kEnd, kDone };

  void append_chunk_prefix(std::string& out) const;
  void append_chunk_suffix(std::string& out) const;

  const Operation operation_;
  const Completion& completion_;
  // Chat and completions with include_usage and usage on: every chunk carries "usage":null and a
  // usage-only chunk follows the finish chunk.
  const bool include_usage_;
  Phase phase_;
  int64_t tokens_sent_ = 0;
  int end_step_ = 0;
};

}  // namespace spillway::mock
