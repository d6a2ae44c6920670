// `products:`, a subscription's own `token_limit` / `request_limit`, and `state:`
// (config/limits_loader.cpp), through load_config_text.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"

namespace spillway::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

EnvLookup keys_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    if (name == "A_KEY") return std::string("key-a-secret");
    if (name == "B_KEY") return std::string("key-b-secret");
    return std::nullopt;
  };
}

std::vector<std::string> error_lines(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) out.push_back(e.path + ": " + e.message);
  return out;
}

LoadResult load(std::string_view text) { return load_config_text(text, keys_env()); }

TEST(LimitsLoader, ReadsTheContractsExample) {
  LoadResult result = load(R"yaml(
state: { store: memory }
subscriptions:
  team-search: { key_env: A_KEY, product: standard, tags: { team: search } }
products:
  standard:
    token_limit: { counter: subscription, tokens_per_minute: 20000, quota: 5000000, quota_period: monthly,
                   estimate_prompt_tokens: true, reserve_completion: max_tokens, default_completion_tokens: 256 }
    request_limit: { counter: subscription, requests_per_minute: 600 }
)yaml");
  ASSERT_THAT(error_lines(result), IsEmpty());
  const Config& c = *result.config;
  EXPECT_EQ(c.state.store, "memory");
  const Product& p = c.products.at("standard");
  EXPECT_EQ(p.name, "standard");
  ASSERT_TRUE(p.token_limit);
  EXPECT_EQ(p.token_limit->counter.kind, CounterKind::kSubscription);
  EXPECT_EQ(p.token_limit->tokens_per_minute, 20000);
  EXPECT_EQ(p.token_limit->quota, 5'000'000);
  EXPECT_EQ(p.token_limit->quota_period, QuotaPeriod::kMonthly);
  EXPECT_TRUE(p.token_limit->estimate_prompt_tokens);
  EXPECT_EQ(p.token_limit->reserve_completion, ReserveCompletion::kMaxTokens);
  EXPECT_EQ(p.token_limit->default_completion_tokens, 256);
  ASSERT_TRUE(p.request_limit);
  EXPECT_EQ(p.request_limit->counter.kind, CounterKind::kSubscription);
  EXPECT_EQ(p.request_limit->requests_per_minute, 600);
  EXPECT_THAT(result.warnings, IsEmpty());
}

TEST(LimitsLoader, Defaults) {
  LoadResult result = load("products: { p: { token_limit: { quota: 100 } }, empty: {}, none: }\n");
  ASSERT_THAT(error_lines(result), IsEmpty());
  const TokenLimitSettings& t = *result.config->products.at("p").token_limit;
  EXPECT_EQ(t.counter.kind, CounterKind::kSubscription);
  EXPECT_FALSE(t.tokens_per_minute);
  EXPECT_EQ(t.quota, 100);
  EXPECT_EQ(t.quota_period, QuotaPeriod::kMonthly);
  EXPECT_TRUE(t.estimate_prompt_tokens);
  EXPECT_EQ(t.reserve_completion, ReserveCompletion::kMaxTokens);
  EXPECT_EQ(t.default_completion_tokens, 256);
  EXPECT_FALSE(result.config->products.at("p").request_limit);
  EXPECT_FALSE(result.config->products.at("empty").token_limit);
  EXPECT_FALSE(result.config->products.at("none").token_limit);
  EXPECT_EQ(result.config->state.store, "memory");
}

