// The mock-llm server.
//
// Threads and ownership:
//   - `threads` workers, each one io_context run by one thread. Worker 0 also runs the only acceptor,
//     which hands accepted sockets round-robin to the workers; a connection stays on its worker.
//   - A connection is one coroutine whose frame owns its Session (socket, buffers, parser, timer).
//   - Shared (options, request log, TPM window, dice, id counter) is owned by MockLlmImpl and outlives
//     every session: stop() destroys the io_contexts, and with them every suspended session, before it
//     returns. That is also how held (hang/stall) requests end on stop().
//   - The simdjson parser is per thread; a request's JSON is fully read before its first co_await.

#include "mock/mock_llm.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cctype>
#include <charconv>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "mock/mock_args.h"
#include "mock/mock_bodies.h"
#include "mock/mock_state.h"
#include "util/json.h"
#include "util/log.h"

namespace spillway::mock {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxBody = 16u << 20;
constexpr std::size_t kMaxHeader = 64u << 10;
constexpr std::size_t kLogCapacity = 200;
constexpr int64_t kDefaultCompletionTokens = 16;
// Bounds on scripted counts: no overflow in sums, and a completion of at most a few MiB.
constexpr int64_t kMaxScriptedCount = int64_t{1} << 40;
constexpr int64_t kMaxCompletionTokens = 1'000'000;
// A keep-alive connection idle this long is closed (nginx's keepalive_timeout); held requests never are.
constexpr auto kIdleTimeout = std::chrono::seconds(75);
constexpr auto kWriteTimeout = std::chrono::seconds(30);

// State every worker shares. Thread-safe.
struct Shared {
  explicit Shared(const MockOptions& o)
      : options(o),
        backend_header("x-mock-backend: " + o.name + "\r\n"),
        tpm(o.tpm_capacity > 0 ? o.tpm_capacity : 1, o.tpm_window),
        dice(o.fail_rate, o.seed) {}

  const MockOptions options;
  const std::string backend_header;
  RequestLog log{kLogCapacity};
  TokenWindow tpm;  // consulted only when options.tpm_capacity > 0
  FailDice dice;
  std::atomic<uint64_t> next_id{1};
};

struct Route {
  enum class Kind { kNone, kOperation, kModels, kMockRequests, kMockReset };
  Kind kind = Kind::kNone;
  http::verb method = http::verb::post;  // the one method the path accepts
  Operation operation = Operation::kChat;
  bool azure = false;           // /openai/deployments/{d}/...: api-key auth, api-version required
  std::string_view deployment;  // azure only; a view into the request target
};

Route match_route(std::string_view path) {
  Route route;
  const auto operation = [&](std::string_view op) {
    route.kind = Route::Kind::kOperation;
    if (op == "chat/completions") {
      route.operation = Operation::kChat;
    } else if (op == "completions") {
      route.operation = Operation::kCompletion;
    } else if (op == "embeddings") {
      route.operation = Operation::kEmbedding;
    } else if (op == "responses" && !route.azure) {
      route.operation = Operation::kResponse;
    } else {
      route.kind = Route::Kind::kNone;
    }
  };
  if (path == "/v1/models") {
    route.kind = Route::Kind::kModels, route.method = http::verb::get;
  } else if (path == "/mock/requests") {
    route.kind = Route::Kind::kMockRequests, route.method = http::verb::get;
  } else if (path == "/mock/reset") {
    route.kind = Route::Kind::kMockReset;
  } else if (path.starts_with("/v1/")) {
    operation(path.substr(4));
  } else if (constexpr std::string_view kAzure = "/openai/deployments/"; path.starts_with(kAzure)) {
    const std::string_view rest = path.substr(kAzure.size());
    const auto slash = rest.find('/');
    if (slash != 0 && slash != std::string_view::npos) {
      route.azure = true;
      route.deployment = rest.substr(0, slash);
      operation(rest.substr(slash + 1));
    }
  }
  return route;
}

// The value of `name` in a query string ("a=1&b=2"), without percent-decoding; empty when absent.
std::string_view query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

void append_int(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

// {"method":..,"target":..,"headers":{lowercase name: value},"body":..}; repeated headers are joined
// with ", " as HTTP allows.
std::string render_log_entry(const http::request<http::string_body>& req) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
    if (it == headers.end()) {
      headers.emplace_back(std::move(name), std::string(field.value()));
    } else {
      it->second.append(", ").append(field.value());
    }
  }
  std::string out;
  out.reserve(128 + req.body().size());
  out += R"({"method":)";
  util::append_json_string(out, req.method_string());
  out += R"(,"target":)";
  util::append_json_string(out, req.target());
  out += R"(,"headers":{)";
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0) out.push_back(',');
    util::append_json_string(out, headers[i].first);
    out.push_back(':');
    util::append_json_string(out, headers[i].second);
  }
  out += R"(},"body":)";
  util::append_json_string(out, req.body());
  out.push_back('}');
  return out;
}

