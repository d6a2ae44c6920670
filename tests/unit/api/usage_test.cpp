#include "api/usage.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "../mutation.h"

namespace spillway::api {
namespace {

Usage expect_usage(std::string_view json) {
  const auto u = extract_usage(json);
  if (!u) {
    ADD_FAILURE() << "no usage in " << json;
    return {};
  }
  return *u;
}

TEST(ExtractUsageTest, ChatCompletionResponse) {
  const Usage u = expect_usage(R"({
    "id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o",
    "choices":[{"index":0,"message":{"role":"assistant","content":"usage: none"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
             "prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},
             "completion_tokens_details":{"reasoning_tokens":6,"audio_tokens":0}}})");
  EXPECT_EQ(u.prompt_tokens, 19);
  EXPECT_EQ(u.completion_tokens, 10);
  EXPECT_EQ(u.total_tokens, 29);
  EXPECT_EQ(u.cached_tokens, 4);
  EXPECT_EQ(u.reasoning_tokens, 6);
}

TEST(ExtractUsageTest, FinalStreamChunk) {
  const Usage u =
      expect_usage(R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],)"
                   R"("usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}})");
  EXPECT_EQ(u.prompt_tokens, 5);
  EXPECT_EQ(u.completion_tokens, 7);
  EXPECT_EQ(u.total_tokens, 12);
  EXPECT_EQ(u.cached_tokens, 0);
  EXPECT_EQ(u.reasoning_tokens, 0);
}

TEST(ExtractUsageTest, Embeddings) {
  const Usage u = expect_usage(
      R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],"model":"e",)"
      R"("usage":{"prompt_tokens":8,"total_tokens":8}})");
  EXPECT_EQ(u.prompt_tokens, 8);
  EXPECT_EQ(u.completion_tokens, 0);
  EXPECT_EQ(u.total_tokens, 8);
}

TEST(ExtractUsageTest, ResponsesApiBody) {
  const Usage u = expect_usage(
      R"({"id":"resp_1","object":"response","status":"completed","output":[],)"
      R"("usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":10},"output_tokens":87,)"
      R"("output_tokens_details":{"reasoning_tokens":64},"total_tokens":123}})");
  EXPECT_EQ(u.prompt_tokens, 36);
  EXPECT_EQ(u.completion_tokens, 87);
  EXPECT_EQ(u.total_tokens, 123);
  EXPECT_EQ(u.cached_tokens, 10);
  EXPECT_EQ(u.reasoning_tokens, 64);
}

TEST(ExtractUsageTest, ResponseCompletedEvent) {
  for (const char* type : {"response.completed", "response.incomplete", "response.failed"}) {
    SCOPED_TRACE(type);
    const std::string event = std::string(R"({"type":")") + type +
                              R"(","sequence_number":9,"response":{"id":"resp_1","status":"x",)"
                              R"("usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7,)"
                              R"("output_tokens_details":{"reasoning_tokens":2}}}})";
    const Usage u = expect_usage(event);
    EXPECT_EQ(u.prompt_tokens, 3);
    EXPECT_EQ(u.completion_tokens, 4);
    EXPECT_EQ(u.total_tokens, 7);
    EXPECT_EQ(u.reasoning_tokens, 2);
  }
  // Earlier events carry "usage": null, or are not final.
  EXPECT_FALSE(extract_usage(R"({"type":"response.created","response":{"id":"r","usage":null}})"));
  EXPECT_FALSE(extract_usage(
      R"({"type":"response.in_progress","response":{"usage":{"input_tokens":1,"output_tokens":1}}})"));
  EXPECT_FALSE(extract_usage(R"({"type":"response.output_text.delta","delta":"\"usage\""})"));
}

TEST(ExtractUsageTest, TotalIsDerivedWhenAbsent) {
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt_tokens":2,"completion_tokens":3}})").total_tokens, 5);
  EXPECT_EQ(expect_usage(R"({"usage":{"input_tokens":2,"output_tokens":3}})").total_tokens, 5);
  EXPECT_EQ(
      expect_usage(R"({"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":null}})").total_tokens,
      5);
  const Usage empty = expect_usage(R"({"usage":{}})");
  EXPECT_EQ(empty.total_tokens, 0);
}

