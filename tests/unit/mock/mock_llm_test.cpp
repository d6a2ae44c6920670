// Drives an in-process MockLlm over real sockets with a small synchronous Beast client.

#include "mock/mock_llm.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <thread>

namespace spillway::mock {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Headers = std::map<std::string, std::string>;

struct Response {
  int status = 0;
  Headers headers;  // lowercase names
  std::string body;
  boost::system::error_code error;  // set when the response was cut short
};

// One keep-alive connection to the mock.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  Response request(http::verb method, std::string_view target, std::string_view body = {},
                   const Headers& headers = {}) {
    http::request<http::string_body> req(method, target, 11);
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    if (method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::string(body);
      req.prepare_payload();
    }
    http::write(socket_, req);
    return read();
  }

  Response post(std::string_view target, std::string_view body, const Headers& headers = {}) {
    return request(http::verb::post, target, body, headers);
  }

  Response read() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    Response out;
    http::read(socket_, buffer_, parser, out.error);
    const auto& res = parser.get();
    out.status = res.result_int();
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = res.body();
    return out;
  }

  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// The JSON payloads of the `data:` lines of an SSE body, and the `event:` names.
struct Sse {
  std::vector<std::string> data;
  std::vector<std::string> events;
};

Sse parse_sse(std::string_view body) {
  Sse sse;
  while (!body.empty()) {
    const auto end = body.find("\n\n");
    std::string_view event = body.substr(0, end);
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 2);
    while (!event.empty()) {
      const auto nl = event.find('\n');
      const std::string_view line = event.substr(0, nl);
      if (line.starts_with("data: ")) sse.data.emplace_back(line.substr(6));
      if (line.starts_with("event: ")) sse.events.emplace_back(line.substr(7));
      event.remove_prefix(nl == std::string_view::npos ? event.size() : nl + 1);
    }
  }
  return sse;
}

class MockLlmTest : public ::testing::Test {
 protected:
  // Starts the mock with the default options changed by `edit`.
  void start(const std::function<void(MockOptions&)>& edit = {}) {
    MockOptions options;
    if (edit) edit(options);
    mock_ = MockLlm::start(options);
    client_ = std::make_unique<Client>(mock_->port());
  }
  void TearDown() override {
    client_.reset();
    if (mock_) mock_->stop();
  }

  simdjson::dom::element json(const std::string& text) {
    simdjson::dom::element doc;
    EXPECT_EQ(parser_.parse(text).get(doc), simdjson::SUCCESS) << text;
    return doc;
  }

  std::unique_ptr<MockLlm> mock_;
  std::unique_ptr<Client> client_;
  simdjson::dom::parser parser_;
};

constexpr std::string_view kChatBody =
    R"({"model":"gpt-4o","messages":[{"role":"user","content":"hello there!"}]})";

TEST_F(MockLlmTest, ChatCompletionUsageAndHeaders) {
  start([](MockOptions& o) { o.name = "ptu-1"; });
  // 72 bytes of body -> 18 prompt tokens; no max_tokens -> 16 completion tokens.
  ASSERT_EQ(kChatBody.size(), 72u);
  auto res = client_->post("/v1/chat/completions", kChatBody);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.headers["x-mock-backend"], "ptu-1");
  EXPECT_EQ(res.headers["content-type"], "application/json");
  auto doc = json(res.body);
  EXPECT_EQ(std::string_view(doc["object"]), "chat.completion");
  EXPECT_EQ(std::string_view(doc["model"]), "gpt-4o");
  EXPECT_TRUE(std::string_view(doc["id"]).starts_with("chatcmpl-mock-"));
  EXPECT_EQ(int64_t(doc["usage"]["prompt_tokens"]), 18);
  EXPECT_EQ(int64_t(doc["usage"]["completion_tokens"]), 16);
  EXPECT_EQ(int64_t(doc["usage"]["total_tokens"]), 34);
  EXPECT_EQ(int64_t(doc["usage"]["prompt_tokens_details"]["cached_tokens"]), 0);
  EXPECT_EQ(std::string_view(doc["choices"].at(0)["message"]["content"]).substr(0, 9), "w1 w2 w3 ");

  // Scripted token counts, max_tokens and usage omission on the same keep-alive connection.
  res = client_->post("/v1/chat/completions", R"({"model":"m","max_tokens":3})",
                      {{"x-mock-prompt-tokens", "100"}, {"x-mock-cached-tokens", "40"}});
  doc = json(res.body);
  EXPECT_EQ(int64_t(doc["usage"]["prompt_tokens"]), 100);
  EXPECT_EQ(int64_t(doc["usage"]["completion_tokens"]), 3);
  EXPECT_EQ(int64_t(doc["usage"]["prompt_tokens_details"]["cached_tokens"]), 40);
  EXPECT_EQ(std::string_view(doc["choices"].at(0)["message"]["content"]), "w1 w2 w3 ");
  res = client_->post("/v1/chat/completions", R"({"model":"m"})",
                      {{"x-mock-completion-tokens", "5"}, {"x-mock-usage", "none"}});
  EXPECT_EQ(res.body.find("usage"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("w1 w2 w3 w4 w5 \""), std::string::npos) << res.body;
}

