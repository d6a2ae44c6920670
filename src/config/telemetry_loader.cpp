// Identity hashing, token metrics, header enrichment and the other policies.

#include <array>
#include <set>

#include "config/section_loaders.h"

namespace spillway::config {
namespace {

// A reader that can also look up an environment variable without reporting anything (the base class only
// has env_value(), which reports a missing variable as an error).
class EnvProbe : public YamlReader {
 public:
  explicit EnvProbe(const YamlReader& r) : YamlReader(r) {}
  std::optional<std::string> lookup(std::string_view name) const { return env_(name); }
};

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

// Names the gateway itself controls or never forwards: a policy may not set them.
bool is_reserved_header(std::string_view name) {
  static constexpr std::array<std::string_view, 18> kReserved = {
      "host",          "content-length",   "content-type", "transfer-encoding",
      "connection",    "keep-alive",       "upgrade",      "te",
      "trailer",       "proxy-connection", "expect",       "accept-encoding",
      "authorization", "api-key",          "x-request-id", "ocp-apim-subscription-key",
      "traceparent",   "baggage"};
  for (std::string_view r : kReserved) {
    if (name == r) return true;
  }
  return false;
}

// Header names must be HTTP tokens; returned lowercase.
std::optional<std::string> header_name(YamlReader& r, std::string_view name, const std::string& path) {
  if (!is_token(name)) {
    r.error(path, "invalid header name " + quoted(name));
    return std::nullopt;
  }
  return to_lower(name);
}

bool valid_header_value(std::string_view value) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

// Prometheus label names are [a-zA-Z_][a-zA-Z0-9_]*: every other character becomes '_'.
std::string label_name(std::string_view prefix, std::string_view name) {
  std::string out(prefix);
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out.push_back(ok ? c : '_');
  }
  return out;
}

std::optional<MetricDimension> parse_dimension(YamlReader& r, const std::string& text,
                                               const std::string& path) {
  using Kind = MetricDimension::Kind;
  static constexpr std::pair<std::string_view, Kind> kBuiltIn[] = {
      {"api", Kind::kApi},         {"operation", Kind::kOperation}, {"deployment", Kind::kDeployment},
      {"model", Kind::kModel},     {"backend", Kind::kBackend},     {"subscription", Kind::kSubscription},
      {"product", Kind::kProduct}, {"user_hash", Kind::kUserHash},  {"tool", Kind::kTool},
  };
  for (const auto& [name, kind] : kBuiltIn) {
    if (text == name) return MetricDimension{kind, "", std::string(name)};
  }
  if (text.rfind("tag:", 0) == 0 && text.size() > 4) {
    const std::string tag = text.substr(4);
    return MetricDimension{Kind::kTag, tag, label_name("tag_", tag)};
  }
  if (text.rfind("header:", 0) == 0) {
    auto name = header_name(r, std::string_view(text).substr(7), path);
    if (!name) return std::nullopt;
    return MetricDimension{Kind::kHeader, *name, label_name("header_", *name)};
  }
  r.error(path,
          "unknown dimension " + quoted(text) +
              ": expected api, operation, deployment, model, backend, subscription, product, user_hash, "
              "tool, tag:NAME or header:NAME");
  return std::nullopt;
}

// A mapping of scalar values, e.g. `set: { x-platform: shared-ai }`.
template <class Fn>
void load_string_map(YamlReader& r, const YAML::Node& node, const std::string& path, Fn&& fn) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (auto text = r.string_value(value, p)) fn(key, *text, p);
  });
}

void load_headers(YamlReader& r, const YAML::Node& node, const std::string& path, HeadersSettings& out) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "set") {
      load_string_map(
          r, value, p, [&](const std::string& name, const std::string& text, const std::string& vp) {
            auto lower = header_name(r, name, vp);
            if (!lower) return;
            if (is_reserved_header(*lower)) {
              r.error(vp, "header " + quoted(*lower) + " is managed by the gateway and cannot be set");
            } else if (!valid_header_value(text)) {
              r.error(vp, "header values must not contain control characters");
            } else {
              out.set.emplace_back(std::move(*lower), text);
            }
          });
    } else if (key == "remove") {
      if (!value.IsSequence()) {
        r.error(p, std::string("expected a list of header names, got ") + describe(value));
        return;
      }
      for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string ep = element_path(p, i);
        auto text = r.non_empty_string(value[i], ep);
        if (!text) continue;
        auto lower = header_name(r, *text, ep);
        if (!lower) continue;
        if (*lower == "host" || *lower == "content-length" || *lower == "content-type" ||
            *lower == "x-request-id") {
          r.error(ep, "header " + quoted(*lower) + " is managed by the gateway and cannot be removed");
          continue;
        }
        out.remove.push_back(std::move(*lower));
      }
    } else if (key == "baggage") {
      load_string_map(r, value, p,
                      [&](const std::string& name, const std::string& text, const std::string& vp) {
                        if (!is_token(name)) {
                          r.error(vp, "invalid baggage key " + quoted(name));
                        } else {
                          out.baggage.emplace_back(name, text);
                        }
                      });
    } else if (key == "traceparent") {
      if (auto b = r.bool_value(value, p)) out.traceparent = *b;
    } else {
      r.unknown_key(p, key);
    }
  });
  for (const auto& [name, value] : out.set) {
    for (const auto& removed : out.remove) {
      if (name == removed) r.error(child_path(path, "remove"), "header " + quoted(name) + " is also in set");
    }
  }
}

