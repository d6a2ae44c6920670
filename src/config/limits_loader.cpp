// Products, token and request limits, the state store.

#include <string_view>

#include "config/section_loaders.h"

namespace spillway::config {
namespace {

constexpr int64_t kMaxTokens = 1'000'000'000'000'000;  // 1e15: far above any real budget, no overflow
constexpr int64_t kMaxRequests = 1'000'000'000;
constexpr int64_t kMaxCompletion = 100'000'000;

std::optional<Counter> counter_value(YamlReader& r, const YAML::Node& node, const std::string& path) {
  auto text = r.string_value(node, path);
  if (!text) return std::nullopt;
  Counter counter;
  const std::string_view v = *text;
  if (v == "subscription") {
    counter.kind = CounterKind::kSubscription;
  } else if (v == "product") {
    counter.kind = CounterKind::kProduct;
  } else if (v == "user") {
    counter.kind = CounterKind::kUser;
  } else if (v == "api") {
    counter.kind = CounterKind::kApi;
  } else if (v == "deployment") {
    counter.kind = CounterKind::kDeployment;
  } else if (v.substr(0, 4) == "tag:" && v.size() > 4) {
    counter.kind = CounterKind::kTag;
    counter.tag = std::string(v.substr(4));
  } else {
    r.error(path, "expected subscription, product, user, tag:NAME, api or deployment, got " + quoted(v));
    return std::nullopt;
  }
  return counter;
}

std::optional<QuotaPeriod> quota_period_value(YamlReader& r, const YAML::Node& node,
                                              const std::string& path) {
  auto text = r.string_value(node, path);
  if (!text) return std::nullopt;
  const std::string v = to_lower(*text);
  if (v == "hourly") return QuotaPeriod::kHourly;
  if (v == "daily") return QuotaPeriod::kDaily;
  if (v == "weekly") return QuotaPeriod::kWeekly;
  if (v == "monthly") return QuotaPeriod::kMonthly;
  if (v == "yearly") return QuotaPeriod::kYearly;
  r.error(path, "expected hourly, daily, weekly, monthly or yearly, got " + quoted(*text));
  return std::nullopt;
}

void load_reserve_completion(YamlReader& r, const YAML::Node& node, const std::string& path,
                             TokenLimitSettings& out) {
  if (node.IsScalar()) {
    if (node.Scalar() == "max_tokens") {
      out.reserve_completion = ReserveCompletion::kMaxTokens;
      return;
    }
    if (node.Scalar() == "estimate") {
      out.reserve_completion = ReserveCompletion::kEstimate;
      return;
    }
    if (auto n = parse_integer(node.Scalar()); n && *n >= 0 && *n <= kMaxCompletion) {
      out.reserve_completion = ReserveCompletion::kFixed;
      out.reserve_completion_tokens = *n;
      return;
    }
  }
  r.error(path, "expected max_tokens, estimate or a number of tokens between 0 and " +
                    std::to_string(kMaxCompletion));
}

void load_token_limit(YamlReader& r, const YAML::Node& node, const std::string& path,
                      TokenLimitSettings& out) {
  if (!r.expect_map(node, path)) return;
  bool has_quota_period = false;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "counter") {
      if (auto c = counter_value(r, value, p)) out.counter = std::move(*c);
    } else if (key == "tokens_per_minute") {
      if (auto n = r.int64_value(value, p, 1, kMaxTokens)) out.tokens_per_minute = *n;
    } else if (key == "quota") {
      if (auto n = r.int64_value(value, p, 1, kMaxTokens)) out.quota = *n;
    } else if (key == "quota_period") {
      has_quota_period = true;
      if (auto q = quota_period_value(r, value, p)) out.quota_period = *q;
    } else if (key == "estimate_prompt_tokens") {
      if (auto b = r.bool_value(value, p)) out.estimate_prompt_tokens = *b;
    } else if (key == "reserve_completion") {
      load_reserve_completion(r, value, p, out);
    } else if (key == "default_completion_tokens") {
      if (auto n = r.int64_value(value, p, 0, kMaxCompletion)) out.default_completion_tokens = *n;
    } else {
      r.unknown_key(p, key);
    }
  });
  const bool has_tpm = node["tokens_per_minute"].IsDefined();
  const bool has_quota = node["quota"].IsDefined();
  if (!has_tpm && !has_quota) r.error(path, "needs tokens_per_minute, quota or both");
  if (has_quota_period && !has_quota) r.error(child_path(path, "quota_period"), "is only used with quota");
}

