#include "http/server.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>

#include "http/deadlines.h"
#include "http/parsers.h"
#include "http/read_until.h"
#include "http/write_now.h"
#include "util/allocator.h"
#include "util/log.h"

namespace spillway::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
constexpr auto kTok = net::as_tuple(net::use_awaitable);
using ReusePort = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

void log_exception(std::string_view where, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    util::log_error(std::string(where) + ": " + ex.what());
  } catch (...) {
    util::log_error(std::string(where) + ": unknown exception");
  }
}

bool is_client_closed(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
         ec == net::error::operation_aborted || ec == beast::error::timeout ||
         ec == net::error::bad_descriptor || ec == net::error::broken_pipe;
}

std::string_view reason_phrase(int status) {
  const auto code = bhttp::int_to_status(static_cast<unsigned>(status));
  return code == bhttp::status::unknown ? std::string_view("Unknown")
                                        : std::string_view(bhttp::obsolete_reason(code));
}

// Statuses whose responses carry no body and no Content-Length (RFC 9110 8.6).
bool bodiless_status(int status) { return status < 200 || status == 204 || status == 304; }

}  // namespace

class Session;

// Open client connections per worker. Shared: connection_counts() readers may outlive the server.
struct ConnectionCounts {
  explicit ConnectionCounts(std::size_t workers) : open(workers) {}
  std::vector<std::atomic<std::size_t>> open;
};

// Member order matters for destruction: handlers and acceptors go while the io_context lives; a session
// frame still pending when the io_context dies may still touch `sessions`.
struct Worker {
  std::size_t index = 0;
  // Read deadlines, swept by the anchor timer. First: the sessions' and connections' entries go before it.
  detail::ReadDeadlines deadlines;
  std::unordered_set<Session*> sessions;  // only touched on this worker's thread
  std::atomic<std::size_t> in_flight{0};
  net::io_context ioc{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::unique_ptr<Handler>> handlers;
  std::vector<std::size_t> listener_of;  // per acceptor: its index in Server::Impl::listeners
  // See anchor_loop(). Created by start(), cancelled by shutdown(); only touched on this worker's thread
  // after start().
  std::unique_ptr<net::steady_timer> anchor;
  std::thread thread;
};

struct Server::Impl {
  // Per listener, per worker: the handler that serves it there (null on a worker that does not: a
  // listener served by worker 0 only, the admin one, never hands a connection over).
  struct Listener {
    std::vector<Handler*> handlers;
  };

  ServerLimits limits;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Listener> listeners;
  std::shared_ptr<ConnectionCounts> counts;
  std::map<std::string, uint16_t, std::less<>> ports;
  std::atomic<bool> draining{false};
  bool started = false;
  std::once_flag stopped;
};

// One client connection. Lives in the frame of its coroutine (run_session) on its worker's thread.
class Session final : public ResponseWriter {
 public:
  static constexpr std::size_t kReadBufferSize = 8 * 1024;

  Session(Worker& worker, Server::Impl& server, Handler& handler, tcp::socket socket)
      : worker_(worker), server_(server), handler_(handler), stream_(std::move(socket)) {
    // Beast reads at most max(512, free capacity) bytes per call: without room a 1 KB request took three
    // recvmsg calls and three trips through the event loop.
    buffer_.reserve(kReadBufferSize);
    // write_all() writes directly first (write_now.h); the async operations do not care either way.
    boost::system::error_code ec;
    stream_.socket().non_blocking(true, ec);
    worker_.sessions.insert(this);
  }
  ~Session() override {
    worker_.sessions.erase(this);
    server_.counts->open[worker_.index].fetch_sub(1, std::memory_order_relaxed);
  }

  net::awaitable<void> run();

  // Called on shutdown: an idle connection (between requests) is closed now; a busy one closes after its
  // response. `force` closes busy ones too (terminal cancellation).
  void close_for_shutdown(bool force) {
    if (busy_ && !force) return;
    boost::system::error_code ec;
    stream_.socket().close(ec);
  }

