#include "proxy/access_log.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "util/json.h"

namespace spillway::proxy {
namespace {

// `name` is a literal of the form ",\"name\":" (no escaping needed).
template <std::size_t N>
void literal(std::string& out, const char (&s)[N]) {
  out.append(s, N - 1);
}

template <std::size_t N>
void field(std::string& out, const char (&name)[N], std::string_view value) {
  literal(out, name);
  out.push_back('"');
  util::append_json_escaped(out, value);
  out.push_back('"');
}

template <std::size_t N>
void field(std::string& out, const char (&name)[N], int64_t value) {
  literal(out, name);
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, r.ptr);
}

template <std::size_t N>
void field(std::string& out, const char (&name)[N], bool value) {
  literal(out, name);
  if (value) {
    literal(out, "true");
  } else {
    literal(out, "false");
  }
}

// "YYYY-MM-DDTHH:MM:SSZ" of `t`'s second, formatted once per second per thread.
std::string_view utc_second(std::chrono::system_clock::time_point t) {
  struct Cache {
    std::time_t second = 0;
    bool valid = false;
    std::size_t size = 0;
    char text[32];
  };
  thread_local Cache cache;
  const std::time_t second = std::chrono::system_clock::to_time_t(t);
  if (!cache.valid || cache.second != second) {
    std::tm tm{};
    gmtime_r(&second, &tm);
    cache.size = std::strftime(cache.text, sizeof cache.text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cache.second = second;
    cache.valid = true;
  }
  return {cache.text, cache.size};
}

// Exactly what printf("%.3f") prints for the double the old code formatted, for negative or huge values.
void append_millis_printf(std::string& out, std::chrono::nanoseconds d) {
  char num[48];
  const int n = std::snprintf(num, sizeof num, "%.3f", std::chrono::duration<double, std::milli>(d).count());
  if (n > 0) out.append(num, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof num - 1));
}

}  // namespace

void append_millis(std::string& out, std::chrono::nanoseconds d) {
  const int64_t ns = d.count();
  // Below 10^15 ns (11.5 days) the millisecond double is within 1.2e-16 relative of the exact value,
  // closer than 1 ns to it, so printf rounds it to the same microsecond as exact arithmetic does,
  // except on an exact tie (..500 ns), where the double's own rounding decides.
  constexpr int64_t kExactBelow = 1'000'000'000'000'000;
  if (ns < 0 || ns >= kExactBelow) return append_millis_printf(out, d);
  int64_t us = ns / 1000;
  const int64_t rem = ns % 1000;
  if (rem > 500) {
    ++us;
  } else if (rem == 500) {
    // Compare the double ms = m * 2^e (exact) with the tie (2us+1)/2000: m * 2000 vs (2us+1) * 2^-e.
    // m < 2^53, 2us+1 < 2^41 and the ms value >= 0.0005 keeps -e <= 64, so both sides fit 128 bits.
    const double ms = std::chrono::duration<double, std::milli>(d).count();
    int exp = 0;
    const double frac = std::frexp(ms, &exp);
    const auto m = static_cast<uint64_t>(std::ldexp(frac, 53));
    const int shift = 53 - exp;  // ms = m * 2^-shift
    const unsigned __int128 lhs = static_cast<unsigned __int128>(m) * 2000;
    const unsigned __int128 rhs = static_cast<unsigned __int128>(2 * us + 1) << shift;
    if (lhs > rhs || (lhs == rhs && (us & 1) != 0)) ++us;  // above the tie, or a true tie: to even
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, us / 1000);
  char* p = r.ptr;
  const auto frac3 = static_cast<int>(us % 1000);
  p[0] = '.';
  p[1] = static_cast<char>('0' + frac3 / 100);
  p[2] = static_cast<char>('0' + frac3 / 10 % 10);
  p[3] = static_cast<char>('0' + frac3 % 10);
  out.append(buf, p + 4);
}

void append_access_record(std::string& out, const pipeline::RequestContext& ctx) {
  const std::string_view api = ctx.route.api ? std::string_view(ctx.route.api->name) : std::string_view{};
  const std::string_view subscription =
      ctx.subscription ? std::string_view(ctx.subscription->name) : std::string_view{};
  // The fixed part (names, numbers, timestamp) is under 512 bytes; strings usually need no escaping.
  out.reserve(out.size() + 512 + ctx.request_id.size() + api.size() + ctx.pool.size() + ctx.backend.size() +
              ctx.deployment.size() + subscription.size() + ctx.error_code.size() + ctx.attempt_log.size());
  literal(out, "{\"ts\":\"");
  out.append(utc_second(ctx.started_at));
  out.push_back('"');
  field(out, ",\"request_id\":", ctx.request_id);
  if (ctx.request) field(out, ",\"method\":", std::string_view(ctx.request->method));
  field(out, ",\"api\":", api);
  field(out, ",\"operation\":", ctx.route.api ? api::operation_name(ctx.route.op) : std::string_view{});
  field(out, ",\"pool\":", ctx.pool);
  field(out, ",\"backend\":", ctx.backend);
  field(out, ",\"deployment\":", ctx.deployment);
  field(out, ",\"subscription\":", subscription);
  field(out, ",\"status\":", static_cast<int64_t>(ctx.status));
  if (!ctx.error_code.empty()) field(out, ",\"error\":", ctx.error_code);
  field(out, ",\"attempts\":", static_cast<int64_t>(ctx.attempts));
  if (!ctx.attempt_log.empty()) field(out, ",\"attempt_log\":", ctx.attempt_log);
  field(out, ",\"stream\":", ctx.stream);
  field(out, ",\"prompt_tokens\":", ctx.usage.prompt_tokens);
  field(out, ",\"completion_tokens\":", ctx.usage.completion_tokens);
  field(out, ",\"total_tokens\":", ctx.usage.total_tokens);
  field(out, ",\"cached_tokens\":", ctx.usage.cached_tokens);
  field(out, ",\"reasoning_tokens\":", ctx.usage.reasoning_tokens);
  if (ctx.usage_present) {
    literal(out, ",\"usage_source\":\"backend\"");
  } else {
    literal(out, ",\"usage_source\":\"none\"");
  }
  field(out, ",\"client_disconnected\":", ctx.client_disconnected);
  literal(out, ",\"duration_ms\":");
  append_millis(out, ctx.finished - ctx.started);
  if (ctx.first_byte) {
    literal(out, ",\"ttfb_ms\":");
    append_millis(out, *ctx.first_byte - ctx.started);
  }
  out.push_back('}');
}

std::string access_record(const pipeline::RequestContext& ctx) {
  std::string out;
  append_access_record(out, ctx);
  return out;
}

}  // namespace spillway::proxy