void load_request_limit(YamlReader& r, const YAML::Node& node, const std::string& path,
                        RequestLimitSettings& out) {
  if (!r.expect_map(node, path)) return;
  bool has_rpm = false;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "counter") {
      if (auto c = counter_value(r, value, p)) out.counter = std::move(*c);
    } else if (key == "requests_per_minute") {
      has_rpm = true;
      if (auto n = r.int64_value(value, p, 1, kMaxRequests)) out.requests_per_minute = *n;
    } else {
      r.unknown_key(p, key);
    }
  });
  if (!has_rpm) r.missing_key(path, "requests_per_minute");
}

void load_product(YamlReader& r, const YAML::Node& node, const std::string& path, Product& out) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "token_limit") {
      TokenLimitSettings limit;
      load_token_limit(r, value, p, limit);
      out.token_limit = std::move(limit);
    } else if (key == "request_limit") {
      RequestLimitSettings limit;
      load_request_limit(r, value, p, limit);
      out.request_limit = std::move(limit);
    } else {
      r.unknown_key(p, key);
    }
  });
}

}  // namespace

void load_products(YamlReader& r, const YAML::Node& node, const std::string& path, Config& config) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& name, const YAML::Node& value, const std::string& p) {
    Product product;
    product.name = name;
    load_product(r, value, p, product);
    config.products.emplace(name, std::move(product));
  });
}

void load_state(YamlReader& r, const YAML::Node& node, const std::string& path, StateSettings& out) {
  if (!r.optional_map(node, path)) return;
  bool has_url = false;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "store") {
      auto text = r.string_value(value, p);
      if (!text) return;
      if (*text != "memory" && *text != "redis") {
        r.error(p, "expected memory or redis, got " + quoted(*text));
        return;
      }
      out.store = *text;
    } else if (key == "url") {
      auto text = r.non_empty_string(value, p);
      if (!text) return;
      if (text->rfind("redis://", 0) != 0 && text->rfind("rediss://", 0) != 0) {
        r.error(p, "expected a redis:// or rediss:// URL");
        return;
      }
      has_url = true;
      out.url = *text;
    } else {
      r.unknown_key(p, key);
    }
  });
  if (out.store == "redis") {
    // Accepted by name so configs can be written for it; the Redis-backed Store is not built yet.
    r.error(child_path(path, "store"), "redis store is not available yet; use store: memory");
  } else if (has_url) {
    r.error(child_path(path, "url"), "is only used with store: redis");
  }
}

void load_subscription_limit(YamlReader& r, const std::string& key, const YAML::Node& node,
                             const std::string& path, Subscription& out) {
  if (key == "token_limit") {
    TokenLimitSettings limit;
    load_token_limit(r, node, path, limit);
    out.token_limit = std::move(limit);
  } else {
    RequestLimitSettings limit;
    load_request_limit(r, node, path, limit);
    out.request_limit = std::move(limit);
  }
}

void check_limits(YamlReader& r, const Config& config) {
  for (const auto& [name, subscription] : config.subscriptions) {
    if (subscription.product.empty()) continue;
    if (config.products.count(subscription.product) != 0) continue;
    const std::string path = child_path(child_path("subscriptions", name), "product");
    if (config.products.empty()) {
      // No products at all: the name is a label only (configs written before limits existed).
      r.warn(path + ": product " + quoted(subscription.product) +
             " is not defined (no products are configured): no product limits apply");
    } else {
      r.error(path, "unknown product " + quoted(subscription.product));
    }
  }
}

}  // namespace spillway::config