  // ResponseWriter
  net::awaitable<bool> send(Response response) override;
  net::awaitable<bool> begin_stream(int status, const HeaderList& headers, std::string_view first) override;
  net::awaitable<bool> write_chunk(std::string_view data) override;
  net::awaitable<bool> end_stream(std::string_view last) override;
  void abort_stream() override {
    close_after_ = true;
    gone_ = true;
    boost::system::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }
  bool started() const override { return responded_ || streaming_; }
  bool client_gone() const override { return gone_; }

 private:
  bool keep_alive_now() const { return keep_alive_ && !close_after_ && !server_.draining.load(); }
  net::awaitable<void> reject(ProtocolError error, std::string_view detail);
  net::awaitable<void> linger_close();
  // Writes all of `buffers`: what the socket takes at once directly, the rest (if any) asynchronously under
  // the write timeout.
  template <class Buffers>
  net::awaitable<boost::system::error_code> write_all(const Buffers& buffers) {
    boost::system::error_code ec;
    const std::size_t n = detail::write_now(stream_.socket(), buffers, ec);
    if (ec || n == net::buffer_size(buffers)) co_return ec;
    beast::buffers_suffix<Buffers> rest(buffers);
    rest.consume(n);
    stream_.expires_after(server_.limits.write_timeout);
    auto [wec, wn] = co_await net::async_write(stream_, rest, kTok);
    stream_.expires_never();  // reads have their own deadline (arm_read)
    co_return wec;
  }
  // Client reads (the next request's head, a body) end after `client_idle` through the worker's read
  // deadlines (http/deadlines.h), not a timer of their own: between client_idle and client_idle + 2 ticks
  // from now. An expired read completes with operation_aborted, and the session ends.
  void arm_read() {
    detail::ReadDeadlines& d = worker_.deadlines;
    d.arm(read_deadline_, stream_.socket(), d.after(server_.limits.client_idle));
  }
  bool write_failed(const boost::system::error_code& ec) {
    if (!ec) return false;
    gone_ = true;
    return true;
  }
  // head_ = the status line, `headers`, content-length (or, with none, transfer-encoding: chunked; neither
  // for a status without a body), the connection header keep-alive needs, and the blank line.
  void write_head(int status, const HeaderList& headers, std::optional<std::uint64_t> content_length);

  Worker& worker_;
  Server::Impl& server_;
  Handler& handler_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  // Reused by every request on this connection, so their strings keep their capacity.
  Request request_;
  std::string head_;  // the response head being written
  unsigned version_ = 11;
  bool busy_ = false;
  bool keep_alive_ = true;
  bool close_after_ = false;
  bool responded_ = false;
  bool streaming_ = false;
  bool bodiless_ = false;  // the stream begun has no content (its status, or HEAD): chunks are not written
  bool head_request_ = false;  // the request is a HEAD: its answer carries no content
  bool gone_ = false;
  detail::ReadDeadlines::Entry read_deadline_;  // after stream_: disarmed before the socket goes
};

net::awaitable<void> Session::run() {
  const ServerLimits& limits = server_.limits;
  {
    boost::system::error_code rec;
    const auto remote = stream_.socket().remote_endpoint(rec);
    if (!rec) request_.remote_address = remote.address().to_string();
  }
  for (;;) {
    detail::RequestParser parser(request_);
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body);
    busy_ = false;
    if (server_.draining.load()) break;
    arm_read();
    const boost::system::error_code ec =
        co_await detail::read_until(stream_.socket(), buffer_, parser, detail::HeaderDone{});
    read_deadline_.disarm();
    if (ec) {
      if (ec == bhttp::error::body_limit) {  // Content-Length over the limit, seen with the head
        co_await reject(ProtocolError::kBodyTooLarge, "");
      } else if (ec == bhttp::error::header_limit) {
        co_await reject(ProtocolError::kHeadersTooLarge, "request headers too large");
      } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
                 ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        const std::string detail = ec.message();
        co_await reject(ProtocolError::kMalformed, detail);
      }
      break;
    }
    busy_ = true;
    worker_.in_flight.fetch_add(1, std::memory_order_relaxed);
    struct InFlight {
      Worker& w;
      ~InFlight() { w.in_flight.fetch_sub(1, std::memory_order_relaxed); }
    } in_flight{worker_};

