#include "tokenizer/estimate.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>
#include <utility>

#include "tokenizer/tokenizer.h"

namespace spillway::tokenizer {
namespace {

constexpr Encoding kCl = Encoding::kCl100kBase;
constexpr Encoding kO2 = Encoding::kO200kBase;

// The example of OpenAI's cookbook "How to count tokens with tiktoken"; the API reported 129 prompt tokens
// for gpt-3.5-turbo / gpt-4 (cl100k_base) and 124 for gpt-4o (o200k_base).
constexpr const char* kCookbookChat = R"({"model":"gpt-4o","messages":[
 {"role":"system","content":"You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
 {"role":"system","name":"example_user","content":"New synergies will help drive top-line growth."},
 {"role":"system","name":"example_assistant","content":"Things working well together will increase revenue."},
 {"role":"system","name":"example_user","content":"Let's circle back when we have more time to touch base on opportunities for increased leverage."},
 {"role":"system","name":"example_assistant","content":"Let's talk later when we're less busy about how to do better."},
 {"role":"user","content":"This late pivot means we don't have time to boil the ocean for the client deliverable."}]})";

// The cookbook's function-calling example: 105 prompt tokens (gpt-3.5-turbo, gpt-4), 101 (gpt-4o).
constexpr const char* kCookbookTools = R"({"model":"gpt-4o","messages":[
 {"role":"system","content":"You are a helpful assistant that can answer to questions about the weather."},
 {"role":"user","content":"What's the weather like in San Francisco?"}],
 "tools":[{"type":"function","function":{"name":"get_current_weather",
   "description":"Get the current weather in a given location",
   "parameters":{"type":"object","properties":{
     "location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},
     "unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},
   "required":["location"]}}}]})";

TEST(Estimate, ChatFollowsTheCookbook) {
  EXPECT_EQ(estimate_prompt_tokens(kCl, "chat.completions", kCookbookChat), 129);
  EXPECT_EQ(estimate_prompt_tokens(kO2, "chat.completions", kCookbookChat), 124);
}

TEST(Estimate, ToolsFollowTheCookbook) {
  EXPECT_EQ(estimate_prompt_tokens(kCl, "chat.completions", kCookbookTools), 105);
  EXPECT_EQ(estimate_prompt_tokens(kO2, "chat.completions", kCookbookTools), 101);
}

// Legacy `functions` count as `tools` do, both when both are given; a structured-output schema counts the
// tokens of its minified JSON (chat's response_format.json_schema, the Responses API's text.format.schema);
// of a key given twice, the first counts.
TEST(Estimate, FunctionsAndSchemasCountWithTheTools) {
  const std::string msgs = R"("messages":[{"role":"user","content":"hi"}])";
  const std::string fn =
      R"({"name":"get_weather","description":"Get the weather.","parameters":{"type":"object",)"
      R"("properties":{"city":{"type":"string","description":"The city"}}}})";
  const auto chat = [](const std::string& body) {
    return estimate_prompt_tokens(kO2, "chat.completions", body);
  };
  const int64_t bare = chat("{" + msgs + "}");
  const int64_t with_tools = chat("{" + msgs + R"(,"tools":[{"type":"function","function":)" + fn + "}]}");
  const int64_t with_functions = chat("{" + msgs + R"(,"functions":[)" + fn + "]}");
  EXPECT_GT(with_tools, bare + 10);
  EXPECT_EQ(with_functions, with_tools);
  EXPECT_EQ(chat("{" + msgs + R"(,"functions":[)" + fn + R"(],"tools":[{"type":"function","function":)" + fn +
                 "}]}"),
            2 * with_tools - bare);
  EXPECT_EQ(chat("{" + msgs + R"(,"tools":[{"type":"function","function":)" + fn + R"(}],"tools":[])" + "}"),
            with_tools);

  const std::string schema = R"({"type":"object","properties":{"answer":{"type":"string"}}})";
  const int64_t schema_tokens = static_cast<int64_t>(count_tokens(kO2, schema));
  EXPECT_EQ(chat("{" + msgs + R"(,"response_format":{"type":"json_schema","json_schema":)" + schema + "}}"),
            bare + schema_tokens);
  EXPECT_EQ(chat("{" + msgs + R"(,"text":{"format":{"type":"json_schema","schema":)" + schema + "}}}"),
            bare + schema_tokens);
}

TEST(Estimate, MessageOverheadAndNames) {
  // 3 priming + 3 per message + role + content (+1 and the name's tokens with a name).
  const int64_t one = estimate_prompt_tokens(kO2, "chat.completions",
                                             R"({"messages":[{"role":"user","content":"hello world"}]})");
  EXPECT_EQ(one, 3 + 3 + static_cast<int64_t>(count_tokens(kO2, "user") + count_tokens(kO2, "hello world")));
  const int64_t named = estimate_prompt_tokens(
      kO2, "chat.completions", R"({"messages":[{"role":"user","name":"bob","content":"hello world"}]})");
  EXPECT_EQ(named, one + 1 + static_cast<int64_t>(count_tokens(kO2, "bob")));
}

