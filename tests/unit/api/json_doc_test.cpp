#include "api/json_doc.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace spillway::api {
namespace {

std::string name_of(const ParsedJson& doc) {
  std::string_view v;
  EXPECT_EQ(doc.root()["name"].get_string().get(v), simdjson::SUCCESS);
  return std::string(v);
}

// Retained documents stay valid while other documents, retained or not, are parsed on the same thread,
// and parsers handed back to the pool parse the next documents correctly (small and large ones).
TEST(ParsedJson, RetainedDocumentsOutliveOtherParses) {
  std::vector<std::shared_ptr<const ParsedJson>> kept;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 20; ++i) {
      std::string json =
          R"({"name":"doc-)" + std::to_string(round) + "-" + std::to_string(i) + R"(","pad":")";
      json +=
          std::string(static_cast<std::size_t>(i) * 1500, 'x');  // up to ~28 KB: both sides of the pool limit
      json += "\"}";
      kept.push_back(ParsedJson::retain(json));
      const ParsedJson scratch(R"({"name":"scratch"})");
      ASSERT_EQ(scratch.error(), simdjson::SUCCESS);
      EXPECT_EQ(name_of(scratch), "scratch");
    }
    for (int i = 0; i < 20; ++i) {
      const ParsedJson& doc = *kept[kept.size() - 20 + static_cast<std::size_t>(i)];
      ASSERT_EQ(doc.error(), simdjson::SUCCESS);
      EXPECT_EQ(name_of(doc), "doc-" + std::to_string(round) + "-" + std::to_string(i));
    }
    if (round == 1) kept.clear();  // hand parsers back mid-way; the next round reuses them
  }
}

TEST(ParsedJson, RetainedReportsErrors) {
  const auto doc = ParsedJson::retain("{\"name\":");
  EXPECT_NE(doc->error(), simdjson::SUCCESS);
  const auto next = ParsedJson::retain(R"({"name":"ok"})");
  ASSERT_EQ(next->error(), simdjson::SUCCESS);
  EXPECT_EQ(name_of(*next), "ok");
}

}  // namespace
}  // namespace spillway::api
