#include "telemetry/token_metrics.h"

#include <gtest/gtest.h>

#include "telemetry/prometheus.h"
#include "telemetry/token_metrics_policy.h"

namespace spillway::telemetry {
namespace {

using Kind = config::MetricDimension::Kind;
using Labels = std::vector<std::pair<std::string, std::string>>;

config::TokenMetricsSettings all_dimensions(std::size_t max_series = 1000) {
  config::TokenMetricsSettings s;
  s.dimensions = {{Kind::kApi, "", "api"},
                  {Kind::kOperation, "", "operation"},
                  {Kind::kDeployment, "", "deployment"},
                  {Kind::kModel, "", "model"},
                  {Kind::kBackend, "", "backend"},
                  {Kind::kSubscription, "", "subscription"},
                  {Kind::kProduct, "", "product"},
                  {Kind::kUserHash, "", "user_hash"},
                  {Kind::kTag, "team", "tag_team"},
                  {Kind::kHeader, "x-app", "header_x_app"},
                  {Kind::kTool, "", "tool"}};
  s.max_series = max_series;
  return s;
}

const FamilySnapshot& family(const std::vector<FamilySnapshot>& snap, std::string_view name) {
  for (const auto& f : snap) {
    if (f.name == name) return f;
  }
  static const FamilySnapshot kMissing;
  ADD_FAILURE() << "no family " << name;
  return kMissing;
}

Labels token_labels(std::string kind, std::string user, std::string tool) {
  return {{"kind", kind},
          {"api", "openai"},
          {"operation", "chat.completions"},
          {"deployment", "gpt-4o-dep"},
          {"model", "gpt-4o"},
          {"backend", "payg"},
          {"subscription", "team-a"},
          {"product", "standard"},
          {"user_hash", user},
          {"tag_team", "search"},
          {"header_x_app", "none"},
          {"tool", tool}};
}

struct Fixture {
  std::map<std::string, std::string> tags{{"team", "search"}};
  http::HeaderList headers;
  std::vector<std::string> tools;
  RequestFacts facts() const {
    RequestFacts f;
    f.api = "openai";
    f.operation = "chat.completions";
    f.deployment = "gpt-4o-dep";
    f.model = "gpt-4o";
    f.backend = "payg";
    f.subscription = "team-a";
    f.product = "standard";
    f.user_hash = "0123456789abcdef";
    f.tags = &tags;
    f.headers = &headers;
    f.tools = tools;
    f.status = 200;
    f.usage = api::Usage{.prompt_tokens = 10, .completion_tokens = 5, .total_tokens = 15, .cached_tokens = 2};
    return f;
  }
};

TEST(TokenMetrics, OneSeriesPerToolWithTheFullCounts) {
  MetricsRegistry registry;
  TokenMetrics metrics(registry, all_dimensions());
  Fixture fx;
  fx.tools = {"get_weather", "search_docs"};
  metrics.record(fx.facts());
  fx.tools = {"get_weather"};
  metrics.record(fx.facts());
  const auto snap = registry.snapshot();
  const FamilySnapshot& tokens = family(snap, "spillway_tokens_total");
  ASSERT_EQ(tokens.samples.size(), 8u);
  auto value = [&](const Labels& l) {
    for (const auto& s : tokens.samples) {
      if (s.labels == l) return s.value;
    }
    ADD_FAILURE() << "no series";
    return -1.0;
  };
  EXPECT_EQ(value(token_labels("prompt", "0123456789abcdef", "get_weather")), 20);
  EXPECT_EQ(value(token_labels("completion", "0123456789abcdef", "get_weather")), 10);
  EXPECT_EQ(value(token_labels("total", "0123456789abcdef", "get_weather")), 30);
  EXPECT_EQ(value(token_labels("cached", "0123456789abcdef", "get_weather")), 4);
  EXPECT_EQ(value(token_labels("total", "0123456789abcdef", "search_docs")), 15);
}

TEST(TokenMetrics, AbsentValuesAreNoneAndNoUsageNoTokens) {
  MetricsRegistry registry;
  TokenMetrics metrics(registry, all_dimensions());
  Fixture fx;
  RequestFacts f = fx.facts();
  f.user_hash = "";
  f.tags = nullptr;
  fx.headers = {{"x-app", "checkout"}};
  f.headers = &fx.headers;
  metrics.record(f);
  f.usage.reset();
  metrics.record(f);  // nothing
  const auto snap = registry.snapshot();
  const FamilySnapshot& tokens = family(snap, "spillway_tokens_total");
  ASSERT_EQ(tokens.samples.size(), 4u);
  Labels l = token_labels("prompt", "none", "none");
  l[9].second = "none";
  l[10].second = "checkout";
  bool found = false;
  for (const auto& s : tokens.samples) found = found || (s.labels == l && s.value == 10);
  EXPECT_TRUE(found) << render_prometheus(snap);
}

TEST(TokenMetrics, CapFoldsNewUsersIntoOther) {
  MetricsRegistry registry;
  config::TokenMetricsSettings s;
  s.dimensions = {{Kind::kUserHash, "", "user_hash"}};
  s.max_series = 2;
  TokenMetrics metrics(registry, s);
  Fixture fx;
  for (std::string user : {"u1", "u2", "u3", "u4", "u1"}) {
    RequestFacts f = fx.facts();
    f.user_hash = user;
    metrics.record(f);
  }
  const std::string text = render_prometheus(registry.snapshot());
  EXPECT_NE(text.find("spillway_tokens_total{kind=\"total\",user_hash=\"u1\"} 30\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("spillway_tokens_total{kind=\"total\",user_hash=\"u2\"} 15\n"), std::string::npos);
  EXPECT_NE(text.find("spillway_tokens_total{kind=\"total\",user_hash=\"other\"} 30\n"), std::string::npos);
  EXPECT_EQ(text.find("u3"), std::string::npos);
  EXPECT_NE(text.find("spillway_metric_series_folded_total{metric=\"spillway_tokens_total\"} 2\n"),
            std::string::npos);
}

TEST(RequestMetrics, StatusDurationsAndLimitRejections) {
  MetricsRegistry registry;
  RequestMetrics metrics(registry, all_dimensions());
  Fixture fx;
  fx.tools = {"a", "b"};
  RequestFacts f = fx.facts();
  f.duration_seconds = 0.2;
  f.overhead_seconds = 0.001;
  f.ttft_seconds = 0.1;
  metrics.record(f);
  f.status = 429;
  f.limit_rejection = "token_limit";
  f.backend = "";
  f.ttft_seconds.reset();
  metrics.record(f);
  const std::string text = render_prometheus(registry.snapshot());
  // Counted once per request, not per tool.
  EXPECT_NE(text.find("spillway_requests_total{status=\"200\",api=\"openai\",operation=\"chat.completions\","
                      "deployment=\"gpt-4o-dep\",model=\"gpt-4o\",backend=\"payg\",subscription=\"team-a\","
                      "product=\"standard\",user_hash=\"0123456789abcdef\",tag_team=\"search\","
                      "header_x_app=\"none\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("spillway_requests_total{status=\"429\",api=\"openai\",operation=\"chat.completions\","
                      "deployment=\"gpt-4o-dep\",model=\"gpt-4o\",backend=\"none\""),
            std::string::npos);
  EXPECT_NE(text.find("spillway_limit_rejections_total{limit=\"token_limit\"} 1\n"), std::string::npos);
  EXPECT_NE(
      text.find("spillway_request_duration_seconds_count{api=\"openai\",operation=\"chat.completions\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("spillway_request_duration_seconds_bucket{api=\"openai\",operation=\"chat.completions\","
                "le=\"0.25\"} 2\n"),
      std::string::npos);
  EXPECT_NE(
      text.find("spillway_gateway_overhead_seconds_bucket{api=\"openai\",operation=\"chat.completions\","
                "le=\"0.001\"} 2\n"),
      std::string::npos);
  EXPECT_NE(text.find("spillway_upstream_ttft_seconds_count{backend=\"payg\"} 1\n"), std::string::npos);
}

TEST(FactsFrom, ReadsTheContext) {
  config::Api api{"foundry", "/foundry", config::Shape::kAzureOpenAI};
  config::Subscription sub;
  sub.name = "team-a";
  sub.product = "standard";
  sub.tags = {{"team", "search"}};
  http::Request request;
  request.headers = {{"x-app", "web"}};
  pipeline::RequestContext ctx;
  ctx.request = &request;
  ctx.route.api = &api;
  ctx.route.op = api::Operation::kEmbeddings;
  ctx.subscription = &sub;
  ctx.pool = "emb";
  ctx.fields.tools = {"t1"};
  ctx.status = 200;
  ctx.usage_present = true;
  ctx.usage.total_tokens = 7;
  ctx.started = pipeline::SteadyTime{} + std::chrono::milliseconds(100);
  ctx.first_byte = ctx.started + std::chrono::milliseconds(30);
  ctx.finished = ctx.started + std::chrono::milliseconds(50);
  ctx.upstream_time = std::chrono::milliseconds(45);
  ctx.limit_rejection = "token_quota";
  RequestFacts f = facts_from(ctx);
  EXPECT_EQ(f.api, "foundry");
  EXPECT_EQ(f.limit_rejection, "token_quota");
  EXPECT_EQ(f.operation, "embeddings");
  EXPECT_EQ(f.model, "emb");
  EXPECT_EQ(f.subscription, "team-a");
  EXPECT_EQ(f.product, "standard");
  EXPECT_EQ(f.tags, &sub.tags);
  ASSERT_EQ(f.tools.size(), 1u);
  EXPECT_EQ(f.tools[0], "t1");
  ASSERT_TRUE(f.usage);
  EXPECT_EQ(f.usage->total_tokens, 7);
  EXPECT_DOUBLE_EQ(f.duration_seconds, 0.05);
  EXPECT_NEAR(f.overhead_seconds, 0.005, 1e-9);
  ASSERT_TRUE(f.ttft_seconds);
  EXPECT_DOUBLE_EQ(*f.ttft_seconds, 0.03);
}

TEST(TokenMetricsPolicy, PublishesToolsAndRecords) {
  MetricsRegistry registry;
  config::TokenMetricsSettings s;
  s.dimensions = {{Kind::kTool, "", "tool"}};
  TokenMetricsPolicy policy(registry, s);
  pipeline::RequestContext ctx;
  ctx.fields.tools = {"lookup"};
  ctx.usage_present = true;
  ctx.usage.prompt_tokens = 3;
  policy.on_complete(ctx);
  EXPECT_EQ(ctx.tools, ctx.fields.tools);
  const std::string text = render_prometheus(registry.snapshot());
  EXPECT_NE(text.find("spillway_tokens_total{kind=\"prompt\",tool=\"lookup\"} 3\n"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace spillway::telemetry
