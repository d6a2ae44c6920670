#include "telemetry/otlp_json.h"

#include <cstdio>
#include <functional>

#include "util/json.h"

namespace spillway::telemetry {
namespace {

// Appends one attribute ({"key":..,"value":{..}}) to a JSON array being built in `out`.
class Attributes {
 public:
  explicit Attributes(std::string& out) : out_(out) { out_ += "\"attributes\":["; }
  void str(std::string_view key, std::string_view value) {
    begin(key);
    out_ += "{\"stringValue\":";
    util::append_json_string(out_, value);
    out_ += "}}";
  }
  void integer(std::string_view key, int64_t value) {
    begin(key);
    out_ += "{\"intValue\":\"";
    out_ += std::to_string(value);
    out_ += "\"}}";
  }
  void boolean(std::string_view key, bool value) {
    begin(key);
    out_ += value ? "{\"boolValue\":true}}" : "{\"boolValue\":false}}";
  }
  void real(std::string_view key, double value) {
    begin(key);
    char num[64];
    std::snprintf(num, sizeof num, "%.3f", value);
    out_ += "{\"doubleValue\":";
    out_ += num;
    out_ += "}}";
  }
  void strings(std::string_view key, const std::vector<std::string>& values) {
    begin(key);
    out_ += "{\"arrayValue\":{\"values\":[";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) out_ += ',';
      out_ += "{\"stringValue\":";
      util::append_json_string(out_, values[i]);
      out_ += '}';
    }
    out_ += "]}}}";
  }
  void end() { out_ += ']'; }

 private:
  void begin(std::string_view key) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += "{\"key\":";
    util::append_json_string(out_, key);
    out_ += ",\"value\":";
  }
  std::string& out_;
  bool first_ = true;
};

void resource_json(std::string& out, const OtlpResource& resource) {
  out += "\"resource\":{";
  Attributes a(out);
  a.str("service.name", resource.service_name);
  if (!resource.service_version.empty()) a.str("service.version", resource.service_version);
  if (!resource.host_name.empty()) a.str("host.name", resource.host_name);
  a.end();
  out += '}';
}

void scope_json(std::string& out, std::string_view name, const OtlpResource& resource) {
  out += "\"scope\":{\"name\":";
  util::append_json_string(out, name);
  if (!resource.service_version.empty()) {
    out += ",\"version\":";
    util::append_json_string(out, resource.service_version);
  }
  out += '}';
}

}  // namespace

std::string encode_logs(const std::vector<UsageRecord>& records, const OtlpResource& resource,
                        int64_t observed_unix_ns) {
  std::string out;
  out.reserve(256 + records.size() * 1200);
  out += "{\"resourceLogs\":[{";
  resource_json(out, resource);
  out += ",\"scopeLogs\":[{";
  scope_json(out, "spillway.usage", resource);
  out += ",\"logRecords\":[";
  const std::string observed = std::to_string(observed_unix_ns);
  for (std::size_t i = 0; i < records.size(); ++i) {
    const UsageRecord& r = records[i];
    if (i) out += ',';
    out += "{\"timeUnixNano\":\"";
    out += std::to_string(r.time_ms * 1'000'000);
    out += "\",\"observedTimeUnixNano\":\"";
    out += observed;
    out += "\",\"severityNumber\":";
    const bool failed = r.status >= 500 || r.status == 0;
    out += failed ? "13,\"severityText\":\"WARN\"" : "9,\"severityText\":\"INFO\"";
    out += ",\"body\":{\"stringValue\":\"llm call\"},";
    Attributes a(out);
    a.str("event.name", "spillway.usage");
    a.str("request_id", r.request_id);
    a.str("api", r.api);
    a.str("operation", r.operation);
    a.str("pool", r.pool);
    a.str("deployment", r.deployment);
    a.str("model", r.model);
    a.str("backend", r.backend);
    a.integer("attempts", r.attempts);
    a.str("subscription", r.subscription);
    a.str("product", r.product);
    for (const auto& [k, v] : r.tags) a.str("tag." + k, v);
    a.str("user_hash", r.user_hash);
    a.strings("tools", r.tools);
    a.integer("status", r.status);
    if (!r.error.empty()) a.str("error", r.error);
    a.boolean("stream", r.stream);
    a.integer("prompt_tokens", r.prompt_tokens);
    a.integer("completion_tokens", r.completion_tokens);
    a.integer("total_tokens", r.total_tokens);
    a.integer("cached_tokens", r.cached_tokens);
    a.integer("reasoning_tokens", r.reasoning_tokens);
    a.boolean("tokens_estimated", r.tokens_estimated);
    a.str("usage_source", r.usage_source);
    if (r.ttft_ms >= 0) a.real("ttft_ms", r.ttft_ms);
    a.real("duration_ms", r.duration_ms);
    if (!r.cache.empty()) a.str("cache", r.cache);
    a.boolean("client_disconnected", r.client_disconnected);
    if (r.prompt) a.str("prompt", *r.prompt);
    if (r.completion) a.str("completion", *r.completion);
    a.end();
    out += '}';
  }
  out += "]}]}]}";
  return out;
}