std::string_view operation_name(Operation operation) {
  switch (operation) {
    case Operation::kChat:
      return "ChatCompletions_Create";
    case Operation::kCompletion:
      return "Completions_Create";
    case Operation::kEmbedding:
      return "Embeddings_Create";
    case Operation::kResponse:
      return "Responses_Create";
  }
  return "";
}

// What the request body asks for, read before the first co_await (the parser is per thread).
struct BodyFields {
  std::string model;
  bool stream = false;
  bool include_usage = false;
  std::optional<int64_t> max_tokens;
  std::vector<uint64_t> input_hashes;  // embeddings: one per input
  bool base64 = false;                 // embeddings: encoding_format "base64"
};

// Reads the fields the mock needs into `fields` (reused between requests); returns an error message when
// the body is not acceptable.
std::optional<std::string_view> read_body(std::string& body, Operation operation, BodyFields& fields) {
  thread_local simdjson::dom::parser parser;
  // With the padding in place simdjson parses the body where it is instead of copying it.
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  fields.model.clear();
  fields.input_hashes.clear();
  fields.max_tokens.reset();
  simdjson::dom::object doc;
  if (parser.parse(body).get(doc)) return "the request body must be a JSON object";
  std::string_view model;
  if (!doc["model"].get(model)) fields.model.assign(model);
  bool flag = false;
  fields.stream = !doc["stream"].get(flag) && flag;
  fields.include_usage = !doc["stream_options"]["include_usage"].get(flag) && flag;
  for (const char* key : {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
    int64_t value = 0;
    if (!doc[key].get(value)) {
      fields.max_tokens = value;
      break;
    }
  }
  if (operation != Operation::kEmbedding) return std::nullopt;
  std::string_view encoding_format;
  fields.base64 = !doc["encoding_format"].get(encoding_format) && encoding_format == "base64";

  // "input": a string, an array of strings, an array of token ids, or an array of token-id arrays.
  constexpr std::string_view kBadInput =
      "'input' must be a string, an array of strings, or an array of token arrays";
  const auto tokens_hash = [](simdjson::dom::array tokens) -> std::optional<uint64_t> {
    std::string bytes;
    for (auto token : tokens) {
      int64_t id = 0;
      if (token.get(id)) return std::nullopt;
      bytes.append(reinterpret_cast<const char*>(&id), sizeof id);
    }
    return embedding_input_hash(bytes, 1);
  };
  simdjson::dom::element input;
  if (doc["input"].get(input)) return "'input' is required";
  std::string_view text;
  simdjson::dom::array items;
  if (!input.get(text)) {
    fields.input_hashes.push_back(embedding_input_hash(text, 0));
  } else if (!input.get(items) && items.size() > 0) {
    if (int64_t first = 0; !items.at(0).get(first)) {
      const auto hash = tokens_hash(items);
      if (!hash) return kBadInput;
      fields.input_hashes.push_back(*hash);
      return std::nullopt;
    }
    for (auto item : items) {
      simdjson::dom::array tokens;
      if (!item.get(text)) {
        fields.input_hashes.push_back(embedding_input_hash(text, 0));
      } else if (!item.get(tokens)) {
        const auto hash = tokens_hash(tokens);
        if (!hash) return kBadInput;
        fields.input_hashes.push_back(*hash);
      } else {
        return kBadInput;
      }
    }
  } else {
    return kBadInput;
  }
  return std::nullopt;
}

// One connection: reads requests until the peer leaves, the connection must close, or stop().
class Session {
 public:
  Session(tcp::socket socket, Shared& shared)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), shared_(shared) {}

  asio::awaitable<void> run();

 private:
  using Request = http::request<http::string_body>;

  // Answers one request. Returns false when the connection must close.
  asio::awaitable<bool> handle(Request& req);
  asio::awaitable<bool> handle_mock_aid(const Route& route);
  asio::awaitable<bool> method_not_allowed(const Route& route);
  asio::awaitable<bool> serve(Request& req, const Route& route, std::string_view query);
  asio::awaitable<bool> stream_events(Operation operation, const Completion& completion, bool include_usage,
                                      std::optional<int64_t> stall_after, std::optional<int64_t> close_after);
  // Holds the connection without answering until the peer closes it (or stop() destroys the session).
  asio::awaitable<void> hold();

  // Starts head_ with the status line and the headers every response has.
  void start_head(int status);
  // Sends head_ + extra_ + body_ as a complete response with content-type application/json.
  asio::awaitable<bool> send(int status);
  asio::awaitable<bool> send_error(int status, std::string_view message, std::string_view type,
                                   std::string_view code, std::string_view param = {});
  asio::awaitable<bool> write(std::string_view bytes);
  // Reads the integer scripting header `name` into `out`; false when present but not a count up to `max`.
  bool count_header(const Request& req, std::string_view name, std::optional<int64_t>& out,
                    int64_t max = kMaxScriptedCount) const;
  bool authorized(const Request& req, bool azure) const;

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  asio::steady_timer timer_;
  std::string head_;   // status line and headers of the response being built
  std::string extra_;  // per-response extra header lines, each ending in \r\n
  std::string body_;   // the response body, or one SSE chunk
  BodyFields fields_;
  bool keep_alive_ = true;
  bool http10_ = false;
  Shared& shared_;
};

