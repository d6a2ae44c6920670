#include "telemetry/usage_query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sqlite3.h>

#include "telemetry/usage_db.h"
#include "usage_test_util.h"

namespace spillway::telemetry {
namespace {

using test_util::sample_record;
using test_util::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kHour = 3'600'000;
constexpr int64_t kT0 = 1'750'000'000'000 - 1'750'000'000'000 % kHour;  // an hour boundary

UsageDimension dim(std::string_view text) {
  std::string error;
  auto d = parse_dimension(text, error);
  EXPECT_TRUE(d) << error;
  return d.value_or(UsageDimension{});
}

TEST(UsageQueryParse, Dimensions) {
  std::string error;
  EXPECT_EQ(dim("subscription").name, "subscription");
  EXPECT_EQ(dim("user").name, "user_hash");
  EXPECT_EQ(dim("tool").kind, UsageDimension::Kind::kTool);
  EXPECT_EQ(dim("tag:team").kind, UsageDimension::Kind::kTag);
  EXPECT_EQ(dim("tag:team").label(), "tag:team");
  EXPECT_FALSE(parse_dimension("prompt", error));  // not a dimension
  EXPECT_THAT(error, HasSubstr("unknown dimension"));
  EXPECT_FALSE(parse_dimension("tag:", error));
  EXPECT_FALSE(parse_dimension("tag:a'b", error));
  EXPECT_FALSE(parse_dimension("ts; DROP TABLE usage", error));
}

TEST(UsageQueryParse, MetricsAndSpans) {
  EXPECT_EQ(parse_metric("requests"), UsageMetric::kRequests);
  EXPECT_EQ(parse_metric("cached_tokens"), UsageMetric::kCachedTokens);
  EXPECT_FALSE(parse_metric("tokens"));
  EXPECT_EQ(parse_span("24h"), std::chrono::hours(24));
  EXPECT_EQ(parse_span("15m"), std::chrono::minutes(15));
  EXPECT_EQ(parse_span("7d"), std::chrono::hours(24 * 7));
  EXPECT_EQ(parse_span("2w"), std::chrono::hours(24 * 14));
  EXPECT_EQ(parse_span("90s"), std::chrono::seconds(90));
  EXPECT_FALSE(parse_span("0h"));
  EXPECT_FALSE(parse_span("1.5h"));
  EXPECT_FALSE(parse_span("h"));
  EXPECT_FALSE(parse_span("3y"));
}

TEST(UsageQuerySql, TopGroupsOrdersAndLimitsWithBoundValuesOnly) {
  UsageQuery q;
  q.dim = dim("tag:team");
  q.metric = UsageMetric::kPromptTokens;
  q.since_ms = 123;
  q.limit = 5;
  const Sql sql = build_usage_sql(q);
  EXPECT_THAT(sql.text, HasSubstr("json_extract(u.tags, ?4)"));
  EXPECT_THAT(sql.text, HasSubstr("WHERE u.ts >= ?1"));
  EXPECT_THAT(sql.text, HasSubstr("GROUP BY k ORDER BY prompt_tokens DESC, k LIMIT ?2"));
  EXPECT_THAT(sql.text, Not(HasSubstr("team")));  // the tag name is a bound value
  ASSERT_EQ(sql.binds.size(), 4u);
  EXPECT_EQ(std::get<int64_t>(sql.binds[0]), 123);
  EXPECT_EQ(std::get<int64_t>(sql.binds[1]), 5);
  EXPECT_EQ(std::get<std::string>(sql.binds[3]), "$.\"team\"");
}

TEST(UsageQuerySql, ToolsComeFromTheJsonArray) {
  UsageQuery q;
  q.dim = dim("tool");
  q.metric = UsageMetric::kRequests;
  const Sql sql = build_usage_sql(q);
  EXPECT_THAT(sql.text, HasSubstr("json_each(u.tools) AS t"));
  EXPECT_THAT(sql.text, HasSubstr("ORDER BY requests DESC"));
}

TEST(UsageQuerySql, SeriesBucketsByEvery) {
  UsageQuery q;
  q.series = true;
  q.limit = 0;
  q.dim = dim("deployment");
  const Sql sql = build_usage_sql(q);
  EXPECT_THAT(sql.text, HasSubstr("(u.ts / ?3) * ?3 AS bucket"));
  EXPECT_THAT(sql.text, HasSubstr("GROUP BY bucket, k ORDER BY bucket, total_tokens DESC, k"));
  EXPECT_THAT(sql.text, Not(HasSubstr("LIMIT")));
  q.limit = 3;
  EXPECT_THAT(build_usage_sql(q).text, HasSubstr("LIMIT ?2)"));
}

class UsageQueryDb : public ::testing::Test {
 protected:
  void SetUp() override {
    UsageDb db(path_);
    std::vector<UsageRecord> rs;
    auto add = [&](int64_t t, const char* id, const char* sub, int64_t p, int64_t c,
                   std::vector<std::string> tools, const char* deployment,
                   std::vector<std::pair<std::string, std::string>> tags) {
      UsageRecord r = sample_record(t, id, sub, p, c);
      r.tools = std::move(tools);
      r.deployment = deployment;
      r.tags = std::move(tags);
      rs.push_back(std::move(r));
    };
    add(kT0 + 10, "a1", "team-a", 10, 20, {"search"}, "d1", {{"team", "a"}});
    add(kT0 + 20, "a2", "team-a", 5, 5, {"search", "weather"}, "d2", {{"team", "a"}});
    add(kT0 + kHour + 5, "b1", "team-b", 100, 1, {}, "d1", {{"team", "b"}});
    add(kT0 + kHour + 6, "n1", "", 1, 1, {"search"}, "d1", {});
    add(kT0 - 10, "old", "team-old", 1000, 1000, {}, "d1", {});  // before `since`
    std::string error;
    ASSERT_TRUE(db.insert(rs, error)) << error;
  }
  std::vector<UsageRow> run(UsageQuery q) {
    q.since_ms = kT0;
    return run_usage_query(path_, q);
  }
  TempDir dir_;
  std::string path_ = dir_.file("u.db");
};

TEST_F(UsageQueryDb, TopBySubscriptionSumsTokens) {
  UsageQuery q;
  q.dim = dim("subscription");
  const auto rows = run(q);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].key, "team-b");
  EXPECT_EQ(rows[0].total_tokens, 101);
  EXPECT_EQ(rows[1].key, "team-a");
  EXPECT_EQ(rows[1].total_tokens, 40);
  EXPECT_EQ(rows[1].prompt_tokens, 15);
  EXPECT_EQ(rows[1].requests, 2);
  EXPECT_FALSE(rows[2].key);  // no subscription
  q.limit = 1;
  EXPECT_EQ(run(q).size(), 1u);
}

