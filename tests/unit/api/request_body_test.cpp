#include "api/request_body.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace spillway::api {
namespace {

Route route_for(Operation op, bool model_in_body = true) {
  Route r;
  r.op = op;
  r.model_in_body = model_in_body;
  r.surface = model_in_body ? SurfaceKind::kOpenAIV1 : SurfaceKind::kAzureDeployments;
  return r;
}

RequestFields accept(std::string_view body, const Route& route) {
  auto result = inspect_body(body, route);
  if (auto* e = std::get_if<ApiError>(&result)) {
    ADD_FAILURE() << body << " -> " << e->message;
    return {};
  }
  return std::get<RequestFields>(result);
}

ApiError reject(std::string_view body, const Route& route) {
  auto result = inspect_body(body, route);
  if (std::holds_alternative<RequestFields>(result)) {
    ADD_FAILURE() << body << " was accepted";
    return {};
  }
  return std::get<ApiError>(result);
}

const Route kChat = route_for(Operation::kChatCompletions);

TEST(InspectBodyTest, ReadsTheFields) {
  RequestFields f = accept(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})", kChat);
  EXPECT_EQ(f.model, "gpt-4o");
  EXPECT_FALSE(f.stream);
  EXPECT_FALSE(f.client_wants_usage);
  EXPECT_FALSE(f.max_tokens.has_value());

  f = accept(
      R"({"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true},"max_tokens":50})",
      kChat);
  EXPECT_TRUE(f.stream);
  EXPECT_TRUE(f.client_wants_usage);
  EXPECT_EQ(f.max_tokens, 50);

  f = accept(R"({"model":"m","messages":[],"stream":false,"stream_options":{"include_usage":false}})", kChat);
  EXPECT_FALSE(f.stream);
  EXPECT_FALSE(f.client_wants_usage);

  f = accept(R"({"model":"m","messages":[],"stream":null,"stream_options":null,"max_tokens":null})", kChat);
  EXPECT_FALSE(f.stream);
  EXPECT_FALSE(f.max_tokens.has_value());

  f = accept(R"({"model":"m","messages":[],"stream_options":{"include_usage":null,"other":1}})", kChat);
  EXPECT_FALSE(f.client_wants_usage);

  f = accept("  \n{ \"model\" : \"mod\\u0065l-\\\"q\\\"\" ,\n \"messages\" : [ ] }\n ", kChat);
  EXPECT_EQ(f.model, "model-\"q\"");
}

TEST(InspectBodyTest, MaxTokensPrecedence) {
  EXPECT_EQ(accept(R"({"model":"m","messages":[],"max_completion_tokens":7})", kChat).max_tokens, 7);
  EXPECT_EQ(accept(R"({"model":"m","messages":[],"max_output_tokens":8})", kChat).max_tokens, 8);
  EXPECT_EQ(accept(R"({"model":"m","messages":[],"max_output_tokens":8,"max_tokens":1})", kChat).max_tokens,
            1);
  EXPECT_EQ(accept(R"({"model":"m","messages":[],"max_output_tokens":8,"max_completion_tokens":2})", kChat)
                .max_tokens,
            2);
  EXPECT_EQ(
      accept(R"({"model":"m","messages":[],"max_tokens":null,"max_completion_tokens":3})", kChat).max_tokens,
      3);
  EXPECT_EQ(accept(R"({"model":"m","messages":[],"max_tokens":0})", kChat).max_tokens, 0);
  EXPECT_EQ(accept(R"({"model":"m","messages":[],"max_tokens":9223372036854775807})", kChat).max_tokens,
            INT64_MAX);
}

TEST(InspectBodyTest, RequiredFieldPerOperation) {
  const Route completions = route_for(Operation::kCompletions);
  const Route embeddings = route_for(Operation::kEmbeddings);
  const Route responses = route_for(Operation::kResponses);
  accept(R"({"model":"m","prompt":"once upon"})", completions);
  accept(R"({"model":"m","prompt":["a","b"]})", completions);
  accept(R"({"model":"m","input":"text"})", embeddings);
  accept(R"({"model":"m","input":[[1,2,3]]})", embeddings);
  accept(R"({"model":"m","input":"hello"})", responses);
  accept(R"({"model":"m","input":[{"role":"user","content":"hi"}]})", responses);

  struct Missing {
    const char* body;
    Route route;
    const char* field;
  };
  const Missing missing[] = {
      {R"({"model":"m"})", kChat, "messages"},
      {R"({"model":"m","messages":null})", kChat, "messages"},
      {R"({"model":"m","input":"x"})", kChat, "messages"},
      {R"({"model":"m","messages":[]})", completions, "prompt"},
      {R"({"model":"m"})", embeddings, "input"},
      {R"({"model":"m","prompt":"x"})", responses, "input"},
      {R"({"messages":[]})", kChat, "model"},
      {R"({"model":"","messages":[]})", kChat, "model"},
      {R"({"model":null,"messages":[]})", kChat, "model"},
      {R"({})", embeddings, "model"},
  };
  for (const Missing& m : missing) {
    SCOPED_TRACE(m.body);
    const ApiError e = reject(m.body, m.route);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "missing_required_parameter");
    EXPECT_EQ(e.param, m.field);
  }
}