TEST_F(MockLlmTest, OtherOperations) {
  start();
  auto res = client_->post("/v1/completions", R"({"model":"davinci","max_tokens":2,"prompt":"x"})");
  auto doc = json(res.body);
  EXPECT_EQ(std::string_view(doc["object"]), "text_completion");
  EXPECT_EQ(std::string_view(doc["choices"].at(0)["text"]), "w1 w2 ");

  res = client_->post("/v1/embeddings", R"({"model":"emb","input":["a","b",[1,2,3]]})");
  doc = json(res.body);
  EXPECT_EQ(simdjson::dom::array(doc["data"]).size(), 3u);
  EXPECT_EQ(simdjson::dom::array(doc["data"].at(2)["embedding"]).size(), 8u);
  EXPECT_EQ(int64_t(doc["usage"]["total_tokens"]), int64_t(doc["usage"]["prompt_tokens"]));
  const std::string first = res.body;
  res = client_->post("/v1/embeddings", R"({"model":"emb","input":["a","b",[1,2,3]]})");
  EXPECT_EQ(res.body, first);  // deterministic
  // encoding_format base64: 8 little-endian float32 = 32 bytes = 44 base64 characters, same vector.
  res = client_->post("/v1/embeddings", R"({"model":"emb","input":["a"],"encoding_format":"base64"})");
  doc = json(res.body);
  const std::string_view encoded = doc["data"].at(0)["embedding"];
  EXPECT_EQ(encoded.size(), 44u);
  EXPECT_EQ(encoded[43], '=');  // 32 bytes: one pad character
  EXPECT_NE(encoded[42], '=');

  res = client_->post("/v1/responses", R"({"model":"o4","input":"hi","max_output_tokens":1})");
  doc = json(res.body);
  EXPECT_EQ(std::string_view(doc["object"]), "response");
  EXPECT_EQ(std::string_view(doc["output"].at(0)["content"].at(0)["text"]), "w1 ");
  EXPECT_EQ(int64_t(doc["usage"]["output_tokens"]), 1);

  res = client_->request(http::verb::get, "/v1/models");
  doc = json(res.body);
  EXPECT_EQ(std::string_view(doc["data"].at(0)["id"]), "mock-model");
}

TEST_F(MockLlmTest, ErrorsAndRouting) {
  start();
  auto res = client_->post("/v1/nope", "{}");
  EXPECT_EQ(res.status, 404);
  EXPECT_TRUE(json(res.body)["error"]["message"].is_string());
  EXPECT_EQ(client_->request(http::verb::get, "/v1/chat/completions").status, 405);
  res = client_->post("/v1/chat/completions", "[1,2]");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(client_->post("/v1/chat/completions", "{\"model\":").status, 400);
  EXPECT_EQ(client_->post("/v1/embeddings", R"({"input":42})").status, 400);
  EXPECT_EQ(client_->post("/v1/chat/completions", "{}", {{"x-mock-prompt-tokens", "-3"}}).status, 400);
  EXPECT_EQ(client_->post("/v1/chat/completions", "{}", {{"x-mock-completion-tokens", "1000001"}}).status,
            400);
}

