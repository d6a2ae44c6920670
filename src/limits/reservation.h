#pragma once
// The arithmetic of token reservations: what a request reserves before it is forwarded, and what it is
// charged once it has finished. No state, no I/O.
//
//   reservation = prompt estimate + completion reservation
//   prompt estimate        = the tokenizer's count of the request (estimate_prompt_tokens), else 0
//   completion reservation = 0 for embeddings; otherwise by reserve_completion:
//       max_tokens  the request's max_tokens (max_completion_tokens, max_output_tokens), else
//                   default_completion_tokens
//       estimate    default_completion_tokens, but never more than the request's max_tokens
//       N           N, but never more than the request's max_tokens
//   each counter reserves min(reservation, its limit): a request can never need more than the whole
//   window or quota, and it must be able to fit once the window is empty.

#include <cstdint>
#include <optional>

#include "config/limits_config.h"

namespace spillway::limits {

int64_t completion_reservation(const config::TokenLimitSettings& settings, std::optional<int64_t> max_tokens,
                               bool has_completion);

// prompt + completion, both clamped at >= 0, saturating.
int64_t token_reservation(const config::TokenLimitSettings& settings, int64_t prompt_estimate,
                          std::optional<int64_t> max_tokens, bool has_completion);

// min(amount, limit).
inline int64_t capped(int64_t amount, int64_t limit) { return amount < limit ? amount : limit; }

// How a request ended, as far as its token charge goes.
struct RequestOutcome {
  bool forwarded = false;      // at least one upstream attempt was made
  bool refused = false;        // it was answered with an error status that no backend generated tokens for:
                               // a backend's error response relayed, or every backend rate limited
                               // (not a timeout or broken connection, where one may have been generating)
  bool usage_present = false;  // the backend reported usage
  int64_t total_tokens = 0;    // its total_tokens
};

// The tokens to charge: the reported usage; 0 when the request never reached a backend or was refused;
// nullopt (keep what was reserved) when tokens may have been generated but none were reported (a stream that
// broke, a timeout, a backend that reports no usage): the safe side.
std::optional<int64_t> settled_tokens(const RequestOutcome& outcome);

}  // namespace spillway::limits