void load_token_metrics(YamlReader& r, const YAML::Node& node, const std::string& path,
                        TokenMetricsSettings& out) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "dimensions") {
      if (value.IsNull()) return;  // the defaults
      out.dimensions.clear();
      if (!value.IsSequence()) {
        r.error(p, std::string("expected a list of dimensions, got ") + describe(value));
        return;
      }
      std::set<std::string> labels;
      for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string ep = element_path(p, i);
        auto text = r.non_empty_string(value[i], ep);
        if (!text) continue;
        auto dim = parse_dimension(r, *text, ep);
        if (!dim) continue;
        if (!labels.insert(dim->label).second) {
          r.error(ep, "duplicate dimension " + quoted(*text) + " (label " + dim->label + ")");
          continue;
        }
        out.dimensions.push_back(std::move(*dim));
      }
    } else if (key == "max_series") {
      if (auto n = r.int_value(value, p, 1, 1'000'000)) out.max_series = static_cast<std::size_t>(*n);
    } else {
      r.unknown_key(p, key);
    }
  });
}

// A feature that does not exist yet: its section is accepted with `enabled: false` (or without
// `enabled`), with the keys it will have.
bool load_future_feature(YamlReader& r, const YAML::Node& node, const std::string& path,
                         std::initializer_list<std::string_view> known_keys) {
  bool enabled = false;
  if (!r.optional_map(node, path)) return false;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "enabled") {
      if (auto b = r.bool_value(value, p)) {
        enabled = *b;
        if (enabled) r.error(p, "not implemented yet: set enabled: false or remove the section");
      }
      return;
    }
    for (std::string_view known : known_keys) {
      if (key == known) return;  // TODO(#7): validated by the feature once it exists
    }
    r.unknown_key(p, key);
  });
  return enabled;
}

}  // namespace

void load_identity(YamlReader& r, const YAML::Node& node, const std::string& path, IdentitySettings& out) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "user_id") {
      YAML::Node list = value;
      if (value.IsScalar()) {
        list = YAML::Node(YAML::NodeType::Sequence);
        list.push_back(value);
      } else if (!value.IsSequence()) {
        r.error(p,
                std::string("expected a list of sources such as header:x-user-id, got ") + describe(value));
        return;
      }
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string ep = element_path(p, i);
        auto text = r.non_empty_string(list[i], ep);
        if (!text) continue;
        if (text->rfind("header:", 0) == 0) {
          if (auto name = header_name(r, std::string_view(*text).substr(7), ep)) {
            out.user_id.push_back(UserIdSource{UserIdSource::Kind::kHeader, std::move(*name)});
          }
        } else if (text->rfind("jwt:", 0) == 0 && text->size() > 4) {
          out.user_id.push_back(UserIdSource{UserIdSource::Kind::kJwtClaim, text->substr(4)});
        } else {
          r.error(ep, "expected header:NAME or jwt:CLAIM, got " + quoted(*text));
        }
      }
    } else if (key == "user_hash_key_env") {
      if (auto name = r.non_empty_string(value, p)) out.user_hash_key_env = *name;
    } else {
      r.unknown_key(p, key);
    }
  });
  // Resolved whether or not it is needed; check_telemetry() decides whether its absence is an error.
  out.user_hash_key = EnvProbe(r).lookup(out.user_hash_key_env).value_or("");
}

void load_policies(YamlReader& r, const YAML::Node& node, const std::string& path, PoliciesSettings& out) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "headers") {
      out.headers.emplace();
      load_headers(r, value, p, *out.headers);
    } else if (key == "token_metrics") {
      load_token_metrics(r, value, p, out.token_metrics);
    } else if (key == "semantic_cache") {
      out.semantic_cache = load_future_feature(r, value, p,
                                               {"embeddings_pool", "max_distance", "ttl", "vary_by",
                                                "ignore_system_messages", "max_message_count"});
    } else if (key == "content_safety") {
      out.content_safety = load_future_feature(r, value, p, {});
    } else {
      r.unknown_key(p, key);
    }
  });
}

void check_telemetry(YamlReader& r, const Config& config) {
  bool wants_user_hash = false;
  for (const MetricDimension& d : config.policies.token_metrics.dimensions) {
    if (d.kind == MetricDimension::Kind::kUserHash) wants_user_hash = true;
  }
  if (!wants_user_hash) return;
  const std::string& env = config.identity.user_hash_key_env;
  const std::optional<std::string> key = EnvProbe(r).lookup(env);
  if (!key || key->empty()) {
    r.error("policies.token_metrics.dimensions",
            "the user_hash dimension needs a user-id hash key, but environment variable " + env +
                (key ? " is empty" : " is not set") + " (identity.user_hash_key_env)");
  }
}

}  // namespace spillway::config
