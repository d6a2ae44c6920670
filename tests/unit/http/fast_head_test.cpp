// The fast head path of parsers.h against Beast's basic_parser alone: for every message here (plain ones,
// every byte value at each place of a head, the fields that frame a message, and a few thousand random
// mutations), RequestParser and ResponseParser must end exactly as Beast does: the same error, and for a
// parsed message the same method, target, version, status, fields, body, keep-alive, Content-Length and
// bytes left over. Which messages took the fast path is checked too, so the comparison is not vacuous.
#include "http/fast_head.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "../mutation.h"
#include "http/parsers.h"

namespace spillway::http::detail {
namespace {

struct Limits {
  std::uint32_t header = 8 * 1024;
  std::optional<std::uint64_t> body;  // none: no limit
};

struct Outcome {
  boost::system::error_code ec;
  bool header_done = false;
  bool done = false;
  std::string method, target;
  HeaderList headers;
  std::string body;
  unsigned version = 0;
  int status = 0;
  bool keep_alive = false;
  std::optional<std::uint64_t> content_length;
  std::string left;  // unparsed bytes
  bool fast = false;
};

void expect_same(const Outcome& fast, const Outcome& beast, const std::string& msg) {
  SCOPED_TRACE(::testing::PrintToString(msg));
  ASSERT_EQ(fast.ec, beast.ec) << fast.ec.message() << " vs " << beast.ec.message();
  ASSERT_EQ(fast.header_done, beast.header_done);
  ASSERT_EQ(fast.done, beast.done);
  ASSERT_EQ(fast.left, beast.left);
  if (fast.ec || !fast.header_done) return;  // after an error the outputs are not used
  EXPECT_EQ(fast.method, beast.method);
  EXPECT_EQ(fast.target, beast.target);
  EXPECT_EQ(fast.headers, beast.headers);
  EXPECT_EQ(fast.body, beast.body);
  EXPECT_EQ(fast.version, beast.version);
  EXPECT_EQ(fast.status, beast.status);
  EXPECT_EQ(fast.keep_alive, beast.keep_alive);
  EXPECT_EQ(fast.content_length, beast.content_length);
}

// Feeds `pieces` one after another into a buffer and parses what it holds after each, as the server does;
// at the end, `eof` tells the parser the connection closed (when it has begun a message).
template <class Parser>
boost::system::error_code feed(Parser& parser, const std::vector<std::string>& pieces, bool eof,
                               std::string& left) {
  boost::beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (const std::string& piece : pieces) {
    auto room = buffer.prepare(piece.size());
    std::memcpy(room.data(), piece.data(), piece.size());
    buffer.commit(piece.size());
    ec = parse_buffered(parser, buffer);
    if (ec || parser.is_done()) break;
  }
  if (!ec && !parser.is_done() && eof && parser.got_some()) parser.put_eof(ec);
  const auto data = buffer.data();
  left.assign(static_cast<const char*>(data.data()), data.size());
  return ec;
}

template <class Parser>
void finish(Parser& parser, Outcome& o) {
  o.header_done = parser.is_header_done();
  o.done = parser.is_done();
  if (!o.header_done || o.ec) return;
  o.keep_alive = parser.keep_alive();
  if (auto n = parser.content_length()) o.content_length = *n;
  o.version = parser.version();
}

// Parses `pieces` with `parser` (RequestParser, ResponseParser or a Beast parser behind them).
template <class Parser>
void run(Parser& parser, const std::vector<std::string>& pieces, bool eof, const Limits& limits, Outcome& o) {
  parser.header_limit(limits.header);
  parser.body_limit(limits.body ? boost::optional<std::uint64_t>(*limits.body) : boost::none);
  o.ec = feed(parser, pieces, eof, o.left);
  finish(parser, o);
}

template <class Parser>
Outcome request(const std::vector<std::string>& pieces, bool eof, Limits limits) {
  Outcome o;
  Request req;
  Parser parser(req);
  run(parser, pieces, eof, limits, o);
  if constexpr (std::is_same_v<Parser, RequestParser>) o.fast = parser.fast();
  o.method = req.method;
  o.target = req.target;
  o.headers = req.headers;
  o.body = req.body;
  return o;
}

template <class Parser>
Outcome response(const std::vector<std::string>& pieces, bool eof, Limits limits) {
  Outcome o;
  HeaderList headers;
  Parser parser(headers);
  parser.set_sink(&o.body);
  run(parser, pieces, eof, limits, o);
  if constexpr (std::is_same_v<Parser, ResponseParser>) o.fast = parser.fast();
  o.status = parser.status();
  o.headers = headers;
  return o;
}

Outcome request_fast(const std::vector<std::string>& pieces, bool eof = true, Limits limits = {}) {
  return request<RequestParser>(pieces, eof, limits);
}

// Both ways (`fast`, then the Beast parser alone); returns whether the fast path took it.
using Parse = Outcome (*)(const std::vector<std::string>&, bool, Limits);
bool same(Parse fast, Parse beast, const std::vector<std::string>& pieces, bool eof, Limits limits) {
  const Outcome f = fast(pieces, eof, limits);
  std::string joined;
  for (const auto& p : pieces) joined += p;
  expect_same(f, beast(pieces, eof, limits), joined);
  return f.fast;
}

bool same_request(const std::vector<std::string>& pieces, bool eof = true, Limits limits = {}) {
  return same(request<RequestParser>, request<BeastRequestParser>, pieces, eof, limits);
}
bool same_request(const std::string& msg) { return same_request(std::vector<std::string>{msg}); }

bool same_response(const std::vector<std::string>& pieces, bool eof = true, Limits limits = {}) {
  return same(response<ResponseParser>, response<BeastResponseParser>, pieces, eof, limits);
}
bool same_response(const std::string& msg) { return same_response(std::vector<std::string>{msg}); }

const std::string kRequest =
    "POST /v1/chat/completions?api-version=2024-10-21 HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "Authorization: Bearer sk-test-123\r\n"
    "Content-Type: application/json\r\n"
    "X-User:  alice@example.com \t\r\n"
    "Content-Length: 17\r\n"
    "\r\n"
    "{\"model\":\"gpt-4\"}";

const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Sat, 05 Dec 2026 22:00:00 GMT\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 11\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    "{\"id\":\"x\"}\n";

TEST(FastHead, PlainRequestsAndResponsesTakeTheFastPathWithBeastsResults) {
  EXPECT_TRUE(same_request(kRequest));
  EXPECT_TRUE(same_response(kResponse));
  EXPECT_TRUE(same_request("GET /models HTTP/1.1\r\nHost: x\r\n\r\n"));  // no body
  EXPECT_TRUE(same_request("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(same_request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  EXPECT_TRUE(same_request("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
  EXPECT_TRUE(same_request("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_TRUE(same_request("POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n1234567"));
  EXPECT_TRUE(same_request("POST / HTTP/1.1\r\nX-Empty:\r\nX-Blank:   \r\nContent-Length: 1\r\n\r\nx"));
  EXPECT_TRUE(same_response("HTTP/1.0 404 \r\nContent-Length: 2\r\n\r\nno"));
  EXPECT_TRUE(
      same_response("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
  EXPECT_TRUE(same_response("HTTP/1.1 599 \xff\x80 obs-text\r\nContent-Length: 0\r\n\r\n"));

  const Outcome o = request_fast({kRequest});
  ASSERT_FALSE(o.ec);
  EXPECT_EQ(o.method, "POST");
  EXPECT_EQ(o.target, "/v1/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(o.headers[3], (std::pair<std::string, std::string>("x-user", "alice@example.com")));
  EXPECT_EQ(o.body, "{\"model\":\"gpt-4\"}");
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.keep_alive);
}

TEST(FastHead, MessagesItLeavesToBeastEndAsBeastEndsThem) {
  // Framing and connection forms it does not take.
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nab"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"));
  EXPECT_FALSE(same_request("POST / HTTP/1.1\r\nContent-Length: 00000000000000000001\r\n\r\nx"));
  EXPECT_FALSE(
      same_request("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"));
  EXPECT_FALSE(same_request("GET / HTTP/1.1\r\nConnection: close,\r\n\r\n"));
  EXPECT_FALSE(same_request("GET / HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n"));
  EXPECT_FALSE(same_request("GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\n"));
  // Malformed heads: Beast's errors.
  EXPECT_FALSE(same_request("GET / HTTP/1.1\r\nX-Folded: a\r\n b\r\n\r\n"));
  EXPECT_FALSE(same_request("GET / HTTP/1.1\nHost: x\n\n"));
  EXPECT_FALSE(same_request("GET / HTTP/1.1\r\nHost : x\r\n\r\n"));
  EXPECT_FALSE(same_request("GET / HTTP/1.1\r\n: x\r\n\r\n"));
  EXPECT_FALSE(same_request("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"));
  EXPECT_FALSE(same_request("GET  / HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(same_request("GET / HTTP/2.0\r\n\r\n"));
  EXPECT_FALSE(same_request("GET / HTTP/1.1 \r\n\r\n"));
  EXPECT_FALSE(same_request("\r\nGET / HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(
      same_response("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: 1\n\n"));  // to EOF
  EXPECT_FALSE(same_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  EXPECT_FALSE(same_response("HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\n"));
  EXPECT_FALSE(same_response("HTTP/1.1 304 Not Modified\r\nContent-Length: 4\r\n\r\n"));
  EXPECT_FALSE(same_response("HTTP/1.1 100 Continue\r\n\r\n"));
  EXPECT_FALSE(same_response("HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(same_response("HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(same_response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(same_response("HTTP/1.1 200 O\x7fK\r\nContent-Length: 0\r\n\r\n"));
}

TEST(FastHead, IncompleteHeadsBodiesSplitOverReadsAndEndsOfStream) {
  // A head cut anywhere is Beast's (it may wait for the rest); the whole message comes out the same.
  for (std::size_t cut = 1; cut < kRequest.size(); ++cut) {
    const bool fast = same_request({kRequest.substr(0, cut), kRequest.substr(cut)});
    const std::size_t head = kRequest.find("\r\n\r\n") + 4;
    EXPECT_EQ(fast, cut >= head + 0) << cut;  // the whole head in the first piece: fast
  }
  for (std::size_t cut = 1; cut < kResponse.size(); ++cut) {
    same_response({kResponse.substr(0, cut), kResponse.substr(cut)});
  }
  // The body one byte at a time.
  std::vector<std::string> pieces{kRequest.substr(0, kRequest.find("\r\n\r\n") + 4)};
  for (std::size_t i = pieces[0].size(); i < kRequest.size(); ++i) pieces.push_back(kRequest.substr(i, 1));
  EXPECT_TRUE(same_request(pieces));
  // The connection closes inside the body, or inside the head: partial_message both ways.
  EXPECT_TRUE(same_request({kRequest.substr(0, kRequest.size() - 3)}, true));
  EXPECT_EQ(request_fast({kRequest.substr(0, kRequest.size() - 3)}).ec,
            boost::beast::http::error::partial_message);
  EXPECT_FALSE(same_request({kRequest.substr(0, 30)}, true));
  EXPECT_TRUE(same_response({kResponse.substr(0, kResponse.size() - 1)}, true));
  // The next message (pipelined) stays buffered.
  const Outcome two = request_fast({kRequest + "GET / HTTP/1.1\r\n\r\n"});
  EXPECT_TRUE(two.fast);
  EXPECT_EQ(two.left, "GET / HTTP/1.1\r\n\r\n");
  same_request(kRequest + "GET / HTTP/1.1\r\n\r\n");
}

TEST(FastHead, LimitsAreBeastsLimits) {
  const std::size_t head = kRequest.find("\r\n\r\n") + 4;
  for (std::uint32_t limit : {16u, 64u, static_cast<std::uint32_t>(head - 1),
                              static_cast<std::uint32_t>(head), static_cast<std::uint32_t>(head + 1)}) {
    same_request({kRequest}, true, Limits{.header = limit, .body = std::nullopt});
    same_response({kResponse}, true, Limits{.header = limit, .body = std::nullopt});
  }
  EXPECT_FALSE(same_request({kRequest}, true, Limits{.body = 16}));  // body_limit, Beast's error
  EXPECT_EQ(request_fast({kRequest}, true, Limits{.body = 16}).ec, boost::beast::http::error::body_limit);
  EXPECT_TRUE(same_request({kRequest}, true, Limits{.body = 17}));
  EXPECT_FALSE(same_response({kResponse}, true, Limits{.body = 10}));
}

TEST(FastHead, EveryByteValueAtEachPlaceOfAHead) {
  // Replaces one byte of a plain message by each of the 256 values, at places in the method, target,
  // version, a field name, a field value, the Content-Length, a line end, the blank line and the reason.
  int fast_requests = 0, fast_responses = 0;
  for (const std::size_t at :
       {std::size_t{1}, std::size_t{5}, std::size_t{12}, std::size_t{43}, std::size_t{53}, std::size_t{56},
        std::size_t{60}, std::size_t{75}, std::size_t{80}, std::size_t{86}, std::size_t{148},
        kRequest.find("\r\n\r\n"), kRequest.find("\r\n\r\n") + 2, kRequest.find("17") + 1}) {
    for (int c = 0; c < 256; ++c) {
      std::string msg = kRequest;
      msg[at] = static_cast<char>(c);
      fast_requests += same_request(msg);
      if (HasFatalFailure()) return;
    }
  }
  for (const std::size_t at :
       {std::size_t{0}, std::size_t{7}, std::size_t{8}, std::size_t{10}, std::size_t{12}, std::size_t{14},
        std::size_t{20}, std::size_t{30}, kResponse.find("11") + 1}) {
    for (int c = 0; c < 256; ++c) {
      std::string msg = kResponse;
      msg[at] = static_cast<char>(c);
      fast_responses += same_response(msg);
      if (HasFatalFailure()) return;
    }
  }
  // Most single-byte changes of a value keep the head plain; those of structure mostly do not.
  EXPECT_GT(fast_requests, 1000);
  EXPECT_GT(fast_responses, 500);
}

TEST(FastHead, RandomMutationsOfHeads) {
  // Bytes that matter to a head's grammar, and a few that do not.
  std::string alphabet = " \t\r\n:,;/.-0159aAzZ\"()\x7f\x80\xff";
  alphabet.push_back('\0');
  std::mt19937 rng(20261205);
  int fast = 0, total = 0;
  for (int round = 0; round < 6000; ++round) {
    const bool request = round % 2 == 0;
    std::string msg = request ? kRequest : kResponse;
    testing::mutate(msg, 0, alphabet, rng);
    ++total;
    fast += request ? same_request(msg) : same_response(msg);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(fast, total / 5) << "too few mutations kept the head plain for the comparison to mean much";
}

TEST(FastHead, AReusedRequestDropsTheHeadersOfTheOneBefore) {
  Request req;
  {
    RequestParser parser(req);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(kRequest.data(), kRequest.size()), ec);
    ASSERT_FALSE(ec);
    ASSERT_TRUE(parser.fast());
    EXPECT_EQ(req.headers.size(), 5u);
  }
  const std::string small = "GET /v1/models HTTP/1.1\r\nHost: y\r\n\r\n";
  RequestParser parser(req);
  boost::system::error_code ec;
  EXPECT_EQ(parser.put(boost::asio::buffer(small.data(), small.size()), ec), small.size());
  ASSERT_FALSE(ec);
  EXPECT_TRUE(parser.is_done());
  ASSERT_EQ(req.headers.size(), 1u);
  EXPECT_EQ(req.headers[0], (std::pair<std::string, std::string>("host", "y")));
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/v1/models");
  EXPECT_TRUE(req.body.empty());
}

}  // namespace
}  // namespace spillway::http::detail
