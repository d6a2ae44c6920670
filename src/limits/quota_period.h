#pragma once
// Quota periods: calendar periods in UTC. A week starts on Monday 00:00 UTC (ISO 8601); a month on the
// 1st at 00:00 UTC; a year on January 1st. Hours and days have no time-zone offset.

#include <chrono>
#include <string>
#include <string_view>

#include "config/limits_config.h"

namespace spillway::limits {

using SystemTime = std::chrono::system_clock::time_point;

struct PeriodBounds {
  SystemTime start;  // inclusive
  SystemTime end;    // exclusive: the start of the next period
};

// The period of kind `period` that contains `now`.
PeriodBounds quota_period_bounds(config::QuotaPeriod period, SystemTime now);

// "hourly", "daily", "weekly", "monthly", "yearly"
std::string_view quota_period_name(config::QuotaPeriod period);

// "2025-03-01T00:00:00Z" (whole seconds, UTC).
std::string format_utc(SystemTime t);

}  // namespace spillway::limits
