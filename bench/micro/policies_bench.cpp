// Micro benchmarks of the default policies' per-request work: the token limit (reserve before forwarding,
// settle on completion, on the in-memory store), the token metrics update, the user-id hash, and the
// proxy's per-request access-log line and JSON escaping.

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "api/request_body.h"
#include "api/route.h"
#include "config/config.h"
#include "http/types.h"
#include "limits/prompt_estimator.h"
#include "limits/token_limit_policy.h"
#include "pipeline/request_context.h"
#include "state/memory_store.h"
#include "telemetry/identity.h"
#include "telemetry/metrics.h"
#include "telemetry/token_metrics.h"
#include "util/clock.h"
#include "util/json.h"

// spillway_micro_bench does not link spw_proxy (bench/CMakeLists.txt); access_log.cpp needs only spw_api
// and spw_util, so it is compiled into this file. Replace with linking spw_proxy when the CMake file allows.
#include "proxy/access_log.cpp"  // NOLINT(bugprone-suspicious-include)

namespace spillway {
namespace {

const std::string kBody =
    R"({"model":"gpt-4o","messages":[{"role":"system","content":"You are the internal assistant of the ACME )"
    R"(platform team."},{"role":"user","content":"Which runbook covers flaky integration stages, who is on )"
    R"(call for billing this week, and should I open an incident or just a ticket?"}],"max_tokens":256})";

struct LimitFixture {
  std::map<std::string, config::Subscription> subscriptions;
  std::map<std::string, config::Product> products;
  std::vector<config::Api> apis{config::Api{.name = "openai", .prefix = "", .shape = config::Shape::kOpenAI}};
  http::Request request;

  LimitFixture() {
    config::Product product;
    product.name = "standard";
    config::TokenLimitSettings limit;
    limit.tokens_per_minute = int64_t{1} << 50;  // never rejects
    limit.quota = int64_t{1} << 50;
    product.token_limit = limit;
    products.emplace("standard", product);
    config::Subscription sub;
    sub.name = "team-search";
    sub.product = "standard";
    subscriptions.emplace("team-search", sub);
    request.method = "POST";
    request.target = "/v1/chat/completions";
    request.body = kBody;
  }
};

// One request's whole token-limit work: on_request (estimate the prompt, reserve in the window and the
// quota) and on_complete (settle to the real usage).
void token_limit(benchmark::State& state, std::shared_ptr<const limits::PromptEstimator> estimator) {
  LimitFixture f;
  auto store = std::make_shared<state::MemoryStore>();
  limits::TokenLimitPolicy policy(f.subscriptions, f.products, store, util::SystemClock::instance(),
                                  std::move(estimator));
  const config::Subscription& sub = f.subscriptions.at("team-search");
  const api::Route route = std::get<api::Route>(api::match_route(f.apis, "POST", "/v1/chat/completions"));
  // The proxy inspects the body before the policies (BM_InspectBody_1KB); the policy reads the result.
  const api::RequestFields fields = std::get<api::RequestFields>(api::inspect_body(f.request.body, route));
  for (auto _ : state) {
    pipeline::RequestContext ctx;
    ctx.request = &f.request;
    ctx.route = route;
    ctx.fields = fields;
    ctx.pool = fields.model;
    ctx.body_valid = true;
    ctx.subscription = &sub;
    auto reply = policy.on_request(ctx);
    benchmark::DoNotOptimize(reply);
    ctx.status = 200;
    ctx.usage = api::Usage{.prompt_tokens = 40, .completion_tokens = 20, .total_tokens = 60};
    ctx.usage_present = true;
    policy.on_complete(ctx);
  }
}
void BM_TokenLimit_ReserveSettle_ByteEstimate(benchmark::State& state) {
  token_limit(state, std::make_shared<limits::ByteCountEstimator>());
}
void BM_TokenLimit_ReserveSettle_Tokenizer(benchmark::State& state) {
  token_limit(state, limits::default_prompt_estimator());
}
BENCHMARK(BM_TokenLimit_ReserveSettle_ByteEstimate);
BENCHMARK(BM_TokenLimit_ReserveSettle_Tokenizer);

void BM_TokenMetrics_Record(benchmark::State& state) {
  telemetry::MetricsRegistry registry;
  config::TokenMetricsSettings settings;
  using K = config::MetricDimension::Kind;
  settings.dimensions = {{K::kApi, "", "api"},
                         {K::kOperation, "", "operation"},
                         {K::kDeployment, "", "deployment"},
                         {K::kBackend, "", "backend"},
                         {K::kSubscription, "", "subscription"},
                         {K::kUserHash, "", "user_hash"}};
  telemetry::TokenMetrics metrics(registry, settings);
  telemetry::RequestFacts facts;
  facts.api = "openai";
  facts.operation = "chat.completions";
  facts.deployment = "gpt-4o";
  facts.model = "gpt-4o-2024-08-06";
  facts.backend = "payg-sweden";
  facts.subscription = "team-search";
  facts.user_hash = "0123456789abcdef";
  facts.status = 200;
  facts.usage = api::Usage{.prompt_tokens = 212, .completion_tokens = 48, .total_tokens = 260};
  for (auto _ : state) metrics.record(facts);
}
BENCHMARK(BM_TokenMetrics_Record);

void BM_UserHash(benchmark::State& state) {
  telemetry::UserHasher hasher("bench-user-hash-key-0123456789abcdef");
  for (auto _ : state) {
    auto h = hasher.hash("alice@example.com");
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_UserHash);

// The proxy's access-log line for a typical finished non-streamed request.
void BM_AccessRecord(benchmark::State& state) {
  LimitFixture f;
  const api::Route route = std::get<api::Route>(api::match_route(f.apis, "POST", "/v1/chat/completions"));
  const config::Subscription& sub = f.subscriptions.at("team-search");
  pipeline::RequestContext ctx;
  ctx.request_id = "0f6c1e2a9b7d4c3e8a5f6b1d2c3e4f5a";
  ctx.request = &f.request;
  ctx.route = route;
  ctx.pool = "gpt-4o";
  ctx.subscription = &sub;
  ctx.status = 200;
  ctx.backend = "payg-sweden";
  ctx.deployment = "gpt-4o";
  ctx.attempts = 1;
  ctx.usage = api::Usage{.prompt_tokens = 212, .completion_tokens = 48, .total_tokens = 260};
  ctx.usage_present = true;
  ctx.started_at = std::chrono::system_clock::now();
  ctx.started = std::chrono::steady_clock::now();
  ctx.first_byte = ctx.started + std::chrono::microseconds(41234);
  ctx.finished = ctx.started + std::chrono::microseconds(52718);
  for (auto _ : state) {
    std::string line = proxy::access_record(ctx);
    benchmark::DoNotOptimize(line);
  }
}
BENCHMARK(BM_AccessRecord);

// 1 KB of ASCII text with a few quotes (a typical string field of a request or log line).
void BM_AppendJsonEscaped_1KB(benchmark::State& state) {
  std::string text;
  while (text.size() < 1024)
    text += R"(The "runbook" for flaky integration stages lists three checks first. )";
  text.resize(1024);
  std::string out;
  for (auto _ : state) {
    out.clear();
    util::append_json_escaped(out, text);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_AppendJsonEscaped_1KB);

}  // namespace
}  // namespace spillway
