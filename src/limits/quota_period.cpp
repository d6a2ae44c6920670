#include "limits/quota_period.h"

#include <cstdio>
#include <string>

namespace spillway::limits {

using namespace std::chrono;

PeriodBounds quota_period_bounds(config::QuotaPeriod period, SystemTime now) {
  const sys_days day = floor<days>(now);
  switch (period) {
    case config::QuotaPeriod::kHourly: {
      const auto start = floor<hours>(now);
      return {start, start + hours(1)};
    }
    case config::QuotaPeriod::kDaily:
      return {day, day + days(1)};
    case config::QuotaPeriod::kWeekly: {
      // weekday::iso_encoding(): Monday 1 ... Sunday 7.
      const sys_days monday = day - days(weekday(day).iso_encoding() - 1);
      return {monday, monday + days(7)};
    }
    case config::QuotaPeriod::kMonthly: {
      const year_month_day ymd(day);
      const year_month first = ymd.year() / ymd.month();
      const year_month next = first + months(1);
      return {sys_days(first / 1), sys_days(next / 1)};
    }
    case config::QuotaPeriod::kYearly: {
      const year y = year_month_day(day).year();
      return {sys_days(y / January / 1), sys_days((y + years(1)) / January / 1)};
    }
  }
  return {day, day + days(1)};
}

std::string_view quota_period_name(config::QuotaPeriod period) {
  switch (period) {
    case config::QuotaPeriod::kHourly:
      return "hourly";
    case config::QuotaPeriod::kDaily:
      return "daily";
    case config::QuotaPeriod::kWeekly:
      return "weekly";
    case config::QuotaPeriod::kMonthly:
      return "monthly";
    case config::QuotaPeriod::kYearly:
      return "yearly";
  }
  return "monthly";
}

std::string format_utc(SystemTime t) {
  const sys_seconds s = floor<seconds>(t);
  const sys_days day = floor<days>(s);
  const year_month_day ymd(day);
  const hh_mm_ss<seconds> hms(s - day);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long long>(hms.hours().count()), static_cast<long long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()));
  return buf;
}

}  // namespace spillway::limits
