#include "limits/prompt_estimator.h"

namespace spillway::limits {

std::shared_ptr<const PromptEstimator> default_prompt_estimator() {
  // TODO(#4): the tokenizer's estimate_prompt_tokens once src/tokenizer is built.
  return std::make_shared<ByteCountEstimator>();
}

}  // namespace spillway::limits
