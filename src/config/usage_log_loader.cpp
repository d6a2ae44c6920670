// The usage log and OTLP export.

#include <cctype>

#include "config/address.h"
#include "config/section_loaders.h"

namespace spillway::config {
namespace {

// Durations of the usage log may be long: "30d" and "2w" on top of what parse_duration accepts.
std::optional<std::chrono::milliseconds> long_duration(YamlReader& r, const YAML::Node& node,
                                                       const std::string& path) {
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (text.size() > 1 && (text.back() == 'd' || text.back() == 'w')) {
      const auto n = parse_integer(std::string_view(text).substr(0, text.size() - 1));
      const long long days = text.back() == 'w' ? 7 : 1;
      if (n && *n > 0 && *n <= 100'000) return std::chrono::milliseconds(*n * days * 86'400'000LL);
      r.error(path, "expected a duration > 0 such as 30d, 12h or 90m");
      return std::nullopt;
    }
  }
  return r.duration_value(node, path);
}

bool valid_header_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

void load_otlp_headers(YamlReader& r, const YAML::Node& node, const std::string& path, bool from_env,
                       std::vector<std::pair<std::string, std::string>>& out) {
  if (!r.expect_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (!valid_header_name(key)) {
      r.error(p, "not a valid header name");
      return;
    }
    const std::string name = to_lower(key);
    if (name == "host" || name == "content-length" || name == "content-type" || name == "connection" ||
        name == "transfer-encoding") {
      r.error(p, "header " + quoted(name) + " is set by the exporter");
      return;
    }
    if (from_env) {
      if (auto env = r.env_value(value, p)) out.emplace_back(name, std::move(env->value));
    } else if (auto text = r.string_value(value, p)) {
      // The value may be a secret: messages never quote it.
      out.emplace_back(name, std::move(*text));
    }
  });
}

}  // namespace

void load_usage_log(YamlReader& r, const YAML::Node& node, const std::string& path, UsageLogSettings& out) {
  // `usage_log:` with nothing after it counts as absent, like every other section.
  if (!r.optional_map(node, path)) return;
  out.enabled = true;
  out.sqlite_path = "./spillway-usage.db";
  bool has_sqlite = false;
  bool has_postgres = false;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "sqlite") {
      has_sqlite = true;
      if (auto v = r.non_empty_string(value, p)) out.sqlite_path = *v;
    } else if (key == "postgres") {
      has_postgres = true;
      r.error(p, "postgres is not available yet; use sqlite: FILE");
    } else if (key == "log_prompts") {
      if (auto v = r.bool_value(value, p)) out.log_prompts = *v;
    } else if (key == "max_prompt_bytes") {
      if (auto v = r.size_value(value, p)) {
        if (*v > 16 * 1024 * 1024) {
          r.error(p, "must be at most 16MiB");
        } else {
          out.max_prompt_bytes = *v;
        }
      }
    } else if (key == "retention") {
      if (auto v = long_duration(r, value, p)) out.retention = *v;
    } else if (key == "flush_interval") {
      if (auto v = r.duration_value(value, p)) {
        if (*v > std::chrono::milliseconds(60'000)) {
          r.error(p, "must be at most 60s (records wait this long before they are committed)");
        } else {
          out.flush_interval = *v;
        }
      }
    } else if (key == "batch_size") {
      if (auto v = r.int_value(value, p, 1, 100'000)) out.batch_size = *v;
    } else if (key == "idle_writer") {
      if (auto v = r.bool_value(value, p)) out.idle_writer = *v;
    } else if (key == "queue_capacity") {
      if (auto v = r.int_value(value, p, 1, 10'000'000)) out.queue_capacity = static_cast<std::size_t>(*v);
    } else {
      r.unknown_key(path, key);
    }
  });
  if (has_sqlite && has_postgres) r.error(path, "set one of 'sqlite' and 'postgres', not both");
}

void load_telemetry(YamlReader& r, const YAML::Node& node, const std::string& path, TelemetrySettings& out) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "otlp") {
      auto url = r.non_empty_string(value, p);
      if (!url) return;
      std::string error;
      auto parsed = parse_backend_url(*url, error);
      if (!parsed) {
        r.error(p, error);
        return;
      }
      out.otlp_enabled = true;
      out.otlp_url = *url;
      out.otlp_tls = parsed->tls;
      out.otlp_host = parsed->host;
      out.otlp_port = parsed->port;
      out.otlp_base_path = parsed->base_path;
    } else if (key == "otlp_interval") {
      if (auto v = r.duration_value(value, p)) out.otlp_interval = *v;
    } else if (key == "otlp_timeout") {
      if (auto v = r.duration_value(value, p)) out.otlp_timeout = *v;
    } else if (key == "otlp_headers") {
      load_otlp_headers(r, value, p, false, out.otlp_headers);
    } else if (key == "otlp_headers_env") {
      load_otlp_headers(r, value, p, true, out.otlp_headers);
    } else if (key == "otlp_queue_capacity") {
      if (auto v = r.int_value(value, p, 1, 10'000'000))
        out.otlp_queue_capacity = static_cast<std::size_t>(*v);
    } else if (key == "otlp_max_attempts") {
      if (auto v = r.int_value(value, p, 1, 100)) out.otlp_max_attempts = *v;
    } else {
      r.unknown_key(path, key);
    }
  });
}

}  // namespace spillway::config
