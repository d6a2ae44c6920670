// identity and policies sections (config/telemetry_loader.cpp).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/loader.h"

namespace spillway::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Kind = MetricDimension::Kind;

constexpr std::string_view kBase = R"(
backends: { b: { url: http://127.0.0.1:1, kind: openai } }
pools: { gpt: { members: [ { backend: b } ] } }
)";

EnvLookup env_with(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

LoadResult load(std::string_view extra, std::map<std::string, std::string> env = {}) {
  return load_config_text(std::string(kBase) + std::string(extra), env_with(std::move(env)));
}

std::vector<std::string> error_texts(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.path + ": " + e.message);
  return out;
}

TEST(TelemetryConfig, Defaults) {
  LoadResult r = load("");
  ASSERT_THAT(error_texts(r), IsEmpty());
  const Config& c = *r.config;
  EXPECT_TRUE(c.identity.user_id.empty());
  EXPECT_EQ(c.identity.user_hash_key_env, "SPILLWAY_USER_HASH_KEY");
  EXPECT_FALSE(c.policies.headers);
  ASSERT_EQ(c.policies.token_metrics.dimensions.size(), 5u);
  std::vector<std::string> labels;
  for (const auto& d : c.policies.token_metrics.dimensions) labels.push_back(d.label);
  EXPECT_THAT(labels, ElementsAre("api", "operation", "deployment", "backend", "subscription"));
  EXPECT_EQ(c.policies.token_metrics.max_series, 1000u);
  EXPECT_FALSE(c.policies.semantic_cache);
  EXPECT_FALSE(c.policies.content_safety);
}

TEST(TelemetryConfig, FullSections) {
  LoadResult r = load(R"(
identity: { user_id: [ "header:X-User-Id", "jwt:oid" ], user_hash_key_env: MY_HASH_KEY }
policies:
  headers:
    set: { X-Platform: shared-ai, x-cost-center: "42" }
    remove: [ x-debug ]
    baggage: { platform: shared ai }
    traceparent: false
  token_metrics:
    dimensions: [api, operation, deployment, model, backend, subscription, product, user_hash, tool,
                 "tag:team", "tag:cost-center", "header:X-App"]
    max_series: 50
  semantic_cache: { enabled: false, embeddings_pool: emb, max_distance: 0.05, ttl: 1h, vary_by: [subscription],
                    ignore_system_messages: true, max_message_count: 10 }
  content_safety: { enabled: false }
)",
                      {{"MY_HASH_KEY", "k3y"}});
  ASSERT_THAT(error_texts(r), IsEmpty());
  const Config& c = *r.config;
  ASSERT_EQ(c.identity.user_id.size(), 2u);
  EXPECT_EQ(c.identity.user_id[0].kind, UserIdSource::Kind::kHeader);
  EXPECT_EQ(c.identity.user_id[0].name, "x-user-id");
  EXPECT_EQ(c.identity.user_id[1].kind, UserIdSource::Kind::kJwtClaim);
  EXPECT_EQ(c.identity.user_id[1].name, "oid");
  EXPECT_EQ(c.identity.user_hash_key_env, "MY_HASH_KEY");
  EXPECT_EQ(c.identity.user_hash_key, "k3y");

  ASSERT_TRUE(c.policies.headers);
  const HeadersSettings& h = *c.policies.headers;
  EXPECT_THAT(h.set, ElementsAre(std::pair<std::string, std::string>{"x-platform", "shared-ai"},
                                 std::pair<std::string, std::string>{"x-cost-center", "42"}));
  EXPECT_THAT(h.remove, ElementsAre("x-debug"));
  EXPECT_THAT(h.baggage, ElementsAre(std::pair<std::string, std::string>{"platform", "shared ai"}));
  EXPECT_FALSE(h.traceparent);

  const auto& dims = c.policies.token_metrics.dimensions;
  ASSERT_EQ(dims.size(), 12u);
  EXPECT_EQ(dims[7].kind, Kind::kUserHash);
  EXPECT_EQ(dims[8].kind, Kind::kTool);
  EXPECT_EQ(dims[9].kind, Kind::kTag);
  EXPECT_EQ(dims[9].name, "team");
  EXPECT_EQ(dims[9].label, "tag_team");
  EXPECT_EQ(dims[10].label, "tag_cost_center");
  EXPECT_EQ(dims[11].kind, Kind::kHeader);
  EXPECT_EQ(dims[11].name, "x-app");
  EXPECT_EQ(dims[11].label, "header_x_app");
  EXPECT_EQ(c.policies.token_metrics.max_series, 50u);
}

TEST(TelemetryConfig, HeadersDefaultToTraceparentOn) {
  LoadResult r = load("policies: { headers: {} }\n");
  ASSERT_THAT(error_texts(r), IsEmpty());
  ASSERT_TRUE(r.config->policies.headers);
  EXPECT_TRUE(r.config->policies.headers->traceparent);
}