TEST(InspectBodyTest, ModelOptionalWhenInTheUrl) {
  const Route azure = route_for(Operation::kChatCompletions, /*model_in_body=*/false);
  EXPECT_EQ(accept(R"({"messages":[]})", azure).model, "");
  EXPECT_EQ(accept(R"({"model":"x","messages":[]})", azure).model, "x");
  EXPECT_EQ(accept(R"({"model":null,"messages":[]})", azure).model, "");
  EXPECT_EQ(reject(R"({"model":5,"messages":[]})", azure).param, "model");
}

TEST(InspectBodyTest, WrongTypesNameTheParam) {
  struct Bad {
    const char* body;
    const char* param;
  };
  const Bad cases[] = {
      {R"({"model":1,"messages":[]})", "model"},
      {R"({"model":["m"],"messages":[]})", "model"},
      {R"({"model":"m","messages":{}})", "messages"},
      {R"({"model":"m","messages":"hi"})", "messages"},
      {R"({"model":"m","messages":[],"stream":"yes"})", "stream"},
      {R"({"model":"m","messages":[],"stream":1})", "stream"},
      {R"({"model":"m","messages":[],"stream_options":true})", "stream_options"},
      {R"({"model":"m","messages":[],"stream_options":[]})", "stream_options"},
      {R"({"model":"m","messages":[],"stream_options":{"include_usage":"true"}})",
       "stream_options.include_usage"},
      {R"({"model":"m","messages":[],"max_tokens":-1})", "max_tokens"},
      {R"({"model":"m","messages":[],"max_tokens":1.5})", "max_tokens"},
      {R"({"model":"m","messages":[],"max_tokens":100.0})", "max_tokens"},
      {R"({"model":"m","messages":[],"max_tokens":"100"})", "max_tokens"},
      {R"({"model":"m","messages":[],"max_tokens":18446744073709551615})", "max_tokens"},
      {R"({"model":"m","messages":[],"max_completion_tokens":true})", "max_completion_tokens"},
      {R"({"model":"m","messages":[],"max_output_tokens":-5})", "max_output_tokens"},
      {R"({"model":"m","messages":[],"model":"n"})", "model"},
      {R"({"model":"m","messages":[],"stream":false,"stream":true})", "stream"},
      {R"({"model":"m","messages":[],"stream_options":null,"stream_options":{}})", "stream_options"},
      {R"({"model":"m","messages":[],"max_tokens":1,"max_tokens":2})", "max_tokens"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.body);
    const ApiError e = reject(c.body, kChat);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.param, c.param);
    EXPECT_NE(e.message.find(c.param), std::string::npos) << e.message;
  }
  const Route completions = route_for(Operation::kCompletions);
  EXPECT_EQ(reject(R"({"model":"m","prompt":5})", completions).param, "prompt");
  EXPECT_EQ(reject(R"({"model":"m","input":{}})", route_for(Operation::kEmbeddings)).param, "input");
}

TEST(InspectBodyTest, InvalidJson) {
  const char* bodies[] = {
      "",
      "   ",
      "{",
      R"({"model":"m",})",
      R"({"model":"m" "messages":[]})",
      R"({'model':'m'})",
      "[]",
      R"("just a string")",
      "42",
      "null",
      R"({"model":"m","messages":[]} trailing)",
      R"({"model":"m","messages":[]}{})",
      "{\"model\":\"\xff\xfe\",\"messages\":[]}",
      "{\"model\":\"a\x01z\",\"messages\":[]}",
  };
  for (const char* body : bodies) {
    SCOPED_TRACE(body);
    const ApiError e = reject(body, kChat);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.code, "invalid_json");
    EXPECT_TRUE(e.message.starts_with("Request body is not valid JSON")) << e.message;
  }
  std::string deep(5000, '[');
  deep = R"({"model":"m","messages":)" + deep;
  EXPECT_EQ(reject(deep, kChat).code, "invalid_json");
}