    responded_ = streaming_ = bodiless_ = gone_ = close_after_ = false;
    head_request_ = request_.method == "HEAD";
    version_ = parser.version();
    keep_alive_ = parser.keep_alive();
    if (const auto length = parser.content_length(); length && *length > limits.max_body) {
      co_await reject(ProtocolError::kBodyTooLarge, "");
      break;
    }
    // An HTTP/1.1 request without a Host field is malformed (RFC 9112, 3.2): a 400, as nginx answers. So is
    // a transfer coding other than chunked alone (gzip, or chunked after another): the body's end cannot be
    // found (RFC 9112, 6.3; it was read as empty, and its bytes as the next request). The connection
    // closes. One pass over the fields, their lengths compared first.
    bool has_host = false;
    bool other_coding = false;
    for (const auto& [name, value] : request_.headers) {
      if (name.size() == 4 && name == "host") {
        has_host = true;
      } else if (name.size() == 17 && name == "transfer-encoding" && !beast::iequals(value, "chunked")) {
        other_coding = true;
      }
    }
    if (version_ >= 11 && !has_host) {
      co_await reject(ProtocolError::kMalformed, "no Host header");
      break;
    }
    if (other_coding) {
      co_await reject(ProtocolError::kMalformed, "unsupported transfer-encoding");
      break;
    }
    if (beast::iequals(find_header(request_.headers, "expect"), "100-continue") && !parser.is_done()) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      const net::const_buffer buffer = net::buffer(kContinue.data(), kContinue.size());
      const boost::system::error_code wec = co_await write_all(buffer);
      if (wec) break;
    }
    // The body usually came in with the head: parse what is buffered here, and arm the deadline and read
    // only for the rest.
    boost::system::error_code bec = detail::parse_buffered(parser, buffer_);
    if (!bec && !parser.is_done()) {
      arm_read();
      bec = co_await detail::read_until(stream_.socket(), buffer_, parser, detail::MessageDone{});
      read_deadline_.disarm();
    }
    if (bec == bhttp::error::body_limit) {
      co_await reject(ProtocolError::kBodyTooLarge, "");
      break;
    }
    if (bec) {
      if (!is_client_closed(bec)) {
        const std::string detail = bec.message();
        co_await reject(ProtocolError::kMalformed, detail);
      }
      break;
    }
    if (server_.draining.load()) close_after_ = true;

    std::exception_ptr failure;
    try {
      co_await handler_.handle(request_, *this);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      log_exception("request handler", failure);
      if (!started()) {
        Response response = handler_.protocol_error(ProtocolError::kInternal, "internal error");
        co_await send(std::move(response));
      } else {
        abort_stream();
      }
    } else if (!started()) {
      util::log_error("handler returned without a response");
      Response response = handler_.protocol_error(ProtocolError::kInternal, "no response");
      co_await send(std::move(response));
    }
    if (gone_ || !keep_alive_now()) break;
  }
  busy_ = false;
  boost::system::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.socket().close(ec);
}

net::awaitable<void> Session::reject(ProtocolError error, std::string_view detail) {
  close_after_ = true;
  Response response = handler_.protocol_error(error, detail);
  co_await send(std::move(response));
  co_await linger_close();
}

// Reads (and discards) what the client is still sending, for a bounded time and size, so that closing
// the socket does not reset the connection before the client has read our error response.
net::awaitable<void> Session::linger_close() {
  boost::system::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  std::size_t discarded = 0;
  char scratch[16 * 1024];
  stream_.expires_after(std::chrono::seconds(2));
  while (discarded < 8 * 1024 * 1024) {
    auto [rec, n] = co_await stream_.async_read_some(net::buffer(scratch), kTok);
    if (rec) break;
    discarded += n;
  }
  stream_.socket().close(ec);
}