asio::awaitable<void> Session::run() {
  for (;;) {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    parser_->header_limit(kMaxHeader);
    stream_.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_read_header(stream_, buffer_, *parser_, kTok);
    if (!ec && !parser_->is_done()) {
      if (iequals(parser_->get()[http::field::expect], "100-continue")) {
        if (!co_await write("HTTP/1.1 100 Continue\r\n\r\n")) break;
      }
      stream_.expires_after(kIdleTimeout);
      std::tie(ec, n) = co_await http::async_read(stream_, buffer_, *parser_, kTok);
    }
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      co_await send_error(413, "the request body exceeds 16 MiB", "invalid_request_error",
                          "request_too_large");
      break;
    }
    // End of stream, idle timeout or malformed HTTP: close the connection.
    if (ec) break;
    Request req = parser_->release();
    if (!co_await handle(req)) break;
  }
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

asio::awaitable<bool> Session::handle(Request& req) {
  keep_alive_ = req.keep_alive();
  http10_ = req.version() < 11;
  extra_.clear();
  const std::string_view target = req.target();
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  const Route route = match_route(path);
  if (route.kind == Route::Kind::kMockRequests || route.kind == Route::Kind::kMockReset) {
    if (req.method() != route.method) co_return co_await method_not_allowed(route);
    co_return co_await handle_mock_aid(route);
  }
  shared_.log.add(render_log_entry(req));

  if (const auto hang = req["x-mock-hang"]; iequals(hang, "true") || hang == "1") {
    co_await hold();
    co_return false;
  }
  std::chrono::microseconds latency = shared_.options.latency;
  if (const auto header = req["x-mock-latency"]; !header.empty()) {
    const auto parsed = parse_duration(header);
    if (!parsed) {
      co_return co_await send_error(400, "invalid x-mock-latency header", "invalid_request_error",
                                    "invalid_mock_header", "x-mock-latency");
    }
    latency = *parsed;
  }
  if (latency.count() > 0) {
    timer_.expires_after(latency);
    auto [ec] = co_await timer_.async_wait(kTok);
    if (ec) co_return false;
  }

  if (route.kind == Route::Kind::kNone) {
    std::string message = "Unknown request URL: ";
    message.append(req.method_string()).append(" ").append(path);
    co_return co_await send_error(404, message, "invalid_request_error", "unknown_url");
  }
  if (req.method() != route.method) co_return co_await method_not_allowed(route);
  if (!authorized(req, route.azure)) {
    co_return co_await send_error(
        401,
        route.azure ? "Access denied due to a missing or invalid api-key header."
                    : "Incorrect or missing API key: pass it as 'Authorization: Bearer <key>'.",
        "invalid_request_error", "invalid_api_key");
  }
  if (route.azure && query_param(query, "api-version").empty()) {
    co_return co_await send_error(400, "api-version query parameter is required", "invalid_request_error",
                                  "missing_api_version", "api-version");
  }

  std::optional<int64_t> retry_after;
  if (!count_header(req, "x-mock-retry-after", retry_after)) {
    co_return co_await send_error(400, "invalid x-mock-retry-after header", "invalid_request_error",
                                  "invalid_mock_header", "x-mock-retry-after");
  }
  if (const auto header = req["x-mock-status"]; !header.empty()) {
    const auto status = parse_count(header);
    if (!status || *status < 400 || *status > 599) {
      co_return co_await send_error(400, "x-mock-status must be a status code from 400 to 599",
                                    "invalid_request_error", "invalid_mock_header", "x-mock-status");
    }
    if (*status == 429 && !retry_after) retry_after = 1;
    if (retry_after) {
      extra_ += "retry-after: ";
      append_int(extra_, *retry_after);
      extra_ += "\r\nretry-after-ms: ";
      append_int(extra_, *retry_after * 1000);
      extra_ += "\r\n";
    }
    std::string message = "simulated HTTP " + std::string(header) + " (x-mock-status)";
    const std::string_view type =
        *status == 429 ? "requests" : (*status >= 500 ? "server_error" : "invalid_request_error");
    co_return co_await send_error(static_cast<int>(*status), message, type, header);
  }

  if (route.kind == Route::Kind::kModels) {
    body_.clear();
    append_model_list(body_);
    co_return co_await send(200);
  }
  co_return co_await serve(req, route, query);
}

