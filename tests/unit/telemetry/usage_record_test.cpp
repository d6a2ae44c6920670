#include "telemetry/usage_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "telemetry/usage_log_policy.h"
#include "telemetry/usage_writer.h"
#include "usage_test_util.h"

namespace spillway::telemetry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(UsageRecordEncoding, TagsAndToolsAsJson) {
  EXPECT_EQ(tags_json({}), "{}");
  EXPECT_EQ(tags_json({{"team", "search"}, {"cost\"center", "4\n2"}}),
            "{\"team\":\"search\",\"cost\\\"center\":\"4\\n2\"}");
  EXPECT_EQ(tools_json({}), "[]");
  EXPECT_EQ(tools_json({"get_weather", "a\\b"}), "[\"get_weather\",\"a\\\\b\"]");
}

// Every field comes back from its packed form as it went in; texts keep any byte (NUL included) and any
// length, and an absent prompt stays apart from an empty one.
TEST(UsageRecordEncoding, PackedRecordsReadBackEveryField) {
  UsageRecord r = test_util::sample_record(1'750'000'000'123, "req-\xe2\x82\xac");
  r.model = "gpt-4o-2024-08-06";
  r.attempts = 3;
  r.tags = {{"team", "sea\"rch"}, {"cc", "42"}};
  r.user_hash = "0123456789abcdef";
  r.tools = {"get_weather", "search"};
  r.status = 502;
  r.error = "backend_timeout";
  r.stream = true;
  r.cached_tokens = 4;
  r.reasoning_tokens = 5;
  r.tokens_estimated = true;
  r.usage_source = "estimate";
  r.ttft_ms = 12.25;
  r.duration_ms = 40.5;
  r.cache = "miss";
  r.client_disconnected = true;
  r.prompt = std::string("a\0b", 3) + std::string(70'000, 'p');
  r.completion = "";

  const std::string packed = pack_usage(r);
  const PackedUsageView v = unpack_usage(packed);
  EXPECT_EQ(v.time_ms, r.time_ms);
  EXPECT_EQ(v.request_id, r.request_id);
  EXPECT_EQ(v.api, r.api);
  EXPECT_EQ(v.operation, r.operation);
  EXPECT_EQ(v.pool, r.pool);
  EXPECT_EQ(v.deployment, r.deployment);
  EXPECT_EQ(v.model, r.model);
  EXPECT_EQ(v.backend, r.backend);
  EXPECT_EQ(v.attempts, 3);
  EXPECT_EQ(v.subscription, r.subscription);
  EXPECT_EQ(v.product, r.product);
  EXPECT_EQ(v.tags, tags_json(r.tags));
  EXPECT_EQ(v.user_hash, r.user_hash);
  EXPECT_EQ(v.tools, tools_json(r.tools));
  EXPECT_EQ(v.status, 502);
  EXPECT_EQ(v.error, r.error);
  EXPECT_TRUE(v.stream);
  EXPECT_EQ(v.prompt_tokens, 10);
  EXPECT_EQ(v.completion_tokens, 20);
  EXPECT_EQ(v.total_tokens, 30);
  EXPECT_EQ(v.cached_tokens, 4);
  EXPECT_EQ(v.reasoning_tokens, 5);
  EXPECT_TRUE(v.tokens_estimated);
  EXPECT_EQ(v.usage_source, r.usage_source);
  EXPECT_DOUBLE_EQ(v.ttft_ms, 12.25);
  EXPECT_DOUBLE_EQ(v.duration_ms, 40.5);
  EXPECT_EQ(v.cache, r.cache);
  EXPECT_TRUE(v.client_disconnected);
  ASSERT_TRUE(v.prompt && v.completion);
  EXPECT_EQ(*v.prompt, *r.prompt);
  EXPECT_EQ(*v.completion, "");

  const UsageRecord empty;
  const std::string packed_empty = pack_usage(empty);
  const PackedUsageView e = unpack_usage(packed_empty);
  EXPECT_EQ(e.tags, "{}");
  EXPECT_EQ(e.tools, "[]");
  EXPECT_TRUE(e.request_id.empty() && e.api.empty() && e.cache.empty());
  EXPECT_FALSE(e.prompt || e.completion);
  EXPECT_FALSE(e.stream || e.tokens_estimated || e.client_disconnected);
  EXPECT_LT(e.ttft_ms, 0);
}

// pack_usage sizes its buffer before writing: tags and tools whose every byte escapes to six (a control
// character) or three (an invalid UTF-8 byte, as U+FFFD) must still fit, and the texts after them stay
// intact.
TEST(UsageRecordEncoding, TagsAndToolsAtTheirLongestEscapesFit) {
  UsageRecord r = test_util::sample_record(1'750'000'000'000, "req-1");
  r.tags = {{std::string(300, '\x01'), std::string(300, '\x1f')}, {"k", std::string(200, '\xff')}};
  r.tools = {std::string(500, '\x02'), "\xfe", ""};
  r.prompt = "after";
  const std::string packed = pack_usage(r);
  const PackedUsageView v = unpack_usage(packed);
  EXPECT_EQ(v.tags, tags_json(r.tags));
  // {"<300 x \u0001>":"<300 x \u001f>","k":"<200 x U+FFFD>"}
  EXPECT_EQ(v.tags.size(), 1 + (2 + 6 * 300) + 1 + (2 + 6 * 300) + 1 + 3 + 1 + (2 + 3 * 200) + 1);
  EXPECT_EQ(v.tools, tools_json(r.tools));
  EXPECT_EQ(v.request_id, "req-1");
  EXPECT_EQ(v.user_hash, r.user_hash);
  ASSERT_TRUE(v.prompt);
  EXPECT_EQ(*v.prompt, "after");
  EXPECT_FALSE(v.completion);
}

TEST(UsageRecordEncoding, Utf8PrefixNeverCutsACharacter) {
  EXPECT_EQ(utf8_prefix("hello", 10), "hello");
  EXPECT_EQ(utf8_prefix("hello", 3), "hel");
  const std::string s =
      "ab\xC3\xA9"     // é (2 bytes)
      "\xE2\x82\xAC";  // € (3 bytes)
  EXPECT_EQ(utf8_prefix(s, 3), "ab");
  EXPECT_EQ(utf8_prefix(s, 4), "ab\xC3\xA9");
  EXPECT_EQ(utf8_prefix(s, 6), "ab\xC3\xA9");
  EXPECT_EQ(utf8_prefix(s, 7), s);
  EXPECT_EQ(utf8_prefix(s, 0), "");
}

TEST(UsageRecordEncoding, RedactReplacesEveryOccurrence) {
  std::string text = "key sk-123 and sk-123 again, other tok-9";
  redact(text, {"sk-123", "", "tok-9"});
  EXPECT_EQ(text, "key [redacted] and [redacted] again, other [redacted]");
}

TEST(UsageRecordPrompt, PicksTheOperationsField) {
  EXPECT_EQ(prompt_of(R"({"model":"m","messages":[ {"role":"user", "content":"Hi"} ]})", "chat.completions"),
            R"([{"role":"user","content":"Hi"}])");
  EXPECT_EQ(prompt_of(R"({"prompt":"Say hi"})", "completions"), R"("Say hi")");
  EXPECT_EQ(prompt_of(R"({"input":["a","b"]})", "embeddings"), R"(["a","b"])");
  EXPECT_EQ(prompt_of(R"({"input":"x"})", "responses"), R"("x")");
  EXPECT_EQ(prompt_of(R"({"model":"m"})", "chat.completions"), "");
  EXPECT_EQ(prompt_of("not json", "chat.completions"), "");
}

TEST(UsageRecordPrompt, CompletionDeltas) {
  EXPECT_EQ(completion_delta(R"({"choices":[{"index":0,"delta":{"content":"Hel"}}]})"), "Hel");
  EXPECT_EQ(completion_delta(R"({"choices":[{"index":0,"delta":{"role":"assistant"}}]})"), "");
  EXPECT_EQ(completion_delta(R"({"choices":[{"index":0,"text":"lo"}]})"), "lo");
  EXPECT_EQ(completion_delta(R"({"type":"response.output_text.delta","delta":"xy"})"), "xy");
  EXPECT_EQ(completion_delta(R"({"choices":[],"usage":{"total_tokens":3}})"), "");
  EXPECT_EQ(completion_delta("[DONE]"), "");
}

class UsageRecordFromContext : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.name = "openai";
    sub_.name = "team-a";
    sub_.product = "standard";
    sub_.tags = {{"team", "search"}};
    request_.method = "POST";
    request_.body = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hello sk-SECRET-1 there"}]})";
    request_.headers = {{"api-key", "sk-client-key"}, {"x-user-id", "alice@example.com"}};
    ctx_.request = &request_;
    ctx_.request_id = "req-1";
    ctx_.route.api = &api_;
    ctx_.route.op = api::Operation::kChatCompletions;
    ctx_.pool = "gpt-4o";
    ctx_.fields.model = "gpt-4o";
    ctx_.subscription = &sub_;
    ctx_.user_hash = "hash-of-alice";
    ctx_.tools = {"get_weather"};
    ctx_.started_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'750'000'000'123));
    ctx_.started = std::chrono::steady_clock::time_point(std::chrono::seconds(100));
    ctx_.first_byte = ctx_.started + std::chrono::milliseconds(15);
    ctx_.finished = ctx_.started + std::chrono::milliseconds(40);
    ctx_.status = 200;
    ctx_.backend = "az";
    ctx_.deployment = "gpt-4o-dep";
    ctx_.attempts = 2;
    ctx_.usage = api::Usage{.prompt_tokens = 11,
                            .completion_tokens = 22,
                            .total_tokens = 33,
                            .cached_tokens = 4,
                            .reasoning_tokens = 5};
    ctx_.usage_present = true;
  }
  config::Api api_;
  config::Subscription sub_;
  http::Request request_;
  pipeline::RequestContext ctx_;
};