void Session::write_head(int status, const HeaderList& headers, std::optional<std::uint64_t> content_length) {
  const std::string_view reason = reason_phrase(status);
  detail::HeadWriter w(head_,
                       reason.size() + detail::HeadWriter::size_of(headers) + detail::HeadWriter::kHeadSlack);
  w.put(version_ == 10 ? std::string_view("HTTP/1.0 ") : std::string_view("HTTP/1.1 "));
  w.decimal(static_cast<unsigned>(status)).put(' ').put(reason).crlf();
  w.fields(headers);
  if (bodiless_status(status)) {
    // No body, so no framing: HTTP forbids transfer-encoding on a 1xx or 204 (RFC 9112, 6.1).
  } else if (content_length) {
    w.put("content-length: ").decimal(*content_length).crlf();
  } else {
    w.put("transfer-encoding: chunked\r\n");
  }
  // As Beast's keep_alive(): HTTP/1.1 says only "close", HTTP/1.0 only "keep-alive".
  const bool keep = keep_alive_now();
  if (version_ >= 11 && !keep) w.put("connection: close\r\n");
  if (version_ < 11 && keep) w.put("connection: keep-alive\r\n");
  w.crlf();
  w.finish();
}

// Responses are serialised by hand into head_ and written with the body in one gathered write.
net::awaitable<bool> Session::send(Response response) {
  responded_ = true;
  if (gone_) co_return false;
  write_head(response.status, response.headers, response.body.size());  // no length for a bodiless status
  // The answer to a HEAD has the head a GET would get and never content (RFC 9110, 9.3.2): a client reads
  // none, so bytes sent would be taken for the start of the connection's next answer.
  const bool content = !bodiless_status(response.status) && !head_request_;
  const std::array<net::const_buffer, 2> buffers{net::buffer(head_),
                                                 content ? net::buffer(response.body) : net::const_buffer()};
  const boost::system::error_code ec = co_await write_all(buffers);
  co_return !write_failed(ec);
}

namespace {

// The buffers of one chunk of `data`: its size line, the data, CRLF. All three are empty when `data` is
// (a chunk of size 0 would end the stream). The size line lives in *this.
class ChunkFrame {
 public:
  std::array<net::const_buffer, 3> of(std::string_view data) {
    if (data.empty()) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    char* const end = size_.data() + size_.size();
    char* p = end;
    *--p = '\n';
    *--p = '\r';
    for (std::size_t v = data.size(); v != 0; v >>= 4) *--p = kHex[v & 0xF];
    return {net::buffer(p, static_cast<std::size_t>(end - p)), net::buffer(data.data(), data.size()),
            net::buffer("\r\n", 2)};
  }

