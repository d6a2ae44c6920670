#include "proxy/access_log.h"

#include <chrono>
#include <ctime>

#include "util/json.h"

namespace spillway::proxy {
namespace {

void field(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(',');
  util::append_json_string(out, name);
  out.push_back(':');
  util::append_json_string(out, value);
}

void field(std::string& out, std::string_view name, int64_t value) {
  out.push_back(',');
  util::append_json_string(out, name);
  out.push_back(':');
  out += std::to_string(value);
}

void field(std::string& out, std::string_view name, bool value) {
  out.push_back(',');
  util::append_json_string(out, name);
  out += value ? ":true" : ":false";
}

double millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

std::string access_record(const pipeline::RequestContext& ctx) {
  std::string out;
  out.reserve(512);
  const auto t = std::chrono::system_clock::to_time_t(ctx.started_at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  out += "{\"ts\":\"";
  out += ts;
  out += '"';
  field(out, "request_id", ctx.request_id);
  if (ctx.request) {
    field(out, "method", ctx.request->method);
  }
  field(out, "api", ctx.route.api ? std::string_view(ctx.route.api->name) : std::string_view{});
  field(out, "operation", ctx.route.api ? api::operation_name(ctx.route.op) : std::string_view{});
  field(out, "pool", ctx.pool);
  field(out, "backend", ctx.backend);
  field(out, "deployment", ctx.deployment);
  field(out, "subscription",
        ctx.subscription ? std::string_view(ctx.subscription->name) : std::string_view{});
  field(out, "status", static_cast<int64_t>(ctx.status));
  if (!ctx.error_code.empty()) field(out, "error", ctx.error_code);
  field(out, "attempts", static_cast<int64_t>(ctx.attempts));
  if (!ctx.attempt_log.empty()) field(out, "attempt_log", ctx.attempt_log);
  field(out, "stream", ctx.stream);
  field(out, "prompt_tokens", ctx.usage.prompt_tokens);
  field(out, "completion_tokens", ctx.usage.completion_tokens);
  field(out, "total_tokens", ctx.usage.total_tokens);
  field(out, "cached_tokens", ctx.usage.cached_tokens);
  field(out, "reasoning_tokens", ctx.usage.reasoning_tokens);
  field(out, "usage_source", std::string_view(ctx.usage_present ? "backend" : "none"));
  field(out, "client_disconnected", ctx.client_disconnected);
  char num[32];
  std::snprintf(num, sizeof num, "%.3f", millis(ctx.finished - ctx.started));
  out += ",\"duration_ms\":";
  out += num;
  if (ctx.first_byte) {
    std::snprintf(num, sizeof num, "%.3f", millis(*ctx.first_byte - ctx.started));
    out += ",\"ttfb_ms\":";
    out += num;
  }
  out.push_back('}');
  return out;
}

}  // namespace spillway::proxy
