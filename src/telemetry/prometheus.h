#pragma once
// Prometheus text exposition format 0.0.4 of a registry snapshot: HELP and TYPE lines, escaped label
// values, histograms as _bucket{le}, _sum and _count.

#include <string>
#include <string_view>
#include <vector>

#include "telemetry/metrics.h"

namespace spillway::telemetry {

inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Appends `value` escaped for a label value (without quotes): backslash, double quote and line feed are
// escaped; invalid UTF-8 bytes become U+FFFD, so the output is always valid UTF-8.
void append_label_value(std::string& out, std::string_view value);

// Appends `text` escaped for a HELP line: backslash and line feed (invalid UTF-8 as above).
void append_help(std::string& out, std::string_view text);

// A sample value or bound: integers without a fraction ("42"), others in the shortest form that reads
// back exactly ("0.0005"), and "+Inf", "-Inf", "NaN".
std::string format_number(double value);

// The whole exposition, families in the given order.
std::string render_prometheus(const std::vector<FamilySnapshot>& families);

}  // namespace spillway::telemetry