asio::awaitable<bool> Session::method_not_allowed(const Route& route) {
  extra_ = route.method == http::verb::get ? "allow: GET\r\n" : "allow: POST\r\n";
  co_return co_await send_error(405, "method not allowed", "invalid_request_error", "method_not_allowed");
}

asio::awaitable<bool> Session::handle_mock_aid(const Route& route) {
  body_.clear();
  if (route.kind == Route::Kind::kMockRequests) {
    body_ = shared_.log.to_json();
  } else {
    shared_.log.clear();
    shared_.tpm.clear();
    body_ = R"({"reset":true})";
  }
  co_return co_await send(200);
}

asio::awaitable<bool> Session::serve(Request& req, const Route& route, std::string_view query) {
  if (const auto error = read_body(req.body(), route.operation, fields_)) {
    co_return co_await send_error(400, *error, "invalid_request_error", "invalid_request");
  }
  if (route.azure) {
    fields_.model.assign(route.deployment);
  } else if (fields_.model.empty()) {
    fields_.model = "mock-model";
  }

  std::optional<int64_t> prompt, completion, cached, stall_after, close_after;
  const std::tuple<std::string_view, std::optional<int64_t>*, int64_t> scripted[] = {
      {"x-mock-prompt-tokens", &prompt, kMaxScriptedCount},
      {"x-mock-completion-tokens", &completion, kMaxCompletionTokens},
      {"x-mock-cached-tokens", &cached, kMaxScriptedCount},
      {"x-mock-stall-after", &stall_after, kMaxScriptedCount},
      {"x-mock-close-after", &close_after, kMaxScriptedCount}};
  for (const auto& [name, value, max] : scripted) {
    if (!count_header(req, name, *value, max)) {
      co_return co_await send_error(400, "invalid " + std::string(name) + " header", "invalid_request_error",
                                    "invalid_mock_header", name);
    }
  }
  const bool embedding = route.operation == Operation::kEmbedding;
  Completion answer;
  answer.model = fields_.model;
  answer.prompt_tokens = prompt.value_or(std::max<int64_t>(1, static_cast<int64_t>(req.body().size() / 4)));
  answer.completion_tokens =
      embedding ? 0
                : completion.value_or(std::min(fields_.max_tokens.value_or(kDefaultCompletionTokens),
                                               kDefaultCompletionTokens));
  answer.completion_tokens = std::max<int64_t>(0, answer.completion_tokens);
  answer.cached_tokens = cached.value_or(0);
  answer.usage = req["x-mock-usage"] != "none";

  if (shared_.dice.roll()) {
    co_return co_await send_error(500, "The server had an error while processing your request (simulated).",
                                  "server_error", "500");
  }
  if (shared_.options.tpm_capacity > 0) {
    const auto decision =
        shared_.tpm.try_admit(answer.prompt_tokens + answer.completion_tokens, TokenWindow::Clock::now());
    if (!decision.admitted) {
      const int64_t ms = decision.retry_after.count();
      const int64_t seconds = std::max<int64_t>(1, (ms + 999) / 1000);
      extra_ += "retry-after: ";
      append_int(extra_, seconds);
      extra_ += "\r\nretry-after-ms: ";
      append_int(extra_, ms);
      extra_ += "\r\nx-ratelimit-remaining-tokens: 0\r\n";
      std::string message = "Requests to the ";
      message.append(operation_name(route.operation)).append(" Operation under Azure OpenAI API version ");
      const std::string_view version = query_param(query, "api-version");
      message.append(version.empty() ? "v1" : version);
      message.append(
          " have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after ");
      append_int(message, seconds);
      message.append(
          " seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further "
          "increase the default rate limit.");
      co_return co_await send_error(429, message, "tokens", "429");
    }
    extra_ += "x-ratelimit-remaining-tokens: ";
    append_int(extra_, decision.remaining);
    extra_ += "\r\n";
  }

  body_.clear();
  if (embedding) {
    append_embeddings_body(body_, fields_.input_hashes.data(), fields_.input_hashes.size(), answer.model,
                           answer.prompt_tokens, answer.usage, fields_.base64);
    co_return co_await send(200);
  }
  std::string id;
  switch (route.operation) {
    case Operation::kChat:
      id = "chatcmpl-mock-";
      break;
    case Operation::kCompletion:
      id = "cmpl-mock-";
      break;
    default:
      id = "resp_mock_";
      break;
  }
  append_int(id, static_cast<int64_t>(shared_.next_id.fetch_add(1, std::memory_order_relaxed)));
  answer.id = id;
  answer.created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  if (fields_.stream) {
    co_return co_await stream_events(route.operation, answer, fields_.include_usage, stall_after,
                                     close_after);
  }
  append_completion_body(body_, route.operation, answer);
  co_return co_await send(200);
}

