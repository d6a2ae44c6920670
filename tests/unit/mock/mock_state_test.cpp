#include "mock/mock_state.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "mock/mock_bodies.h"

namespace spillway::mock {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Completion completion(std::string_view id, int64_t prompt, int64_t completion_tokens) {
  Completion c;
  c.id = id;
  c.created = 1;
  c.model = "m";
  c.prompt_tokens = prompt;
  c.completion_tokens = completion_tokens;
  return c;
}

TEST(TokenWindow, AdmitsBelowCapacityAndOvershootsOnce) {
  TokenWindow window(100);
  const auto t0 = TokenWindow::Clock::time_point{} + seconds(1000);
  auto d = window.try_admit(60, t0);
  EXPECT_TRUE(d.admitted);
  EXPECT_EQ(d.remaining, 40);
  d = window.try_admit(60, t0 + seconds(10));  // 60 < 100: admitted, now 120
  EXPECT_TRUE(d.admitted);
  EXPECT_EQ(d.remaining, 0);
  d = window.try_admit(1, t0 + seconds(20));
  EXPECT_FALSE(d.admitted);
  // Dropping the first entry (at t0 + 60 s) leaves 60 < 100.
  EXPECT_EQ(d.retry_after, milliseconds(40000));
  d = window.try_admit(1, t0 + seconds(60));
  EXPECT_TRUE(d.admitted);
  EXPECT_EQ(d.remaining, 39);
}

TEST(TokenWindow, RetryAfterWaitsForEnoughEntries) {
  TokenWindow window(100);
  const auto t0 = TokenWindow::Clock::time_point{} + seconds(1000);
  ASSERT_TRUE(window.try_admit(50, t0).admitted);
  ASSERT_TRUE(window.try_admit(30, t0 + seconds(5)).admitted);
  ASSERT_TRUE(window.try_admit(40, t0 + seconds(7)).admitted);  // 120
  // Expiring 50 leaves 70 < 100.
  EXPECT_EQ(window.try_admit(1, t0 + milliseconds(9500)).retry_after, milliseconds(50500));
  window.clear();
  EXPECT_TRUE(window.try_admit(1, t0 + seconds(10)).admitted);
}

TEST(TokenWindow, MergesCloseEntriesAndExpiresThemLate) {
  TokenWindow window(100);
  const auto t0 = TokenWindow::Clock::time_point{} + seconds(1000);
  ASSERT_TRUE(window.try_admit(60, t0).admitted);
  ASSERT_TRUE(window.try_admit(60, t0 + milliseconds(5)).admitted);  // joins the first entry
  const auto refused = window.try_admit(1, t0 + seconds(1));
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retry_after, milliseconds(59005));
  EXPECT_FALSE(window.try_admit(1, t0 + milliseconds(60004)).admitted);
  EXPECT_TRUE(window.try_admit(1, t0 + milliseconds(60005)).admitted);
}

TEST(FailDice, SameSeedSameSequence) {
  FailDice a(0.5, 7), b(0.5, 7);
  int failures = 0;
  for (int i = 0; i < 1000; ++i) {
    const bool roll = a.roll();
    EXPECT_EQ(roll, b.roll());
    failures += roll;
  }
  EXPECT_GT(failures, 400);
  EXPECT_LT(failures, 600);
  FailDice never(0, 7), always(1, 7);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(never.roll());
    EXPECT_TRUE(always.roll());
  }
}

TEST(RequestLog, KeepsTheNewestInOrder) {
  RequestLog log(2);
  EXPECT_EQ(log.to_json(), "[]");
  log.add("1");
  log.add("2");
  log.add("3");
  EXPECT_EQ(log.to_json(), "[2,3]");
  log.clear();
  EXPECT_EQ(log.to_json(), "[]");
}

TEST(MockBodies, ChatCompletionIsExact) {
  Completion c = completion("chatcmpl-mock-1", 3, 2);
  c.created = 5;
  c.cached_tokens = 1;
  std::string out;
  append_completion_body(out, Operation::kChat, c);
  EXPECT_EQ(
      out,
      R"({"id":"chatcmpl-mock-1","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,)"
      R"("message":{"role":"assistant","content":"w1 w2 "},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,)"
      R"("completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1}}})");
  c.usage = false;
  out.clear();
  append_completion_body(out, Operation::kResponse, c);
  EXPECT_EQ(
      out,
      R"({"id":"chatcmpl-mock-1","object":"response","status":"completed","model":"m","output":[{"type":)"
      R"("message","role":"assistant","content":[{"type":"output_text","text":"w1 w2 "}]}]})");
}

TEST(MockBodies, EmbeddingsAreDeterministicUnitVectors) {
  const uint64_t hashes[] = {embedding_input_hash("hello", 0), embedding_input_hash("world", 0)};
  std::string a, b;
  append_embeddings_body(a, hashes, 2, "emb", 4, true);
  append_embeddings_body(b, hashes, 2, "emb", 4, true);
  EXPECT_EQ(a, b);
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(a);
  simdjson::dom::array data = doc["data"];
  ASSERT_EQ(data.size(), 2u);
  double norm = 0;
  for (double x : simdjson::dom::array(data.at(0)["embedding"])) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_NE(std::string(simdjson::minify(data.at(0)["embedding"])),
            std::string(simdjson::minify(data.at(1)["embedding"])));
  EXPECT_EQ(int64_t(doc["usage"]["total_tokens"]), 4);
}

TEST(EventStream, ChatWithUsage) {
  const Completion c = completion("x", 2, 2);
  EventStream events(Operation::kChat, c, true);
  std::vector<std::string> out;
  for (std::string e; events.next(e); e.clear()) out.push_back(e);
  ASSERT_EQ(out.size(), 6u);  // role, w1, w2, finish, usage, [DONE]
  EXPECT_EQ(
      out[0],
      "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":"
      "[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],"
      "\"usage\":null}\n\n");
  EXPECT_NE(out[2].find(R"("delta":{"content":"w2 "})"), std::string::npos);
  EXPECT_NE(out[3].find(R"("delta":{},"finish_reason":"stop")"), std::string::npos);
  EXPECT_NE(out[4].find(R"("choices":[],"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4,)"),
            std::string::npos);
  EXPECT_EQ(out[5], "data: [DONE]\n\n");
  EXPECT_TRUE(events.done());
}

TEST(EventStream, ResponsesEvents) {
  const Completion c = completion("resp_mock_1", 2, 1);
  EventStream events(Operation::kResponse, c, false);
  std::vector<std::string> out;
  for (std::string e; events.next(e); e.clear()) out.push_back(e);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].starts_with("event: response.created\ndata: "));
  EXPECT_TRUE(out[1].starts_with("event: response.output_text.delta\ndata: "));
  EXPECT_NE(out[1].find(R"("delta":"w1 ")"), std::string::npos);
  EXPECT_TRUE(out[2].starts_with("event: response.completed\ndata: "));
  EXPECT_NE(out[2].find(R"("usage":{"input_tokens":2,"output_tokens":1,"total_tokens":3,)"),
            std::string::npos);
}

}  // namespace
}  // namespace spillway::mock
