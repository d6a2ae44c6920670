#include "limits/prompt_estimator.h"

#include <algorithm>

#include "api/json_doc.h"
#include "tokenizer/estimate.h"
#include "tokenizer/tokenizer.h"

namespace spillway::limits {
namespace {

// The tokenizer's count of the request as OpenAI counts it, with the encoding of the model (the body's
// `model`, else the deployment name; unknown names count with o200k_base).
class TokenizerEstimator final : public PromptEstimator {
 public:
  int64_t estimate(std::string_view model, std::string_view operation, std::string_view body,
                   const api::ParsedJson* document) const override {
    const tokenizer::Encoding encoding = tokenizer::encoding_for_model(model);
    if (document != nullptr && document->error() == simdjson::SUCCESS) {
      return std::max<int64_t>(
          0, tokenizer::estimate_prompt_tokens(encoding, operation, document->root(), body.size()));
    }
    return std::max<int64_t>(0, tokenizer::estimate_prompt_tokens(encoding, operation, body));
  }
};

}  // namespace

std::shared_ptr<const PromptEstimator> default_prompt_estimator() {
  return std::make_shared<TokenizerEstimator>();
}

}  // namespace spillway::limits
