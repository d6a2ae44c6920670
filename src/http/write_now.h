#pragma once
// A write that does not wait: as much of a buffer sequence as the socket's send buffer takes right now.
// Private to src/http (includes Asio).
//
// Why: an async write costs an operation object, a timer armed and cancelled (Beast's per-operation
// timeout) and a trip through the event loop to resume the coroutine, even when the kernel takes every
// byte at once, which is what happens to a response or an upstream request that fits the socket buffer.
// Writing directly first and going async only for what is left skips all of that in the common case; a
// slow reader still gets the async write and its timeout.

#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>

namespace spillway::http::detail {

// REQUIRES: socket.non_blocking() is true. Returns the bytes written (possibly fewer than the buffers hold,
// possibly 0); `ec` is set only for a real error (never for would_block).
template <class Socket, class Buffers>
std::size_t write_now(Socket& socket, const Buffers& buffers, boost::system::error_code& ec) {
  const std::size_t n = socket.write_some(buffers, ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    ec.clear();
    return 0;
  }
  return ec ? 0 : n;
}

}  // namespace spillway::http::detail