TEST_F(MockLlmTest, AzurePathNeedsApiVersion) {
  start();
  auto res = client_->post("/openai/deployments/gpt-4o-ptu/chat/completions", R"({"messages":[]})");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(std::string_view(json(res.body)["error"]["message"]), "api-version query parameter is required");
  res = client_->post("/openai/deployments/gpt-4o-ptu/chat/completions?api-version=2024-10-21",
                      R"({"model":"ignored"})");
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(std::string_view(json(res.body)["model"]), "gpt-4o-ptu");
  EXPECT_EQ(client_->post("/openai/deployments/e/embeddings?api-version=1", R"({"input":"x"})").status, 200);
  EXPECT_EQ(client_->post("/openai/deployments/e/responses?api-version=1", "{}").status, 404);
}

TEST_F(MockLlmTest, ApiKeyEnforcement) {
  start([](MockOptions& o) { o.api_key = "sekret"; });
  const std::string azure = "/openai/deployments/d/chat/completions?api-version=1";
  auto res = client_->post("/v1/chat/completions", "{}");
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(std::string_view(json(res.body)["error"]["code"]), "invalid_api_key");
  res = client_->post("/v1/chat/completions", "{}", {{"authorization", "Bearer wrong-key"}});
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(res.body.find("wrong-key"), std::string::npos);
  EXPECT_EQ(client_->post("/v1/chat/completions", "{}", {{"authorization", "Bearer sekret"}}).status, 200);
  EXPECT_EQ(client_->post("/v1/chat/completions", "{}", {{"api-key", "sekret"}}).status, 401);
  EXPECT_EQ(client_->post(azure, "{}", {{"authorization", "Bearer sekret"}}).status, 401);
  EXPECT_EQ(client_->post(azure, "{}", {{"api-key", "sekret"}}).status, 200);
  // The test aids need no key.
  EXPECT_EQ(client_->request(http::verb::get, "/mock/requests").status, 200);
}

TEST_F(MockLlmTest, StreamingChatWithUsage) {
  start();
  auto res = client_->post("/v1/chat/completions",
                           R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})",
                           {{"x-mock-completion-tokens", "3"}, {"x-mock-prompt-tokens", "7"}});
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.headers["content-type"], "text/event-stream");
  EXPECT_EQ(res.headers["transfer-encoding"], "chunked");
  const Sse sse = parse_sse(res.body);
  ASSERT_EQ(sse.data.size(), 7u) << res.body;  // role, 3 tokens, finish, usage, [DONE]
  auto doc = json(sse.data[0]);
  EXPECT_EQ(std::string_view(doc["object"]), "chat.completion.chunk");
  EXPECT_EQ(std::string_view(doc["choices"].at(0)["delta"]["role"]), "assistant");
  EXPECT_TRUE(doc["usage"].is_null());
  for (int k = 1; k <= 3; ++k) {
    doc = json(sse.data[k]);
    EXPECT_EQ(std::string_view(doc["choices"].at(0)["delta"]["content"]), "w" + std::to_string(k) + " ");
  }
  doc = json(sse.data[4]);
  EXPECT_EQ(std::string_view(doc["choices"].at(0)["finish_reason"]), "stop");
  doc = json(sse.data[5]);
  EXPECT_EQ(simdjson::dom::array(doc["choices"]).size(), 0u);
  EXPECT_EQ(int64_t(doc["usage"]["prompt_tokens"]), 7);
  EXPECT_EQ(int64_t(doc["usage"]["completion_tokens"]), 3);
  EXPECT_EQ(int64_t(doc["usage"]["total_tokens"]), 10);
  EXPECT_EQ(sse.data[6], "[DONE]");

  // Without include_usage there is no usage at all; the connection is still usable.
  const auto plain = client_->post("/v1/chat/completions", R"({"model":"m","stream":true})",
                                   {{"x-mock-completion-tokens", "2"}});
  const Sse plain_sse = parse_sse(plain.body);
  ASSERT_EQ(plain_sse.data.size(), 5u) << plain.body;
  EXPECT_EQ(plain.body.find("usage"), std::string::npos);
}

