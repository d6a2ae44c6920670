#pragma once
// How many prompt tokens a request will cost, before it is forwarded.

#include <cstdint>
#include <memory>
#include <string_view>

namespace spillway::api {
class ParsedJson;
}  // namespace spillway::api

namespace spillway::limits {

class PromptEstimator {
 public:
  virtual ~PromptEstimator() = default;
  // Prompt tokens of `body` for `model` and `operation` ("chat.completions", "embeddings", ...).
  // `document` is the body already parsed (api::RequestFields::document), or null to parse `body`. Never
  // throws; >= 0.
  virtual int64_t estimate(std::string_view model, std::string_view operation, std::string_view body,
                           const api::ParsedJson* document) const = 0;
};

// A tokenizer-free estimate: one token per 4 bytes of the body, rounded up. The JSON syntax around the
// text makes it overestimate a chat prompt.
class ByteCountEstimator final : public PromptEstimator {
 public:
  int64_t estimate(std::string_view, std::string_view, std::string_view body,
                   const api::ParsedJson*) const override {
    return static_cast<int64_t>((body.size() + 3) / 4);
  }
};

// The estimator the gateway uses: the tokenizer's count of the request as OpenAI counts it.
std::shared_ptr<const PromptEstimator> default_prompt_estimator();

}  // namespace spillway::limits
