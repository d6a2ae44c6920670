// `retry:` and `circuit_breaker:` of a pool (config/routing_loader.cpp), through load_config_text.

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
using ::testing::IsEmpty;

EnvLookup no_env() {
  return [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
}

// A config with one pool `p` whose remaining keys are `pool_keys` (e.g. "retry: { max_attempts: 2 }").
std::string with_pool(std::string_view pool_keys) {
  std::string text =
      "backends: { b: { url: http://b, kind: openai } }\n"
      "pools: { p: { members: [ { backend: b } ]";
  if (!pool_keys.empty()) {
    text += ", ";
    text += pool_keys;
  }
  text += " } }\n";
  return text;
}

std::vector<std::string> error_lines(const LoadResult& result) {
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) out.push_back(e.path + ": " + e.message);
  return out;
}

TEST(RoutingLoader, DefaultsWhenAbsent) {
  LoadResult result = load_config_text(with_pool(""), no_env());
  ASSERT_THAT(error_lines(result), IsEmpty());
  const Pool& p = result.config->pools.at("p");
  EXPECT_EQ(p.retry.max_attempts, 3);
  EXPECT_TRUE(p.retry.on.contains(429));
  EXPECT_TRUE(p.retry.on.contains(500));
  EXPECT_TRUE(p.retry.on.contains(599));
  EXPECT_FALSE(p.retry.on.contains(400));
  EXPECT_FALSE(p.retry.on.contains(428));
  const CircuitBreakerSettings& cb = p.circuit_breaker;
  EXPECT_TRUE(cb.enabled);
  EXPECT_EQ(cb.failures, 3);
  EXPECT_EQ(cb.within, Millis(10'000));
  EXPECT_EQ(cb.open_for, Millis(30'000));
  EXPECT_TRUE(cb.honor_retry_after);
  EXPECT_TRUE(cb.on_connect_error);
  EXPECT_TRUE(cb.on.contains(429));
  EXPECT_TRUE(cb.on.contains(503));
  EXPECT_FALSE(cb.on.contains(404));
}

TEST(RoutingLoader, EmptySectionsKeepDefaults) {
  LoadResult result = load_config_text(with_pool("retry: , circuit_breaker: {}"), no_env());
  ASSERT_THAT(error_lines(result), IsEmpty());
  const Pool& p = result.config->pools.at("p");
  EXPECT_EQ(p.retry.max_attempts, 3);
  EXPECT_EQ(p.circuit_breaker.failures, 3);
}

TEST(RoutingLoader, EveryKeyIsRead) {
  LoadResult result = load_config_text(
      with_pool("retry: { on: [429, \"502-504\"], max_attempts: 5 },\n"
                "circuit_breaker: { enabled: false, failures: 5, within: 30s, on: [429], open_for: 1m,\n"
                "                   honor_retry_after: false, on_connect_error: false }"),
      no_env());
  ASSERT_THAT(error_lines(result), IsEmpty());
  const Pool& p = result.config->pools.at("p");
  EXPECT_EQ(p.retry.max_attempts, 5);
  ASSERT_EQ(p.retry.on.ranges.size(), 2u);
  EXPECT_EQ(p.retry.on.ranges[0], std::make_pair(429, 429));
  EXPECT_EQ(p.retry.on.ranges[1], std::make_pair(502, 504));
  EXPECT_FALSE(p.retry.on.contains(500));
  EXPECT_TRUE(p.retry.on.contains(503));
  const CircuitBreakerSettings& cb = p.circuit_breaker;
  EXPECT_FALSE(cb.enabled);
  EXPECT_EQ(cb.failures, 5);
  EXPECT_EQ(cb.within, Millis(30'000));
  EXPECT_EQ(cb.open_for, Millis(60'000));
  EXPECT_FALSE(cb.honor_retry_after);
  EXPECT_FALSE(cb.on_connect_error);
  EXPECT_TRUE(cb.on.contains(429));
  EXPECT_FALSE(cb.on.contains(500));
}

TEST(RoutingLoader, EmptyStatusListMeansNone) {
  LoadResult result = load_config_text(with_pool("retry: { on: [] }"), no_env());
  ASSERT_THAT(error_lines(result), IsEmpty());
  EXPECT_FALSE(result.config->pools.at("p").retry.on.contains(429));
}

TEST(RoutingLoader, BoundsAreInclusive) {
  LoadResult result = load_config_text(
      with_pool("retry: { on: [\"100-599\"], max_attempts: 10 }, circuit_breaker: { failures: 1 }"),
      no_env());
  ASSERT_THAT(error_lines(result), IsEmpty());
  const Pool& p = result.config->pools.at("p");
  EXPECT_EQ(p.retry.max_attempts, 10);
  EXPECT_TRUE(p.retry.on.contains(100));
  EXPECT_TRUE(p.retry.on.contains(599));
  EXPECT_EQ(p.circuit_breaker.failures, 1);
}

struct RoutingErrorCase {
  std::string name;
  std::string pool_keys;
  std::string expected;  // "path: message" of the only error
};

class RoutingLoaderError : public ::testing::TestWithParam<RoutingErrorCase> {};

TEST_P(RoutingLoaderError, ReportsPathAndMessage) {
  LoadResult result = load_config_text(with_pool(GetParam().pool_keys), no_env());
  EXPECT_FALSE(result.config);
  EXPECT_THAT(error_lines(result), ElementsAre(GetParam().expected));
}

const std::string kStatus = "expected a status (100-599) or a range such as \"500-599\"";
const std::string kRange = kStatus + " with low <= high";

const RoutingErrorCase kRoutingErrors[] = {
    {"RetryNotAMapping", "retry: [1]", "pools.p.retry: expected a mapping, got a list"},
    {"MaxAttemptsZero", "retry: { max_attempts: 0 }",
     "pools.p.retry.max_attempts: expected an integer between 1 and 10"},
    {"MaxAttemptsEleven", "retry: { max_attempts: 11 }",
     "pools.p.retry.max_attempts: expected an integer between 1 and 10"},
    {"MaxAttemptsText", "retry: { max_attempts: three }",
     "pools.p.retry.max_attempts: expected an integer between 1 and 10"},
    {"RetryUnknownKey", "retry: { backoff: 1s }", "pools.p.retry.backoff: unknown key 'backoff'"},
    {"RetryOnNotAList", "retry: { on: 429 }", "pools.p.retry.on: expected a list of statuses, got a scalar"},
    {"RetryOnTooLow", "retry: { on: [99] }", "pools.p.retry.on[0]: expected an integer between 100 and 599"},
    {"RetryOnTooHigh", "retry: { on: [429, 600] }",
     "pools.p.retry.on[1]: expected an integer between 100 and 599"},
    {"RetryOnText", "retry: { on: [soon] }", "pools.p.retry.on[0]: expected an integer between 100 and 599"},
    {"RetryOnMapping", "retry: { on: [ { a: 1 } ] }", "pools.p.retry.on[0]: " + kStatus},
    {"BreakerOnRangeOutOfBounds", "circuit_breaker: { on: [429, \"600-700\"] }",
     "pools.p.circuit_breaker.on[1]: " + kRange},
    {"BreakerOnRangeReversed", "circuit_breaker: { on: [\"599-500\"] }",
     "pools.p.circuit_breaker.on[0]: " + kRange},
    {"BreakerOnRangeHalf", "circuit_breaker: { on: [429, \"500-\"] }",
     "pools.p.circuit_breaker.on[1]: " + kRange},
    {"BreakerOnNegative", "circuit_breaker: { on: [-5] }", "pools.p.circuit_breaker.on[0]: " + kRange},
    {"BreakerNotAMapping", "circuit_breaker: on",
     "pools.p.circuit_breaker: expected a mapping, got a scalar"},
    {"BreakerEnabledNotBool", "circuit_breaker: { enabled: 3 }",
     "pools.p.circuit_breaker.enabled: expected true or false"},
    {"BreakerFailuresZero", "circuit_breaker: { failures: 0 }",
     "pools.p.circuit_breaker.failures: expected an integer between 1 and 100"},
    {"BreakerWithinZero", "circuit_breaker: { within: 0s }",
     "pools.p.circuit_breaker.within: expected a duration > 0 such as 10s or 250ms"},
    {"BreakerOpenForBad", "circuit_breaker: { open_for: soon }",
     "pools.p.circuit_breaker.open_for: expected a duration > 0 such as 10s or 250ms"},
    {"BreakerHonorNotBool", "circuit_breaker: { honor_retry_after: maybe }",
     "pools.p.circuit_breaker.honor_retry_after: expected true or false"},
    {"BreakerConnectNotBool", "circuit_breaker: { on_connect_error: 2 }",
     "pools.p.circuit_breaker.on_connect_error: expected true or false"},
    {"BreakerUnknownKey", "circuit_breaker: { half_open_requests: 2 }",
     "pools.p.circuit_breaker.half_open_requests: unknown key 'half_open_requests'"},
};

INSTANTIATE_TEST_SUITE_P(AllKeys, RoutingLoaderError, ::testing::ValuesIn(kRoutingErrors),
                         [](const ::testing::TestParamInfo<RoutingErrorCase>& info) {
                           return info.param.name;
                         });

TEST(RoutingLoader, ReportsEveryProblemOfTheSection) {
  LoadResult result = load_config_text(
      with_pool("retry: { on: [429, 700], max_attempts: 0 }, circuit_breaker: { failures: x, on: [1] }"),
      no_env());
  EXPECT_THAT(error_lines(result),
              ElementsAre("pools.p.retry.on[1]: expected an integer between 100 and 599",
                          "pools.p.retry.max_attempts: expected an integer between 1 and 10",
                          "pools.p.circuit_breaker.failures: expected an integer between 1 and 100",
                          "pools.p.circuit_breaker.on[0]: expected an integer between 100 and 599"));
}

}  // namespace
}  // namespace spillway::config