void TokenSums::add(const UsageRecord& r) {
  Dims d{r.api, r.operation, r.deployment, r.backend, r.subscription};
  auto fold = [](Dims& x) { x = Dims{"other", "other", "other", "other", "other"}; };
  Dims td = d;
  if (tokens_.size() >= max_series_ && !tokens_.contains(td)) fold(td);
  Tokens& t = tokens_[td];
  t.prompt += r.prompt_tokens;
  t.completion += r.completion_tokens;
  t.total += r.total_tokens;
  t.cached += r.cached_tokens;
  std::pair<Dims, int> rk{d, r.status};
  if (requests_.size() >= max_series_ && !requests_.contains(rk)) {
    fold(rk.first);
    rk.second = 0;
  }
  ++requests_[rk];
}

std::string TokenSums::encode(const OtlpResource& resource, int64_t now_unix_ns) const {
  const std::string start = std::to_string(start_ns_);
  const std::string now = std::to_string(now_unix_ns);
  std::string out;
  out += "{\"resourceMetrics\":[{";
  resource_json(out, resource);
  out += ",\"scopeMetrics\":[{";
  scope_json(out, "spillway", resource);
  out += ",\"metrics\":[";
  auto dims = [](Attributes& a, const Dims& d) {
    a.str("api", d.api);
    a.str("operation", d.operation);
    a.str("deployment", d.deployment);
    a.str("backend", d.backend);
    a.str("subscription", d.subscription);
  };
  auto point = [&](const std::function<void(Attributes&)>& attrs, int64_t value, bool& first) {
    if (!first) out += ',';
    first = false;
    out += '{';
    Attributes a(out);
    attrs(a);
    a.end();
    out += ",\"startTimeUnixNano\":\"" + start + "\",\"timeUnixNano\":\"" + now + "\",\"asInt\":\"" +
           std::to_string(value) + "\"}";
  };
  out +=
      "{\"name\":\"spillway.tokens\",\"description\":\"Tokens used by LLM calls\",\"unit\":\"{token}\","
      "\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[";
  bool first = true;
  for (const auto& [d, t] : tokens_) {
    const std::pair<const char*, int64_t> kinds[] = {
        {"prompt", t.prompt}, {"completion", t.completion}, {"total", t.total}, {"cached", t.cached}};
    for (const auto& [kind, value] : kinds) {
      point(
          [&](Attributes& a) {
            a.str("kind", kind);
            dims(a, d);
          },
          value, first);
    }
  }
  out += "]}},";
  out +=
      "{\"name\":\"spillway.requests\",\"description\":\"LLM calls\",\"unit\":\"{request}\","
      "\"sum\":{\"aggregationTemporality\":2,\"isMonotonic\":true,\"dataPoints\":[";
  first = true;
  for (const auto& [key, count] : requests_) {
    point(
        [&](Attributes& a) {
          a.str("status", key.second == 0 ? std::string("other") : std::to_string(key.second));
          dims(a, key.first);
        },
        count, first);
  }
  out += "]}}]}]}]}";
  return out;
}

}  // namespace spillway::telemetry
