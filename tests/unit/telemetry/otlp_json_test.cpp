#include "telemetry/otlp_json.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>

#include "usage_test_util.h"

namespace spillway::telemetry {
namespace {

using test_util::sample_record;

// The attributes of an OTLP JSON object as key -> the JSON of the value.
std::map<std::string, std::string> attributes(simdjson::dom::element e) {
  std::map<std::string, std::string> out;
  for (simdjson::dom::element kv : e["attributes"].get_array()) {
    out[std::string(std::string_view(kv["key"]))] = simdjson::minify(kv["value"]);
  }
  return out;
}

TEST(OtlpJson, LogsCarryEveryFieldAsAttributes) {
  UsageRecord r = sample_record(1'750'000'000'123, "req-\"1\"");
  r.tools = {"search", "weather"};
  r.prompt = "the prompt";
  std::vector<UsageRecord> records{r, sample_record(1'750'000'000'200, "req-2")};
  records[1].status = 502;
  OtlpResource resource{.service_name = "spillway", .service_version = "0.1.0", .host_name = "h1"};
  const std::string json = encode_logs(records, resource, 1'750'000'001'000'000'000);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  simdjson::dom::element rl = doc["resourceLogs"].at(0);
  auto res = attributes(rl["resource"]);
  EXPECT_EQ(res["service.name"], R"({"stringValue":"spillway"})");
  EXPECT_EQ(res["service.version"], R"({"stringValue":"0.1.0"})");
  EXPECT_EQ(res["host.name"], R"({"stringValue":"h1"})");
  simdjson::dom::element sl = rl["scopeLogs"].at(0);
  EXPECT_EQ(std::string_view(sl["scope"]["name"]), "spillway.usage");
  simdjson::dom::array logs = sl["logRecords"];
  ASSERT_EQ(logs.size(), 2u);
  simdjson::dom::element first = logs.at(0);
  EXPECT_EQ(std::string_view(first["timeUnixNano"]), "1750000000123000000");
  EXPECT_EQ(std::string_view(first["observedTimeUnixNano"]), "1750000001000000000");
  EXPECT_EQ(int64_t(first["severityNumber"]), 9);
  EXPECT_EQ(int64_t(logs.at(1)["severityNumber"]), 13);  // 5xx
  auto a = attributes(first);
  EXPECT_EQ(a["event.name"], R"({"stringValue":"spillway.usage"})");
  EXPECT_EQ(a["request_id"], R"({"stringValue":"req-\"1\""})");
  EXPECT_EQ(a["subscription"], R"({"stringValue":"team-a"})");
  EXPECT_EQ(a["tag.team"], R"({"stringValue":"search"})");
  EXPECT_EQ(a["tools"], R"({"arrayValue":{"values":[{"stringValue":"search"},{"stringValue":"weather"}]}})");
  EXPECT_EQ(a["prompt_tokens"], R"({"intValue":"10"})");
  EXPECT_EQ(a["completion_tokens"], R"({"intValue":"20"})");
  EXPECT_EQ(a["total_tokens"], R"({"intValue":"30"})");
  EXPECT_EQ(a["status"], R"({"intValue":"200"})");
  EXPECT_EQ(a["stream"], R"({"boolValue":false})");
  EXPECT_EQ(a["ttft_ms"], R"({"doubleValue":12.5})");
  EXPECT_EQ(a["prompt"], R"({"stringValue":"the prompt"})");
  EXPECT_EQ(a.count("completion"), 0u);
  EXPECT_EQ(a.count("error"), 0u);
}

TEST(OtlpJson, TokenSumsAreCumulativeMonotonicSums) {
  TokenSums sums(1'000);
  EXPECT_TRUE(sums.empty());
  sums.add(sample_record(1, "a", "team-a", 10, 20));
  sums.add(sample_record(2, "b", "team-a", 1, 2));
  UsageRecord failed = sample_record(3, "c", "team-b", 0, 0);
  failed.status = 429;
  sums.add(failed);
  const std::string json = sums.encode(OtlpResource{}, 5'000);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  simdjson::dom::array metrics = doc["resourceMetrics"].at(0)["scopeMetrics"].at(0)["metrics"];
  ASSERT_EQ(metrics.size(), 2u);
  simdjson::dom::element tokens = metrics.at(0);
  EXPECT_EQ(std::string_view(tokens["name"]), "spillway.tokens");
  EXPECT_EQ(int64_t(tokens["sum"]["aggregationTemporality"]), 2);
  EXPECT_TRUE(bool(tokens["sum"]["isMonotonic"]));
  std::map<std::string, std::string> team_a;  // kind -> value
  for (simdjson::dom::element p : tokens["sum"]["dataPoints"].get_array()) {
    auto a = attributes(p);
    EXPECT_EQ(std::string_view(p["startTimeUnixNano"]), "1000");
    EXPECT_EQ(std::string_view(p["timeUnixNano"]), "5000");
    if (a["subscription"] == R"({"stringValue":"team-a"})")
      team_a[a["kind"]] = std::string(std::string_view(p["asInt"]));
  }
  EXPECT_EQ(team_a[R"({"stringValue":"prompt"})"], "11");
  EXPECT_EQ(team_a[R"({"stringValue":"completion"})"], "22");
  EXPECT_EQ(team_a[R"({"stringValue":"total"})"], "33");
  simdjson::dom::element requests = metrics.at(1);
  EXPECT_EQ(std::string_view(requests["name"]), "spillway.requests");
  std::map<std::string, std::string> by_status;
  for (simdjson::dom::element p : requests["sum"]["dataPoints"].get_array()) {
    by_status[attributes(p)["status"]] = std::string(std::string_view(p["asInt"]));
  }
  EXPECT_EQ(by_status[R"({"stringValue":"200"})"], "2");
  EXPECT_EQ(by_status[R"({"stringValue":"429"})"], "1");
}

TEST(OtlpJson, SeriesBeyondTheCapFoldIntoOther) {
  TokenSums sums(0, 2);
  for (int i = 0; i < 5; ++i) sums.add(sample_record(1, "r", "team-" + std::to_string(i), 1, 1));
  const std::string json = sums.encode(OtlpResource{}, 1);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS);
  simdjson::dom::array points =
      doc["resourceMetrics"].at(0)["scopeMetrics"].at(0)["metrics"].at(0)["sum"]["dataPoints"];
  EXPECT_EQ(points.size(), 3u * 4u);  // team-0, team-1, other; 4 kinds each
  int64_t other_total = 0;
  for (simdjson::dom::element p : points) {
    auto a = attributes(p);
    if (a["subscription"] == R"({"stringValue":"other"})" && a["kind"] == R"({"stringValue":"total"})") {
      other_total = std::stoll(std::string(std::string_view(p["asInt"])));
    }
  }
  EXPECT_EQ(other_total, 6);  // 3 records of 2 tokens
}

}  // namespace
}  // namespace spillway::telemetry
