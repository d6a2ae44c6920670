#include "limits/counter_key.h"

#include <gtest/gtest.h>

namespace spillway::limits {
namespace {

config::Counter counter(config::CounterKind kind, std::string tag = {}) { return {kind, std::move(tag)}; }

std::string key(const config::Counter& c, const CounterSubject& s) {
  std::string out = "tpm:";
  append_counter_key(out, c, s);
  return out;
}

TEST(CounterKey, NamesTheKindAndTheValue) {
  config::Subscription sub{.name = "team-a",
                           .key_env = "K",
                           .key = "secret",
                           .product = "standard",
                           .tags = {{"team", "search"}},
                           .token_limit = {},
                           .request_limit = {}};
  const CounterSubject s{.subscription = &sub, .user_hash = "3f9a", .api = "openai", .deployment = "gpt-4o"};
  using K = config::CounterKind;
  EXPECT_EQ(key(counter(K::kSubscription), s), "tpm:sub:team-a");
  EXPECT_EQ(key(counter(K::kProduct), s), "tpm:product:standard");
  EXPECT_EQ(key(counter(K::kUser), s), "tpm:user:3f9a");
  EXPECT_EQ(key(counter(K::kTag, "team"), s), "tpm:tag:team=search");
  EXPECT_EQ(key(counter(K::kApi), s), "tpm:api:openai");
  EXPECT_EQ(key(counter(K::kDeployment), s), "tpm:deployment:gpt-4o");
}

TEST(CounterKey, FallsBackWhenAValueIsMissing) {
  config::Subscription sub{.name = "team-b",
                           .key_env = "K",
                           .key = "secret",
                           .product = "",
                           .tags = {},
                           .token_limit = {},
                           .request_limit = {}};
  const CounterSubject s{.subscription = &sub, .user_hash = "", .api = "", .deployment = ""};
  using K = config::CounterKind;
  EXPECT_EQ(key(counter(K::kUser), s), "tpm:sub:team-b");  // no user id: counts as the subscription
  EXPECT_EQ(key(counter(K::kTag, "team"), s), "tpm:tag:team=(none)");
  EXPECT_EQ(key(counter(K::kProduct), s), "tpm:product:(none)");
  EXPECT_EQ(key(counter(K::kApi), s), "tpm:api:(none)");
  EXPECT_EQ(key(counter(K::kDeployment), s), "tpm:deployment:(none)");
}

TEST(CounterKey, NeverContainsTheSubscriptionKey) {
  config::Subscription sub{.name = "team-a",
                           .key_env = "K",
                           .key = "sk-very-secret",
                           .product = "p",
                           .tags = {},
                           .token_limit = {},
                           .request_limit = {}};
  const CounterSubject s{.subscription = &sub, .user_hash = "", .api = "", .deployment = ""};
  for (auto kind :
       {config::CounterKind::kSubscription, config::CounterKind::kProduct, config::CounterKind::kUser}) {
    EXPECT_EQ(key(counter(kind), s).find("sk-very-secret"), std::string::npos);
  }
}

}  // namespace
}  // namespace spillway::limits
