#include "api/rewrite.h"

#include <gtest/gtest.h>

#include <string>

namespace spillway::api {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

config::Backend azure_backend() {
  config::Backend b;
  b.name = "ptu";
  b.url = "https://ptu.openai.azure.com";
  b.tls = true;
  b.host = "ptu.openai.azure.com";
  b.port = 443;
  b.kind = config::BackendKind::kAzureOpenAI;
  b.auth.kind = config::BackendAuth::Kind::kApiKeyEnv;
  b.auth.env = "PTU_KEY";
  b.auth.secret = "azure-secret";
  b.api_version = "2024-10-21";
  return b;
}

config::Backend openai_backend() {
  config::Backend b;
  b.name = "openai";
  b.url = "https://api.openai.com";
  b.kind = config::BackendKind::kOpenAI;
  b.auth.kind = config::BackendAuth::Kind::kBearerEnv;
  b.auth.env = "OPENAI_API_KEY";
  b.auth.secret = "sk-backend";
  return b;
}

config::PoolMember member(std::string backend, std::string deployment = "", std::string model = "") {
  config::PoolMember m;
  m.backend = std::move(backend);
  m.deployment = std::move(deployment);
  m.model = std::move(model);
  return m;
}

Route route(SurfaceKind surface, Operation op, std::string deployment = "", std::string api_version = "") {
  Route r;
  r.surface = surface;
  r.op = op;
  r.deployment = std::move(deployment);
  r.model_in_body = surface != SurfaceKind::kAzureDeployments;
  r.api_version = std::move(api_version);
  return r;
}

RequestFields fields(std::string model, bool stream = false, bool wants_usage = false) {
  RequestFields f;
  f.model = std::move(model);
  f.stream = stream;
  f.client_wants_usage = wants_usage;
  return f;
}

TEST(RewriteTest, AzureBackendFromAzureDeploymentRoute) {
  const std::string body = R"({"messages":[{"role":"user","content":"hi"}]})";
  const UpstreamCall call = build_upstream_call(
      route(SurfaceKind::kAzureDeployments, Operation::kChatCompletions, "gpt-4o", "2024-06-01"), fields(""),
      body, "gpt-4o", member("ptu", "gpt-4o-ptu"), azure_backend());
  EXPECT_EQ(call.target, "/openai/deployments/gpt-4o-ptu/chat/completions?api-version=2024-06-01");
  EXPECT_EQ(call.body(), body);
  EXPECT_EQ(call.headers, (Headers{{"content-type", "application/json"}}));
  EXPECT_FALSE(call.drop_usage_chunk);
}

TEST(RewriteTest, AzureBackendDefaults) {
  config::Backend backend = azure_backend();
  backend.base_path = "/tenant/a";
  // No member deployment: the pool name (encoded); no client api-version: the backend's.
  const std::string body = R"({"model":"gpt 4o/x","input":"hello"})";
  const UpstreamCall call = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kEmbeddings),
                                                fields("gpt 4o/x"), body, "gpt 4o/x", member("ptu"), backend);
  EXPECT_EQ(call.target, "/tenant/a/openai/deployments/gpt%204o%2Fx/embeddings?api-version=2024-10-21");
  EXPECT_EQ(call.body(), body);  // the model is left alone for Azure
  EXPECT_FALSE(call.edited);     // and the client's bytes are sent from where they are, not copied
  EXPECT_EQ(call.body().data(), body.data());

  const UpstreamCall completions =
      build_upstream_call(route(SurfaceKind::kFoundryModels, Operation::kCompletions, "", "2024 & x"),
                          fields("p"), R"({"model":"p","prompt":"x"})", "p", member("ptu", "dep"), backend);
  EXPECT_EQ(completions.target, "/tenant/a/openai/deployments/dep/completions?api-version=2024%20%26%20x");
}