TEST(LimitsLoader, CountersPeriodsAndReservationModes) {
  LoadResult result = load(R"yaml(
products:
  a: { token_limit: { counter: "tag:team", tokens_per_minute: 5, reserve_completion: estimate,
                      default_completion_tokens: 0, estimate_prompt_tokens: false },
       request_limit: { counter: user, requests_per_minute: 1 } }
  b: { token_limit: { counter: api, quota: 9, quota_period: WEEKLY, reserve_completion: 512 } }
  c: { token_limit: { counter: deployment, quota: 9, quota_period: hourly, reserve_completion: 0 } }
  d: { token_limit: { counter: product, quota: 9, quota_period: daily } }
  e: { token_limit: { counter: user, quota: 9, quota_period: yearly } }
)yaml");
  ASSERT_THAT(error_lines(result), IsEmpty());
  const auto& products = result.config->products;
  const TokenLimitSettings& a = *products.at("a").token_limit;
  EXPECT_EQ(a.counter.kind, CounterKind::kTag);
  EXPECT_EQ(a.counter.tag, "team");
  EXPECT_EQ(a.reserve_completion, ReserveCompletion::kEstimate);
  EXPECT_EQ(a.default_completion_tokens, 0);
  EXPECT_FALSE(a.estimate_prompt_tokens);
  EXPECT_EQ(products.at("a").request_limit->counter.kind, CounterKind::kUser);
  const TokenLimitSettings& b = *products.at("b").token_limit;
  EXPECT_EQ(b.counter.kind, CounterKind::kApi);
  EXPECT_EQ(b.quota_period, QuotaPeriod::kWeekly);
  EXPECT_EQ(b.reserve_completion, ReserveCompletion::kFixed);
  EXPECT_EQ(b.reserve_completion_tokens, 512);
  EXPECT_EQ(products.at("c").token_limit->counter.kind, CounterKind::kDeployment);
  EXPECT_EQ(products.at("c").token_limit->quota_period, QuotaPeriod::kHourly);
  EXPECT_EQ(products.at("c").token_limit->reserve_completion_tokens, 0);
  EXPECT_EQ(products.at("d").token_limit->counter.kind, CounterKind::kProduct);
  EXPECT_EQ(products.at("d").token_limit->quota_period, QuotaPeriod::kDaily);
  EXPECT_EQ(products.at("e").token_limit->quota_period, QuotaPeriod::kYearly);
}

TEST(LimitsLoader, SubscriptionsCarryTheirOwnLimits) {
  LoadResult result = load(R"yaml(
products: { standard: { token_limit: { tokens_per_minute: 1000 } } }
subscriptions:
  a: { key_env: A_KEY, product: standard, token_limit: { tokens_per_minute: 50, counter: user },
       request_limit: { requests_per_minute: 7 } }
  b: { key_env: B_KEY, product: standard }
)yaml");
  ASSERT_THAT(error_lines(result), IsEmpty());
  const Subscription& a = result.config->subscriptions.at("a");
  ASSERT_TRUE(a.token_limit);
  EXPECT_EQ(a.token_limit->tokens_per_minute, 50);
  EXPECT_EQ(a.token_limit->counter.kind, CounterKind::kUser);
  ASSERT_TRUE(a.request_limit);
  EXPECT_EQ(a.request_limit->requests_per_minute, 7);
  EXPECT_FALSE(result.config->subscriptions.at("b").token_limit);
}

TEST(LimitsLoader, SubscriptionsMustNameAnExistingProduct) {
  LoadResult result = load(R"yaml(
products: { standard: {} }
subscriptions:
  a: { key_env: A_KEY, product: premium }
  b: { key_env: B_KEY }
)yaml");
  EXPECT_THAT(error_lines(result), ElementsAre("subscriptions.a.product: unknown product 'premium'"));
}

TEST(LimitsLoader, AProductNameWithoutAnyProductsIsOnlyAWarning) {
  LoadResult result = load("subscriptions: { a: { key_env: A_KEY, product: standard } }\n");
  ASSERT_THAT(error_lines(result), IsEmpty());
  EXPECT_THAT(result.warnings,
              ElementsAre(HasSubstr("subscriptions.a.product: product 'standard' is not defined")));
}

TEST(LimitsLoader, RedisIsAcceptedByNameButNotAvailableYet) {
  LoadResult result = load("state: { store: redis, url: 'redis://127.0.0.1:6379' }\n");
  EXPECT_THAT(error_lines(result),
              ElementsAre("state.store: redis store is not available yet; use store: memory"));
}

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* line;  // "path: message part"
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class LimitsLoaderError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(LimitsLoaderError, ReportsPathAndMessage) {
  LoadResult result = load(GetParam().yaml);
  EXPECT_FALSE(result.config);
  EXPECT_THAT(error_lines(result), ElementsAre(HasSubstr(GetParam().line)));
}