// Each member counts at its first occurrence (as a DOM lookup takes a repeated key); a null or absent one
// gives way to its alternative (input_tokens for prompt_tokens, ...); escaped names match unescaped.
TEST(ExtractUsageTest, MembersAtTheirFirstOccurrence) {
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt_tokens":1,"prompt_tokens":2}})").prompt_tokens, 1);
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt_tokens":null,"input_tokens":4}})").prompt_tokens, 4);
  EXPECT_EQ(
      expect_usage(R"({"usage":{"prompt_tokens":null,"prompt_tokens":5,"input_tokens":4}})").prompt_tokens,
      4);
  EXPECT_EQ(expect_usage(R"({"usage":{"input_tokens":4,"prompt_tokens":3}})").prompt_tokens, 3);
  EXPECT_EQ(
      expect_usage(R"({"usage":{"output_tokens":7,"total_tokens":null,"total_tokens":1}})").total_tokens, 7);
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt\u005ftokens":6}})").prompt_tokens, 6);
  EXPECT_EQ(
      expect_usage(R"({"usage":{"prompt_tokens_details":5,"input_tokens_details":{"cached_tokens":3}}})")
          .cached_tokens,
      3);
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt_tokens_details":{"cached_tokens":null},)"
                         R"("input_tokens_details":{"cached_tokens":2}}})")
                .cached_tokens,
            2);
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt_tokens_details":{"cached_tokens":1},)"
                         R"("prompt_tokens_details":{"cached_tokens":9}}})")
                .cached_tokens,
            1);
  EXPECT_EQ(expect_usage(R"({"usage":{"output_tokens_details":{"reasoning_tokens":8},)"
                         R"("completion_tokens_details":{"reasoning_tokens":2}}})")
                .reasoning_tokens,
            2);
}

TEST(ExtractUsageTest, OddNumbers) {
  const Usage u =
      expect_usage(R"({"usage":{"prompt_tokens":2.0,"completion_tokens":-3,"total_tokens":"9",)"
                   R"("prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":1.5}}})");
  EXPECT_EQ(u.prompt_tokens, 2);
  EXPECT_EQ(u.completion_tokens, 0);
  EXPECT_EQ(u.total_tokens, 0);
  EXPECT_EQ(u.cached_tokens, 0);
  EXPECT_EQ(u.reasoning_tokens, 0);
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt_tokens":18446744073709551615}})").prompt_tokens, INT64_MAX);
}

TEST(ExtractUsageTest, NoUsage) {
  const char* docs[] = {
      R"({"usage":null})",
      R"({"choices":[{"delta":{"content":"hi"}}],"usage":null})",
      R"({"choices":[{"delta":{"content":"hi"}}]})",
      R"({"usage":5})",
      R"({"usage":[1,2]})",
      R"({"usage":"lots"})",
      R"({"data":{"usage":{"prompt_tokens":1}}})",
      R"([{"usage":{"prompt_tokens":1}}])",
      R"("usage")",
      "[DONE]",
      "",
      "{",
      R"({"usage":{"prompt_tokens":1})",
      R"({"usage":{"prompt_tokens":1}} garbage)",
      "\xff\"usage\"",
  };
  for (const char* doc : docs) {
    SCOPED_TRACE(doc);
    EXPECT_FALSE(extract_usage(doc).has_value());
  }
}