TEST(RewriteTest, AzureBackendResponsesAndModels) {
  const UpstreamCall responses = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kResponses),
                                                     fields("gpt-4o"), R"({"model":"gpt-4o","input":"hi"})",
                                                     "gpt-4o", member("ptu", "gpt-4o-ptu"), azure_backend());
  EXPECT_EQ(responses.target, "/openai/v1/responses");
  EXPECT_EQ(responses.body(), R"({"model":"gpt-4o-ptu","input":"hi"})");

  const UpstreamCall models = build_upstream_call(route(SurfaceKind::kAzureV1, Operation::kModels),
                                                  fields(""), "", "gpt-4o", member("ptu"), azure_backend());
  EXPECT_EQ(models.target, "/openai/models?api-version=2024-10-21");
  EXPECT_EQ(models.body(), "");
  EXPECT_TRUE(models.headers.empty());
}

TEST(RewriteTest, OpenAIBackendSetsMemberModel) {
  const std::string body = R"({"model":"gpt-4o","messages":[]})";
  const UpstreamCall call =
      build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kChatCompletions), fields("gpt-4o"), body,
                          "gpt-4o", member("openai", "", "gpt-4o-2024-08-06"), openai_backend());
  EXPECT_EQ(call.target, "/v1/chat/completions");
  EXPECT_EQ(call.body(), R"({"model":"gpt-4o-2024-08-06","messages":[]})");
  EXPECT_EQ(call.headers, (Headers{{"content-type", "application/json"}}));
}

TEST(RewriteTest, OpenAIBackendKeepsClientModelOrUsesPoolName) {
  config::Backend backend = openai_backend();
  backend.base_path = "/llm";
  const std::string with_model = R"({"model":"llama","messages":[]})";
  UpstreamCall call = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kChatCompletions),
                                          fields("llama"), with_model, "llama", member("vllm"), backend);
  EXPECT_EQ(call.target, "/llm/v1/chat/completions");
  EXPECT_EQ(call.body(), with_model);

  // An Azure-shaped client put the pool in the URL only.
  call =
      build_upstream_call(route(SurfaceKind::kAzureDeployments, Operation::kEmbeddings, "emb", "2024-10-21"),
                          fields(""), R"({"input":"x"})", "emb", member("vllm"), backend);
  EXPECT_EQ(call.target, "/llm/v1/embeddings");
  EXPECT_EQ(call.body(), R"({"model":"emb","input":"x"})");

  const UpstreamCall models = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kModels),
                                                  fields(""), "", "x", member("vllm"), backend);
  EXPECT_EQ(models.target, "/llm/v1/models");
  EXPECT_TRUE(models.headers.empty());
}

TEST(RewriteTest, StreamingAsksForUsage) {
  const std::string body = R"({"model":"m","messages":[],"stream":true})";
  UpstreamCall call =
      build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kChatCompletions),
                          fields("m", /*stream=*/true), body, "m", member("ptu"), azure_backend());
  EXPECT_EQ(call.body(),
            R"({"stream_options":{"include_usage":true},"model":"m","messages":[],"stream":true})");
  EXPECT_TRUE(call.drop_usage_chunk);

  // The client asked itself: nothing to add, nothing to hide.
  const std::string asked =
      R"({"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}})";
  call = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kChatCompletions),
                             fields("m", true, /*wants_usage=*/true), asked, "m", member("ptu"),
                             azure_backend());
  EXPECT_EQ(call.body(), asked);
  EXPECT_FALSE(call.drop_usage_chunk);

  // Completions too, with a model edit on an OpenAI backend.
  call = build_upstream_call(
      route(SurfaceKind::kOpenAIV1, Operation::kCompletions), fields("m", true),
      R"({"model":"m","prompt":"p","stream":true,"stream_options":{"include_usage":false}})", "m",
      member("openai", "", "real"), openai_backend());
  EXPECT_EQ(call.body(),
            R"({"model":"real","prompt":"p","stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_TRUE(call.drop_usage_chunk);

  // Not streamed, or not a chat/completions operation: untouched.
  call = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kChatCompletions), fields("m", false),
                             R"({"model":"m","messages":[]})", "m", member("ptu"), azure_backend());
  EXPECT_FALSE(call.drop_usage_chunk);
  EXPECT_EQ(call.body(), R"({"model":"m","messages":[]})");
  call = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kResponses), fields("m", true),
                             R"({"model":"m","input":"x","stream":true})", "m", member("openai"),
                             openai_backend());
  EXPECT_FALSE(call.drop_usage_chunk);
  EXPECT_EQ(call.body(), R"({"model":"m","input":"x","stream":true})");
}