TEST_F(UsageRecordFromContext, CarriesEveryField) {
  const UsageRecord r = make_usage_record(ctx_, UsageRecordOptions{}, "ignored without log_prompts");
  EXPECT_EQ(r.time_ms, 1'750'000'000'123);
  EXPECT_EQ(r.request_id, "req-1");
  EXPECT_EQ(r.api, "openai");
  EXPECT_EQ(r.operation, "chat.completions");
  EXPECT_EQ(r.pool, "gpt-4o");
  EXPECT_EQ(r.deployment, "gpt-4o-dep");
  EXPECT_EQ(r.model, "gpt-4o");
  EXPECT_EQ(r.backend, "az");
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.subscription, "team-a");
  EXPECT_EQ(r.product, "standard");
  EXPECT_EQ(tags_json(r.tags), "{\"team\":\"search\"}");
  EXPECT_EQ(r.user_hash, "hash-of-alice");
  EXPECT_EQ(r.tools, std::vector<std::string>{"get_weather"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.prompt_tokens, 11);
  EXPECT_EQ(r.completion_tokens, 22);
  EXPECT_EQ(r.total_tokens, 33);
  EXPECT_EQ(r.cached_tokens, 4);
  EXPECT_EQ(r.reasoning_tokens, 5);
  EXPECT_FALSE(r.tokens_estimated);
  EXPECT_EQ(r.usage_source, "backend");
  EXPECT_DOUBLE_EQ(r.ttft_ms, 15);
  EXPECT_DOUBLE_EQ(r.duration_ms, 40);
  EXPECT_FALSE(r.prompt);
  EXPECT_FALSE(r.completion);
}