// extract_usage reads a lone root-level "usage" from the end of the document (the suffix after it, with
// "{" in front, is an object only when the key is a member of the root); everything else goes through a
// parse of the whole document. Both ways must agree.
TEST(ExtractUsageTest, SuffixAndWholeDocumentAgree) {
  // Root member, in any position, with whitespace around it.
  EXPECT_EQ(
      expect_usage(R"({"usage":{"prompt_tokens":1,"completion_tokens":2},"choices":[{"x":[1,{"y":2}]}]})")
          .total_tokens,
      3);
  EXPECT_EQ(expect_usage("{\n  \"id\": \"a\",\n  \"usage\" :\n {\"prompt_tokens\": 4}\n}\n").prompt_tokens,
            4);
  // Nested deeper than the root: the suffix has closing brackets left over.
  EXPECT_FALSE(extract_usage(R"({"data":{"usage":{"prompt_tokens":1}},"n":1})"));
  EXPECT_FALSE(extract_usage(R"({"data":[{"usage":{"prompt_tokens":1}}]})"));
  EXPECT_FALSE(extract_usage(R"({"a":{"b":{"usage":{}}}})"));
  // "usage" as a value, or as the end of an escaped string: not a member.
  EXPECT_FALSE(extract_usage(R"({"kind":"usage","prompt_tokens":1})"));
  EXPECT_FALSE(extract_usage(R"({"k":["usage",{"prompt_tokens":1}]})"));
  EXPECT_FALSE(extract_usage(R"({"x\"usage":{"prompt_tokens":1}})"));
  // What comes before a lone root member is not parsed: a body malformed only there still yields its
  // usage (a backend did bill those tokens).
  EXPECT_EQ(expect_usage(R"({"id":01,"usage":{"prompt_tokens":7}})").prompt_tokens, 7);
  // The content mentions "usage" and the usage follows: two occurrences, the whole document decides.
  EXPECT_EQ(expect_usage(R"({"choices":[{"message":{"content":"\"usage\": see \"usage\""}}],)"
                         R"("usage":{"prompt_tokens":5}})")
                .prompt_tokens,
            5);
  // Duplicate root members: the first counts, as with a DOM lookup.
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2}})").prompt_tokens, 1);
  EXPECT_FALSE(extract_usage(R"({"usage":null,"usage":{"prompt_tokens":2}})"));
  // Root-level usage that is not an object, alone or with a final Responses event's nested usage.
  EXPECT_FALSE(extract_usage(R"({"choices":[],"usage":null})"));
  EXPECT_EQ(expect_usage(R"({"type":"response.completed","usage":null,)"
                         R"("response":{"usage":{"input_tokens":3,"output_tokens":1}}})")
                .total_tokens,
            4);
  // A long body before the usage (the suffix is short) and a long one after it (parsed whole).
  const std::string filler(100000, 'x');
  EXPECT_EQ(expect_usage(R"({"content":")" + filler + R"(","usage":{"prompt_tokens":9}})").prompt_tokens, 9);
  EXPECT_EQ(expect_usage(R"({"usage":{"prompt_tokens":8},"content":")" + filler + R"("})").prompt_tokens, 8);
  EXPECT_FALSE(extract_usage(R"({"usage":{"prompt_tokens":8},"content":")" + filler + R"(")"));
}

// "usage" is found wherever it starts (the search looks at 16 bytes at a time in the first 4 KiB, then
// at the rest another way), past look-alikes.
TEST(ExtractUsageTest, FoundAtEveryOffsetAndPastLookAlikes) {
  std::vector<std::size_t> pads;
  for (std::size_t pad = 0; pad < 80; ++pad) pads.push_back(pad);
  for (std::size_t pad = 4000; pad < 4120; ++pad) pads.push_back(pad);
  for (std::size_t pad = 80; pad < 20000; pad += 997) pads.push_back(pad);
  for (const std::size_t pad : pads) {
    SCOPED_TRACE(pad);
    // The only occurrence: missing it would leave no usage at all.
    const std::string doc = R"({"p":")" + std::string(pad, 'u') + R"(","usage":{"prompt_tokens":)" +
                            std::to_string(pad + 1) + "}}";
    EXPECT_EQ(expect_usage(doc).prompt_tokens, static_cast<int64_t>(pad + 1));
    // Look-alikes before it: a quote and 'u' that start something else, "usage" as a value (the first
    // occurrence: the whole document then decides), "usages", an escaped "usage".
    const std::string decoys = R"({"p":")" + std::string(pad, 'u') +
                               R"(","u":"usage","usages":1,"uu":"\"usage\"","usage":{"prompt_tokens":)" +
                               std::to_string(pad + 2) + "}}";
    EXPECT_EQ(expect_usage(decoys).prompt_tokens, static_cast<int64_t>(pad + 2));
  }
  // The key as the document's last bytes, and cut short.
  EXPECT_FALSE(extract_usage(std::string(40, ' ') + R"("usage")"));
  EXPECT_FALSE(extract_usage(std::string(40, ' ') + R"("usag)"));
}

