// Micro benchmarks of the per-request work on the hot path that needs no I/O: route matching, body
// inspection, the upstream rewrite (body edits + target + headers), usage extraction and SSE framing.
// Inputs are realistic: the same ~1 KB chat request bench/e2e sends, a typical non-streamed completion, a
// 200-token chat stream as a backend sends it.

#include <benchmark/benchmark.h>

#include <string>
#include <variant>
#include <vector>

#include "api/json_doc.h"
#include "api/request_body.h"
#include "api/rewrite.h"
#include "api/route.h"
#include "api/usage.h"
#include "config/config.h"
#include "http/sse.h"

namespace spillway {
namespace {

const std::string& chat_body() {
  static const std::string body =
      R"({"model":"gpt-4o","messages":[{"role":"system","content":"You are the internal assistant of the ACME )"
      R"(platform team. Answer questions about the deployment pipeline, the on-call rota and the service )"
      R"(catalogue. Be concise, cite the runbook section you rely on, and say so plainly when you do not know. )"
      R"(Never reveal credentials or personal data."},{"role":"user","content":"Yesterday the nightly build of )"
      R"(the billing service failed twice with a timeout in the integration stage; the retry succeeded. Today )"
      R"(it failed again at the same step, after the dependency upgrade that landed this morning."},{"role":)"
      R"("assistant","content":"Noted. A timeout that repeats at the same step is usually an environment )"
      R"(problem, not flakiness."},{"role":"user","content":"Which runbook covers flaky integration stages, who )"
      R"(is on call for billing this week, and should I open an incident or just a ticket? Please also list the )"
      R"(three checks I should run first, in order, with the commands, and tell me which dashboards show the )"
      R"(integration stage timings."}],"temperature":0.2,"top_p":1,"max_tokens":256,"user":"bench-client"})";
  return body;
}

std::string stream_body() {
  std::string body = chat_body();
  body.insert(body.size() - 1, R"(,"stream":true)");
  return body;
}

const std::string& completion_body() {
  static const std::string body =
      R"({"id":"chatcmpl-bench0000000000000000000001","object":"chat.completion","created":1735689600,)"
      R"("model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Use )"
      R"(runbook CI-7 (flaky integration stages). Billing on-call this week is the payments rota. A repeated )"
      R"(timeout at the same step is an incident only if it blocks a release; open a ticket.","refusal":null},)"
      R"("logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":212,"completion_tokens":48,)"
      R"("total_tokens":260,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
      R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,)"
      R"("rejected_prediction_tokens":0}},"system_fingerprint":"fp_bench"})";
  return body;
}

// A chat stream as OpenAI sends it: a role chunk, `tokens` content chunks, a finish chunk, a usage chunk.
std::string chat_stream(int tokens) {
  const std::string prefix =
      R"(data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1735689600,)"
      R"("model":"gpt-4o-2024-08-06","system_fingerprint":"fp_bench","choices":[)";
  std::string s;
  s += prefix +
       R"({"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})" +
       "\n\n";
  for (int i = 0; i < tokens; ++i) {
    s += prefix + R"({"index":0,"delta":{"content":" word)" + std::to_string(i) +
         R"("},"logprobs":null,"finish_reason":null}]})" + "\n\n";
  }
  s += prefix + R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})" + "\n\n";
  s += prefix + R"(],"usage":{"prompt_tokens":212,"completion_tokens":)" + std::to_string(tokens) +
       R"(,"total_tokens":)" + std::to_string(212 + tokens) + "}}\n\ndata: [DONE]\n\n";
  return s;
}

std::vector<config::Api> apis() {
  return {config::Api{.name = "openai", .prefix = "/openai", .shape = config::Shape::kOpenAI},
          config::Api{.name = "foundry", .prefix = "/foundry", .shape = config::Shape::kAzureOpenAI}};
}