 private:
  std::array<char, 20> size_;
};

constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace

net::awaitable<bool> Session::begin_stream(int status, const HeaderList& headers, std::string_view first) {
  streaming_ = true;
  if (gone_) co_return false;
  write_head(status, headers, std::nullopt);
  if (bodiless_status(status) || head_request_) {
    // A backend's 204 or 304, or the answer to a HEAD: the head is the whole answer, whatever else the
    // backend sent.
    bodiless_ = true;
    const boost::system::error_code ec = co_await write_all(net::buffer(head_));
    co_return !write_failed(ec);
  }
  ChunkFrame frame;
  const auto chunk = frame.of(first);
  const std::array<net::const_buffer, 4> buffers{net::buffer(head_), chunk[0], chunk[1], chunk[2]};
  const boost::system::error_code ec = co_await write_all(buffers);
  co_return !write_failed(ec);
}

net::awaitable<bool> Session::write_chunk(std::string_view data) {
  if (gone_) co_return false;
  if (data.empty() || bodiless_) co_return true;
  ChunkFrame frame;
  const auto buffers = frame.of(data);
  const boost::system::error_code ec = co_await write_all(buffers);
  co_return !write_failed(ec);
}

net::awaitable<bool> Session::end_stream(std::string_view last) {
  if (gone_) co_return false;
  if (bodiless_) co_return true;
  ChunkFrame frame;
  const auto chunk = frame.of(last);
  const std::array<net::const_buffer, 4> buffers{chunk[0], chunk[1], chunk[2],
                                                 net::buffer(kLastChunk.data(), kLastChunk.size())};
  const boost::system::error_code ec = co_await write_all(buffers);
  co_return !write_failed(ec);
}

namespace {

net::awaitable<void> run_session(Worker& worker, Server::Impl& server, Handler& handler, tcp::socket socket) {
  Session session(worker, server, handler, std::move(socket));
  co_await session.run();
}

// An accepted socket on its way to another worker: closed if the hand-over never runs (shutdown).
struct HandedOver {
  int fd = -1;
  tcp protocol = tcp::v4();
  HandedOver(int f, tcp p) : fd(f), protocol(p) {}
  HandedOver(HandedOver&& o) noexcept : fd(std::exchange(o.fd, -1)), protocol(o.protocol) {}
  HandedOver(const HandedOver&) = delete;
  ~HandedOver() {
    if (fd >= 0) ::close(fd);
  }
};

// The worker that takes a connection accepted by `worker` on `listener`: the one with the fewest open
// connections among those serving it, `worker` itself unless another has strictly fewer. The kernel's
// SO_REUSEPORT hash spreads connections at random: 64 keep-alive connections over 2 workers often come out
// as 38 and 26, and the fuller worker's requests then wait longer (its queue sets the tail latency).
// Balancing the counts at accept time is Envoy's exact_balance; it costs a cross-thread post per
// connection moved, and nothing per request.
std::size_t pick_worker(const Server::Impl& server, const Server::Impl::Listener& listener,
                        std::size_t worker) {
  const auto& open = server.counts->open;
  std::size_t best = worker;
  std::size_t fewest = open[worker].load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < open.size(); ++i) {
    if (listener.handlers[i] == nullptr) continue;
    const std::size_t n = open[i].load(std::memory_order_relaxed);
    if (n < fewest) {
      fewest = n;
      best = i;
    }
  }
  return best;
}

net::awaitable<void> accept_loop(Worker& worker, Server::Impl& server, tcp::acceptor& acceptor,
                                 std::size_t listener_index) {
  const Server::Impl::Listener& listener = server.listeners[listener_index];
  const tcp protocol = acceptor.local_endpoint().protocol();
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kTok);
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
      util::log_warn(std::string("accept failed: ") + ec.message());
      // Out of descriptors and similar: back off instead of spinning.
      net::steady_timer timer(worker.ioc, std::chrono::milliseconds(50));
      co_await timer.async_wait(kTok);
      continue;
    }
    boost::system::error_code oec;
    socket.set_option(tcp::no_delay(true), oec);
    const std::size_t target = pick_worker(server, listener, worker.index);
    // Counted from now on (its Session's destructor uncounts it), so that the next pick sees it.
    server.counts->open[target].fetch_add(1, std::memory_order_relaxed);
    if (target == worker.index) {
      net::co_spawn(worker.ioc, run_session(worker, server, *listener.handlers[target], std::move(socket)),
                    [](std::exception_ptr e) { log_exception("session", e); });
      continue;
    }
    Worker& to = *server.workers[target];
    HandedOver moved(socket.release(oec), protocol);
    if (oec) {
      server.counts->open[target].fetch_sub(1, std::memory_order_relaxed);
      continue;  // `socket` still owns it and closes it
    }
    net::post(to.ioc,
              [&to, &server, handler = listener.handlers[target], moved = std::move(moved)]() mutable {
                tcp::socket s(to.ioc);
                boost::system::error_code aec;
                s.assign(moved.protocol, moved.fd, aec);
                if (aec) {
                  server.counts->open[to.index].fetch_sub(1, std::memory_order_relaxed);
                  return;  // `moved` closes it
                }
                moved.fd = -1;  // the socket owns it now
                net::co_spawn(to.ioc, run_session(to, server, *handler, std::move(s)),
                              [](std::exception_ptr e) { log_exception("session", e); });
              });
  }
}

