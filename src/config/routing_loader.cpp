// Pool routing settings: retry and circuit breakers.

#include "config/section_loaders.h"

namespace spillway::config {

namespace {

constexpr int kMinStatus = 100;
constexpr int kMaxStatus = 599;
constexpr int kMaxAttempts = 10;
constexpr int kMaxFailures = 100;

// One entry of a status list: 429 or "500-599".
std::optional<std::pair<int, int>> status_range(YamlReader& r, const YAML::Node& node,
                                                const std::string& path) {
  const std::string range_error = "expected a status (100-599) or a range such as \"500-599\"";
  if (!node.IsScalar()) {
    r.error(path, range_error);
    return std::nullopt;
  }
  const std::string& text = node.Scalar();
  const auto dash = text.find('-');
  if (dash == std::string::npos) {
    auto status = r.int_value(node, path, kMinStatus, kMaxStatus);
    if (!status) return std::nullopt;
    return std::pair{*status, *status};
  }
  auto lo = parse_integer(std::string_view(text).substr(0, dash));
  auto hi = parse_integer(std::string_view(text).substr(dash + 1));
  if (!lo || !hi || *lo < kMinStatus || *hi > kMaxStatus || *lo > *hi) {
    r.error(path, range_error + " with low <= high");
    return std::nullopt;
  }
  return std::pair{static_cast<int>(*lo), static_cast<int>(*hi)};
}

void load_status_set(YamlReader& r, const YAML::Node& node, const std::string& path, StatusSet& out) {
  if (!node.IsSequence()) {
    r.error(path, std::string("expected a list of statuses, got ") + describe(node));
    return;
  }
  StatusSet set;
  bool ok = true;
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto range = status_range(r, node[i], element_path(path, i));
    if (range) {
      set.ranges.push_back(*range);
    } else {
      ok = false;
    }
  }
  if (ok) out = std::move(set);
}

}  // namespace

void load_retry(YamlReader& r, const YAML::Node& node, const std::string& path, RetrySettings& out) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "on") {
      load_status_set(r, value, p, out.on);
    } else if (key == "max_attempts") {
      if (auto n = r.int_value(value, p, 1, kMaxAttempts)) out.max_attempts = *n;
    } else {
      r.unknown_key(p, key);
    }
  });
}

void load_circuit_breaker(YamlReader& r, const YAML::Node& node, const std::string& path,
                          CircuitBreakerSettings& out) {
  if (!r.optional_map(node, path)) return;
  r.for_each_entry(node, path, [&](const std::string& key, const YAML::Node& value, const std::string& p) {
    if (key == "enabled") {
      if (auto b = r.bool_value(value, p)) out.enabled = *b;
    } else if (key == "failures") {
      if (auto n = r.int_value(value, p, 1, kMaxFailures)) out.failures = *n;
    } else if (key == "within") {
      if (auto d = r.duration_value(value, p)) out.within = *d;
    } else if (key == "on") {
      load_status_set(r, value, p, out.on);
    } else if (key == "open_for") {
      if (auto d = r.duration_value(value, p)) out.open_for = *d;
    } else if (key == "honor_retry_after") {
      if (auto b = r.bool_value(value, p)) out.honor_retry_after = *b;
    } else if (key == "on_connect_error") {
      if (auto b = r.bool_value(value, p)) out.on_connect_error = *b;
    } else {
      r.unknown_key(p, key);
    }
  });
}

}  // namespace spillway::config