// The policy packs the context's texts in place (a UsageRecordRef) instead of copying them into a
// UsageRecord first: the bytes are those of the record, with the subscription's tags (read from its map),
// tools, prompts and without a subscription at all.
TEST_F(UsageRecordFromContext, PackedInPlaceAsTheRecordWouldBe) {
  sub_.tags = {{"team", "search"}, {"cost\"center", "4\n2"}, {"zone", ""}};
  ctx_.tools = {"get_weather", "a\\b"};
  UsageRecordOptions o;
  o.log_prompts = true;
  for (int round = 0; round < 2; ++round) {
    UsageTexts texts;
    const UsageRecordRef ref = usage_record_ref(ctx_, o, "the answer", texts);
    const UsageRecord record = make_usage_record(ctx_, o, "the answer");
    EXPECT_EQ(pack_usage(ref), pack_usage(record));
    const std::string packed = pack_usage(ref);  // the view below points into it
    const PackedUsageView v = unpack_usage(packed);
    EXPECT_EQ(v.tags, tags_json(record.tags));
    EXPECT_EQ(v.tools, tools_json(record.tools));
    ASSERT_TRUE(v.prompt && v.completion);
    EXPECT_EQ(*v.completion, "the answer");
    EXPECT_EQ(pack_usage(to_record(ref)), pack_usage(record));
    ctx_.subscription = nullptr;  // second round: no subscription, so no tags
  }
  UsageTexts texts;
  EXPECT_EQ(unpack_usage(pack_usage(usage_record_ref(ctx_, o, "", texts))).tags, "{}");
}

