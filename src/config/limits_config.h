#pragma once
// Config of token governance: products with token and request limits, the state store. Loaded by
// config/limits_loader.cpp.

#include <map>
#include <optional>
#include <string>

namespace spillway::config {

struct TokenLimitSettings {};    // filled by the token-limits feature (#4)
struct RequestLimitSettings {};  // filled by the token-limits feature (#4)

struct Product {
  std::string name;
  std::optional<TokenLimitSettings> token_limit;
  std::optional<RequestLimitSettings> request_limit;
};

struct StateSettings {
  std::string store = "memory";
  std::string url;
};

}  // namespace spillway::config