TEST(InspectBodyTest, ModelsIgnoresTheBody) {
  const Route models = route_for(Operation::kModels);
  accept("", models);
  accept("not json at all", models);
}

TEST(InspectBodyTest, LargeBody) {
  std::string body = R"({"model":"big","messages":[{"role":"user","content":")";
  body += std::string(3 * 1024 * 1024, 'x');
  body += R"("}],"max_tokens":12})";
  const RequestFields f = accept(body, kChat);
  EXPECT_EQ(f.model, "big");
  EXPECT_EQ(f.max_tokens, 12);
  // The thread's parser still works for small documents afterwards.
  EXPECT_EQ(accept(R"({"model":"small","messages":[]})", kChat).model, "small");
}

// apply_body_edits

bool is_valid_json(std::string_view s) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  return parser.parse(s.data(), s.size()).get(e) == simdjson::SUCCESS;
}

BodyEdits set_model(std::string m) {
  BodyEdits e;
  e.set_model = std::move(m);
  return e;
}

BodyEdits include_usage() {
  BodyEdits e;
  e.force_include_usage = true;
  return e;
}

BodyEdits both(std::string m) {
  BodyEdits e = set_model(std::move(m));
  e.force_include_usage = true;
  return e;
}

struct EditCase {
  std::string body;
  BodyEdits edits;
  std::string expected;
};

TEST(ApplyBodyEditsTest, ExactOutputs) {
  const EditCase cases[] = {
      // Nothing to do.
      {R"({"model":"a","messages":[]})", BodyEdits{}, R"({"model":"a","messages":[]})"},
      // Replace the model, keeping every other byte.
      {R"({"model":"a","messages":[]})", set_model("b"), R"({"model":"b","messages":[]})"},
      {"{\n  \"messages\" : [ ],\n  \"model\" :\t\"gpt-4o\"  ,\n  \"x\": 1\n}\n",
       set_model("gpt-4o-2024-08-06"),
       "{\n  \"messages\" : [ ],\n  \"model\" :\t\"gpt-4o-2024-08-06\"  ,\n  \"x\": 1\n}\n"},
      {R"({"model":"a\"b\\","n":1})", set_model("c"), R"({"model":"c","n":1})"},
      {R"({"model":null})", set_model("x"), R"({"model":"x"})"},
      {R"({"mod\u0065l":"a","k":"v"})", set_model("b"), R"({"mod\u0065l":"b","k":"v"})"},
      // The new name is escaped.
      {R"({"model":"a"})", set_model("we\"ird\\name\n"), R"({"model":"we\"ird\\name\n"})"},
      // Same value: unchanged.
      {R"({ "model" : "same" })", set_model("same"), R"({ "model" : "same" })"},
      // Insert when absent, with and without other members.
      {R"({"messages":[]})", set_model("m"), R"({"model":"m","messages":[]})"},
      {R"({})", set_model("m"), R"({"model":"m"})"},
      {"{ \n }", set_model("m"), "{\"model\":\"m\" \n }"},
      {"\n\t{ \"input\":\"x\" }\n", set_model("m"), "\n\t{\"model\":\"m\", \"input\":\"x\" }\n"},
      // Keys named "model" elsewhere are not touched.
      {R"({"messages":[{"model":"inner","content":"\"model\":\"x\""}],"metadata":{"model":"z"}})",
       set_model("m"),
       R"({"model":"m","messages":[{"model":"inner","content":"\"model\":\"x\""}],"metadata":{"model":"z"}})"},
      {R"({"a":"\"model\":\"q\"","model":"real"})", set_model("m"), R"({"a":"\"model\":\"q\"","model":"m"})"},
      {R"({"model_name":"a","xmodel":"b","model":"c"})", set_model("m"),
       R"({"model_name":"a","xmodel":"b","model":"m"})"},
      // stream_options: absent, object without/with include_usage, false, null.
      {R"({"stream":true})", include_usage(), R"({"stream_options":{"include_usage":true},"stream":true})"},
      {R"({})", include_usage(), R"({"stream_options":{"include_usage":true}})"},
      {R"({"stream_options":{}})", include_usage(), R"({"stream_options":{"include_usage":true}})"},
      {R"({"stream_options":{ }})", include_usage(), R"({"stream_options":{"include_usage":true }})"},
      {R"({"stream_options":{"x":[1,{"include_usage":false}]},"y":2})", include_usage(),
       R"({"stream_options":{"include_usage":true,"x":[1,{"include_usage":false}]},"y":2})"},
      {R"({"stream_options":{"include_usage": false , "x":1}})", include_usage(),
       R"({"stream_options":{"include_usage": true , "x":1}})"},
      {R"({"stream_options":{"x":1,"include_usage":null}})", include_usage(),
       R"({"stream_options":{"x":1,"include_usage":true}})"},
      {R"({"stream_options":{"include_usage":true}})", include_usage(),
       R"({"stream_options":{"include_usage":true}})"},
      {R"({"stream_options": null ,"s":1})", include_usage(),
       R"({"stream_options": {"include_usage":true} ,"s":1})"},
      {R"({"metadata":{"stream_options":null}})", include_usage(),
       R"({"stream_options":{"include_usage":true},"metadata":{"stream_options":null}})"},
      // Both edits.
      {R"({})", both("m"), R"({"model":"m","stream_options":{"include_usage":true}})"},
      {R"({"stream":true})", both("m"),
       R"({"model":"m","stream_options":{"include_usage":true},"stream":true})"},
      {R"({"stream_options":{"include_usage":false},"model":"a"})", both("m"),
       R"({"stream_options":{"include_usage":true},"model":"m"})"},
      {R"({"model":"a","stream_options":{}})", both("m"),
       R"({"model":"m","stream_options":{"include_usage":true}})"},
      {R"({"stream_options":{"include_usage":false}})", both("m"),
       R"({"model":"m","stream_options":{"include_usage":true}})"},
      // Unicode, escapes and numbers survive.
      {"{\"messages\":[{\"content\":\"h\xC3\xA9llo \xF0\x9F\x98\x80 \\u00e9 \\\\\\\" "
       "}\"}],\"t\":-1.5e+3,\"b\":false}",
       set_model("m"),
       "{\"model\":\"m\",\"messages\":[{\"content\":\"h\xC3\xA9llo \xF0\x9F\x98\x80 \\u00e9 \\\\\\\" "
       "}\"}],\"t\":-1.5e+3,"
       "\"b\":false}"},
      // A UTF-8 BOM before the object.
      {"\xEF\xBB\xBF{\"a\":1}", set_model("m"), "\xEF\xBB\xBF{\"model\":\"m\",\"a\":1}"},
  };
  for (const EditCase& c : cases) {
    SCOPED_TRACE(c.body);
    const std::string out = apply_body_edits(c.body, c.edits);
    EXPECT_EQ(out, c.expected);
    std::string_view json = out;
    if (json.starts_with("\xEF\xBB\xBF")) json.remove_prefix(3);
    EXPECT_TRUE(is_valid_json(json)) << out;
  }
}

