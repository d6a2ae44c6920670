#include "config/loader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "config/address.h"
#include "config/section_loaders.h"
#include "config/yaml_reader.h"

// The loader walks the document once, in document order, so errors come out in that order. Every value
// is checked where it appears; the only cross-reference (pool member -> backend) is resolved against the
// backend names collected before the walk. A key whose value is wrong is still "present": it never also
// yields a "missing required key" error.

namespace spillway::config {
namespace {

// Returns a + b or a * b, or nullopt when the result does not fit.
std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  if (a > std::numeric_limits<uint64_t>::max() - b) return std::nullopt;
  return a + b;
}
std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads a run of decimal digits from the front of `text` into `value`; false when there is none or it
// overflows.
bool consume_digits(std::string_view& text, uint64_t& value) {
  std::size_t n = 0;
  value = 0;
  while (n < text.size() && is_digit(text[n])) {
    auto next = checked_mul(value, 10);
    if (next) next = checked_add(*next, static_cast<uint64_t>(text[n] - '0'));
    if (!next) return false;
    value = *next;
    ++n;
  }
  text.remove_prefix(n);
  return n > 0;
}

bool is_wildcard_host(const std::string& host) { return host == "0.0.0.0" || host == "::"; }

// Empty when `path` names a readable regular file, else the reason it does not.
std::string unreadable_reason(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::generic_category().message(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (::access(path.c_str(), R_OK) != 0) return std::generic_category().message(errno);
  return {};
}

class Loader : public YamlReader {
 public:
  explicit Loader(const EnvLookup& env) : YamlReader(env) {}

  // REQUIRES: called once.
  LoadResult load(const YAML::Node& root) {
    if (root.IsNull()) {
      error("", "the configuration is empty");
    } else if (!root.IsMap()) {
      error("", std::string("the configuration must be a mapping, got ") + describe(root));
    } else {
      load_root(root);
    }
    LoadResult result;
    if (errors_.empty()) result.config = std::move(config_);
    result.errors = std::move(errors_);
    result.warnings = std::move(warnings_);
    return result;
  }

 private:
  std::optional<HostPort> host_port_value(const YAML::Node& node, const std::string& path) {
    std::optional<HostPort> value;
    if (node.IsScalar()) value = parse_host_port(node.Scalar());
    if (!value) error(path, "expected host:port such as 0.0.0.0:8080 or [::1]:8080");
    return value;
  }
  void load_root(const YAML::Node& root) {
    if (const YAML::Node backends = root["backends"]; backends.IsDefined() && backends.IsMap()) {
      for (auto it = backends.begin(); it != backends.end(); ++it) {
        if (it->first.IsScalar()) backend_names_.insert(it->first.Scalar());
      }
    }
    bool has_apis = false;
    for_each_entry(root, "", [&](const std::string& key, const YAML::Node& value, const std::string& path) {
      if (key == "server") {
        load_server(value, path);
      } else if (key == "backends") {
        load_backends(value, path);
      } else if (key == "pools") {
        load_pools(value, path);
      } else if (key == "apis") {
        has_apis = !value.IsNull();
        if (has_apis) load_apis(value, path);
      } else if (key == "subscriptions") {
        load_subscriptions(value, path);
      } else if (key == "products") {
        load_products(*this, value, path, config_);
      } else if (key == "state") {
        load_state(*this, value, path, config_.state);
      } else if (key == "identity") {
        load_identity(*this, value, path, config_.identity);
      } else if (key == "usage_log") {
        load_usage_log(*this, value, path, config_.usage_log);
      } else if (key == "policies") {
        load_policies(*this, value, path, config_.policies);
      } else if (key == "telemetry") {
        load_telemetry(*this, value, path, config_.telemetry);
      } else {
        unknown_key(path, key);
      }
    });
    if (!has_apis) {
      config_.apis = {Api{"openai", "", Shape::kOpenAI}, Api{"azure", "", Shape::kAzureOpenAI}};
    }
    if (config_.subscriptions.empty()) {
      warnings_.push_back("no subscriptions configured: client authentication is disabled");
    }
    check_limits(*this, config_);
    check_telemetry(*this, config_);
  }

  void load_server(const YAML::Node& node, const std::string& path) {
    if (!optional_map(node, path)) return;
    ServerSettings& server = config_.server;
    for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
      if (key == "listen") {
        if (auto hp = host_port_value(value, p)) {
          server.listen_host = hp->host;
          server.listen_port = hp->port;
        }
      } else if (key == "admin_listen") {
        std::optional<HostPort> hp;
        if (value.IsScalar()) {
          auto text = to_lower(value.Scalar());
          if (text == "false" || text == "off") {
            server.admin_enabled = false;
            return;
          }
          hp = parse_host_port(value.Scalar());
        }
        if (!hp) {
          error(p, "expected host:port such as 127.0.0.1:9090, or false");
          return;
        }
        server.admin_enabled = true;
        server.admin_host = hp->host;
        server.admin_port = hp->port;
      } else if (key == "workers") {
        if (value.IsScalar() && value.Scalar() == "auto") {
          server.workers = 0;
          return;
        }
        std::optional<long long> n;
        if (value.IsScalar()) n = parse_integer(value.Scalar());
        if (!n || *n < 1 || *n > 256) {
          error(p, "expected auto or an integer between 1 and 256");
          return;
        }
        server.workers = static_cast<int>(*n);
      } else if (key == "max_body") {
        if (auto size = size_value(value, p)) server.max_body = *size;
      } else if (key == "max_response_body") {
        if (auto size = size_value(value, p)) server.max_response_body = *size;
      } else if (key == "timeouts") {
        load_timeouts(value, p, server.timeouts);
      } else {
        unknown_key(p, key);
      }
    });
    // Caught here rather than as a confusing bind failure at start-up.
    if (server.admin_enabled && server.admin_port != 0 && server.admin_port == server.listen_port &&
        (server.admin_host == server.listen_host || is_wildcard_host(server.admin_host) ||
         is_wildcard_host(server.listen_host))) {
      error(child_path(path, "admin_listen"), "must not use the same address and port as listen");
    }
  }