const ErrorCase kErrors[] = {
    {"ProductsNotAMapping", "products: [a]", "products: expected a mapping"},
    {"ProductNotAMapping", "products: { p: 3 }", "products.p: expected a mapping"},
    {"ProductUnknownKey", "products: { p: { tokens_per_minute: 3 } }",
     "products.p.tokens_per_minute: unknown key"},
    {"TokenLimitNotAMapping", "products: { p: { token_limit: 5 } }",
     "products.p.token_limit: expected a mapping"},
    {"TokenLimitEmpty", "products: { p: { token_limit: {} } }",
     "products.p.token_limit: needs tokens_per_minute, quota or both"},
    {"TokenLimitUnknownKey", "products: { p: { token_limit: { tokens_per_minute: 5, tpm: 3 } } }",
     "products.p.token_limit.tpm: unknown key 'tpm'"},
    {"TpmZero", "products: { p: { token_limit: { tokens_per_minute: 0 } } }",
     "products.p.token_limit.tokens_per_minute: expected an integer between 1 and"},
    {"TpmWord", "products: { p: { token_limit: { tokens_per_minute: lots } } }",
     "products.p.token_limit.tokens_per_minute: expected an integer"},
    {"QuotaNegative", "products: { p: { token_limit: { quota: -1 } } }",
     "products.p.token_limit.quota: expected an integer between 1 and"},
    {"QuotaPeriodUnknown", "products: { p: { token_limit: { quota: 5, quota_period: fortnightly } } }",
     "products.p.token_limit.quota_period: expected hourly, daily, weekly, monthly or yearly, got "
     "'fortnightly'"},
    {"QuotaPeriodWithoutQuota",
     "products: { p: { token_limit: { tokens_per_minute: 5, quota_period: daily } } }",
     "products.p.token_limit.quota_period: is only used with quota"},
    {"CounterUnknown", "products: { p: { token_limit: { tokens_per_minute: 5, counter: team } } }",
     "products.p.token_limit.counter: expected subscription, product, user, tag:NAME, api or deployment, got "
     "'team'"},
    {"CounterTagWithoutName", "products: { p: { token_limit: { tokens_per_minute: 5, counter: 'tag:' } } }",
     "products.p.token_limit.counter: expected subscription"},
    {"ReserveCompletionUnknown",
     "products: { p: { token_limit: { tokens_per_minute: 5, reserve_completion: all } } }",
     "products.p.token_limit.reserve_completion: expected max_tokens, estimate or a number of tokens"},
    {"ReserveCompletionNegative",
     "products: { p: { token_limit: { tokens_per_minute: 5, reserve_completion: -4 } } }",
     "products.p.token_limit.reserve_completion: expected max_tokens"},
    {"DefaultCompletionNegative",
     "products: { p: { token_limit: { tokens_per_minute: 5, default_completion_tokens: -1 } } }",
     "products.p.token_limit.default_completion_tokens: expected an integer between 0 and"},
    {"EstimateNotBool",
     "products: { p: { token_limit: { tokens_per_minute: 5, estimate_prompt_tokens: maybe } } }",
     "products.p.token_limit.estimate_prompt_tokens: expected true or false"},
    {"RequestLimitMissingRpm", "products: { p: { request_limit: { counter: api } } }",
     "products.p.request_limit.requests_per_minute: missing required key"},
    {"RequestLimitZero", "products: { p: { request_limit: { requests_per_minute: 0 } } }",
     "products.p.request_limit.requests_per_minute: expected an integer between 1 and"},
    {"RequestLimitUnknownKey", "products: { p: { request_limit: { requests_per_minute: 1, burst: 2 } } }",
     "products.p.request_limit.burst: unknown key 'burst'"},
    {"SubscriptionTokenLimitBad", "subscriptions: { a: { key_env: A_KEY, token_limit: { quota: 0 } } }",
     "subscriptions.a.token_limit.quota: expected an integer between 1 and"},
    {"SubscriptionRequestLimitNotAMapping", "subscriptions: { a: { key_env: A_KEY, request_limit: 5 } }",
     "subscriptions.a.request_limit: expected a mapping"},
    {"StateUnknownStore", "state: { store: etcd }", "state.store: expected memory or redis, got 'etcd'"},
    {"StateUnknownKey", "state: { store: memory, ttl: 5 }", "state.ttl: unknown key 'ttl'"},
    {"StateUrlWithMemory", "state: { url: 'redis://x:6379' }", "state.url: is only used with store: redis"},
    {"StateBadUrl", "state: { store: memory, url: 'http://x' }",
     "state.url: expected a redis:// or rediss:// URL"},
};

INSTANTIATE_TEST_SUITE_P(All, LimitsLoaderError, ::testing::ValuesIn(kErrors),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace spillway::config
