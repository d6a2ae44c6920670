#include "api/route.h"

#include <algorithm>
#include <cstddef>
#include <optional>

#include "api/percent.h"

namespace spillway::api {
namespace {

constexpr std::string_view kPost = "POST";
constexpr std::string_view kGet = "GET";

// What a path (after the api prefix) names, before the method is checked.
struct PathMatch {
  SurfaceKind surface;
  Operation op;
  std::string_view raw_deployment;  // still percent-encoded; kAzureDeployments only
};

bool consume(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}

std::optional<Operation> v1_operation(std::string_view tail, bool allow_responses) {
  if (tail == "chat/completions") return Operation::kChatCompletions;
  if (tail == "completions") return Operation::kCompletions;
  if (tail == "embeddings") return Operation::kEmbeddings;
  if (allow_responses && tail == "responses") return Operation::kResponses;
  if (tail == "models") return Operation::kModels;
  return std::nullopt;
}

std::optional<PathMatch> match_openai_shape(std::string_view rest) {
  if (!consume(rest, "/v1/")) return std::nullopt;
  auto op = v1_operation(rest, /*allow_responses=*/true);
  if (!op) return std::nullopt;
  return PathMatch{SurfaceKind::kOpenAIV1, *op, {}};
}

std::optional<PathMatch> match_azure_shape(std::string_view rest) {
  if (consume(rest, "/openai/deployments/")) {
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) return std::nullopt;
    const std::string_view id = rest.substr(0, slash);
    const std::string_view tail = rest.substr(slash + 1);
    Operation op;
    if (tail == "chat/completions") {
      op = Operation::kChatCompletions;
    } else if (tail == "completions") {
      op = Operation::kCompletions;
    } else if (tail == "embeddings") {
      op = Operation::kEmbeddings;
    } else {
      return std::nullopt;
    }
    return PathMatch{SurfaceKind::kAzureDeployments, op, id};
  }
  if (consume(rest, "/openai/v1/")) {
    auto op = v1_operation(rest, /*allow_responses=*/true);
    if (!op) return std::nullopt;
    return PathMatch{SurfaceKind::kAzureV1, *op, {}};
  }
  if (consume(rest, "/models/")) {
    if (rest == "chat/completions")
      return PathMatch{SurfaceKind::kFoundryModels, Operation::kChatCompletions, {}};
    if (rest == "embeddings") return PathMatch{SurfaceKind::kFoundryModels, Operation::kEmbeddings, {}};
  }
  return std::nullopt;
}

// `path` starts with `prefix` on a segment boundary; returns the remainder ("" or "/...").
std::optional<std::string_view> strip_prefix(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  std::string_view rest = path.substr(prefix.size());
  if (!rest.empty() && rest.front() != '/') return std::nullopt;
  return rest;
}

// The raw (still encoded) value of the first `key` parameter in `query`.
std::optional<std::string_view> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    if (name != key) continue;
    return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

// Reduces an absolute-form target (RFC 9112 3.2.2) to its path and query.
std::string_view origin_form(std::string_view target) {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() >= scheme.size() && std::equal(scheme.begin(), scheme.end(), target.begin(),
                                                     [](char a, char b) { return a == (b | 0x20); })) {
      const std::string_view after = target.substr(scheme.size());
      const auto slash = after.find_first_of("/?");
      if (slash == std::string_view::npos) return "/";
      if (after[slash] == '?') return {};  // "http://host?x" has no path: not a route
      return after.substr(slash);
    }
  }
  return target;
}

}  // namespace

std::string_view operation_name(Operation op) {
  switch (op) {
    case Operation::kChatCompletions:
      return "chat.completions";
    case Operation::kCompletions:
      return "completions";
    case Operation::kEmbeddings:
      return "embeddings";
    case Operation::kResponses:
      return "responses";
    case Operation::kModels:
      return "models";
  }
  return "unknown";
}

std::string_view operation_path(Operation op) {
  switch (op) {
    case Operation::kChatCompletions:
      return "chat/completions";
    case Operation::kCompletions:
      return "completions";
    case Operation::kEmbeddings:
      return "embeddings";
    case Operation::kResponses:
      return "responses";
    case Operation::kModels:
      return "models";
  }
  return "";
}

std::variant<Route, ApiError> match_route(const std::vector<config::Api>& apis, std::string_view method,
                                          std::string_view target) {
  target = origin_form(target);
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
  if (path.empty() || path.front() != '/') return errors::unknown_route(path);

  // Candidates by decreasing prefix length, configured order among equal prefixes. There are a handful of
  // apis, so picking the next one by a scan beats sorting and allocates nothing.
  const auto before = [&apis](std::size_t a, std::size_t b) {
    const std::size_t la = apis[a].prefix.size(), lb = apis[b].prefix.size();
    return la > lb || (la == lb && a < b);
  };
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::optional<ApiError> wrong_method;
  std::size_t previous = kNone;
  for (std::size_t visited = 0; visited < apis.size(); ++visited) {
    std::size_t current = kNone;
    for (std::size_t i = 0; i < apis.size(); ++i) {
      if ((previous == kNone || before(previous, i)) && (current == kNone || before(i, current))) current = i;
    }
    previous = current;
    const config::Api* api = &apis[current];
    const auto rest = strip_prefix(path, api->prefix);
    if (!rest) continue;
    const auto match =
        api->shape == config::Shape::kOpenAI ? match_openai_shape(*rest) : match_azure_shape(*rest);
    if (!match) continue;

    const std::string_view wanted = match->op == Operation::kModels ? kGet : kPost;
    if (method != wanted) {
      // A later api could still take the path with this method; remember the first 405.
      if (!wrong_method) wrong_method = errors::method_not_allowed(method, wanted);
      continue;
    }

    Route route;
    route.api = api;
    route.surface = match->surface;
    route.op = match->op;
    route.model_in_body = match->surface != SurfaceKind::kAzureDeployments;
    if (match->surface == SurfaceKind::kAzureDeployments) {
      auto id = percent_decode(match->raw_deployment, /*plus_is_space=*/false);
      if (!id || id->empty() || !is_safe_name(*id)) return errors::unknown_route(path);
      route.deployment = std::move(*id);
    }
    if (const auto raw_version = query_param(query, "api-version")) {
      auto version = percent_decode(*raw_version, /*plus_is_space=*/true);
      if (!version)
        return errors::invalid_body("The api-version query parameter is not valid percent-encoding",
                                    "api-version");
      route.api_version = std::move(*version);
    }
    return route;
  }
  if (wrong_method) return *std::move(wrong_method);
  return errors::unknown_route(path);
}

}  // namespace spillway::api