  void load_timeouts(const YAML::Node& node, const std::string& path, Timeouts& timeouts) {
    static constexpr std::pair<std::string_view, Millis Timeouts::*> kFields[] = {
        {"connect", &Timeouts::connect}, {"first_byte", &Timeouts::first_byte},   {"idle", &Timeouts::idle},
        {"total", &Timeouts::total},     {"client_idle", &Timeouts::client_idle}, {"drain", &Timeouts::drain},
    };
    if (!optional_map(node, path)) return;
    for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
      auto field =
          std::find_if(std::begin(kFields), std::end(kFields), [&](const auto& f) { return f.first == key; });
      if (field == std::end(kFields)) {
        unknown_key(p, key);
      } else if (auto d = duration_value(value, p)) {
        timeouts.*(field->second) = *d;
      }
    });
  }

  void load_backends(const YAML::Node& node, const std::string& path) {
    if (!optional_map(node, path)) return;
    for_each_entry(node, path, [&](const std::string& name, const YAML::Node& value, const std::string& p) {
      Backend backend;
      backend.name = name;
      load_backend(value, p, backend);
      config_.backends.emplace(name, std::move(backend));
    });
  }

  void load_backend(const YAML::Node& node, const std::string& path, Backend& backend) {
    if (!expect_map(node, path)) return;
    bool has_url = false;
    bool has_kind = false;
    for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
      if (key == "url") {
        has_url = true;
        auto text = non_empty_string(value, p);
        if (!text) return;
        std::string why;
        auto url = parse_backend_url(*text, why);
        if (!url) {
          // The URL itself is not echoed: user info or a query could hold a secret.
          error(p, "invalid URL: " + why);
          return;
        }
        backend.url = *text;
        backend.tls = url->tls;
        backend.host = std::move(url->host);
        backend.port = url->port;
        backend.base_path = std::move(url->base_path);
      } else if (key == "kind") {
        has_kind = true;
        auto text = string_value(value, p);
        if (!text) return;
        if (*text == "azure-openai") {
          backend.kind = BackendKind::kAzureOpenAI;
        } else if (*text == "openai") {
          backend.kind = BackendKind::kOpenAI;
        } else {
          error(p, "expected azure-openai or openai, got " + quoted(*text));
        }
      } else if (key == "auth") {
        load_backend_auth(value, p, backend.auth);
      } else if (key == "api_version") {
        if (auto text = non_empty_string(value, p)) backend.api_version = *text;
      } else if (key == "tls_verify") {
        if (auto b = bool_value(value, p)) backend.tls_verify = *b;
      } else if (key == "ca_file") {
        auto file = non_empty_string(value, p);
        if (!file) return;
        if (auto reason = unreadable_reason(*file); !reason.empty()) {
          error(p, "cannot read CA file " + quoted(*file) + ": " + reason);
          return;
        }
        backend.ca_file = *file;
      } else {
        unknown_key(p, key);
      }
    });
    if (!has_url) missing_key(path, "url");
    if (!has_kind) missing_key(path, "kind");
  }

  void load_backend_auth(const YAML::Node& node, const std::string& path, BackendAuth& auth) {
    if (!optional_map(node, path)) return;
    std::string method;
    for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
      if (key != "api_key_env" && key != "bearer_env" && key != "managed_identity" &&
          key != "client_credentials") {
        unknown_key(p, key);
        return;
      }
      if (!method.empty()) {
        error(p, "only one of api_key_env, bearer_env, managed_identity, client_credentials may be set, " +
                     quoted(method) + " already is");
        return;
      }
      method = key;
      if (key == "managed_identity") {
        auth.kind = BackendAuth::Kind::kManagedIdentity;
        load_managed_identity(*this, value, p, auth.managed_identity);
        return;
      }
      if (key == "client_credentials") {
        auth.kind = BackendAuth::Kind::kClientCredentials;
        load_client_credentials(*this, value, p, auth.client_credentials);
        return;
      }
      auth.kind = key == "api_key_env" ? BackendAuth::Kind::kApiKeyEnv : BackendAuth::Kind::kBearerEnv;
      if (auto env = env_value(value, p)) {
        auth.env = std::move(env->name);
        auth.secret = std::move(env->value);
      }
    });
    if (method.empty()) error(path, "expected one of api_key_env, bearer_env");
  }

  void load_pools(const YAML::Node& node, const std::string& path) {
    if (!optional_map(node, path)) return;
    for_each_entry(node, path, [&](const std::string& name, const YAML::Node& value, const std::string& p) {
      Pool pool;
      pool.name = name;
      load_pool(value, p, pool);
      config_.pools.emplace(name, std::move(pool));
    });
  }

  void load_pool(const YAML::Node& node, const std::string& path, Pool& pool) {
    if (!expect_map(node, path)) return;
    bool has_members = false;
    for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
      if (key == "members") {
        has_members = true;
        if (!value.IsSequence()) {
          error(p, std::string("expected a list, got ") + describe(value));
        } else if (value.size() == 0) {
          error(p, "must list at least one member");
        } else {
          for (std::size_t i = 0; i < value.size(); ++i) {
            PoolMember member;
            load_member(value[i], element_path(p, i), member);
            pool.members.push_back(std::move(member));
          }
        }
      } else if (key == "retry") {
        load_retry(*this, value, p, pool.retry);
      } else if (key == "circuit_breaker") {
        load_circuit_breaker(*this, value, p, pool.circuit_breaker);
      } else {
        unknown_key(p, key);
      }
    });
    if (!has_members) missing_key(path, "members");
  }

  void load_member(const YAML::Node& node, const std::string& path, PoolMember& member) {
    if (!expect_map(node, path)) return;
    bool has_backend = false;
    for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
      if (key == "backend") {
        has_backend = true;
        auto name = non_empty_string(value, p);
        if (!name) return;
        if (!backend_names_.contains(*name)) {
          error(p, "unknown backend " + quoted(*name));
          return;
        }
        member.backend = *name;
      } else if (key == "deployment") {
        if (auto text = non_empty_string(value, p)) member.deployment = *text;
      } else if (key == "model") {
        if (auto text = non_empty_string(value, p)) member.model = *text;
      } else if (key == "priority") {
        if (auto n = int_value(value, p, 1, kMaxPriorityOrWeight)) member.priority = *n;
      } else if (key == "weight") {
        if (auto n = int_value(value, p, 1, kMaxPriorityOrWeight)) member.weight = *n;
      } else {
        unknown_key(p, key);
      }
    });
    if (!has_backend) missing_key(path, "backend");
  }

  void load_apis(const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence()) {
      error(path, std::string("expected a list, got ") + describe(node));
      return;
    }
    if (node.size() == 0) {
      error(path, "must list at least one api");
      return;
    }
    std::set<std::string> names;
    std::set<std::pair<Shape, std::string>> prefixes;
    for (std::size_t i = 0; i < node.size(); ++i) {
      std::string p = element_path(path, i);
      Api api;
      if (load_api(node[i], p, api, names) && !prefixes.emplace(api.shape, api.prefix).second) {
        error(child_path(p, "prefix"),
              "another api with the same shape already uses prefix " + quoted(api.prefix));
      }
      config_.apis.push_back(std::move(api));
    }
  }

  // Returns true when `api` has a valid shape and prefix, so its prefix can be checked for uniqueness.
  bool load_api(const YAML::Node& node, const std::string& path, Api& api, std::set<std::string>& names) {
    if (!expect_map(node, path)) return false;
    bool has_name = false;
    bool shape_ok = false;
    bool prefix_ok = true;
    bool has_shape = false;
    for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
      if (key == "name") {
        has_name = true;
        auto name = non_empty_string(value, p);
        if (!name) return;
        if (!names.insert(*name).second) {
          error(p, "duplicate api name " + quoted(*name));
          return;
        }
        api.name = *name;
      } else if (key == "prefix") {
        auto prefix = string_value(value, p);
        prefix_ok = prefix && normalize_prefix(*prefix, p, api.prefix);
      } else if (key == "shape") {
        has_shape = true;
        auto text = string_value(value, p);
        if (!text) return;
        if (*text == "azure-openai") {
          api.shape = Shape::kAzureOpenAI;
        } else if (*text == "openai") {
          api.shape = Shape::kOpenAI;
        } else {
          error(p, "expected azure-openai or openai, got " + quoted(*text));
          return;
        }
        shape_ok = true;
      } else {
        unknown_key(p, key);
      }
    });
    if (!has_name) missing_key(path, "name");
    if (!has_shape) missing_key(path, "shape");
    return shape_ok && prefix_ok;
  }

  // "" and "/" mean no prefix. Otherwise a leading '/' is required; trailing '/' are dropped.
  bool normalize_prefix(const std::string& text, const std::string& path, std::string& out) {
    if (!text.empty() && text.front() != '/') {
      error(path, "must start with '/'");
      return false;
    }
    if (std::any_of(text.begin(), text.end(), [](char c) {
          return c == '?' || c == '#' || std::isspace(static_cast<unsigned char>(c)) != 0;
        })) {
      error(path, "must not contain '?', '#' or whitespace");
      return false;
    }
    std::string_view trimmed = text;
    while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
    out.assign(trimmed);
    return true;
  }

  void load_subscriptions(const YAML::Node& node, const std::string& path) {
    if (!optional_map(node, path)) return;
    for_each_entry(node, path, [&](const std::string& name, const YAML::Node& value, const std::string& p) {
      Subscription subscription;
      subscription.name = name;
      load_subscription(value, p, subscription);
      config_.subscriptions.emplace(name, std::move(subscription));
    });
  }

  void load_subscription(const YAML::Node& node, const std::string& path, Subscription& subscription) {
    if (!expect_map(node, path)) return;
    bool has_key_env = false;
    for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
      if (key == "key_env") {
        has_key_env = true;
        auto env = env_value(value, p);
        if (!env) return;
        if (auto [it, inserted] = key_owners_.emplace(env->value, subscription.name); !inserted) {
          error(p, "resolves to the same key as subscription " + quoted(it->second));
          return;
        }
        subscription.key_env = std::move(env->name);
        subscription.key = std::move(env->value);
      } else if (key == "product") {
        if (auto text = non_empty_string(value, p)) subscription.product = *text;
      } else if (key == "token_limit" || key == "request_limit") {
        load_subscription_limit(*this, key, value, p, subscription);
      } else if (key == "tags") {
        if (!optional_map(value, p)) return;
        for_each_entry(value, p,
                       [&](const std::string& tag, const YAML::Node& tag_value, const std::string& tp) {
                         if (auto text = string_value(tag_value, tp)) subscription.tags[tag] = *text;
                       });
      } else {
        unknown_key(p, key);
      }
    });
    if (!has_key_env) missing_key(path, "key_env");
  }

  static constexpr int kMaxPriorityOrWeight = 1'000'000;

  std::set<std::string> backend_names_;
  std::map<std::string, std::string> key_owners_;  // subscription key -> subscription name
  Config config_;
};