TEST_F(UsageRecordFromContext, EstimatedAndMissingUsage) {
  ctx_.usage_present = false;
  EXPECT_TRUE(make_usage_record(ctx_, {}, "").tokens_estimated);
  EXPECT_EQ(make_usage_record(ctx_, {}, "").usage_source, "estimate");
  ctx_.usage = {};
  ctx_.first_byte.reset();
  const UsageRecord r = make_usage_record(ctx_, {}, "");
  EXPECT_FALSE(r.tokens_estimated);
  EXPECT_EQ(r.usage_source, "none");
  EXPECT_LT(r.ttft_ms, 0);
}

TEST_F(UsageRecordFromContext, PromptsOnlyWithLogPromptsCappedAndRedacted) {
  UsageRecordOptions o;
  o.log_prompts = true;
  o.max_prompt_bytes = 1000;
  o.redact = {"sk-SECRET-1"};
  UsageRecord r = make_usage_record(ctx_, o, "the answer");
  ASSERT_TRUE(r.prompt);
  EXPECT_THAT(*r.prompt, HasSubstr("hello [redacted] there"));
  EXPECT_THAT(*r.prompt, Not(HasSubstr("sk-SECRET-1")));
  EXPECT_EQ(r.completion, "the answer");

  o.max_prompt_bytes = 8;
  r = make_usage_record(ctx_, o, "0123456789");
  EXPECT_EQ(r.prompt, "[{\"role\"");
  EXPECT_EQ(r.completion, "01234567");
}

TEST_F(UsageRecordFromContext, NeverCarriesHeadersOrTheRawUserId) {
  UsageRecordOptions o;
  o.log_prompts = true;
  const UsageRecord r = make_usage_record(ctx_, o, "");
  const std::string all =
      r.request_id + r.api + r.user_hash + *r.prompt + tags_json(r.tags) + tools_json(r.tools);
  EXPECT_THAT(all, Not(HasSubstr("alice@example.com")));
  EXPECT_THAT(all, Not(HasSubstr("sk-client-key")));
}

TEST_F(UsageRecordFromContext, ModelsListingIsNoLlmCall) {
  EXPECT_TRUE(is_llm_call(ctx_));
  ctx_.route.op = api::Operation::kModels;
  EXPECT_FALSE(is_llm_call(ctx_));
  ctx_.route.api = nullptr;
  EXPECT_FALSE(is_llm_call(ctx_));
}

TEST_F(UsageRecordFromContext, PolicyWritesOneRowPerCallWithTheStreamedCompletion) {
  test_util::TempDir dir;
  config::UsageLogSettings s;
  s.enabled = true;
  s.sqlite_path = dir.file("u.db");
  s.flush_interval = std::chrono::milliseconds(1);
  // The record's time is fixed (2025): the default retention would have the writer's prune delete it.
  s.retention = std::chrono::hours(24 * 365 * 20);
  auto writer = std::make_shared<UsageWriter>(s, util::SystemClock::instance());
  UsageRecordOptions o;
  o.log_prompts = true;
  UsageLogPolicy policy(o, writer, nullptr);
  const std::string e1 = R"({"choices":[{"delta":{"content":"Hel"}}]})";
  const std::string e2 = R"({"choices":[{"delta":{"content":"lo"}}]})";
  policy.on_chunk(ctx_, http::SseEvent{.raw = {}, .event = {}, .data = e1});
  policy.on_chunk(ctx_, http::SseEvent{.raw = {}, .event = {}, .data = e2});
  policy.on_complete(ctx_);
  pipeline::RequestContext models = ctx_;
  models.route.op = api::Operation::kModels;
  policy.on_complete(models);
  writer->stop();
  EXPECT_EQ(writer->stats().written, 1u);
  EXPECT_EQ(test_util::query_text(s.sqlite_path, "SELECT completion FROM usage"), "Hello");
  EXPECT_EQ(test_util::query_text(s.sqlite_path, "SELECT request_id FROM usage"), "req-1");
}

}  // namespace
}  // namespace spillway::telemetry
