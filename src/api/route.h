#pragma once
// Maps an incoming (method, target) onto an API surface and an operation. No I/O, no allocation beyond
// the returned strings.
//
// Surfaces, for each configured api with prefix P (longest prefix wins, "" matches everything):
//   shape openai:        P/v1/chat/completions | completions | embeddings | responses   (POST, model in body)
//                        P/v1/models                                                    (GET)
//   shape azure-openai:  P/openai/deployments/{id}/chat/completions | completions | embeddings  (POST)
//                        P/openai/v1/chat/completions | completions | embeddings | responses (POST, model in body)
//                        P/openai/v1/models                                             (GET)
//                        P/models/chat/completions | embeddings    (POST, Foundry models shape, model in body)
// The query string is parsed only for `api-version`.

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/errors.h"
#include "config/config.h"

namespace spillway::api {

enum class Operation { kChatCompletions, kCompletions, kEmbeddings, kResponses, kModels };

// "chat.completions", "completions", "embeddings", "responses", "models"
std::string_view operation_name(Operation op);
// The path tail used upstream: "chat/completions", "completions", "embeddings", "responses", "models"
std::string_view operation_path(Operation op);

enum class SurfaceKind { kOpenAIV1, kAzureDeployments, kAzureV1, kFoundryModels };

struct Route {
  const config::Api* api = nullptr;  // points into the Config the apis vector came from
  SurfaceKind surface = SurfaceKind::kOpenAIV1;
  Operation op = Operation::kChatCompletions;
  std::string deployment;   // from the path (kAzureDeployments), percent-decoded; else empty
  bool model_in_body = true;  // false only for kAzureDeployments
  std::string api_version;  // from the query, percent-decoded; empty if absent
};

// Errors: unknown path -> errors::unknown_route (404); known path, wrong method -> method_not_allowed (405).
std::variant<Route, ApiError> match_route(const std::vector<config::Api>& apis, std::string_view method,
                                          std::string_view target);

}  // namespace spillway::api