asio::awaitable<bool> Session::stream_events(Operation operation, const Completion& completion,
                                             bool include_usage, std::optional<int64_t> stall_after,
                                             std::optional<int64_t> close_after) {
  // HTTP/1.0 has no chunked encoding: the stream then ends when the connection closes.
  const bool chunked = !http10_;
  if (!chunked) keep_alive_ = false;
  start_head(200);
  head_ += "content-type: text/event-stream\r\ncache-control: no-cache\r\n";
  if (chunked) head_ += "transfer-encoding: chunked\r\n";
  head_ += extra_;
  head_ += "\r\n";
  bool head_sent = false;

  const auto tps = shared_.options.tokens_per_second;
  const auto interval = std::chrono::nanoseconds(tps > 0 ? static_cast<int64_t>(1e9 / tps) : 0);
  auto next_token_at = std::chrono::steady_clock::now();
  EventStream events(operation, completion, include_usage);
  while (!events.done()) {
    if (events.started() && (stall_after == events.tokens_sent() || close_after == events.tokens_sent())) {
      if (!head_sent && !co_await write(head_)) co_return false;
      if (close_after == events.tokens_sent()) co_return false;  // run() closes without the last chunk
      co_await hold();
      co_return false;
    }
    if (interval.count() > 0 && events.next_is_token()) {
      if (events.tokens_sent() == 0) {
        next_token_at = std::chrono::steady_clock::now();
      } else {
        next_token_at += interval;
        timer_.expires_at(next_token_at);
        auto [ec] = co_await timer_.async_wait(kTok);
        if (ec) co_return false;
      }
    }
    // One write per event: the head travels with the first, the last chunk with the final event.
    if (head_sent) head_.clear();
    body_.clear();
    events.next(body_);
    if (chunked) {
      char size[16];
      auto [end, ec] = std::to_chars(size, size + sizeof size, body_.size(), 16);
      head_.append(size, end).append("\r\n").append(body_).append("\r\n");
      if (events.done()) head_.append("0\r\n\r\n");
    } else {
      head_.append(body_);
    }
    head_sent = true;
    if (!co_await write(head_)) co_return false;
  }
  co_return keep_alive_;
}