TEST_F(UsageQueryDb, HottestToolsByRequests) {
  UsageQuery q;
  q.dim = dim("tool");
  q.metric = UsageMetric::kRequests;
  const auto rows = run(q);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].key, "search");
  EXPECT_EQ(rows[0].requests, 3);
  EXPECT_EQ(rows[1].key, "weather");
  EXPECT_EQ(rows[1].requests, 1);
}

TEST_F(UsageQueryDb, TopByTag) {
  UsageQuery q;
  q.dim = dim("tag:team");
  const auto rows = run(q);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].key, "b");
  EXPECT_EQ(rows[1].key, "a");
  EXPECT_FALSE(rows[2].key);
}

TEST_F(UsageQueryDb, SeriesPerDeploymentPerHour) {
  UsageQuery q;
  q.series = true;
  q.limit = 0;
  q.dim = dim("deployment");
  q.every_ms = kHour;
  const auto rows = run(q);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].bucket_ms, kT0);
  EXPECT_EQ(rows[0].key, "d1");
  EXPECT_EQ(rows[0].total_tokens, 30);
  EXPECT_EQ(rows[1].bucket_ms, kT0);
  EXPECT_EQ(rows[1].key, "d2");
  EXPECT_EQ(rows[2].bucket_ms, kT0 + kHour);
  EXPECT_EQ(rows[2].key, "d1");
  EXPECT_EQ(rows[2].total_tokens, 103);
  EXPECT_EQ(rows[2].requests, 2);

  q.limit = 1;  // only the biggest deployment overall
  const auto top1 = run(q);
  ASSERT_EQ(top1.size(), 2u);
  EXPECT_EQ(top1[0].key, "d1");
  EXPECT_EQ(top1[1].key, "d1");
}

