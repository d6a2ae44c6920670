#include "telemetry/prometheus.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace spillway::telemetry {
namespace {

std::string escaped(std::string_view v) {
  std::string out;
  append_label_value(out, v);
  return out;
}

TEST(Prometheus, LabelValuesAreEscaped) {
  EXPECT_EQ(escaped("plain"), "plain");
  EXPECT_EQ(escaped(R"(a"b)"), R"(a\"b)");
  EXPECT_EQ(escaped(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(escaped("a\nb"), R"(a\nb)");
  EXPECT_EQ(escaped("tab\there"), "tab\there");
  EXPECT_EQ(escaped("caf\xC3\xA9 \xE2\x82\xAC"), "caf\xC3\xA9 \xE2\x82\xAC");  // valid UTF-8 kept
  EXPECT_EQ(escaped("bad\xFF"), "bad\xEF\xBF\xBD");                            // invalid byte -> U+FFFD
  EXPECT_EQ(escaped("\xC3"), "\xEF\xBF\xBD");                                  // truncated sequence
  EXPECT_EQ(escaped("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(escaped("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(Prometheus, HelpEscapesBackslashAndNewlineOnly) {
  std::string out;
  append_help(out, "say \"hi\"\\\nbye");
  EXPECT_EQ(out, R"(say "hi"\\\nbye)");
}

TEST(Prometheus, Numbers) {
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(42), "42");
  EXPECT_EQ(format_number(123456789012), "123456789012");
  EXPECT_EQ(format_number(0.0005), "0.0005");
  EXPECT_EQ(format_number(2.5), "2.5");
  EXPECT_EQ(format_number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(format_number(1e300), "1e+300");
  EXPECT_EQ(format_number(1.5e-9), "1.5e-09");
  EXPECT_EQ(format_number(-1), "-1");
  EXPECT_EQ(format_number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_number(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_number(std::nan("")), "NaN");
}

TEST(Prometheus, RendersTheExpositionFormat) {
  MetricsRegistry r;
  auto tokens = r.counter(FamilyOptions{.name = "spillway_tokens_total",
                                        .help = "Tokens.",
                                        .labels = {"user_hash", "tool"},
                                        .max_series = 10},
                          "kind", {"prompt", "total"});
  const uint64_t amounts[] = {3, 5};
  const std::string_view values[] = {"none", "say \"hi\""};
  tokens->add(values, amounts);
  auto latency = r.histogram(
      FamilyOptions{.name = "spillway_x_seconds", .help = "Latency.\nTwo lines.", .labels = {}}, {0.5, 1});
  latency->observe({}, 0.25);
  latency->observe({}, 3);
  r.gauge(FamilyOptions{.name = "spillway_g", .help = "G.", .labels = {"b"}}, {});
  EXPECT_EQ(
      render_prometheus(r.snapshot()),
      "# HELP spillway_tokens_total Tokens.\n"
      "# TYPE spillway_tokens_total counter\n"
      "spillway_tokens_total{kind=\"prompt\",user_hash=\"none\",tool=\"say \\\"hi\\\"\"} 3\n"
      "spillway_tokens_total{kind=\"total\",user_hash=\"none\",tool=\"say \\\"hi\\\"\"} 5\n"
      "# HELP spillway_x_seconds Latency.\\nTwo lines.\n"
      "# TYPE spillway_x_seconds histogram\n"
      "spillway_x_seconds_bucket{le=\"0.5\"} 1\n"
      "spillway_x_seconds_bucket{le=\"1\"} 1\n"
      "spillway_x_seconds_bucket{le=\"+Inf\"} 2\n"
      "spillway_x_seconds_sum 3.25\n"
      "spillway_x_seconds_count 2\n"
      "# HELP spillway_g G.\n"
      "# TYPE spillway_g gauge\n"
      "# HELP spillway_metric_series_folded_total Records counted under the label value \"other\" because "
      "the metric had reached its series cap (policies.token_metrics.max_series).\n"
      "# TYPE spillway_metric_series_folded_total counter\n"
      "spillway_metric_series_folded_total{metric=\"spillway_tokens_total\"} 0\n");
}

}  // namespace
}  // namespace spillway::telemetry