asio::awaitable<void> Session::hold() {
  stream_.expires_never();
  std::array<char, 512> scratch;
  for (;;) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(scratch), kTok);
    if (ec) co_return;
  }
}

void Session::start_head(int status) {
  head_.clear();
  head_ += "HTTP/1.1 ";
  append_int(head_, status);
  head_.push_back(' ');
  const auto code = http::int_to_status(static_cast<unsigned>(status));
  head_ += code == http::status::unknown ? std::string_view("Error")
                                         : std::string_view(http::obsolete_reason(code));
  head_ += "\r\n";
  head_ += shared_.backend_header;
  if (!keep_alive_) {
    head_ += "connection: close\r\n";
  } else if (http10_) {
    head_ += "connection: keep-alive\r\n";
  }
}

asio::awaitable<bool> Session::send(int status) {
  start_head(status);
  head_ += "content-type: application/json\r\n";
  head_ += extra_;
  head_ += "content-length: ";
  append_int(head_, static_cast<int64_t>(body_.size()));
  head_ += "\r\n\r\n";
  stream_.expires_after(kWriteTimeout);
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(body_)};
  auto [ec, n] = co_await asio::async_write(stream_, buffers, kTok);
  co_return !ec && keep_alive_;
}

asio::awaitable<bool> Session::send_error(int status, std::string_view message, std::string_view type,
                                          std::string_view code, std::string_view param) {
  body_.clear();
  append_error(body_, message, type, code, param);
  co_return co_await send(status);
}

asio::awaitable<bool> Session::write(std::string_view bytes) {
  stream_.expires_after(kWriteTimeout);
  auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), kTok);
  co_return !ec;
}