TEST_F(MockLlmTest, StreamingResponses) {
  start();
  const auto res = client_->post("/v1/responses", R"({"model":"m","stream":true,"input":"x"})",
                                 {{"x-mock-completion-tokens", "2"}});
  const Sse sse = parse_sse(res.body);
  EXPECT_EQ(sse.events, (std::vector<std::string>{"response.created", "response.output_text.delta",
                                                  "response.output_text.delta", "response.completed"}));
  ASSERT_EQ(sse.data.size(), 4u);
  EXPECT_EQ(int64_t(json(sse.data[3])["response"]["usage"]["output_tokens"]), 2);
}

TEST_F(MockLlmTest, CloseAfterCutsTheStream) {
  start();
  const auto res = client_->post("/v1/chat/completions", R"({"model":"m","stream":true})",
                                 {{"x-mock-completion-tokens", "5"}, {"x-mock-close-after", "2"}});
  EXPECT_TRUE(res.error) << res.body;
  const Sse sse = parse_sse(res.body);
  EXPECT_EQ(sse.data.size(), 3u) << res.body;  // role + 2 tokens, no finish, no [DONE]
}

TEST_F(MockLlmTest, TokensPerSecondPacesTheStream) {
  start([](MockOptions& o) { o.tokens_per_second = 100; });
  const auto begin = std::chrono::steady_clock::now();
  const auto res = client_->post("/v1/chat/completions", R"({"model":"m","stream":true})",
                                 {{"x-mock-completion-tokens", "6"}});
  EXPECT_EQ(parse_sse(res.body).data.size(), 9u);
  EXPECT_GE(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(50));  // 5 gaps of 10 ms
}

TEST_F(MockLlmTest, ScriptedStatusWithRetryAfter) {
  start();
  auto res = client_->post("/v1/chat/completions", "{}", {{"x-mock-status", "429"}});
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.headers["retry-after"], "1");
  EXPECT_EQ(res.headers["retry-after-ms"], "1000");
  EXPECT_TRUE(json(res.body)["error"]["message"].is_string());
  res = client_->post("/v1/chat/completions", "{}", {{"x-mock-status", "429"}, {"x-mock-retry-after", "7"}});
  EXPECT_EQ(res.headers["retry-after"], "7");
  EXPECT_EQ(res.headers["retry-after-ms"], "7000");
  res = client_->post("/v1/chat/completions", "{}", {{"x-mock-status", "503"}});
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.headers.count("retry-after"), 0u);
}

TEST_F(MockLlmTest, TpmCapacityRunsOut) {
  start([](MockOptions& o) { o.tpm_capacity = 100; });
  Headers sixty = {{"x-mock-prompt-tokens", "50"}, {"x-mock-completion-tokens", "10"}};
  auto res = client_->post("/v1/chat/completions", "{}", sixty);
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.headers["x-ratelimit-remaining-tokens"], "40");
  res = client_->post("/v1/chat/completions", "{}", sixty);  // 60 < 100: served, window now 120
  ASSERT_EQ(res.status, 200);
  EXPECT_EQ(res.headers["x-ratelimit-remaining-tokens"], "0");
  res = client_->post("/v1/chat/completions", "{}", sixty);
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.headers["retry-after"], "60");
  EXPECT_EQ(res.headers["x-ratelimit-remaining-tokens"], "0");
  EXPECT_GT(std::stoll(res.headers["retry-after-ms"]), 58000);
  auto doc = json(res.body);
  EXPECT_EQ(std::string_view(doc["error"]["code"]), "429");
  EXPECT_NE(std::string_view(doc["error"]["message"]).find("exceeded token rate limit"), std::string::npos);
  // /mock/reset empties the window.
  EXPECT_EQ(client_->post("/mock/reset", "").status, 200);
  EXPECT_EQ(client_->post("/v1/chat/completions", "{}", sixty).status, 200);
}