TEST(ApplyBodyEditsTest, UnparsableBodyIsReturnedUnchanged) {
  for (const char* body : {"", "[]", "{", R"({"model":)", R"({"model":"a")", "null", R"({"a" 1})"}) {
    EXPECT_EQ(apply_body_edits(body, both("m")), body);
  }
}

TEST(ApplyBodyEditsTest, ResultAgreesWithInspectBody) {
  const char* bodies[] = {
      R"({"messages":[{"role":"user","content":"hi"}]})",
      R"({"model":"x","messages":[],"stream":true})",
      R"({"model":"x","messages":[],"stream":true,"stream_options":{"include_usage":false}})",
      R"({"model":"x","messages":[],"stream":true,"stream_options":null})",
      R"({"messages":[],"stream":true,"stream_options":{"foo":{"include_usage":false}}})",
      "{\r\n\"messages\"\r\n:\r\n[\r\n]\r\n}",
  };
  const Route azure = route_for(Operation::kChatCompletions, /*model_in_body=*/false);
  for (const char* body : bodies) {
    SCOPED_TRACE(body);
    const std::string out = apply_body_edits(body, both("target-model"));
    ASSERT_TRUE(is_valid_json(out)) << out;
    const RequestFields f = accept(out, azure);
    EXPECT_EQ(f.model, "target-model");
    EXPECT_TRUE(f.client_wants_usage);
  }
}

TEST(ApplyBodyEditsTest, LargeBodyKeepsBytes) {
  std::string content(2 * 1024 * 1024, 'a');
  for (std::size_t i = 0; i < content.size(); i += 97) content[i] = ' ';
  const std::string body = R"({"messages":[{"role":"user","content":")" + content + R"("}],"model":"a"})";
  const std::string out = apply_body_edits(body, set_model("bb"));
  EXPECT_EQ(out, R"({"messages":[{"role":"user","content":")" + content + R"("}],"model":"bb"})");
}

}  // namespace
}  // namespace spillway::api
