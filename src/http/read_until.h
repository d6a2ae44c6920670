#pragma once
// Reading an HTTP message into a parser of parsers.h: what Beast's http::async_read_header, async_read and
// async_read_some do, as one loop in a coroutine. Private to src/http (includes Asio and Beast).
//
// Why: each of Beast's reads is two composed operations (read_op around read_some_op), each with its own
// handler allocation and type-erased executor work guards, and a posted completion when it never had to
// wait. Under load, when a keep-alive connection's next message is not buffered yet, every read went
// through all of that. Here the stream's own async_read_some is awaited directly.
//
// Semantics kept from Beast's read_some_op: what the buffer holds is parsed first and the stream is read
// only while the parser needs more; a read asks for the buffer's free capacity, at least 512 bytes and at
// most 64 KiB; the parser's header and body limits bound the buffer's growth; end of file after part of a
// message goes to the parser (put_eof: a body that runs to the end of the connection is complete, anything
// else is partial_message), and before any of it is http::error::end_of_stream.

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>

#include "http/parsers.h"

namespace spillway::http::detail {

// Parses what `buffer` holds and reads `stream` into it until `done(parser)` or the end of the message.
// Returns the read's or the parser's error.
template <class Stream, class Parser, class DynamicBuffer, class Done>
boost::asio::awaitable<boost::system::error_code> read_until(Stream& stream, DynamicBuffer& buffer,
                                                             Parser& parser, Done done) {
  constexpr std::size_t kMinRead = 512, kMaxRead = 64 * 1024;
  for (;;) {
    if (boost::system::error_code ec = parse_buffered(parser, buffer, done);
        ec || parser.is_done() || done(parser)) {
      co_return ec;
    }
    const std::size_t room = std::clamp(buffer.capacity() - buffer.size(), kMinRead, kMaxRead);
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(room),
                                                   boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec == boost::asio::error::eof) {
      if (!parser.got_some()) co_return boost::beast::http::error::end_of_stream;
      boost::system::error_code eof;
      parser.put_eof(eof);
      co_return eof;
    }
    if (ec) co_return ec;
    buffer.commit(n);
  }
}

}  // namespace spillway::http::detail