TEST_F(MockLlmTest, FailRateIsSeeded) {
  const auto outcomes = [this](uint64_t seed) {
    start([seed](MockOptions& o) {
      o.fail_rate = 0.5;
      o.seed = seed;
    });
    std::string statuses;
    for (int i = 0; i < 20; ++i)
      statuses += client_->post("/v1/chat/completions", "{}").status == 500 ? 'F' : '.';
    client_.reset();
    mock_->stop();
    return statuses;
  };
  const std::string first = outcomes(3);
  EXPECT_EQ(first, outcomes(3));
  EXPECT_NE(first.find('F'), std::string::npos);
  EXPECT_NE(first.find('.'), std::string::npos);
}

TEST_F(MockLlmTest, RecordsRequests) {
  start();
  client_->post("/v1/chat/completions?x=1", R"({"model":"a\"b"})", {{"X-Custom", "v1"}});
  client_->request(http::verb::get, "/v1/models");
  auto res = client_->request(http::verb::get, "/mock/requests");
  ASSERT_EQ(res.status, 200);
  auto doc = json(res.body);
  simdjson::dom::array log = doc;
  ASSERT_EQ(log.size(), 2u) << res.body;
  auto first = log.at(0);
  EXPECT_EQ(std::string_view(first["method"]), "POST");
  EXPECT_EQ(std::string_view(first["target"]), "/v1/chat/completions?x=1");
  EXPECT_EQ(std::string_view(first["headers"]["x-custom"]), "v1");
  EXPECT_EQ(std::string_view(first["headers"]["content-type"]), "application/json");
  EXPECT_EQ(std::string_view(first["body"]), R"({"model":"a\"b"})");
  EXPECT_EQ(std::string_view(log.at(1)["target"]), "/v1/models");

  EXPECT_EQ(client_->post("/mock/reset", "").status, 200);
  EXPECT_EQ(client_->request(http::verb::get, "/mock/requests").body, "[]");
}

TEST_F(MockLlmTest, MalformedHttpClosesTheConnection) {
  start();
  asio::write(client_->socket(), asio::buffer(std::string_view("NOT HTTP AT ALL\r\n\r\n")));
  const auto res = client_->read();
  EXPECT_TRUE(res.error);
  // The server is still fine.
  Client other(mock_->port());
  EXPECT_EQ(other.post("/v1/chat/completions", "{}").status, 200);
}

TEST_F(MockLlmTest, HangHoldsUntilStopAndStopIsPrompt) {
  start([](MockOptions& o) { o.threads = 2; });
  Client hanging(mock_->port());
  auto pending = std::async(std::launch::async, [&] {
    return hanging.post("/v1/chat/completions", "{}", {{"x-mock-hang", "true"}});
  });
  // Stalled streams are held the same way.
  Client stalled(mock_->port());
  auto stalled_pending = std::async(std::launch::async, [&] {
    return stalled.post("/v1/chat/completions", R"({"stream":true})", {{"x-mock-stall-after", "1"}});
  });
  // Other connections are served meanwhile; wait until both held requests have arrived.
  for (int i = 0; i < 200; ++i) {
    auto log = client_->request(http::verb::get, "/mock/requests");
    if (log.body.find("x-mock-hang") != std::string::npos &&
        log.body.find("x-mock-stall-after") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(client_->post("/v1/chat/completions", "{}").status, 200);
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);

  const auto begin = std::chrono::steady_clock::now();
  mock_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(1));
  for (auto* future : {&pending, &stalled_pending}) {
    if (future->wait_for(std::chrono::seconds(3)) != std::future_status::ready) {
      ADD_FAILURE() << "held request not released by stop()";
      ::shutdown(hanging.socket().native_handle(), SHUT_RDWR);
      ::shutdown(stalled.socket().native_handle(), SHUT_RDWR);
    }
  }
  EXPECT_TRUE(pending.get().error);
  const Response partial = stalled_pending.get();
  EXPECT_TRUE(partial.error);
  EXPECT_EQ(parse_sse(partial.body).data.size(), 2u);  // role + 1 token
  mock_->stop();                                       // idempotent
}

}  // namespace
}  // namespace spillway::mock
