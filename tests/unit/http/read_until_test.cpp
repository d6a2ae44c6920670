#include "http/read_until.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <optional>
#include <string>
#include <vector>

#include "http/parsers.h"

namespace spillway::http::detail {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

// A loopback connection: the test writes pieces on `peer` (then maybe closes it) and reads on `reader`.
struct Conn {
  net::io_context ioc;
  tcp::socket reader{ioc};
  tcp::socket peer{ioc};
  boost::beast::flat_buffer buffer;
  Conn() {
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    reader.connect(acceptor.local_endpoint());
    acceptor.accept(peer);
  }
  void send(std::string_view bytes) { net::write(peer, net::buffer(bytes.data(), bytes.size())); }
  void close_peer() { peer.close(); }

  // Runs one read_until() to its end; the pieces are written first, one poll of the loop apart, so the
  // reader sees them in separate reads.
  template <class Parser, class Done>
  boost::system::error_code run(Parser& parser, Done done, const std::vector<std::string>& pieces,
                                bool close_after) {
    std::optional<boost::system::error_code> result;
    ioc.restart();  // the previous run() left it stopped, out of work
    net::co_spawn(
        ioc, [&]() -> net::awaitable<void> { result = co_await read_until(reader, buffer, parser, done); },
        net::detached);
    for (const std::string& piece : pieces) {
      ioc.poll();
      send(piece);
    }
    if (close_after) close_peer();
    for (int i = 0; i < 1000 && !result; ++i) ioc.run_one_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(result.has_value()) << "read_until did not finish";
    return result.value_or(net::error::timed_out);
  }
};

constexpr std::string_view kHead =
    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";

TEST(ReadUntil, AHeadSplitOverReadsIsParsedAndTheBodyIsLeftBuffered) {
  Conn c;
  Request req;
  RequestParser parser(req);
  const std::string head(kHead);
  const auto ec = c.run(parser, HeaderDone{}, {head.substr(0, 20), head.substr(20) + "hel"}, false);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(parser.is_header_done());
  EXPECT_FALSE(parser.is_done());
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.target, "/v1/chat/completions");
  EXPECT_EQ(c.buffer.size(), 3u);  // "hel", not parsed yet

  // The rest of the body: parsed from the buffer, then read.
  const auto bec = c.run(parser, MessageDone{}, {"lo"}, false);
  EXPECT_FALSE(bec) << bec.message();
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(req.body, "hello");
}

TEST(ReadUntil, AWholeMessageAlreadyBufferedIsParsedWithoutReading) {
  Conn c;
  Request req;
  RequestParser parser(req);
  const std::string both = std::string(kHead) + "hello" + std::string(kHead);
  net::buffer_copy(c.buffer.prepare(both.size()), net::buffer(both));
  c.buffer.commit(both.size());
  // Nothing is written to the socket: a read would never finish.
  EXPECT_FALSE(c.run(parser, MessageDone{}, {}, false));
  EXPECT_EQ(req.body, "hello");
  EXPECT_EQ(c.buffer.size(), kHead.size());  // the next (pipelined) request stays buffered
}

TEST(ReadUntil, EndOfFileBeforeAnythingIsEndOfStreamAndMidHeadIsPartialMessage) {
  {
    Conn c;
    Request req;
    RequestParser parser(req);
    EXPECT_EQ(c.run(parser, HeaderDone{}, {}, true), bhttp::error::end_of_stream);
  }
  {
    Conn c;
    Request req;
    RequestParser parser(req);
    EXPECT_EQ(c.run(parser, HeaderDone{}, {"POST / HTTP/1.1\r\nHo"}, true), bhttp::error::partial_message);
  }
  {
    Conn c;
    Request req;
    RequestParser parser(req);
    EXPECT_EQ(c.run(parser, MessageDone{}, {std::string(kHead) + "he"}, true), bhttp::error::partial_message);
  }
}

TEST(ReadUntil, AResponseBodyThatRunsToTheEndOfTheConnectionIsCompleteAtEndOfFile) {
  Conn c;
  HeaderList headers;
  ResponseParser parser(headers);
  std::string body;
  parser.set_sink(&body);
  const auto ec =
      c.run(parser, MessageDone{}, {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nabc", "def"}, true);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(body, "abcdef");
}

TEST(ReadUntil, AHeadOverTheHeaderLimitFailsWithHeaderLimitAndReadsNoFurther) {
  Conn c;
  Request req;
  RequestParser parser(req);
  parser.header_limit(1024);
  const std::string big = "GET / HTTP/1.1\r\nx-filler: " + std::string(4096, 'a') + "\r\n\r\n";
  EXPECT_EQ(c.run(parser, HeaderDone{}, {big}, false), bhttp::error::header_limit);
  EXPECT_LT(c.buffer.size(), big.size());  // it stopped reading at the limit, before the rest
}

TEST(ReadUntil, AConditionOnBodyBytesStopsAfterTheFirstChunkWithData) {
  Conn c;
  HeaderList headers;
  ResponseParser parser(headers);
  std::string body;
  parser.set_sink(&body);
  // The head and a chunk's size line come first (no body bytes), the chunk's data later.
  ASSERT_FALSE(
      c.run(parser, HeaderDone{}, {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n"}, false));
  const auto some = [&](const auto&) { return !body.empty(); };
  const auto ec = c.run(parser, some, {"data\r\n", "5\r\nmore!\r\n"}, false);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(body, "data");
  EXPECT_FALSE(parser.is_done());

  // The rest, to the last chunk.
  const auto rest = c.run(parser, MessageDone{}, {"0\r\n\r\n"}, false);
  EXPECT_FALSE(rest) << rest.message();
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(body, "datamore!");
}

TEST(ReadUntil, AResetConnectionReportsTheSocketError) {
  Conn c;
  Request req;
  RequestParser parser(req);
  // Linger 0: closing sends a reset instead of a FIN.
  c.peer.set_option(net::socket_base::linger(true, 0));
  const auto ec = c.run(parser, HeaderDone{}, {"GET / HT"}, true);
  EXPECT_TRUE(ec == net::error::connection_reset || ec == bhttp::error::partial_message) << ec.message();
}

}  // namespace
}  // namespace spillway::http::detail