void BM_MatchRoute_OpenAI(benchmark::State& state) {
  const auto a = apis();
  for (auto _ : state) {
    auto r = api::match_route(a, "POST", "/openai/v1/chat/completions");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_MatchRoute_OpenAI);

void BM_MatchRoute_AzureDeployment(benchmark::State& state) {
  const auto a = apis();
  for (auto _ : state) {
    auto r = api::match_route(a, "POST",
                              "/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_MatchRoute_AzureDeployment);

api::Route chat_route() {
  static const auto a = apis();
  return std::get<api::Route>(api::match_route(a, "POST", "/openai/v1/chat/completions"));
}

void BM_InspectBody_1KB(benchmark::State& state) {
  const api::Route route = chat_route();
  const std::string& body = chat_body();
  for (auto _ : state) {
    auto r = api::inspect_body(body, route);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_InspectBody_1KB);

void BM_ApplyBodyEdits_SetModel(benchmark::State& state) {
  const std::string& body = chat_body();
  const api::BodyEdits edits{.set_model = std::string("gpt-4o-2024-08-06"), .force_include_usage = false};
  for (auto _ : state) {
    auto r = api::apply_body_edits(body, edits);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ApplyBodyEdits_SetModel);

void BM_ApplyBodyEdits_IncludeUsage(benchmark::State& state) {
  const std::string body = stream_body();
  const api::BodyEdits edits{.set_model = std::nullopt, .force_include_usage = true};
  for (auto _ : state) {
    auto r = api::apply_body_edits(body, edits);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ApplyBodyEdits_IncludeUsage);

// inspect_body + build_upstream_call: the whole per-request body work of the proxy, for both backend kinds.
void upstream_call(benchmark::State& state, config::BackendKind kind) {
  const api::Route route = chat_route();
  const std::string& body = chat_body();
  config::Backend backend;
  backend.name = "upstream";
  backend.url = "http://127.0.0.1:8081";
  backend.host = "127.0.0.1";
  backend.port = 8081;
  backend.kind = kind;
  const config::PoolMember member{
      .backend = "upstream", .deployment = "", .model = "", .priority = 1, .weight = 1};
  for (auto _ : state) {
    auto inspected = api::inspect_body(body, route);
    const auto& fields = std::get<api::RequestFields>(inspected);
    auto call = api::build_upstream_call(route, fields, body, "gpt-4o", member, backend);
    benchmark::DoNotOptimize(call);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
void BM_InspectAndBuildUpstreamCall_OpenAI(benchmark::State& state) {
  upstream_call(state, config::BackendKind::kOpenAI);
}
void BM_InspectAndBuildUpstreamCall_Azure(benchmark::State& state) {
  upstream_call(state, config::BackendKind::kAzureOpenAI);
}
BENCHMARK(BM_InspectAndBuildUpstreamCall_OpenAI);
BENCHMARK(BM_InspectAndBuildUpstreamCall_Azure);

void BM_ExtractUsage_Completion(benchmark::State& state) {
  const std::string& body = completion_body();
  for (auto _ : state) {
    auto u = api::extract_usage(body);
    benchmark::DoNotOptimize(u);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ExtractUsage_Completion);

// An embeddings response (16 inputs of 1536 dimensions, about 345 KB): its usage follows the vectors.
const std::string& embeddings_body() {
  static const std::string body = [] {
    std::string b = R"({"object":"list","data":[)";
    for (int i = 0; i < 16; ++i) {
      if (i > 0) b += ",";
      b += R"({"object":"embedding","index":)" + std::to_string(i) + R"(,"embedding":[)";
      for (int j = 0; j < 1536; ++j) b += j == 0 ? "-0.0123456789" : ",-0.0123456789";
      b += "]}";
    }
    b += R"(],"model":"text-embedding-3-small","usage":{"prompt_tokens":800,"total_tokens":800}})";
    return b;
  }();
  return body;
}

void BM_ExtractUsage_Embeddings(benchmark::State& state) {
  const std::string& body = embeddings_body();
  for (auto _ : state) {
    auto u = api::extract_usage(body);
    benchmark::DoNotOptimize(u);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ExtractUsage_Embeddings);

// The baseline for the one above, in the same run: a DOM parse of the whole body, what extract_usage did
// before it read the usage from the document's end.
void BM_ParseWholeDocument_Embeddings(benchmark::State& state) {
  const std::string& body = embeddings_body();
  for (auto _ : state) {
    const api::ParsedJson doc(body);
    benchmark::DoNotOptimize(doc.error());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseWholeDocument_Embeddings);

// The relay's per-event work on a 200-token stream, fed in reads of `state.range(0)` bytes: SSE framing,
// the "usage" check, and extraction on the usage chunk.
void BM_SseRelay_200Tokens(benchmark::State& state) {
  const std::string stream = chat_stream(200);
  const std::size_t read_size = static_cast<std::size_t>(state.range(0));
  std::string out;
  int64_t events = 0;
  for (auto _ : state) {
    http::SseParser parser;
    out.clear();
    for (std::size_t at = 0; at < stream.size(); at += read_size) {
      parser.feed(std::string_view(stream).substr(at, read_size), [&](const http::SseEvent& event) {
        ++events;
        if (event.data.find("\"usage\"") != std::string::npos) {
          auto usage = api::extract_usage(event.data);
          benchmark::DoNotOptimize(usage);
          if (api::is_usage_only_chunk(event.data)) return;
        }
        out.append(event.raw);
      });
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SseRelay_200Tokens)->Arg(64)->Arg(512)->Arg(16 * 1024);

}  // namespace
}  // namespace spillway

BENCHMARK_MAIN();