TEST(RewriteTest, AuthKinds) {
  config::Backend none = openai_backend();
  none.auth = {};
  UpstreamCall call = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kEmbeddings), fields("e"),
                                          R"({"model":"e","input":"x"})", "e", member("local"), none);
  EXPECT_EQ(call.headers, (Headers{{"content-type", "application/json"}}));
}

TEST(RewriteTest, ClientCredentialsNeverReachUpstream) {
  // Whatever the client body holds, only the backend's secret is added, and only as a header.
  const std::string body = R"({"model":"m","messages":[],"api_key":"client-key"})";
  for (const config::Backend& backend : {azure_backend(), openai_backend()}) {
    const UpstreamCall call = build_upstream_call(route(SurfaceKind::kOpenAIV1, Operation::kChatCompletions),
                                                  fields("m"), body, "m", member("x"), backend);
    for (const auto& [name, value] : call.headers) {
      EXPECT_EQ(value.find("client-key"), std::string::npos);
      EXPECT_NE(name, "ocp-apim-subscription-key");
    }
    EXPECT_EQ(call.target.find("key"), std::string::npos);
  }
}

TEST(ForwardHeadersTest, Request) {
  for (const char* dropped :
       {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length", "api-key", "authorization",
        "ocp-apim-subscription-key", "accept-encoding", "expect", "content-type"}) {
    EXPECT_FALSE(forward_request_header(dropped)) << dropped;
  }
  for (const char* kept :
       {"accept", "user-agent", "x-request-id", "x-ms-client-request-id", "openai-organization",
        "traceparent", "baggage", "x-user-id", "api-key-id", "authorization-x"}) {
    EXPECT_TRUE(forward_request_header(kept)) << kept;
  }
}

TEST(ForwardHeadersTest, Response) {
  for (const char* dropped :
       {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "content-length"}) {
    EXPECT_FALSE(forward_response_header(dropped)) << dropped;
  }
  for (const char* kept : {"content-type", "x-ratelimit-remaining-tokens", "retry-after", "x-request-id",
                           "apim-request-id", "openai-processing-ms", "cache-control"}) {
    EXPECT_TRUE(forward_response_header(kept)) << kept;
  }
}

TEST(ConnectionOptionsTest, NamesTheFieldsOfEveryConnectionHeaderInAnyCase) {
  const http::HeaderList headers = {{"connection", "keep-alive, X-Hop-One ,\tx-hop-two"},
                                    {"x-hop-one", "1"},
                                    {"connection", "Close,,TRACEPARENT"},
                                    {"x-kept", "1"}};
  const ConnectionOptions options(headers);
  for (const char* listed : {"x-hop-one", "x-hop-two", "traceparent"})
    EXPECT_TRUE(options.lists(listed)) << listed;
  // close and keep-alive name no field; other fields, and parts of listed names, are not listed.
  for (const char* other : {"close", "keep-alive", "x-kept", "x-hop", "x-hop-one-more", "connection", ""}) {
    EXPECT_FALSE(options.lists(other)) << other;
  }
}

TEST(ConnectionOptionsTest, NothingListedWithoutAConnectionHeaderOrWithOnlyKeepAlive) {
  EXPECT_FALSE(ConnectionOptions(http::HeaderList{{"x-kept", "1"}}).lists("x-kept"));
  const ConnectionOptions keep_alive(
      http::HeaderList{{"connection", " Keep-Alive "}, {"keep-alive", "timeout=5"}});
  EXPECT_FALSE(keep_alive.lists("keep-alive"));
  EXPECT_FALSE(keep_alive.lists("timeout=5"));
}

}  // namespace
}  // namespace spillway::api