TEST(Estimate, ContentPartsImagesAndToolCalls) {
  const int64_t parts =
      estimate_prompt_tokens(kO2, "chat.completions", R"({"messages":[{"role":"user","content":[
      {"type":"text","text":"hello world"},
      {"type":"image_url","image_url":{"url":"https://x/y.png","detail":"low"}},
      {"type":"image_url","image_url":{"url":"https://x/z.png"}}]}]})");
  EXPECT_EQ(parts, 3 + 3 + 1 + 2 + 85 + 765);
  const int64_t calls = estimate_prompt_tokens(kO2, "chat.completions", R"({"messages":[{"role":"assistant",
      "tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}]})");
  EXPECT_EQ(calls,
            3 + 3 +
                static_cast<int64_t>(count_tokens(kO2, "assistant") + count_tokens(kO2, "get_weather") +
                                     count_tokens(kO2, "{\"city\":\"Paris\"}")));
}

TEST(Estimate, CompletionsAndEmbeddings) {
  EXPECT_EQ(estimate_prompt_tokens(kCl, "completions", R"({"prompt":"hello world"})"), 2);
  EXPECT_EQ(estimate_prompt_tokens(kCl, "completions", R"({"prompt":["hello world","hello"]})"), 3);
  EXPECT_EQ(estimate_prompt_tokens(kCl, "completions", R"({"prompt":[1,2,3,4]})"), 4);
  EXPECT_EQ(estimate_prompt_tokens(kCl, "embeddings", R"({"input":"hello world"})"), 2);
  EXPECT_EQ(estimate_prompt_tokens(kCl, "embeddings", R"({"input":["hello world","hello world"]})"), 4);
  EXPECT_EQ(estimate_prompt_tokens(kCl, "embeddings", R"({"input":[[1,2],[3,4,5]]})"), 5);
  EXPECT_EQ(estimate_prompt_tokens(kCl, "embeddings", R"({"model":"x"})"), 0);
}

TEST(Estimate, Responses) {
  const int64_t s = estimate_prompt_tokens(kO2, "responses", R"({"input":"hello world"})");
  EXPECT_EQ(s, 3 + 3 + 1 + 2);  // priming + message + "user" + text
  const int64_t with_instructions =
      estimate_prompt_tokens(kO2, "responses", R"({"instructions":"Be brief.","input":"hello world"})");
  EXPECT_EQ(with_instructions,
            s + 3 + static_cast<int64_t>(count_tokens(kO2, "system") + count_tokens(kO2, "Be brief.")));
  const int64_t items = estimate_prompt_tokens(kO2, "responses", R"({"input":[
      {"type":"message","role":"user","content":[{"type":"input_text","text":"hello world"}]},
      {"type":"function_call_output","call_id":"call_1","output":"42"}]})");
  EXPECT_EQ(items, 3 + (3 + 1 + 2) + (3 + 1));
}

// Long strings' counts are remembered per thread (the same system prompt and history come with every turn):
// repeated, alternating, same-length and one-byte-different texts must each still count as themselves.
TEST(Estimate, RememberedCountsAreExact) {
  const std::string a(200, 'a');
  std::string b = a;
  b[100] = ' ';  // same length, one byte different: 2+ pieces instead of one run
  std::string c;
  for (int i = 0; i < 8; ++i) c += "Привет, мир! ";  // 57 tokens in cl100k_base, 41 in o200k_base
  const auto chat = [](const std::string& text) {
    return std::string(R"({"messages":[{"role":"user","content":")") + text + "\"}]}";
  };
  const int64_t overhead = 3 + 3 + static_cast<int64_t>(count_tokens(kO2, "user"));
  const std::string* const texts[] = {&a, &b, &c, &a, &c, &b};
  for (int round = 0; round < 3; ++round) {
    for (const std::string* text : texts) {
      EXPECT_EQ(estimate_prompt_tokens(kO2, "chat.completions", chat(*text)),
                overhead + static_cast<int64_t>(count_tokens(kO2, *text)));
      EXPECT_EQ(estimate_prompt_tokens(kCl, "chat.completions", chat(*text)),
                overhead + static_cast<int64_t>(count_tokens(kCl, *text)));
    }
  }
  EXPECT_NE(count_tokens(kO2, a), count_tokens(kO2, b));  // the pair above tells a wrong hit apart
  EXPECT_NE(count_tokens(kO2, c), count_tokens(kCl, c));  // and so do the two encodings
}

// The parsed-body form (what the gateway uses, the body being parsed once) counts exactly as the string form.
TEST(Estimate, ParsedBodyCountsTheSame) {
  const std::pair<std::string_view, std::string> cases[] = {
      {"chat.completions", std::string(kCookbookChat)},
      {"chat.completions", std::string(kCookbookTools)},
      {"completions", R"({"prompt":["hello world","hello"],"suffix":"end"})"},
      {"embeddings", R"({"input":[1,2,3]})"},
      {"responses", R"({"instructions":"Be brief.","input":"What is BPE?"})"},
      {"chat.completions", "[1,2,3]"},
  };
  simdjson::dom::parser parser;
  for (const auto& [operation, body] : cases) {
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
    for (const Encoding e : {kCl, kO2}) {
      EXPECT_EQ(estimate_prompt_tokens(e, operation, root, body.size()),
                estimate_prompt_tokens(e, operation, body))
          << operation << " " << body;
    }
  }
}

TEST(Estimate, UnreadableBodiesCountBytesOverFour) {
  EXPECT_EQ(estimate_prompt_tokens(kO2, "chat.completions", "not json at all!"), 4);
  EXPECT_EQ(estimate_prompt_tokens(kO2, "chat.completions", "[1,2,3]"), 2);
  EXPECT_EQ(estimate_prompt_tokens(kO2, "images.generate", R"({"prompt":"a cat"})"), 5);
  EXPECT_EQ(estimate_prompt_tokens(kO2, "chat.completions", ""), 0);
}

}  // namespace
}  // namespace spillway::tokenizer
