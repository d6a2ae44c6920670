#pragma once
// The YAML-reading toolkit every config section loader uses: typed value readers that record a
// ConfigError (with the YAML path) instead of throwing, and that never put a secret in a message.
// Section loaders of later features live in their own files and take a YamlReader&.

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/loader.h"

namespace spillway::config {

inline std::string child_path(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out = path;
  out += '.';
  out += key;
  return out;
}

inline std::string element_path(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

inline std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline const char* describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

inline std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct EnvValue {
  std::string name;
  std::string value;
};

class YamlReader {
 public:
  explicit YamlReader(const EnvLookup& env) : env_(env) {}

  void error(std::string path, std::string message) {
    errors_.push_back(ConfigError{std::move(path), std::move(message)});
  }
  void unknown_key(const std::string& path, const std::string& key) {
    error(path, "unknown key " + quoted(key));
  }
  void missing_key(const std::string& path, std::string_view key) {
    error(child_path(path, key), "missing required key " + quoted(key));
  }

  bool expect_map(const YAML::Node& node, const std::string& path) {
    if (node.IsMap()) return true;
    error(path, std::string("expected a mapping, got ") + describe(node));
    return false;
  }
  // For optional sections: null (a key with nothing after it) counts as an empty mapping.
  bool optional_map(const YAML::Node& node, const std::string& path) {
    return !node.IsNull() && expect_map(node, path);
  }

  // Calls fn(key, value, path_of_key) for each entry of a mapping in document order. Non-scalar and
  // duplicate keys are reported and skipped.
  template <class Fn>
  void for_each_entry(const YAML::Node& map, const std::string& path, Fn&& fn) {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) {
        error(path, std::string("keys must be scalars, got ") + describe(it->first));
        continue;
      }
      const std::string& key = it->first.Scalar();
      std::string key_path = child_path(path, key);
      if (!seen.insert(key).second) {
        error(key_path, "duplicate key " + quoted(key));
        continue;
      }
      fn(key, it->second, key_path);
    }
  }

  std::optional<std::string> string_value(const YAML::Node& node, const std::string& path) {
    if (node.IsScalar()) return node.Scalar();
    error(path, std::string("expected a string, got ") + describe(node));
    return std::nullopt;
  }
  std::optional<std::string> non_empty_string(const YAML::Node& node, const std::string& path) {
    auto text = string_value(node, path);
    if (text && text->empty()) {
      error(path, "must not be empty");
      return std::nullopt;
    }
    return text;
  }
  std::optional<int> int_value(const YAML::Node& node, const std::string& path, int min, int max) {
    std::optional<long long> value;
    if (node.IsScalar()) value = parse_integer(node.Scalar());
    if (!value || *value < min || *value > max) {
      error(path, "expected an integer between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return static_cast<int>(*value);
  }
  std::optional<bool> bool_value(const YAML::Node& node, const std::string& path) {
    if (node.IsScalar()) {
      auto text = to_lower(node.Scalar());
      if (text == "true" || text == "yes" || text == "on") return true;
      if (text == "false" || text == "no" || text == "off") return false;
    }
    error(path, "expected true or false");
    return std::nullopt;
  }
  std::optional<Millis> duration_value(const YAML::Node& node, const std::string& path) {
    std::optional<Millis> value;
    if (node.IsScalar()) value = parse_duration(node.Scalar());
    if (!value || value->count() <= 0) {
      error(path, "expected a duration > 0 such as 10s or 250ms");
      return std::nullopt;
    }
    return value;
  }
  std::optional<std::size_t> size_value(const YAML::Node& node, const std::string& path) {
    std::optional<std::size_t> value;
    if (node.IsScalar()) value = parse_size(node.Scalar());
    if (!value || *value == 0) {
      error(path, "expected a size > 0 such as 4MiB or 512KiB");
      return std::nullopt;
    }
    return value;
  }
  // The node names an environment variable that must be set and non-empty. Messages name the variable,
  // never its value.
  std::optional<EnvValue> env_value(const YAML::Node& node, const std::string& path) {
    auto name = non_empty_string(node, path);
    if (!name) return std::nullopt;
    auto value = env_(*name);
    if (!value) {
      error(path, "environment variable " + *name + " is not set");
      return std::nullopt;
    }
    if (value->empty()) {
      error(path, "environment variable " + *name + " is empty");
      return std::nullopt;
    }
    return EnvValue{std::move(*name), std::move(*value)};
  }

  void warn(std::string message) { warnings_.push_back(std::move(message)); }
  std::optional<int64_t> int64_value(const YAML::Node& node, const std::string& path, int64_t min,
                                     int64_t max) {
    std::optional<long long> value;
    if (node.IsScalar()) value = parse_integer(node.Scalar());
    if (!value || *value < min || *value > max) {
      error(path, "expected an integer between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return static_cast<int64_t>(*value);
  }
  std::optional<double> double_value(const YAML::Node& node, const std::string& path, double min,
                                     double max) {
    std::optional<double> value;
    if (node.IsScalar()) {
      try {
        std::size_t used = 0;
        const double v = std::stod(node.Scalar(), &used);
        if (used == node.Scalar().size()) value = v;
      } catch (const std::exception&) {
      }
    }
    if (!value || !(*value >= min && *value <= max)) {
      error(path, "expected a number between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return value;
  }
  bool has_errors() const { return !errors_.empty(); }

 protected:
  const EnvLookup& env_;
  std::vector<ConfigError> errors_;
  std::vector<std::string> warnings_;
};

}  // namespace spillway::config
