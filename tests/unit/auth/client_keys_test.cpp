#include "auth/client_keys.h"

#include <gtest/gtest.h>

#include "auth/authenticate_policy.h"

namespace spillway::auth {
namespace {

std::map<std::string, config::Subscription> subscriptions() {
  std::map<std::string, config::Subscription> subs;
  subs["team-a"] =
      config::Subscription{.name = "team-a", .key_env = "A", .key = "key-a-123", .product = "p", .tags = {}};
  subs["team-b"] =
      config::Subscription{.name = "team-b", .key_env = "B", .key = "key-b-456", .product = "p", .tags = {}};
  return subs;
}

TEST(ExtractClientKey, PrefersApiKeyThenSubscriptionKeyThenBearer) {
  EXPECT_EQ(extract_client_key({{"api-key", "k1"}, {"authorization", "Bearer k3"}}), "k1");
  EXPECT_EQ(extract_client_key({{"ocp-apim-subscription-key", "k2"}, {"authorization", "Bearer k3"}}), "k2");
  EXPECT_EQ(extract_client_key({{"authorization", "Bearer k3"}}), "k3");
  EXPECT_EQ(extract_client_key({{"authorization", "bearer   k4 "}}), "k4");
}

TEST(ExtractClientKey, IgnoresOtherSchemesAndEmptyValues) {
  EXPECT_EQ(extract_client_key({}), "");
  EXPECT_EQ(extract_client_key({{"authorization", "Basic dXNlcjpwYXNz"}}), "");
  EXPECT_EQ(extract_client_key({{"authorization", "Bearer"}}), "");
  EXPECT_EQ(extract_client_key({{"api-key", "  "}, {"authorization", "Bearer k5"}}), "k5");
}

TEST(ClientKeyIndex, FindsTheOwningSubscription) {
  const auto subs = subscriptions();
  ClientKeyIndex index(subs);
  ASSERT_NE(index.find("key-a-123"), nullptr);
  EXPECT_EQ(index.find("key-a-123")->name, "team-a");
  EXPECT_EQ(index.find("key-b-456")->name, "team-b");
}

TEST(ClientKeyIndex, RejectsNearMisses) {
  const auto subs = subscriptions();
  ClientKeyIndex index(subs);
  EXPECT_EQ(index.find(""), nullptr);
  EXPECT_EQ(index.find("key-a-12"), nullptr);
  EXPECT_EQ(index.find("key-a-1234"), nullptr);
  EXPECT_EQ(index.find("KEY-A-123"), nullptr);
}

// The per-thread cache of keys seen must answer as the digest index does, however often a key is asked for,
// interleaved with near misses, and must not carry one index's subscriptions over to another index.
TEST(ClientKeyIndex, RememberedKeysStillMatchExactly) {
  auto subs = subscriptions();
  ClientKeyIndex index(subs);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(index.find("key-a-123"), &subs.at("team-a"));
    EXPECT_EQ(index.find("key-a-124"), nullptr);
    EXPECT_EQ(index.find("key-b-456"), &subs.at("team-b"));
    EXPECT_EQ(index.find("key-a-12"), nullptr);
  }
  auto other_subs = subscriptions();
  other_subs.erase("team-a");
  ClientKeyIndex other(other_subs);
  EXPECT_EQ(other.find("key-a-123"), nullptr);
  EXPECT_EQ(other.find("key-b-456"), &other_subs.at("team-b"));
  EXPECT_EQ(index.find("key-a-123"), &subs.at("team-a"));
}

TEST(AuthenticatePolicy, AnswersWith401AndNeverEchoesTheKey) {
  const auto subs = subscriptions();
  AuthenticatePolicy policy(subs);
  http::Request request;
  pipeline::RequestContext ctx;
  ctx.request = &request;

  auto reply = policy.on_request(ctx);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 401);
  EXPECT_NE(reply->body.find("missing_api_key"), std::string::npos);

  request.headers = {{"api-key", "wrong-secret-value"}};
  reply = policy.on_request(ctx);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 401);
  EXPECT_NE(reply->body.find("invalid_api_key"), std::string::npos);
  EXPECT_EQ(reply->body.find("wrong-secret-value"), std::string::npos);
  EXPECT_EQ(ctx.subscription, nullptr);

  request.headers = {{"ocp-apim-subscription-key", "key-b-456"}};
  EXPECT_FALSE(policy.on_request(ctx));
  ASSERT_NE(ctx.subscription, nullptr);
  EXPECT_EQ(ctx.subscription->name, "team-b");
}

TEST(AuthenticatePolicy, OpenWhenNoSubscriptionsAreConfigured) {
  const std::map<std::string, config::Subscription> none;
  AuthenticatePolicy policy(none);
  http::Request request;
  pipeline::RequestContext ctx;
  ctx.request = &request;
  EXPECT_FALSE(policy.on_request(ctx));
}

}  // namespace
}  // namespace spillway::auth