// The hand-written reader of the usual usage suffix against simdjson's reading of it: on realistic
// documents, on every byte value at each place of their suffix, and on random mutations of it, extract_usage
// must return exactly what it returns with the reader switched off. The reader must also take the
// realistic ones (else the comparison would hold vacuously).
bool same_usage(const std::string& doc) {
  const auto with = detail::extract_usage(doc, true);
  const auto without = detail::extract_usage(doc, false);
  EXPECT_EQ(with.has_value(), without.has_value()) << doc;
  if (with && without) {
    EXPECT_EQ(with->prompt_tokens, without->prompt_tokens) << doc;
    EXPECT_EQ(with->completion_tokens, without->completion_tokens) << doc;
    EXPECT_EQ(with->total_tokens, without->total_tokens) << doc;
    EXPECT_EQ(with->cached_tokens, without->cached_tokens) << doc;
    EXPECT_EQ(with->reasoning_tokens, without->reasoning_tokens) << doc;
  }
  const std::size_t at = doc.find("\"usage\"");
  return at != std::string::npos && detail::read_plain_usage_suffix(std::string_view(doc).substr(at));
}

const std::vector<std::string> kUsageDocs = {
    // OpenAI chat completion: usage, then system_fingerprint.
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1733400000,"model":"gpt-4o","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":19,)"
    R"("completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":3,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":2,"audio_tokens":0,"accepted_prediction_tokens":0,)"
    R"("rejected_prediction_tokens":0}},"system_fingerprint":"fp_1"})",
    // Azure OpenAI, pretty-printed, usage last.
    "{\n  \"choices\": [],\n  \"id\": \"x\",\n  \"usage\": {\n    \"completion_tokens\": 7,\n"
    "    \"prompt_tokens\": 5,\n    \"total_tokens\": 12\n  }\n}\n",
    // Responses API body: input/output names, details, then more members with nesting and literals.
    R"({"id":"resp_1","usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,)"
    R"("output_tokens_details":{"reasoning_tokens":64},"total_tokens":123},"user":null,"metadata":{},)"
    R"("store":true,"parallel_tool_calls":false,"tools":[],"text":{"format":{"type":"text"}},"n":[1,-2,[]]})",
    // Final stream chunk and embeddings.
    R"({"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,)"
    R"("total_tokens":3}})",
    R"({"object":"list","data":[{"embedding":[0.1,-0.2]}],"model":"e","usage":{"prompt_tokens":8,"total_tokens":8}})",
    // Odd but plain: null, strings and objects as counts, repeats, escapes elsewhere, an empty usage.
    R"({"usage":{"prompt_tokens":null,"input_tokens":4,"completion_tokens":"9","total_tokens":{"a":1},)"
    R"("prompt_tokens_details":null,"input_tokens_details":{"cached_tokens":null,"cached_tokens":1},)"
    R"("completion_tokens_details":[],"output_tokens_details":{"reasoning_tokens":-5},"prompt_tokens":7},)"
    R"("x":"a\"b\\c\/d\n"})",
    R"({"usage":{}})",
};

