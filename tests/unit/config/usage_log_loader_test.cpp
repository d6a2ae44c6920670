#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "config/loader.h"

namespace spillway::config {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

LoadResult load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  return load_config_text(yaml, env_of(std::move(env)));
}

auto error_at(const std::string& path, const std::string& part) {
  return Contains(AllOf(Field(&ConfigError::path, path), Field(&ConfigError::message, HasSubstr(part))));
}

TEST(UsageLogConfig, AbsentOrEmptySectionMeansNoUsageLog) {
  for (const char* yaml : {"server: { workers: 1 }\n", "usage_log:\n"}) {
    LoadResult r = load(yaml);
    ASSERT_THAT(r.errors, IsEmpty()) << yaml;
    EXPECT_FALSE(r.config->usage_log.enabled) << yaml;
    EXPECT_FALSE(r.config->telemetry.otlp_enabled) << yaml;
  }
}

TEST(UsageLogConfig, EveryField) {
  LoadResult r = load(R"(
usage_log: { sqlite: /var/lib/spillway/usage.db, log_prompts: true, max_prompt_bytes: 8KiB, retention: 7d,
             flush_interval: 50ms, batch_size: 100, queue_capacity: 1000, idle_writer: false }
)");
  ASSERT_THAT(r.errors, IsEmpty());
  const UsageLogSettings& u = r.config->usage_log;
  EXPECT_TRUE(u.enabled);
  EXPECT_EQ(u.sqlite_path, "/var/lib/spillway/usage.db");
  EXPECT_TRUE(u.log_prompts);
  EXPECT_EQ(u.max_prompt_bytes, 8192u);
  EXPECT_EQ(u.retention, std::chrono::hours(24 * 7));
  EXPECT_EQ(u.flush_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(u.batch_size, 100);
  EXPECT_EQ(u.queue_capacity, 1000u);
  EXPECT_FALSE(u.idle_writer);
}

TEST(UsageLogConfig, Defaults) {
  LoadResult r = load("usage_log: {}\n");
  ASSERT_THAT(r.errors, IsEmpty());
  const UsageLogSettings& u = r.config->usage_log;
  EXPECT_TRUE(u.enabled);
  EXPECT_EQ(u.sqlite_path, "./spillway-usage.db");
  EXPECT_FALSE(u.log_prompts);
  EXPECT_EQ(u.max_prompt_bytes, 4096u);
  EXPECT_EQ(u.retention, std::chrono::hours(24 * 30));
  EXPECT_EQ(u.flush_interval, std::chrono::milliseconds(200));
  EXPECT_EQ(u.batch_size, 1024);
  EXPECT_EQ(u.queue_capacity, 65536u);
  EXPECT_TRUE(u.idle_writer);
}

TEST(UsageLogConfig, RetentionAcceptsDaysWeeksAndShorterUnits) {
  EXPECT_EQ(load("usage_log: { retention: 2w }").config->usage_log.retention, std::chrono::hours(24 * 14));
  EXPECT_EQ(load("usage_log: { retention: 12h }").config->usage_log.retention, std::chrono::hours(12));
  EXPECT_THAT(load("usage_log: { retention: 0d }").errors, error_at("usage_log.retention", "duration"));
  EXPECT_THAT(load("usage_log: { retention: soon }").errors, error_at("usage_log.retention", "duration"));
}

TEST(UsageLogConfig, PostgresIsNotAvailableYet) {
  EXPECT_THAT(load("usage_log: { postgres: \"postgres://db/usage\" }").errors,
              error_at("usage_log.postgres", "postgres is not available yet"));
}

TEST(UsageLogConfig, BadValues) {
  const auto errors = load(R"(
usage_log: { sqlite: "", log_prompts: maybe, batch_size: 0, queue_capacity: -1, flush_interval: 5m, color: red,
             idle_writer: sometimes }
)")
                          .errors;
  EXPECT_THAT(errors, error_at("usage_log.sqlite", "must not be empty"));
  EXPECT_THAT(errors, error_at("usage_log.log_prompts", "true or false"));
  EXPECT_THAT(errors, error_at("usage_log.idle_writer", "true or false"));
  EXPECT_THAT(errors, error_at("usage_log.batch_size", "between 1 and"));
  EXPECT_THAT(errors, error_at("usage_log.queue_capacity", "between 1 and"));
  EXPECT_THAT(errors, error_at("usage_log.flush_interval", "at most 60s"));
  EXPECT_THAT(errors, error_at("usage_log", "unknown key 'color'"));
  EXPECT_THAT(load("usage_log: [ a ]").errors, error_at("usage_log", "expected a mapping"));
}

TEST(OtlpConfig, Otlp) {
  LoadResult r = load(R"(
telemetry:
  otlp: https://collector.example:4318/base
  otlp_interval: 2s
  otlp_timeout: 1s
  otlp_headers: { X-Team: platform }
  otlp_headers_env: { Authorization: OTLP_TOKEN }
  otlp_queue_capacity: 10
  otlp_max_attempts: 3
)",
                      {{"OTLP_TOKEN", "Bearer secret-otlp-value"}});
  ASSERT_THAT(r.errors, IsEmpty());
  const TelemetrySettings& t = r.config->telemetry;
  EXPECT_TRUE(t.otlp_enabled);
  EXPECT_EQ(t.otlp_url, "https://collector.example:4318/base");
  EXPECT_TRUE(t.otlp_tls);
  EXPECT_EQ(t.otlp_host, "collector.example");
  EXPECT_EQ(t.otlp_port, 4318);
  EXPECT_EQ(t.otlp_base_path, "/base");
  EXPECT_EQ(t.otlp_interval, std::chrono::seconds(2));
  EXPECT_EQ(t.otlp_timeout, std::chrono::seconds(1));
  EXPECT_EQ(t.otlp_headers, (std::vector<std::pair<std::string, std::string>>{
                                {"x-team", "platform"}, {"authorization", "Bearer secret-otlp-value"}}));
  EXPECT_EQ(t.otlp_queue_capacity, 10u);
  EXPECT_EQ(t.otlp_max_attempts, 3);
}

TEST(OtlpConfig, OtlpErrorsNeverShowHeaderValues) {
  LoadResult r = load(R"(
telemetry:
  otlp: ftp://collector
  otlp_headers: { "bad header": v, host: x }
  otlp_headers_env: { authorization: MISSING_VAR }
  otlp_max_attempts: 0
)");
  EXPECT_THAT(r.errors, error_at("telemetry.otlp", ""));
  EXPECT_THAT(r.errors, error_at("telemetry.otlp_headers.bad header", "not a valid header name"));
  EXPECT_THAT(r.errors, error_at("telemetry.otlp_headers.host", "set by the exporter"));
  EXPECT_THAT(r.errors, error_at("telemetry.otlp_headers_env.authorization", "MISSING_VAR is not set"));
  EXPECT_THAT(r.errors, error_at("telemetry.otlp_max_attempts", "between 1 and 100"));
  LoadResult ok = load("telemetry: { otlp: http://127.0.0.1:4318, otlp_headers_env: { authorization: T } }",
                       {{"T", "very-secret-token"}});
  ASSERT_THAT(ok.errors, IsEmpty());
  for (const auto& w : ok.warnings) EXPECT_THAT(w, Not(HasSubstr("very-secret-token")));
}

}  // namespace
}  // namespace spillway::config