TEST_F(UsageQueryDb, MissingFileAndForeignFileAreErrors) {
  UsageQuery q;
  q.dim = dim("api");
  EXPECT_THROW(run_usage_query(dir_.file("nope.db"), q), std::runtime_error);
  // A SQLite file without the usage table.
  const std::string other = dir_.file("other.db");
  sqlite3* raw = nullptr;
  sqlite3_open(other.c_str(), &raw);
  sqlite3_exec(raw, "CREATE TABLE x(y)", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  try {
    run_usage_query(other, q);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a spillway usage log"));
  }
}

TEST(UsageQueryFormat, TopTable) {
  UsageQuery q;
  q.dim = dim("subscription");
  q.since_ms = kT0;
  std::vector<UsageRow> rows(2);
  rows[0].key = "team-a";
  rows[0].requests = 2;
  rows[0].prompt_tokens = 15;
  rows[0].completion_tokens = 25;
  rows[0].total_tokens = 40;
  rows[1].requests = 1;
  rows[1].total_tokens = 7;
  const std::string table = format_usage_table(q, rows);
  EXPECT_EQ(table,
            "top 20 subscription by total_tokens since " + iso_utc(kT0) +
                " (24h)\n"
                "#  SUBSCRIPTION  REQUESTS  PROMPT_TOKENS  COMPLETION_TOKENS  TOTAL_TOKENS  CACHED_TOKENS\n"
                "1  team-a               2             15                 25            40              0\n"
                "2  (none)               1              0                  0             7              0\n");
  EXPECT_THAT(format_usage_table(q, {}), HasSubstr("no usage records"));
}

TEST(UsageQueryFormat, SeriesTableAndJson) {
  UsageQuery q;
  q.series = true;
  q.limit = 0;
  q.dim = dim("deployment");
  q.since_ms = kT0;
  q.every_text = "1h";
  std::vector<UsageRow> rows(1);
  rows[0].bucket_ms = kT0;
  rows[0].key = "d\"1";
  rows[0].total_tokens = 30;
  rows[0].requests = 1;
  EXPECT_THAT(format_usage_table(q, rows),
              HasSubstr(iso_utc(kT0) + "  d\"1                   30         1\n"));

  const std::string json = format_usage_json(q, rows);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(std::string_view(doc["query"]), "series");
  EXPECT_EQ(std::string_view(doc["by"]), "deployment");
  EXPECT_EQ(std::string_view(doc["every"]), "1h");
  EXPECT_EQ(int64_t(doc["every_ms"]), 3'600'000);
  EXPECT_EQ(std::string_view(doc["rows"].at(0)["key"]), "d\"1");
  EXPECT_EQ(int64_t(doc["rows"].at(0)["value"]), 30);
  EXPECT_EQ(int64_t(doc["rows"].at(0)["bucket_ms"]), kT0);
  EXPECT_EQ(std::string_view(doc["rows"].at(0)["bucket"]), iso_utc(kT0));
}

TEST(UsageQueryFormat, TopJsonHasNullForNoKey) {
  UsageQuery q;
  q.dim = dim("user_hash");
  q.metric = UsageMetric::kRequests;
  std::vector<UsageRow> rows(1);
  rows[0].requests = 4;
  rows[0].total_tokens = 9;
  const std::string json = format_usage_json(q, rows);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_TRUE(doc["rows"].at(0)["key"].is_null());
  EXPECT_EQ(int64_t(doc["rows"].at(0)["value"]), 4);
  EXPECT_EQ(int64_t(doc["rows"].at(0)["total_tokens"]), 9);
  EXPECT_EQ(int64_t(doc["limit"]), 20);
  EXPECT_EQ(std::string_view(doc["metric"]), "requests");
}

TEST(UsageQueryFormat, IsoUtc) { EXPECT_EQ(iso_utc(0), "1970-01-01T00:00:00Z"); }

}  // namespace
}  // namespace spillway::telemetry
