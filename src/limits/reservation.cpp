#include "limits/reservation.h"

#include <algorithm>
#include <limits>

namespace spillway::limits {

int64_t completion_reservation(const config::TokenLimitSettings& settings, std::optional<int64_t> max_tokens,
                               bool has_completion) {
  if (!has_completion) return 0;
  if (max_tokens) max_tokens = std::max<int64_t>(0, *max_tokens);
  switch (settings.reserve_completion) {
    case config::ReserveCompletion::kMaxTokens:
      return max_tokens.value_or(settings.default_completion_tokens);
    case config::ReserveCompletion::kEstimate:
      return std::min(settings.default_completion_tokens,
                      max_tokens.value_or(settings.default_completion_tokens));
    case config::ReserveCompletion::kFixed:
      return std::min(settings.reserve_completion_tokens,
                      max_tokens.value_or(settings.reserve_completion_tokens));
  }
  return settings.default_completion_tokens;
}

int64_t token_reservation(const config::TokenLimitSettings& settings, int64_t prompt_estimate,
                          std::optional<int64_t> max_tokens, bool has_completion) {
  const int64_t prompt = std::max<int64_t>(0, prompt_estimate);
  const int64_t completion = completion_reservation(settings, max_tokens, has_completion);
  if (prompt > std::numeric_limits<int64_t>::max() - completion) return std::numeric_limits<int64_t>::max();
  return prompt + completion;
}

std::optional<int64_t> settled_tokens(const RequestOutcome& outcome) {
  if (outcome.usage_present) return std::max<int64_t>(0, outcome.total_tokens);
  if (!outcome.forwarded || outcome.refused) return 0;
  return std::nullopt;
}

}  // namespace spillway::limits