LoadResult single_error(std::string message) {
  LoadResult result;
  result.errors.push_back(ConfigError{"", std::move(message)});
  return result;
}

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    // getenv races only with setenv, which the gateway never calls.
    const char* value = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

LoadResult load_config_text(std::string_view yaml_text, const EnvLookup& env) {
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml_text));
    if (documents.size() > 1) {
      return single_error("expected one YAML document, found " + std::to_string(documents.size()));
    }
    return Loader(env).load(documents.empty() ? YAML::Node() : documents.front());
  } catch (const YAML::ParserException& e) {
    return single_error("YAML syntax error at line " + std::to_string(e.mark.line + 1) + ", column " +
                        std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return single_error(std::string("cannot load the configuration: ") + e.what());
  } catch (...) {
    return single_error("cannot load the configuration: unknown exception");
  }
}

LoadResult load_config_file(const std::string& path, const EnvLookup& env) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return single_error("cannot read " + path + ": " + std::generic_category().message(errno));
  std::string text;
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return single_error("cannot read " + path + ": " + std::generic_category().message(err));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return load_config_text(text, env);
}

std::optional<Millis> parse_duration(std::string_view text) {
  uint64_t whole = 0;
  if (!consume_digits(text, whole)) return std::nullopt;
  // The fraction is kept as frac / scale; nine digits are plenty and keep the arithmetic in 64 bits.
  uint64_t frac = 0;
  uint64_t scale = 1;
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    auto before = text.size();
    if (!consume_digits(text, frac)) return std::nullopt;
    auto digits = before - text.size();
    if (digits > 9) return std::nullopt;
    for (std::size_t i = 0; i < digits; ++i) scale *= 10;
  }
  uint64_t unit_us = 0;
  if (text.empty() || text == "ms") {
    unit_us = 1'000;
  } else if (text == "us") {
    unit_us = 1;
  } else if (text == "s") {
    unit_us = 1'000'000;
  } else if (text == "m") {
    unit_us = 60'000'000;
  } else if (text == "h") {
    unit_us = 3'600'000'000;
  } else {
    return std::nullopt;
  }
  // Rounding up at each step gives ceil(exact value in ms): sub-millisecond durations never become 0.
  auto us = checked_mul(whole, unit_us);
  if (us) us = checked_add(*us, (frac * unit_us + scale - 1) / scale);
  if (!us) return std::nullopt;
  uint64_t ms = *us / 1'000 + (*us % 1'000 != 0 ? 1 : 0);
  if (ms > static_cast<uint64_t>(std::numeric_limits<Millis::rep>::max())) return std::nullopt;
  return Millis(static_cast<Millis::rep>(ms));
}

std::optional<std::size_t> parse_size(std::string_view text) {
  uint64_t value = 0;
  if (!consume_digits(text, value)) return std::nullopt;
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1},
      {"b", 1},
      {"kb", 1'000},
      {"mb", 1'000'000},
      {"gb", 1'000'000'000},
      {"tb", 1'000'000'000'000},
      {"kib", uint64_t{1} << 10},
      {"mib", uint64_t{1} << 20},
      {"gib", uint64_t{1} << 30},
      {"tib", uint64_t{1} << 40},
  };
  auto unit = to_lower(text);
  auto it =
      std::find_if(std::begin(kUnits), std::end(kUnits), [&](const auto& u) { return u.first == unit; });
  if (it == std::end(kUnits)) return std::nullopt;
  auto bytes = checked_mul(value, it->second);
  if (!bytes || *bytes > std::numeric_limits<std::size_t>::max()) return std::nullopt;
  return static_cast<std::size_t>(*bytes);
}

}  // namespace spillway::config