bool Session::count_header(const Request& req, std::string_view name, std::optional<int64_t>& out,
                           int64_t max) const {
  const auto value = req[name];
  if (value.empty()) return true;
  out = parse_count(value);
  return out && *out <= max;
}

bool Session::authorized(const Request& req, bool azure) const {
  const std::string& key = shared_.options.api_key;
  if (key.empty()) return true;
  if (azure) return req["api-key"] == key;
  const std::string_view header = req[http::field::authorization];
  constexpr std::string_view kBearer = "bearer ";
  return header.size() > kBearer.size() && iequals(header.substr(0, kBearer.size()), kBearer) &&
         header.substr(kBearer.size()) == key;
}

void log_failure(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    util::log_error(std::string("mock-llm: ").append(what).append(" failed: ").append(ex.what()));
  }
}

asio::awaitable<void> run_session(tcp::socket socket, Shared& shared) {
  Session session(std::move(socket), shared);
  co_await session.run();
}

class MockLlmImpl final : public MockLlm {
 public:
  // Binds the listening socket and starts the workers. Throws std::runtime_error on failure.
  explicit MockLlmImpl(const MockOptions& options);
  ~MockLlmImpl() override { stop(); }

  uint16_t port() const override { return port_; }
  void stop() override;

 private:
  struct Worker {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
    std::thread thread;
  };

  asio::awaitable<void> accept_loop();

  Shared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::optional<tcp::acceptor> acceptor_;  // runs on workers_[0]
  uint16_t port_ = 0;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

MockLlmImpl::MockLlmImpl(const MockOptions& options) : shared_(options) {
  if (options.threads < 1) throw std::runtime_error("mock-llm: threads must be at least 1");
  if (!(options.fail_rate >= 0 && options.fail_rate <= 1)) {
    throw std::runtime_error("mock-llm: fail_rate must be between 0 and 1");
  }
  if (options.name.find_first_of("\r\n") != std::string::npos) {
    throw std::runtime_error("mock-llm: name must be a single line");
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.host == "localhost" ? "127.0.0.1" : options.host, ec);
  if (ec) throw std::runtime_error("mock-llm: invalid listen address '" + options.host + "'");

  for (int i = 0; i < options.threads; ++i) workers_.push_back(std::make_unique<Worker>());
  const tcp::endpoint endpoint(address, options.port);
  acceptor_.emplace(workers_.front()->ioc);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("mock-llm: cannot listen on " + options.host + ":" +
                             std::to_string(options.port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
  asio::co_spawn(workers_.front()->ioc, accept_loop(),
                 [](std::exception_ptr e) { log_failure("accept loop", e); });
  for (auto& worker : workers_) {
    worker->thread = std::thread([&ioc = worker->ioc] { ioc.run(); });
  }
}

asio::awaitable<void> MockLlmImpl::accept_loop() {
  asio::steady_timer backoff(acceptor_->get_executor());
  for (std::size_t next = 0;; ++next) {
    Worker& worker = *workers_[next % workers_.size()];
    tcp::socket socket(worker.ioc);
    auto [ec] = co_await acceptor_->async_accept(socket, kTok);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Typically out of file descriptors: wait instead of spinning.
      util::log_warn("mock-llm: accept failed: " + ec.message());
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(kTok);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(worker.ioc, run_session(std::move(socket), shared_),
                   [](std::exception_ptr e) { log_failure("session", e); });
  }
}

void MockLlmImpl::stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  for (auto& worker : workers_) {
    worker->guard.reset();
    worker->ioc.stop();
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  acceptor_.reset();
  // Destroying an io_context destroys its suspended sessions, which closes their sockets. Worker 0 goes
  // first: its accept loop may hold a not-yet-accepted socket that belongs to another worker.
  workers_.front().reset();
  workers_.clear();
}

}  // namespace

std::unique_ptr<MockLlm> MockLlm::start(const MockOptions& options) {
  return std::make_unique<MockLlmImpl>(options);
}

}  // namespace spillway::mock
