// Tool-name extraction of api::inspect_body (RequestFields::tools), which the tool dimension uses.

#include <gtest/gtest.h>

#include "api/request_body.h"

namespace spillway::api {
namespace {

std::vector<std::string> tools_of(std::string_view body, Operation op = Operation::kChatCompletions) {
  Route route;
  route.op = op;
  auto result = inspect_body(body, route);
  if (auto* e = std::get_if<ApiError>(&result)) {
    ADD_FAILURE() << e->message;
    return {};
  }
  return std::get<RequestFields>(result).tools;
}

using Names = std::vector<std::string>;

TEST(ToolNames, ChatToolsAndLegacyFunctions) {
  EXPECT_EQ(tools_of(R"({"model":"m","messages":[],"tools":[
      {"type":"function","function":{"name":"get_weather","parameters":{}}},
      {"type":"function","function":{"name":"search"}},
      {"type":"function","function":{"name":"get_weather"}}]})"),
            (Names{"get_weather", "search"}));
  EXPECT_EQ(tools_of(R"({"model":"m","messages":[],"functions":[{"name":"f1"},{"name":"f2"}]})"),
            (Names{"f1", "f2"}));
  EXPECT_EQ(tools_of(R"({"model":"m","messages":[]})"), Names{});
}

TEST(ToolNames, ResponsesApiFunctionAndBuiltInTools) {
  EXPECT_EQ(tools_of(R"({"model":"m","input":"hi","tools":[
      {"type":"function","name":"lookup","parameters":{}},
      {"type":"web_search_preview"}]})",
                     Operation::kResponses),
            (Names{"lookup", "web_search_preview"}));
}

TEST(ToolNames, MalformedEntriesAreSkippedNotRejected) {
  EXPECT_EQ(tools_of(R"({"model":"m","messages":[],"tools":[1,"x",{},{"function":{"name":7}},
      {"function":{}},{"function":{"name":""}},{"type":"function"},{"function":{"name":"ok"}}]})"),
            (Names{"ok"}));
  EXPECT_EQ(tools_of(R"({"model":"m","messages":[],"tools":{"function":{"name":"x"}}})"), Names{});
  EXPECT_EQ(tools_of(R"({"model":"m","messages":[],"tools":null})"), Names{});
}

}  // namespace
}  // namespace spillway::api
