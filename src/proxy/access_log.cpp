#include "proxy/access_log.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

#include "util/json.h"
#include "util/raw_writer.h"

namespace spillway::proxy {
namespace {

// Writes into a buffer sized beforehand (append_access_record).
using Writer = util::RawWriter;

// `name` is a literal of the form ",\"name\":" (no escaping needed).
template <std::size_t N>
void literal(Writer& out, const char (&s)[N]) {
  out.append(s, N - 1);
}

template <std::size_t N>
void field(Writer& out, const char (&name)[N], std::string_view value) {
  literal(out, name);
  out.append_json_string(value);
}

template <std::size_t N>
void field(Writer& out, const char (&name)[N], int64_t value) {
  literal(out, name);
  out.integer(value);
}

template <std::size_t N>
void field(Writer& out, const char (&name)[N], bool value) {
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
template <class Out>
void append_millis_printf(Out& out, std::chrono::nanoseconds d) {
  char num[48];
  const int n = std::snprintf(num, sizeof num, "%.3f", std::chrono::duration<double, std::milli>(d).count());
  if (n > 0) out.append(num, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof num - 1));
}

// At most 18 characters: |ms| < 2^63 ns = 9.3e12 ms, so a sign, 13 digits, a point and 3 decimals.
template <class Out>
void millis_into(Out& out, std::chrono::nanoseconds d) {
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
  out.append(buf, static_cast<std::size_t>(p + 4 - buf));
}

}  // namespace

void append_millis(std::string& out, std::chrono::nanoseconds d) { millis_into(out, d); }

void append_access_record(std::string& out, const pipeline::RequestContext& ctx) {
  const std::string_view api = ctx.route.api ? std::string_view(ctx.route.api->name) : std::string_view{};
  const std::string_view subscription =
      ctx.subscription ? std::string_view(ctx.subscription->name) : std::string_view{};
  const std::string_view method = ctx.request ? std::string_view(ctx.request->method) : std::string_view{};
  const std::string_view operation = ctx.route.api ? api::operation_name(ctx.route.op) : std::string_view{};
  // Everything but the strings takes under 700 bytes (names and punctuation about 400, the timestamp 20,
  // seven integers of at most 20 characters, two durations of at most 18): 1024 is room to spare. A
  // string takes at most kJsonEscapedMaxPerByte times its length.
  const std::size_t strings = ctx.request_id.size() + method.size() + api.size() + operation.size() +
                              ctx.pool.size() + ctx.backend.size() + ctx.deployment.size() +
                              subscription.size() + ctx.error_code.size() + ctx.attempt_log.size();
  const std::size_t start = out.size();
  out.resize(start + 1024 + util::kJsonEscapedMaxPerByte * strings);
  Writer w{out.data() + start};
  literal(w, "{\"ts\":\"");
  w.append(utc_second(ctx.started_at));
  w.push_back('"');
  field(w, ",\"request_id\":", ctx.request_id);
  if (ctx.request) field(w, ",\"method\":", method);
  field(w, ",\"api\":", api);
  field(w, ",\"operation\":", operation);
  field(w, ",\"pool\":", ctx.pool);
  field(w, ",\"backend\":", ctx.backend);
  field(w, ",\"deployment\":", ctx.deployment);
  field(w, ",\"subscription\":", subscription);
  field(w, ",\"status\":", static_cast<int64_t>(ctx.status));
  if (!ctx.error_code.empty()) field(w, ",\"error\":", ctx.error_code);
  field(w, ",\"attempts\":", static_cast<int64_t>(ctx.attempts));
  if (!ctx.attempt_log.empty()) field(w, ",\"attempt_log\":", ctx.attempt_log);
  field(w, ",\"stream\":", ctx.stream);
  field(w, ",\"prompt_tokens\":", ctx.usage.prompt_tokens);
  field(w, ",\"completion_tokens\":", ctx.usage.completion_tokens);
  field(w, ",\"total_tokens\":", ctx.usage.total_tokens);
  field(w, ",\"cached_tokens\":", ctx.usage.cached_tokens);
  field(w, ",\"reasoning_tokens\":", ctx.usage.reasoning_tokens);
  if (ctx.usage_present) {
    literal(w, ",\"usage_source\":\"backend\"");
  } else {
    literal(w, ",\"usage_source\":\"none\"");
  }
  field(w, ",\"client_disconnected\":", ctx.client_disconnected);
  literal(w, ",\"duration_ms\":");
  millis_into(w, ctx.finished - ctx.started);
  if (ctx.first_byte) {
    literal(w, ",\"ttfb_ms\":");
    millis_into(w, *ctx.first_byte - ctx.started);
  }
  w.push_back('}');
  out.resize(static_cast<std::size_t>(w.p - out.data()));
}

std::string access_record(const pipeline::RequestContext& ctx) {
  std::string out;
  append_access_record(out, ctx);
  return out;
}

}  // namespace spillway::proxy
