#pragma once
// Config of token governance: products with token and request limits, the state store. Loaded by
// config/limits_loader.cpp. README "Token governance" documents every field.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace spillway::config {

// What a limit counts by: requests with the same counter value share one budget.
enum class CounterKind {
  kSubscription,  // the subscription's name
  kProduct,       // the subscription's product
  kUser,          // identity.user_id's keyed hash (the subscription when there is none)
  kTag,           // the value of one subscription tag (tag:NAME); a missing tag shares "(none)"
  kApi,           // the api (surface) the request came in on
  kDeployment,    // the pool name the client used (deployment id or model)
};

struct Counter {
  CounterKind kind = CounterKind::kSubscription;
  std::string tag;  // kind == kTag: the tag name
};

// Calendar periods in UTC; weeks start on Monday (ISO 8601).
enum class QuotaPeriod { kHourly, kDaily, kWeekly, kMonthly, kYearly };

// How much completion a request reserves before it is forwarded.
enum class ReserveCompletion {
  kMaxTokens,  // the request's max_tokens (max_completion_tokens, max_output_tokens), else the default
  kEstimate,   // default_completion_tokens, never more than the request's max_tokens
  kFixed,      // reserve_completion: N, never more than the request's max_tokens
};

struct TokenLimitSettings {
  Counter counter;
  std::optional<int64_t> tokens_per_minute;  // sliding 60 s window; at least one of this and quota is set
  std::optional<int64_t> quota;              // tokens per quota_period
  QuotaPeriod quota_period = QuotaPeriod::kMonthly;
  bool estimate_prompt_tokens = true;  // reserve the tokenizer's prompt count (else 0)
  ReserveCompletion reserve_completion = ReserveCompletion::kMaxTokens;
  int64_t reserve_completion_tokens = 0;  // N, when reserve_completion is kFixed
  int64_t default_completion_tokens = 256;
};

struct RequestLimitSettings {
  Counter counter;
  int64_t requests_per_minute = 0;  // sliding 60 s window; > 0 after validation
};

struct Product {
  std::string name;
  std::optional<TokenLimitSettings> token_limit;
  std::optional<RequestLimitSettings> request_limit;
};

struct StateSettings {
  std::string store = "memory";  // "memory" (redis is accepted by name and refused until it exists)
  std::string url;               // redis://host:port
};

}  // namespace spillway::config
