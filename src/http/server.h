#pragma once
// The HTTP/1.1 server: one io_context and thread per worker, one SO_REUSEPORT acceptor per worker and
// listener (a connection accepted by a worker with more open connections than another goes to the one
// with fewest), keep-alive sessions as C++20 coroutines. It knows nothing of policies: each request goes to
// the listener's Handler. Beast stays in server.cpp.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/types.h"

namespace boost::asio {
class io_context;
}

namespace spillway::http {

// How the proxy answers one request. All calls run on the session's worker thread. A `false` return means
// the client has gone (or the write failed): later writes are no-ops that return false.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // A complete response with Content-Length.
  virtual boost::asio::awaitable<bool> send(Response response) = 0;
  // A chunked response: the head now (with `first`, when not empty, as its first chunk, in the same
  // write), then chunks as they come, then end_stream() (with `last`, when not empty, as the last chunk
  // before the terminating one, in the same write).
  virtual boost::asio::awaitable<bool> begin_stream(int status, const HeaderList& headers,
                                                    std::string_view first) = 0;
  virtual boost::asio::awaitable<bool> write_chunk(std::string_view data) = 0;
  virtual boost::asio::awaitable<bool> end_stream(std::string_view last) = 0;
  // Ends a started stream abnormally: the connection is closed without the terminating chunk.
  virtual void abort_stream() = 0;
  virtual bool started() const = 0;
  virtual bool client_gone() const = 0;
};

enum class ProtocolError { kMalformed, kBodyTooLarge, kHeadersTooLarge, kShuttingDown, kInternal };

// One per listener and worker. Runs on that worker's thread only.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual boost::asio::awaitable<void> handle(Request& request, ResponseWriter& writer) = 0;
  // The response for a request the HTTP layer rejects itself (sent with Connection: close).
  virtual Response protocol_error(ProtocolError error, std::string_view detail) = 0;
  // Terminal shutdown on the worker thread: cancel whatever the handler still waits for (upstream calls).
  virtual void shutdown() {}
};

struct ListenerSpec {
  std::string name;  // "gateway", "admin" (for logs)
  std::string host;
  uint16_t port = 0;
  // Builds the handler for worker `index`; called once per worker on start().
  std::function<std::unique_ptr<Handler>(std::size_t worker_index)> make_handler;
  bool all_workers = true;  // false: only worker 0 serves it (admin)
};

struct ServerLimits {
  std::size_t max_body = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 64 * 1024;
  std::chrono::milliseconds client_idle{60'000};
  std::chrono::milliseconds write_timeout{60'000};
  // The shortest timeout of the reads on worker threads besides client_idle (the backends' first_byte,
  // idle and total): read deadlines are checked an eighth of the shorter of the two apart (10 ms to 1 s).
  std::chrono::milliseconds shortest_read_timeout{60'000};
};

class Server {
 public:
  Server(std::size_t workers, ServerLimits limits);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener on every worker. Throws std::runtime_error (with the address) when a bind fails.
  // REQUIRES: before run().
  void add_listener(const ListenerSpec& spec);
  // The bound port of listener `name` (useful with port 0).
  uint16_t bound_port(std::string_view name) const;
  std::size_t worker_count() const;
  boost::asio::io_context& worker_context(std::size_t index);

  // Starts the worker threads and returns.
  void start();
  // Graceful stop: close acceptors, close idle keep-alive connections, let in-flight requests finish for
  // at most `drain`, then close everything and join the threads. Thread-safe; blocks until done.
  void shutdown(std::chrono::milliseconds drain);
  // Number of requests currently being handled (all workers).
  std::size_t in_flight() const;
  // Reads the open client connections of each worker (every listener's); safe to call from any thread,
  // also after the server is gone (then the counts are as it left them).
  std::function<std::vector<std::size_t>()> connection_counts() const;
  bool draining() const;

  struct Impl;  // opaque; public only so server.cpp's helpers can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace spillway::http