// Keeps a timer of the worker due within kAnchorPeriod at all times, and sweeps the worker's read
// deadlines (http/deadlines.h) each time it fires: every tick, an eighth of the shortest read timeout
// (client_idle, ServerLimits::shortest_read_timeout), 10 ms to kAnchorPeriod. Asio reprograms a worker's
// timerfd (a timerfd_settime syscall) whenever a newly started timer becomes its earliest; the timers that
// requests still start (connect, TLS, writes the socket did not take at once: seconds away) never do behind
// this one. Costs one wake-up per tick per worker. Every util::kReleaseFreeMemoryEvery it also
// hands the memory the worker's heap keeps unused back to the OS (util/allocator.h): the worker's own
// thread must do that, idle or busy.
constexpr auto kAnchorPeriod = std::chrono::seconds(1);

net::awaitable<void> anchor_loop(Worker& worker) {
  net::steady_timer& timer = *worker.anchor;
  // Staggered, a second per worker (up to 8), so that workers seldom find each other at it.
  util::FreeMemoryReleaseSchedule release(std::chrono::steady_clock::now(),
                                          std::chrono::seconds(worker.index % 8));
  for (;;) {
    timer.expires_after(worker.deadlines.tick());
    auto [ec] = co_await timer.async_wait(kTok);
    if (ec) co_return;  // cancelled by shutdown
    const auto now = std::chrono::steady_clock::now();
    worker.deadlines.sweep(now);
    release.tick(now);
  }
}

tcp::endpoint resolve_endpoint(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) throw std::runtime_error("cannot resolve listen address '" + host + "'");
    return *results.begin();
  }
  return {address, port};
}

}  // namespace

Server::Server(std::size_t workers, ServerLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  if (workers == 0) workers = 1;
  impl_->counts = std::make_shared<ConnectionCounts>(workers);
  for (std::size_t i = 0; i < workers; ++i) {
    impl_->workers.push_back(std::make_unique<Worker>());
    impl_->workers.back()->index = i;
  }
}

Server::~Server() {
  if (impl_->started) shutdown(std::chrono::milliseconds(0));
}

void Server::add_listener(const ListenerSpec& spec) {
  tcp::endpoint endpoint = resolve_endpoint(spec.host, spec.port);
  const std::size_t count = spec.all_workers ? impl_->workers.size() : 1;
  Impl::Listener listener{std::vector<Handler*>(impl_->workers.size(), nullptr)};
  for (std::size_t i = 0; i < count; ++i) {
    Worker& worker = *impl_->workers[i];
    auto acceptor = std::make_unique<tcp::acceptor>(worker.ioc);
    boost::system::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->set_option(ReusePort(true), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + spec.host + ":" + std::to_string(endpoint.port()) +
                               " (" + spec.name + "): " + ec.message());
    }
    // Port 0: the first acceptor picks the port, the others share it through SO_REUSEPORT.
    endpoint.port(acceptor->local_endpoint().port());
    worker.handlers.push_back(spec.make_handler(i));
    listener.handlers[i] = worker.handlers.back().get();
    worker.acceptors.push_back(std::move(acceptor));
    worker.listener_of.push_back(impl_->listeners.size());
  }
  impl_->listeners.push_back(std::move(listener));
  impl_->ports[spec.name] = endpoint.port();
}

uint16_t Server::bound_port(std::string_view name) const {
  auto it = impl_->ports.find(name);
  return it == impl_->ports.end() ? 0 : it->second;
}

