#include "api/route.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spillway::api {
namespace {

using config::Api;
using config::Shape;

std::vector<Api> apis(std::initializer_list<std::tuple<const char*, const char*, Shape>> list) {
  std::vector<Api> out;
  for (const auto& [name, prefix, shape] : list) out.push_back(Api{name, prefix, shape});
  return out;
}

// The default configuration: both shapes at the root.
const std::vector<Api>& default_apis() {
  static const auto a = apis({{"openai", "", Shape::kOpenAI}, {"azure", "", Shape::kAzureOpenAI}});
  return a;
}

Route expect_route(const std::vector<Api>& a, std::string_view method, std::string_view target) {
  auto result = match_route(a, method, target);
  if (auto* e = std::get_if<ApiError>(&result)) {
    ADD_FAILURE() << method << " " << target << " -> " << e->status << " " << e->message;
    return {};
  }
  return std::get<Route>(result);
}

ApiError expect_error(const std::vector<Api>& a, std::string_view method, std::string_view target) {
  auto result = match_route(a, method, target);
  if (auto* r = std::get_if<Route>(&result)) {
    ADD_FAILURE() << method << " " << target << " unexpectedly matched api " << r->api->name;
    return {};
  }
  return std::get<ApiError>(result);
}

TEST(RouteTest, OperationNamesAndPaths) {
  EXPECT_EQ(operation_name(Operation::kChatCompletions), "chat.completions");
  EXPECT_EQ(operation_name(Operation::kCompletions), "completions");
  EXPECT_EQ(operation_name(Operation::kEmbeddings), "embeddings");
  EXPECT_EQ(operation_name(Operation::kResponses), "responses");
  EXPECT_EQ(operation_name(Operation::kModels), "models");
  EXPECT_EQ(operation_path(Operation::kChatCompletions), "chat/completions");
  EXPECT_EQ(operation_path(Operation::kCompletions), "completions");
  EXPECT_EQ(operation_path(Operation::kEmbeddings), "embeddings");
  EXPECT_EQ(operation_path(Operation::kResponses), "responses");
  EXPECT_EQ(operation_path(Operation::kModels), "models");
}

struct FormCase {
  const char* method;
  const char* target;
  const char* api;
  SurfaceKind surface;
  Operation op;
  const char* deployment;
  bool model_in_body;
  const char* api_version;
};

TEST(RouteTest, EveryFormOfBothShapesAtTheRoot) {
  using enum SurfaceKind;
  using enum Operation;
  const FormCase cases[] = {
      {"POST", "/v1/chat/completions", "openai", kOpenAIV1, kChatCompletions, "", true, ""},
      {"POST", "/v1/completions", "openai", kOpenAIV1, kCompletions, "", true, ""},
      {"POST", "/v1/embeddings", "openai", kOpenAIV1, kEmbeddings, "", true, ""},
      {"POST", "/v1/responses", "openai", kOpenAIV1, kResponses, "", true, ""},
      {"GET", "/v1/models", "openai", kOpenAIV1, kModels, "", true, ""},
      {"POST", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", "azure",
       kAzureDeployments, kChatCompletions, "gpt-4o", false, "2024-10-21"},
      {"POST", "/openai/deployments/gpt-35/completions?api-version=2024-02-01", "azure", kAzureDeployments,
       kCompletions, "gpt-35", false, "2024-02-01"},
      {"POST", "/openai/deployments/text-embedding-3-small/embeddings", "azure", kAzureDeployments,
       kEmbeddings, "text-embedding-3-small", false, ""},
      {"POST", "/openai/v1/chat/completions", "azure", kAzureV1, kChatCompletions, "", true, ""},
      {"POST", "/openai/v1/completions", "azure", kAzureV1, kCompletions, "", true, ""},
      {"POST", "/openai/v1/embeddings", "azure", kAzureV1, kEmbeddings, "", true, ""},
      {"POST", "/openai/v1/responses?api-version=preview", "azure", kAzureV1, kResponses, "", true,
       "preview"},
      {"GET", "/openai/v1/models", "azure", kAzureV1, kModels, "", true, ""},
      {"POST", "/models/chat/completions?api-version=2024-05-01-preview", "azure", kFoundryModels,
       kChatCompletions, "", true, "2024-05-01-preview"},
      {"POST", "/models/embeddings", "azure", kFoundryModels, kEmbeddings, "", true, ""},
  };
  for (const FormCase& c : cases) {
    SCOPED_TRACE(c.target);
    const Route r = expect_route(default_apis(), c.method, c.target);
    ASSERT_NE(r.api, nullptr);
    EXPECT_EQ(r.api->name, c.api);
    EXPECT_EQ(r.surface, c.surface);
    EXPECT_EQ(r.op, c.op);
    EXPECT_EQ(r.deployment, c.deployment);
    EXPECT_EQ(r.model_in_body, c.model_in_body);
    EXPECT_EQ(r.api_version, c.api_version);
  }
}

TEST(RouteTest, RoutePointsIntoTheGivenVector) {
  const auto& a = default_apis();
  EXPECT_EQ(expect_route(a, "POST", "/v1/chat/completions").api, &a[0]);
  EXPECT_EQ(expect_route(a, "POST", "/models/embeddings").api, &a[1]);
}

TEST(RouteTest, PrefixesAndLongestMatch) {
  const auto a = apis({{"root", "", Shape::kOpenAI},
                       {"foundry", "/foundry", Shape::kAzureOpenAI},
                       {"oa", "/openai", Shape::kOpenAI},
                       {"deep", "/foundry/eu", Shape::kAzureOpenAI}});
  EXPECT_EQ(expect_route(a, "POST", "/foundry/openai/deployments/d/chat/completions").api->name, "foundry");
  EXPECT_EQ(expect_route(a, "POST", "/foundry/eu/openai/deployments/d/chat/completions").api->name, "deep");
  EXPECT_EQ(expect_route(a, "POST", "/foundry/eu/models/chat/completions").api->name, "deep");
  EXPECT_EQ(expect_route(a, "POST", "/foundry/models/chat/completions").api->name, "foundry");
  EXPECT_EQ(expect_route(a, "POST", "/openai/v1/chat/completions").api->name, "oa");
  EXPECT_EQ(expect_route(a, "GET", "/openai/v1/models").api->name, "oa");
  EXPECT_EQ(expect_route(a, "POST", "/v1/embeddings").api->name, "root");
  // The prefix must end on a segment boundary.
  EXPECT_EQ(expect_error(a, "POST", "/foundryX/openai/deployments/d/chat/completions").status, 404);
  EXPECT_EQ(expect_error(a, "POST", "/foundry/euro/models/chat/completions").status, 404);
  // An api's own surface only: the openai-shape api under /openai has no deployments path.
  EXPECT_EQ(expect_error(a, "POST", "/openai/deployments/d/chat/completions").status, 404);
  // The root api does not answer for the foundry prefix's paths with its own shape.
  EXPECT_EQ(expect_error(a, "POST", "/foundry/v1/chat/completions").status, 404);
}

TEST(RouteTest, LongerPrefixFallsBackToShorterWhenItsShapeDoesNotMatch) {
  const auto a = apis({{"root-azure", "", Shape::kAzureOpenAI}, {"v", "/openai", Shape::kOpenAI}});
  // "/openai" + "/deployments/..." is not an openai-shape path, so the root azure api takes it.
  const Route r = expect_route(a, "POST", "/openai/deployments/gpt/chat/completions");
  EXPECT_EQ(r.api->name, "root-azure");
  EXPECT_EQ(r.deployment, "gpt");
  // Both could take /openai/v1/models: the longer prefix wins.
  EXPECT_EQ(expect_route(a, "GET", "/openai/v1/models").api->name, "v");
}

TEST(RouteTest, EqualPrefixesKeepConfiguredOrder) {
  const auto a = apis({{"first", "/x", Shape::kAzureOpenAI}, {"second", "/x", Shape::kAzureOpenAI}});
  EXPECT_EQ(expect_route(a, "POST", "/x/models/embeddings").api->name, "first");
}

TEST(RouteTest, UnknownPaths) {
  const char* targets[] = {
      "/",
      "",
      "*",
      "/v1",
      "/v1/",
      "/v1/chat",
      "/v1/chat/completions/",
      "/v1/chat/completions/x",
      "/v1//chat/completions",
      "/v2/chat/completions",
      "/V1/chat/completions",
      "/v1/models/gpt-4o",
      "/v1/images/generations",
      "//v1/chat/completions",
      "/openai/deployments/gpt-4o",
      "/openai/deployments/gpt-4o/",
      "/openai/deployments/gpt-4o/responses",
      "/openai/deployments/gpt-4o/chat/completions/",
      "/openai/deployments//chat/completions",
      "/openai/deployments/a/b/chat/completions",
      "/openai/v1/deployments/x/chat/completions",
      "/models/completions",
      "/models/responses",
      "/models/chat/completions/",
      "/v1/chat%2Fcompletions",
      "v1/chat/completions",
  };
  for (const char* target : targets) {
    SCOPED_TRACE(target);
    const ApiError e = expect_error(default_apis(), "POST", target);
    EXPECT_EQ(e.status, 404);
    EXPECT_EQ(e.code, "unknown_url");
  }
  EXPECT_EQ(expect_error({}, "POST", "/v1/chat/completions").status, 404);
}

TEST(RouteTest, UnknownRouteMessageHasNoQuery) {
  const ApiError e = expect_error(default_apis(), "POST", "/nope?api-key=secret");
  EXPECT_EQ(e.message.find("secret"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("/nope"), std::string::npos);
}

TEST(RouteTest, WrongMethodIs405WithAllow) {
  struct MethodCase {
    const char* method;
    const char* target;
    const char* allow;
  };
  const MethodCase cases[] = {
      {"GET", "/v1/chat/completions", "POST"},
      {"PUT", "/v1/embeddings", "POST"},
      {"GET", "/v1/responses", "POST"},
      {"POST", "/v1/models", "GET"},
      {"DELETE", "/v1/models", "GET"},
      {"GET", "/openai/deployments/gpt-4o/chat/completions?api-version=1", "POST"},
      {"POST", "/openai/v1/models", "GET"},
      {"GET", "/models/chat/completions", "POST"},
      {"post", "/v1/chat/completions", "POST"},  // methods are case-sensitive
  };
  for (const MethodCase& c : cases) {
    SCOPED_TRACE(c.target);
    const ApiError e = expect_error(default_apis(), c.method, c.target);
    EXPECT_EQ(e.status, 405);
    EXPECT_EQ(e.code, "method_not_allowed");
    ASSERT_EQ(e.headers.size(), 1u);
    EXPECT_EQ(e.headers[0].first, "allow");
    EXPECT_EQ(e.headers[0].second, c.allow);
  }
}

TEST(RouteTest, PercentDecoding) {
  Route r = expect_route(default_apis(), "POST", "/openai/deployments/my%20model%2Bx/chat/completions");
  EXPECT_EQ(r.deployment, "my model+x");
  r = expect_route(default_apis(), "POST", "/openai/deployments/gpt+4o/chat/completions");
  EXPECT_EQ(r.deployment, "gpt+4o");  // '+' is literal in a path
  r = expect_route(default_apis(), "POST", "/openai/deployments/%C3%A9t%C3%A9/embeddings");
  EXPECT_EQ(r.deployment, "\xC3\xA9t\xC3\xA9");
  r = expect_route(default_apis(), "POST", "/openai/deployments/x/embeddings?api-version=2024%2D10%2D21");
  EXPECT_EQ(r.api_version, "2024-10-21");
  r = expect_route(default_apis(), "POST", "/openai/deployments/x/embeddings?api-version=a+b%2bc");
  EXPECT_EQ(r.api_version, "a b+c");

  for (const char* bad :
       {"/openai/deployments/%/chat/completions", "/openai/deployments/%4/chat/completions",
        "/openai/deployments/%zz/chat/completions", "/openai/deployments/a%2Fb/chat/completions",
        "/openai/deployments/%00/chat/completions", "/openai/deployments/%0A/chat/completions"}) {
    SCOPED_TRACE(bad);
    const ApiError e = expect_error(default_apis(), "POST", bad);
    EXPECT_EQ(e.status, 404);
  }
  const ApiError e = expect_error(default_apis(), "POST", "/openai/deployments/x/embeddings?api-version=%G1");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "api-version");
}

TEST(RouteTest, QueryParsing) {
  const auto version = [](std::string_view target) {
    return expect_route(default_apis(), "POST", target).api_version;
  };
  EXPECT_EQ(version("/openai/deployments/d/chat/completions?a=b&api-version=2024-10-21&c"), "2024-10-21");
  EXPECT_EQ(version("/openai/deployments/d/chat/completions?api-version=1&api-version=2"), "1");
  EXPECT_EQ(version("/openai/deployments/d/chat/completions?api-version"), "");
  EXPECT_EQ(version("/openai/deployments/d/chat/completions?api-version="), "");
  EXPECT_EQ(version("/openai/deployments/d/chat/completions?"), "");
  EXPECT_EQ(version("/openai/deployments/d/chat/completions?&&x-api-version=9&api-versions=8"), "");
  EXPECT_EQ(version("/openai/deployments/d/chat/completions?x=1=2&api-version=v=w"), "v=w");
  EXPECT_EQ(version("/v1/chat/completions?api-version=7"), "7");
  // The query never takes part in path matching.
  EXPECT_EQ(expect_route(default_apis(), "GET", "/v1/models?x=/v1/chat/completions").op, Operation::kModels);
}

TEST(RouteTest, AbsoluteFormTarget) {
  Route r = expect_route(default_apis(), "POST", "http://gw.example:8080/v1/chat/completions");
  EXPECT_EQ(r.op, Operation::kChatCompletions);
  r = expect_route(default_apis(), "POST", "HTTPS://gw/openai/deployments/d/embeddings?api-version=3");
  EXPECT_EQ(r.deployment, "d");
  EXPECT_EQ(r.api_version, "3");
  EXPECT_EQ(expect_error(default_apis(), "POST", "http://gw").status, 404);
  EXPECT_EQ(expect_error(default_apis(), "POST", "http://gw?x=/v1/models").status, 404);
}

}  // namespace
}  // namespace spillway::api
