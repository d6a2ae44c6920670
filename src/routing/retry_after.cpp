// retry_after_from_headers (declared in routing/pool_router.h): the backends' "come back later" hints.

#include <array>
#include <chrono>
#include <cmath>
#include <optional>
#include <string_view>

#include "routing/pool_router.h"
#include "util/ascii.h"

namespace spillway::routing {

namespace {

using std::chrono::milliseconds;

// Hints beyond a day are taken as a day: a bogus header must not retire a member for years.
constexpr double kMaxMillis = 24.0 * 3600 * 1000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A non-negative decimal number ("12", "1.5") at the start of `s`; advances `s` past it.
std::optional<double> take_number(std::string_view& s) {
  std::size_t i = 0;
  double value = 0;
  bool digits = false;
  while (i < s.size() && is_digit(s[i])) {
    value = value * 10 + (s[i] - '0');
    digits = true;
    ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    double scale = 0.1;
    while (i < s.size() && is_digit(s[i])) {
      value += (s[i] - '0') * scale;
      scale /= 10;
      digits = true;
      ++i;
    }
  }
  if (!digits) return std::nullopt;
  s.remove_prefix(i);
  return value;
}

std::optional<milliseconds> to_millis(double ms) {
  if (!std::isfinite(ms) || ms < 0) return std::nullopt;
  return milliseconds(static_cast<int64_t>(std::ceil(std::min(ms, kMaxMillis))));
}

// A plain number in `unit_ms` units ("12", "1.5").
std::optional<milliseconds> parse_number(std::string_view s, double unit_ms) {
  s = util::trim_ows(s);
  auto value = take_number(s);
  if (!value || !s.empty()) return std::nullopt;
  return to_millis(*value * unit_ms);
}

// A Go duration as OpenAI sends it ("1s", "6m0s", "20ms", "1.5s", "1h2m3s", "500us"), or a bare number of
// seconds.
std::optional<milliseconds> parse_go_duration(std::string_view s) {
  s = util::trim_ows(s);
  if (auto plain = parse_number(s, 1000.0)) return plain;
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    auto value = take_number(s);
    if (!value) return std::nullopt;
    double unit = 0;
    if (s.starts_with("ms")) {
      unit = 1, s.remove_prefix(2);
    } else if (s.starts_with("us")) {
      unit = 1e-3, s.remove_prefix(2);
    } else if (s.starts_with("\xC2\xB5s")) {  // µs
      unit = 1e-3, s.remove_prefix(3);
    } else if (s.starts_with("ns")) {
      unit = 1e-6, s.remove_prefix(2);
    } else if (s.starts_with("h")) {
      unit = 3600e3, s.remove_prefix(1);
    } else if (s.starts_with("m")) {
      unit = 60e3, s.remove_prefix(1);
    } else if (s.starts_with("s")) {
      unit = 1e3, s.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    total += *value * unit;
  }
  return to_millis(total);
}

std::optional<int> month_index(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (std::size_t i = 0; i < kMonths.size(); ++i) {
    if (name == kMonths[i]) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

// Exactly `n` digits at the start of `s`; advances past them.
std::optional<int> take_digits(std::string_view& s, std::size_t n) {
  if (s.size() < n) return std::nullopt;
  int value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(s[i])) return std::nullopt;
    value = value * 10 + (s[i] - '0');
  }
  s.remove_prefix(n);
  return value;
}

bool take(std::string_view& s, std::string_view literal) {
  if (!s.starts_with(literal)) return false;
  s.remove_prefix(literal.size());
  return true;
}

// "HH:MM:SS" -> seconds of the day.
std::optional<int> take_time(std::string_view& s) {
  auto h = take_digits(s, 2);
  if (!h || !take(s, ":")) return std::nullopt;
  auto m = take_digits(s, 2);
  if (!m || !take(s, ":")) return std::nullopt;
  auto sec = take_digits(s, 2);
  if (!sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return *h * 3600 + *m * 60 + *sec;
}

std::optional<std::chrono::system_clock::time_point> make_time(int year, int month, int day, int seconds) {
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd) + std::chrono::seconds(seconds);
}

// The three HTTP-date forms of RFC 9110 section 5.6.7:
//   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
//   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"
//   asctime      "Sun Nov  6 08:49:37 1994"
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  const auto comma = s.find(',');
  if (comma != std::string_view::npos) {
    std::string_view rest = s.substr(comma + 1);
    if (!take(rest, " ")) return std::nullopt;
    auto day = take_digits(rest, 2);
    if (!day) return std::nullopt;
    const bool rfc850 = !rest.empty() && rest.front() == '-';
    if (!take(rest, rfc850 ? "-" : " ") || rest.size() < 3) return std::nullopt;
    auto month = month_index(rest.substr(0, 3));
    rest.remove_prefix(3);
    if (!month || !take(rest, rfc850 ? "-" : " ")) return std::nullopt;
    auto year = take_digits(rest, rfc850 ? 2 : 4);
    if (!year) return std::nullopt;
    if (rfc850) *year += *year < 70 ? 2000 : 1900;  // RFC 9110: interpret 50+ years ahead as the past
    if (!take(rest, " ")) return std::nullopt;
    auto secs = take_time(rest);
    if (!secs || rest != " GMT") return std::nullopt;
    return make_time(*year, *month, *day, *secs);
  }
  // asctime: "Sun Nov  6 08:49:37 1994"
  if (s.size() < 4 || s[3] != ' ') return std::nullopt;
  std::string_view rest = s.substr(4);
  if (rest.size() < 4) return std::nullopt;
  auto month = month_index(rest.substr(0, 3));
  rest.remove_prefix(3);
  if (!month || !take(rest, " ")) return std::nullopt;
  // The day is two characters: "26" or " 6".
  const bool padded = take(rest, " ");
  auto day = take_digits(rest, padded ? 1 : 2);
  if (!day || !take(rest, " ")) return std::nullopt;
  auto secs = take_time(rest);
  if (!secs || !take(rest, " ")) return std::nullopt;
  auto year = take_digits(rest, 4);
  if (!year || !rest.empty()) return std::nullopt;
  return make_time(*year, *month, *day, *secs);
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
  value = util::trim_ows(value);
  if (auto seconds = parse_number(value, 1000.0)) return seconds;
  auto at = parse_http_date(value);
  if (!at) return std::nullopt;
  if (*at <= now) return milliseconds(0);
  return to_millis(std::chrono::duration<double, std::milli>(*at - now).count());
}

}  // namespace

std::optional<milliseconds> retry_after_from_headers(const http::HeaderList& headers,
                                                     std::chrono::system_clock::time_point now) {
  std::optional<milliseconds> longest;
  for (const auto& [name, value] : headers) {
    std::optional<milliseconds> hint;
    if (util::ascii_iequals(name, "retry-after")) {
      hint = parse_retry_after(value, now);
    } else if (util::ascii_iequals(name, "retry-after-ms")) {
      hint = parse_number(value, 1.0);
    } else if (util::ascii_iequals(name, "x-ratelimit-reset-requests") ||
               util::ascii_iequals(name, "x-ratelimit-reset-tokens")) {
      hint = parse_go_duration(value);
    }
    if (hint && (!longest || *hint > *longest)) longest = hint;
  }
  return longest;
}

}  // namespace spillway::routing