std::size_t Server::worker_count() const { return impl_->workers.size(); }

net::io_context& Server::worker_context(std::size_t index) { return impl_->workers.at(index)->ioc; }

void Server::start() {
  impl_->started = true;
  for (auto& w : impl_->workers) {
    Worker& worker = *w;
    worker.guard.emplace(worker.ioc.get_executor());
    worker.anchor = std::make_unique<net::steady_timer>(worker.ioc);
    const auto shortest = std::min(impl_->limits.client_idle, impl_->limits.shortest_read_timeout);
    worker.deadlines.set_tick(
        std::clamp(shortest / 8, std::chrono::milliseconds(10),
                   std::chrono::duration_cast<std::chrono::milliseconds>(kAnchorPeriod)));
    // Sets deadlines.now(): the time since the constructor (config loading) must not shorten the first
    // reads' deadlines.
    worker.deadlines.sweep(std::chrono::steady_clock::now());
    net::co_spawn(worker.ioc, anchor_loop(worker), [](std::exception_ptr e) { log_exception("timer", e); });
    for (std::size_t i = 0; i < worker.acceptors.size(); ++i) {
      net::co_spawn(worker.ioc, accept_loop(worker, *impl_, *worker.acceptors[i], worker.listener_of[i]),
                    [](std::exception_ptr e) { log_exception("acceptor", e); });
    }
    worker.thread = std::thread([&worker] {
      worker.deadlines.make_current();
      for (;;) {
        try {
          worker.ioc.run();
          return;
        } catch (const std::exception& e) {
          util::log_error(std::string("worker loop: ") + e.what());
        }
      }
    });
  }
}

void Server::shutdown(std::chrono::milliseconds drain) {
  std::call_once(impl_->stopped, [&] {
    impl_->draining.store(true);
    auto post_and_wait = [&](auto fn) {
      std::vector<std::future<void>> done;
      for (auto& w : impl_->workers) {
        auto task = std::make_shared<std::packaged_task<void()>>([&worker = *w, fn] { fn(worker); });
        done.push_back(task->get_future());
        net::post(w->ioc, [task] { (*task)(); });
      }
      for (auto& f : done) f.wait_for(std::chrono::seconds(5));
    };
    post_and_wait([](Worker& worker) {
      boost::system::error_code ec;
      for (auto& acceptor : worker.acceptors) acceptor->close(ec);
      for (Session* s : worker.sessions) s->close_for_shutdown(false);
    });
    const auto deadline = std::chrono::steady_clock::now() + drain;
    while (in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (in_flight() > 0)
      util::log_warn("drain time over: closing " + std::to_string(in_flight()) + " requests");
    post_and_wait([](Worker& worker) {
      // Copy: closing a socket may end a session (and erase it) only later, but be safe against it.
      std::vector<Session*> sessions(worker.sessions.begin(), worker.sessions.end());
      for (Session* s : sessions) s->close_for_shutdown(true);
      for (auto& handler : worker.handlers) handler->shutdown();
      if (worker.anchor) worker.anchor->cancel();
      worker.guard.reset();
    });
    for (auto& w : impl_->workers) {
      // Sessions unwind after their sockets close; give them a bounded moment, then stop the loop.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (!w->ioc.stopped() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      w->ioc.stop();
      if (w->thread.joinable()) w->thread.join();
    }
  });
}

std::size_t Server::in_flight() const {
  std::size_t total = 0;
  for (const auto& w : impl_->workers) total += w->in_flight.load(std::memory_order_relaxed);
  return total;
}

bool Server::draining() const { return impl_->draining.load(); }

std::function<std::vector<std::size_t>()> Server::connection_counts() const {
  return [counts = impl_->counts] {
    std::vector<std::size_t> out;
    out.reserve(counts->open.size());
    for (const auto& n : counts->open) out.push_back(n.load(std::memory_order_relaxed));
    return out;
  };
}

}  // namespace spillway::http