TEST(PlainUsageSuffixTest, TakesTheUsualSuffixesAndAgreesWithSimdjson) {
  for (const std::string& doc : kUsageDocs) EXPECT_TRUE(same_usage(doc)) << doc;
  // Left to simdjson: escaped member names, \u escapes, fractions, long numbers, non-ASCII, depth.
  for (
      const char* doc :
      {R"({"usage":{"prompt\u005ftokens":6}})", R"({"usage":{"prompt_tokens":2.0}})",
       R"({"usage":{"prompt_tokens":1},"s":"\u00e9"})", R"({"usage":{"prompt_tokens":1234567890123456789}})",
       "{\"usage\":{\"prompt_tokens\":1},\"s\":\"\xc3\xa9\"}", R"({"usage":null})",
       R"({"usage":{"prompt_tokens":1},"d":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})"}) {
    EXPECT_FALSE(same_usage(doc)) << doc;
  }
}

TEST(PlainUsageSuffixTest, EveryByteValueAtEachPlaceOfTheSuffix) {
  int taken = 0;
  for (const std::string& doc : kUsageDocs) {
    const std::size_t from = doc.find("\"usage\"");
    for (std::size_t at = from; at < doc.size(); at += 3) {
      for (int c = 0; c < 256; ++c) {
        std::string mutated = doc;
        mutated[at] = static_cast<char>(c);
        taken += same_usage(mutated);
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_GT(taken, 5000);
}

TEST(PlainUsageSuffixTest, RandomMutationsOfTheSuffix) {
  std::string alphabet = " \t\n{}[],:\"\\/-.0159eEntrufalsx";
  alphabet.push_back('\0');
  alphabet.push_back('\x80');
  std::mt19937 rng(20261205);
  int taken = 0;
  const int rounds = 20000;
  for (int round = 0; round < rounds; ++round) {
    std::string doc = kUsageDocs[static_cast<std::size_t>(round) % kUsageDocs.size()];
    testing::mutate(doc, doc.find("\"usage\"") + 7, alphabet, rng);  // the key itself stays
    taken += same_usage(doc);
    if (HasFailure()) return;
  }
  EXPECT_GT(taken, rounds / 10);
}

TEST(MentionsUsageTest, TheQuotedKeyAnywhere) {
  EXPECT_TRUE(mentions_usage(R"({"usage":null})"));
  EXPECT_TRUE(mentions_usage(std::string(5000, ' ') + R"("usage")"));
  EXPECT_TRUE(mentions_usage(R"({"choices":[{"delta":{"content":"x"}}],"usage":{"prompt_tokens":1}})"));
  // A string value "usage" too: it is a cheap first test, extract_usage() decides.
  EXPECT_TRUE(mentions_usage(R"({"choices":[{"delta":{"content":"usage"}}]})"));
  EXPECT_FALSE(mentions_usage(R"({"choices":[{"delta":{"content":"the usage"}}]})"));
  EXPECT_FALSE(mentions_usage(R"({"usages":1,"usage ":2,"usag":3})"));
  EXPECT_FALSE(mentions_usage(""));
  EXPECT_FALSE(mentions_usage(R"("usage)"));
}

TEST(IsUsageOnlyChunkTest, Cases) {
  EXPECT_TRUE(is_usage_only_chunk(
      R"({"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})"));
  EXPECT_TRUE(is_usage_only_chunk(R"({"choices":[ ],"usage":{}})"));
  EXPECT_FALSE(is_usage_only_chunk(R"({"choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":1}})"));
  EXPECT_FALSE(is_usage_only_chunk(R"({"choices":[],"usage":null})"));
  EXPECT_FALSE(is_usage_only_chunk(R"({"choices":[]})"));
  EXPECT_FALSE(is_usage_only_chunk(R"({"usage":{"prompt_tokens":1}})"));
  EXPECT_FALSE(is_usage_only_chunk(R"({"choices":null,"usage":{"prompt_tokens":1}})"));
  EXPECT_FALSE(is_usage_only_chunk(R"({"choices":{},"usage":{"prompt_tokens":1}})"));
  EXPECT_FALSE(is_usage_only_chunk("[DONE]"));
  EXPECT_FALSE(is_usage_only_chunk(""));
  EXPECT_FALSE(is_usage_only_chunk(R"({"choices":[],"usage":{})"));
}

}  // namespace
}  // namespace spillway::api