TEST(TelemetryConfig, UserHashDimensionNeedsTheKey) {
  constexpr std::string_view kUserHash = "policies: { token_metrics: { dimensions: [api, user_hash] } }\n";
  LoadResult missing = load(kUserHash);
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].path, "policies.token_metrics.dimensions");
  EXPECT_THAT(missing.errors[0].message, HasSubstr("the user_hash dimension needs a user-id hash key"));
  EXPECT_THAT(missing.errors[0].message, HasSubstr("SPILLWAY_USER_HASH_KEY is not set"));

  LoadResult empty = load(kUserHash, {{"SPILLWAY_USER_HASH_KEY", ""}});
  ASSERT_EQ(empty.errors.size(), 1u);
  EXPECT_THAT(empty.errors[0].message, HasSubstr("SPILLWAY_USER_HASH_KEY is empty"));

  LoadResult custom = load(std::string(kUserHash) + "identity: { user_hash_key_env: OTHER }\n",
                           {{"SPILLWAY_USER_HASH_KEY", "x"}});
  ASSERT_EQ(custom.errors.size(), 1u);
  EXPECT_THAT(custom.errors[0].message, HasSubstr("OTHER is not set"));

  LoadResult ok = load(std::string(kUserHash) + "identity: { user_id: [\"header:x-user-id\"] }\n",
                       {{"SPILLWAY_USER_HASH_KEY", "secret-value-1"}});
  ASSERT_THAT(error_texts(ok), IsEmpty());
  EXPECT_EQ(ok.config->identity.user_hash_key, "secret-value-1");

  // Without the dimension the key is optional.
  LoadResult no_dim = load("identity: { user_id: [\"header:x-user-id\"] }\n");
  ASSERT_THAT(error_texts(no_dim), IsEmpty());
  EXPECT_EQ(no_dim.config->identity.user_hash_key, "");
}

TEST(TelemetryConfig, ErrorsCarryPaths) {
  struct Case {
    std::string yaml;
    std::string path;
    std::string message;
  };
  const Case cases[] = {
      {"identity: { user_id: [ \"cookie:x\" ] }", "identity.user_id[0]", "expected header:NAME or jwt:CLAIM"},
      {"identity: { user_id: [ \"header:bad name\" ] }", "identity.user_id[0]", "invalid header name"},
      {"identity: { user_id: { a: b } }", "identity.user_id", "expected a list"},
      {"identity: { user_hash_key_env: \"\" }", "identity.user_hash_key_env", "must not be empty"},
      {"identity: { salt: x }", "identity.salt", "unknown key 'salt'"},
      {"policies: { headers: { set: { host: x } } }", "policies.headers.set.host", "managed by the gateway"},
      {"policies: { headers: { set: { authorization: x } } }", "policies.headers.set.authorization",
       "managed by the gateway"},
      {"policies: { headers: { set: { x-a: \"a\\nb\" } } }", "policies.headers.set.x-a",
       "control characters"},
      {"policies: { headers: { set: { \"x a\": b } } }", "policies.headers.set.x a", "invalid header name"},
      {"policies: { headers: { remove: x-debug } }", "policies.headers.remove", "expected a list"},
      {"policies: { headers: { remove: [ x-request-id ] } }", "policies.headers.remove[0]",
       "cannot be removed"},
      {"policies: { headers: { set: { x-a: b }, remove: [ X-A ] } }", "policies.headers.remove",
       "also in set"},
      {"policies: { headers: { baggage: { \"a b\": c } } }", "policies.headers.baggage.a b",
       "invalid baggage key"},
      {"policies: { headers: { traceparent: maybe } }", "policies.headers.traceparent",
       "expected true or false"},
      {"policies: { headers: { rewrite: {} } }", "policies.headers.rewrite", "unknown key 'rewrite'"},
      {"policies: { token_metrics: { dimensions: [ team ] } }", "policies.token_metrics.dimensions[0]",
       "unknown dimension 'team'"},
      {"policies: { token_metrics: { dimensions: [ api, api ] } }", "policies.token_metrics.dimensions[1]",
       "duplicate dimension"},
      {"policies: { token_metrics: { dimensions: [ \"tag:a-b\", \"tag:a_b\" ] } }",
       "policies.token_metrics.dimensions[1]", "duplicate dimension"},
      {"policies: { token_metrics: { dimensions: [ \"tag:\" ] } }", "policies.token_metrics.dimensions[0]",
       "unknown dimension"},
      {"policies: { token_metrics: { dimensions: api } }", "policies.token_metrics.dimensions",
       "expected a list"},
      {"policies: { token_metrics: { max_series: 0 } }", "policies.token_metrics.max_series",
       "between 1 and"},
      {"policies: { semantic_cache: { enabled: true } }", "policies.semantic_cache.enabled",
       "not implemented yet"},
      {"policies: { content_safety: { enabled: true } }", "policies.content_safety.enabled",
       "not implemented yet"},
      {"policies: { content_safety: { level: high } }", "policies.content_safety.level",
       "unknown key 'level'"},
      {"policies: { rate_limit: {} }", "policies.rate_limit", "unknown key 'rate_limit'"},
  };
  for (const Case& c : cases) {
    LoadResult r = load(c.yaml + "\n");
    ASSERT_EQ(r.errors.size(), 1u) << c.yaml << " -> " << testing::PrintToString(error_texts(r));
    EXPECT_EQ(r.errors[0].path, c.path) << c.yaml;
    EXPECT_THAT(r.errors[0].message, HasSubstr(c.message)) << c.yaml;
  }
}

TEST(TelemetryConfig, TheKeyNeverAppearsInMessages) {
  LoadResult r = load("identity: { user_id: [ \"header:x-user-id\" ], bogus: 1 }\n",
                      {{"SPILLWAY_USER_HASH_KEY", "super-secret-hash-key"}});
  for (const auto& text : error_texts(r)) EXPECT_THAT(text, ::testing::Not(HasSubstr("super-secret")));
  for (const auto& text : r.warnings) EXPECT_THAT(text, ::testing::Not(HasSubstr("super-secret")));
}

}  // namespace
}  // namespace spillway::config
