#include "api/errors.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

namespace spillway::api {
namespace {

struct ParsedError {
  std::string message, type;
  bool code_null = true, param_null = true;
  std::string code, param;
};

// Parses an error body strictly: exactly {"error":{message,type,param,code}}.
ParsedError parse_error_body(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
  ParsedError out;
  simdjson::dom::object top, error;
  EXPECT_EQ(root.get_object().get(top), simdjson::SUCCESS);
  EXPECT_EQ(top.size(), 1u);
  EXPECT_EQ(top["error"].get_object().get(error), simdjson::SUCCESS) << body;
  EXPECT_EQ(error.size(), 4u) << body;
  std::string_view s;
  EXPECT_EQ(error["message"].get_string().get(s), simdjson::SUCCESS);
  out.message = s;
  EXPECT_EQ(error["type"].get_string().get(s), simdjson::SUCCESS);
  out.type = s;
  simdjson::dom::element code = error["code"], param = error["param"];
  out.code_null = code.is_null();
  if (!out.code_null) {
    EXPECT_EQ(code.get_string().get(s), simdjson::SUCCESS);
    out.code = s;
  }
  out.param_null = param.is_null();
  if (!out.param_null) {
    EXPECT_EQ(param.get_string().get(s), simdjson::SUCCESS);
    out.param = s;
  }
  return out;
}

std::string header(const ApiError& e, std::string_view name) {
  for (const auto& [k, v] : e.headers) {
    if (k == name) return v;
  }
  return "<absent>";
}

struct Case {
  ApiError error;
  int status;
  std::string type;
  std::string code;
};

TEST(ErrorsTest, StatusTypeAndCodeOfEveryError) {
  const Case cases[] = {
      {errors::invalid_json("x"), 400, "invalid_request_error", "invalid_json"},
      {errors::invalid_body("bad", "stream"), 400, "invalid_request_error", "invalid_value"},
      {errors::missing_field("messages"), 400, "invalid_request_error", "missing_required_parameter"},
      {errors::missing_key(), 401, "invalid_request_error", "missing_api_key"},
      {errors::invalid_key(), 401, "invalid_request_error", "invalid_api_key"},
      {errors::unknown_route("/nope"), 404, "invalid_request_error", "unknown_url"},
      {errors::unknown_model("gpt-x"), 404, "invalid_request_error", "model_not_found"},
      {errors::method_not_allowed("GET", "POST"), 405, "invalid_request_error", "method_not_allowed"},
      {errors::body_too_large(4194304), 413, "invalid_request_error", "request_too_large"},
      {errors::unsupported_content_encoding(), 415, "invalid_request_error", "unsupported_content_encoding"},
      {errors::bad_request_line("bad header"), 400, "invalid_request_error", "bad_request"},
      {errors::backend_unavailable("a:connect_refused"), 502, "api_error", "backend_unavailable"},
      {errors::backend_timeout("a:timeout"), 504, "api_error", "backend_timeout"},
      {errors::bad_backend_response("a:bad_response"), 502, "api_error", "bad_backend_response"},
      {errors::shutting_down(), 503, "api_error", "shutting_down"},
      {errors::internal_error(), 500, "api_error", "internal_error"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.code);
    EXPECT_EQ(c.error.status, c.status);
    EXPECT_EQ(c.error.type, c.type);
    EXPECT_EQ(c.error.code, c.code);
    EXPECT_FALSE(c.error.message.empty());
    const ParsedError parsed = parse_error_body(error_body(c.error));
    EXPECT_EQ(parsed.type, c.type);
    EXPECT_FALSE(parsed.code_null);
    EXPECT_EQ(parsed.code, c.code);
    EXPECT_EQ(parsed.message, c.error.message);
  }
}

TEST(ErrorsTest, MessagesAreHelpful) {
  EXPECT_EQ(errors::invalid_json("unexpected end").message, "Request body is not valid JSON: unexpected end");
  EXPECT_EQ(errors::unknown_model("x").message, "Unknown model 'x': no pool with that name");
  EXPECT_EQ(errors::body_too_large(4194304).message, "Request body exceeds the limit of 4194304 bytes");
  EXPECT_NE(errors::unknown_route("/v2/chat").message.find("/v2/chat"), std::string::npos);
  EXPECT_NE(errors::method_not_allowed("DELETE", "POST").message.find("DELETE"), std::string::npos);
  EXPECT_NE(errors::missing_field("messages").message.find("'messages'"), std::string::npos);
}

TEST(ErrorsTest, ParamAndNullCode) {
  const ParsedError with_param = parse_error_body(error_body(errors::invalid_body("bad stream", "stream")));
  EXPECT_FALSE(with_param.param_null);
  EXPECT_EQ(with_param.param, "stream");
  EXPECT_EQ(with_param.message, "bad stream");

  const ParsedError missing = parse_error_body(error_body(errors::missing_field("model")));
  EXPECT_EQ(missing.param, "model");

  const ParsedError no_param = parse_error_body(error_body(errors::missing_key()));
  EXPECT_TRUE(no_param.param_null);

  ApiError bare;
  bare.status = 418;
  bare.type = "teapot_error";
  bare.message = "short and stout";
  const ParsedError parsed = parse_error_body(error_body(bare));
  EXPECT_TRUE(parsed.code_null);
  EXPECT_TRUE(parsed.param_null);
  EXPECT_EQ(parsed.type, "teapot_error");
  EXPECT_EQ(error_body(bare),
            R"({"error":{"message":"short and stout","type":"teapot_error","param":null,"code":null}})");
}

TEST(ErrorsTest, BodyIsValidJsonForHostileInput) {
  std::string hostile = "quote\" backslash\\ newline\n tab\t nul";
  hostile.push_back('\0');
  hostile +=
      " ctrl\x01\x1f del\x7f"
      " bad-utf8 \xff\xfe\xc3"
      " end </script> \u2028 emoji \xF0\x9F\x98\x80";
  for (const ApiError& e : {errors::invalid_json(hostile), errors::invalid_body(hostile, hostile),
                            errors::missing_field(hostile), errors::unknown_route(hostile),
                            errors::unknown_model(hostile), errors::method_not_allowed(hostile, "POST"),
                            errors::bad_request_line(hostile), errors::backend_unavailable(hostile),
                            errors::backend_timeout(hostile), errors::bad_backend_response(hostile)}) {
    const std::string body = error_body(e);
    const ParsedError parsed = parse_error_body(body);
    EXPECT_NE(parsed.message.find("quote\" backslash\\ newline\n"), std::string::npos) << body;
  }
}

TEST(ErrorsTest, MethodNotAllowedSetsAllow) {
  const ApiError e = errors::method_not_allowed("GET", "POST");
  EXPECT_EQ(header(e, "allow"), "POST");
  EXPECT_EQ(e.headers.size(), 1u);
}

TEST(ErrorsTest, ShuttingDownSetsRetryAfter) {
  const ApiError e = errors::shutting_down();
  EXPECT_EQ(header(e, "retry-after"), "1");
}

TEST(ErrorsTest, BackendErrorsNameTheAttempts) {
  const std::string attempts = "ptu:connect_refused, payg:timeout";
  for (const ApiError& e : {errors::backend_unavailable(attempts), errors::backend_timeout(attempts),
                            errors::bad_backend_response(attempts)}) {
    EXPECT_NE(e.message.find(attempts), std::string::npos) << e.message;
    EXPECT_EQ(header(e, "x-spillway-attempts"), attempts);
  }
  const ApiError none = errors::backend_unavailable("");
  EXPECT_EQ(header(none, "x-spillway-attempts"), "<absent>");
  EXPECT_FALSE(none.message.empty());
}

TEST(ErrorsTest, ErrorsWithoutExtraHeaders) {
  for (const ApiError& e :
       {errors::invalid_json("x"), errors::missing_key(), errors::invalid_key(), errors::unknown_route("/"),
        errors::body_too_large(1), errors::internal_error()}) {
    EXPECT_TRUE(e.headers.empty()) << e.code;
  }
}

}  // namespace
}  // namespace spillway::api
