#include "http/upstream.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <optional>
#include <stdexcept>
#include <unordered_set>

#include "http/deadlines.h"
#include "http/parsers.h"
#include "http/read_until.h"
#include "http/write_now.h"
#include "util/clock.h"

namespace spillway::http {

std::string_view upstream_error_name(UpstreamError e) {
  switch (e) {
    case UpstreamError::kNone:
      return "none";
    case UpstreamError::kResolve:
      return "resolve_failed";
    case UpstreamError::kConnectRefused:
      return "connect_refused";
    case UpstreamError::kConnectTimeout:
      return "connect_timeout";
    case UpstreamError::kConnect:
      return "connect_failed";
    case UpstreamError::kTls:
      return "tls_failed";
    case UpstreamError::kWrite:
      return "write_failed";
    case UpstreamError::kFirstByteTimeout:
      return "first_byte_timeout";
    case UpstreamError::kIdleTimeout:
      return "idle_timeout";
    case UpstreamError::kTotalTimeout:
      return "total_timeout";
    case UpstreamError::kProtocol:
      return "bad_response";
    case UpstreamError::kClosed:
      return "connection_closed";
    case UpstreamError::kTooLarge:
      return "response_too_large";
    case UpstreamError::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool is_timeout(UpstreamError e) {
  return e == UpstreamError::kConnectTimeout || e == UpstreamError::kFirstByteTimeout ||
         e == UpstreamError::kIdleTimeout || e == UpstreamError::kTotalTimeout;
}

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTok = net::as_tuple(net::use_awaitable);

// For how long a connection was idle (compared with kCheckIdleAfter, half a second): the kernel's tick is
// fine enough, and reading it costs a tenth of Clock::now().
Clock::time_point coarse_now() { return util::CoarseClock::instance().steady_now(); }

struct PoolState;

// A connection to the backend; registered with its pool while it exists so shutdown can close it.
struct Connection {
  Connection(const net::any_io_executor& ex, std::shared_ptr<PoolState> owner, ssl::context* tls_context);
  ~Connection();
  beast::tcp_stream& tcp() { return secure ? secure->next_layer() : *plain; }
  void close() {
    boost::system::error_code ec;
    tcp().socket().close(ec);
  }

  std::shared_ptr<PoolState> pool;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  // Reused by every exchange on this connection (their capacity stays): the request head being written
  // and the response headers being read.
  std::string head;
  HeaderList response_headers;
  Clock::time_point idle_since{};  // when it went back to the pool (coarse_now())
  // Reads of a plain connection on a worker thread end through the worker's read deadlines (see
  // arm_read()). After the streams: disarmed before the socket goes.
  detail::ReadDeadlines::Entry read_deadline;
  bool deadline_read = false;  // the read armed last uses read_deadline
};

struct PoolState {
  UpstreamEndpoint endpoint;
  std::string host_header;
  std::optional<ssl::context> tls_context;
  std::vector<std::unique_ptr<Connection>> idle;
  std::unordered_set<Connection*> live;
  std::size_t max_idle = 64;
  bool closed = false;
  std::optional<tcp::endpoint> literal;  // the host is an IP address: no DNS

  void release(std::unique_ptr<Connection> c) {
    if (closed || idle.size() >= max_idle) return;  // destroying closes it
    c->idle_since = coarse_now();
    idle.push_back(std::move(c));
  }

  // The most recently used idle connection that is still usable, or null. Servers close keep-alive
  // connections that stay idle (nginx after 75 s, Node and uvicorn after 5 s); a connection that has
  // been idle for a while is checked first, so that a request is not sent into one the server has closed.
  std::unique_ptr<Connection> take_idle();
};

Connection::Connection(const net::any_io_executor& ex, std::shared_ptr<PoolState> owner,
                       ssl::context* tls_context)
    : pool(std::move(owner)) {
  if (tls_context) {
    secure.emplace(ex, *tls_context);
  } else {
    plain.emplace(ex);
  }
  // Room for a whole typical response per read (Beast reads at most max(512, free capacity) bytes).
  buffer.reserve(16 * 1024);
  pool->live.insert(this);
}

Connection::~Connection() { pool->live.erase(this); }

namespace {

// Connections idle for less than this are reused without a check: under load they come back within
// milliseconds, and the rare one the server closed just now is retried on a fresh connection (send()).
constexpr auto kCheckIdleAfter = std::chrono::milliseconds(500);

// True when nothing has arrived on the idle connection `c`: no FIN (recv would return 0), no reset, and no
// stray bytes (for TLS, a close_notify) — a non-blocking peek, one system call.
bool still_open(Connection& c) {
  if (c.buffer.size() > 0) return false;  // bytes after the last response: not a clean keep-alive state
  const int fd = c.tcp().socket().native_handle();
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::unique_ptr<Connection> PoolState::take_idle() {
  const auto now = coarse_now();
  while (!idle.empty()) {
    std::unique_ptr<Connection> c = std::move(idle.back());
    idle.pop_back();
    if (now - c->idle_since < kCheckIdleAfter || still_open(*c)) return c;
    // Closed by the server while idle: dropping it closes our end.
  }
  return nullptr;
}

// Runs `fn(stream)` with the connection's outermost stream (TLS or plain TCP).
template <class Fn>
auto with_stream(Connection& c, Fn&& fn) {
  if (c.secure) return fn(*c.secure);
  return fn(*c.plain);
}

std::chrono::milliseconds until(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(1);
}

// Expires the connection at the earlier of now+`step` and `deadline`; returns true when the deadline is
// the earlier one (a timeout then is the total timeout).
bool arm(Connection& c, std::chrono::milliseconds step, Clock::time_point deadline) {
  const auto left = until(deadline);
  c.tcp().expires_after(std::min(step, left));
  return left <= step;
}

// Arms the next read of `c` to end at the earlier of now + `step` and `deadline`: through the worker's read
// deadlines for a plain connection on a worker thread (up to a tick late, no timer per read; the read must
// then use the bare socket, see read_from()), else through Beast's timer on the stream. Returns true when
// `deadline` is the earlier one.
bool arm_read(Connection& c, std::chrono::milliseconds step, Clock::time_point deadline) {
  detail::ReadDeadlines* d = c.plain ? detail::ReadDeadlines::current() : nullptr;
  c.deadline_read = d != nullptr;
  if (d == nullptr) return arm(c, step, deadline);
  const Clock::time_point at = d->after(step);
  const bool total = deadline <= at;
  d->arm(c.read_deadline, c.plain->socket(), total ? deadline : at);
  return total;
}

// Runs `fn(stream)` with the stream that the read armed by arm_read() must use: the bare socket when its
// deadline is the worker's (Beast's stream would start its own timer), else the outermost stream. After
// a read through the bare socket, end_read().
template <class Fn>
auto read_from(Connection& c, Fn&& fn) {
  return c.deadline_read ? fn(c.plain->socket()) : with_stream(c, fn);
}

// Disarms the worker's deadline of a read; one that it cancelled reports beast::error::timeout, as one
// that Beast's timer ended does.
boost::system::error_code end_read(Connection& c, boost::system::error_code ec) {
  if (!c.deadline_read) return ec;
  c.read_deadline.disarm();
  if (ec == net::error::operation_aborted && c.read_deadline.expired()) return beast::error::timeout;
  return ec;
}

UpstreamError classify_read_error(const boost::system::error_code& ec, bool total_armed,
                                  UpstreamError timeout) {
  if (ec == beast::error::timeout) return total_armed ? UpstreamError::kTotalTimeout : timeout;
  if (ec == net::error::operation_aborted || ec == net::error::bad_descriptor)
    return UpstreamError::kCancelled;
  if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == net::error::eof ||
      ec == net::error::connection_reset || ec == net::ssl::error::stream_truncated) {
    return UpstreamError::kClosed;
  }
  return UpstreamError::kProtocol;
}

class Exchange final : public UpstreamExchange {
 public:
  static constexpr int kMaxInterim = 8;  // 1xx responses skipped before the final one, at most

  Exchange(std::unique_ptr<Connection> conn, Clock::time_point deadline, std::chrono::milliseconds idle)
      : conn_(std::move(conn)), parser_(conn_->response_headers), deadline_(deadline), idle_(idle) {
    parser_.body_limit(boost::none);
    parser_.header_limit(64 * 1024);
  }
  ~Exchange() override {
    // Bytes after a whole response were sent unasked (a body behind a 204, say): the connection's next
    // response would start with them, so it is not kept.
    if (complete_ && parser_.keep_alive() && conn_ && conn_->buffer.size() == 0) {
      auto pool = conn_->pool;
      pool->release(std::move(conn_));
    }
  }

  // Reads the response head within `first_byte` (and the total deadline); called once by the pool.
  // `total_armed`: the total deadline was the earlier one.
  net::awaitable<boost::system::error_code> read_head(std::chrono::milliseconds first_byte,
                                                      bool& total_armed) {
    total_armed = arm_read(*conn_, first_byte, deadline_);
    // Interim responses (100 Continue, 103 Early Hints) come before the final one, which must come within
    // `first_byte` of the first of them (the clock is read only then: none per ordinary request).
    Clock::time_point final_by{};
    for (int interim = 0;; ++interim) {
      const boost::system::error_code rec = co_await read_from(*conn_, [&](auto& s) {
        return detail::read_until(s, conn_->buffer, parser_, detail::HeaderDone{});
      });
      const boost::system::error_code ec = end_read(*conn_, rec);
      if (ec) co_return ec;
      status_ = parser_.status();
      if (status_ < 100 || status_ >= 200 || status_ == 101 || interim == kMaxInterim) break;
      parser_.next_message();
      if (interim == 0) final_by = coarse_now() + first_byte;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(final_by - coarse_now());
      total_armed = arm_read(*conn_, std::max(left, std::chrono::milliseconds(0)), deadline_);
    }
    // What a client could not take: no final status (a 1xx, a protocol switch nobody asked for) or none
    // that HTTP defines. The connection is not kept.
    if (status_ < 200 || status_ > 599) co_return bhttp::error::bad_status;
    complete_ = parser_.is_done();
    co_return boost::system::error_code{};
  }

  int status() const override { return status_; }
  const HeaderList& headers() const override { return conn_->response_headers; }

  // The parser appends body bytes to `out` as it parses them: no intermediate buffer.
  net::awaitable<UpstreamError> read_some(std::string& out, bool& done) override {
    if (parser_.is_done()) {
      done = complete_ = true;
      co_return UpstreamError::kNone;
    }
    parser_.set_sink(&out);
    // What is already buffered first: a small response usually came whole with its head, and then there
    // is nothing to wait for.
    const std::size_t had = out.size();
    boost::system::error_code ec = detail::parse_buffered(parser_, conn_->buffer);
    bool total_armed = false;
    if (!ec && !parser_.is_done() && out.size() == had) {
      total_armed = arm_read(*conn_, idle_, deadline_);
      // Until some body bytes came (a chunk's size line alone gives none) or the body ended.
      const auto some = [&](const auto&) { return out.size() != had; };
      const boost::system::error_code rec = co_await read_from(
          *conn_, [&](auto& s) { return detail::read_until(s, conn_->buffer, parser_, some); });
      ec = end_read(*conn_, rec);
      // Then the rest of what is already buffered (several SSE events often arrive in one read), without
      // waiting for more.
      if (!ec) ec = detail::parse_buffered(parser_, conn_->buffer);
    }
    parser_.set_sink(nullptr);
    if (ec) co_return classify_read_error(ec, total_armed, UpstreamError::kIdleTimeout);
    if (parser_.is_done()) done = complete_ = true;
    co_return UpstreamError::kNone;
  }

  UpstreamError read_buffered(std::string& out, bool& done) override {
    if (!parser_.is_done()) {
      parser_.set_sink(&out);
      const boost::system::error_code ec = detail::parse_buffered(parser_, conn_->buffer);
      parser_.set_sink(nullptr);
      if (ec) return classify_read_error(ec, false, UpstreamError::kIdleTimeout);
    }
    if (parser_.is_done()) done = complete_ = true;
    return UpstreamError::kNone;
  }

  net::awaitable<UpstreamError> read_all(std::string& out, std::size_t limit) override {
    bool done = false;
    while (!done) {
      if (auto e = co_await read_some(out, done); e != UpstreamError::kNone) co_return e;
      if (out.size() > limit) co_return UpstreamError::kTooLarge;
    }
    co_return UpstreamError::kNone;
  }

 private:
  std::unique_ptr<Connection> conn_;  // first: parser_ refers to its response_headers
  detail::ResponseParser parser_;
  Clock::time_point deadline_;
  std::chrono::milliseconds idle_;
  int status_ = 0;
  bool complete_ = false;
};

class Pool final : public UpstreamPool {
 public:
  explicit Pool(std::shared_ptr<PoolState> state) : state_(std::move(state)) {}
  ~Pool() override { close_idle_and_active(); }

  using UpstreamPool::send;
  net::awaitable<UpstreamResult> send(const UpstreamRequestView& request,
                                      const UpstreamTimeouts& timeouts) override {
    const auto deadline = Clock::now() + timeouts.total;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (state_->closed) co_return UpstreamResult{UpstreamError::kCancelled, nullptr};
      std::unique_ptr<Connection> conn;
      bool reused = false;
      // A retry (the reused connection turned out to be closed) always gets a fresh connection: the other
      // idle ones have waited at least as long and are likely closed too.
      if (attempt == 0) conn = state_->take_idle();
      if (conn) {
        reused = true;
      } else {
        UpstreamError e = co_await connect(conn, timeouts, deadline);
        if (e != UpstreamError::kNone) co_return UpstreamResult{e, nullptr};
      }

      // The head is written by hand into the connection's reused string and goes out with the body in one
      // gathered write (Beast's serializer cost more than the rest of the request path together).
      std::string& head = conn->head;
      std::size_t bound = request.method.size() + request.target.size() + state_->host_header.size() +
                          detail::HeadWriter::kHeadSlack;
      for (const auto& [name, value] : request.headers) bound += name.size() + value.size() + 4;
      detail::HeadWriter w(head, bound);
      w.put(request.method).put(' ').put(request.target).put(" HTTP/1.1\r\nhost: ");
      w.put(state_->host_header).crlf();
      for (const auto& [name, value] : request.headers) w.field(name, value);
      if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
        w.put("content-length: ").decimal(request.body.size()).crlf();
      }
      w.crlf();
      w.finish();
      const std::array<net::const_buffer, 2> buffers{net::buffer(head),
                                                     net::buffer(request.body.data(), request.body.size())};

      // Plain connections write directly what the socket takes at once (write_now.h), which is usually the
      // whole request; TLS and whatever is left go through an async write under the first_byte timeout
      // (which read_head() arms again for the response head).
      boost::system::error_code wec;
      std::size_t written = 0;
      bool total_armed = false;
      if (conn->plain) written = detail::write_now(conn->plain->socket(), buffers, wec);
      if (!wec && written < net::buffer_size(buffers)) {
        total_armed = arm(*conn, timeouts.first_byte, deadline);
        beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(buffers);
        rest.consume(written);
        auto [aec, an] =
            co_await with_stream(*conn, [&](auto& s) { return net::async_write(s, rest, kTok); });
        wec = aec;
      }
      if (wec) {
        if (reused && attempt == 0 && wec != beast::error::timeout) continue;  // stale keep-alive connection
        if (wec == beast::error::timeout) {
          co_return UpstreamResult{
              total_armed ? UpstreamError::kTotalTimeout : UpstreamError::kFirstByteTimeout, nullptr};
        }
        co_return UpstreamResult{UpstreamError::kWrite, nullptr};
      }
      if (request.after_write != nullptr) request.after_write();
      auto exchange = std::make_unique<Exchange>(std::move(conn), deadline, timeouts.idle);
      const auto rec = co_await exchange->read_head(timeouts.first_byte, total_armed);
      if (rec) {
        const auto e = classify_read_error(rec, total_armed, UpstreamError::kFirstByteTimeout);
        if (reused && attempt == 0 && e == UpstreamError::kClosed) continue;  // closed while idle in the pool
        co_return UpstreamResult{e, nullptr};
      }
      co_return UpstreamResult{UpstreamError::kNone, std::move(exchange)};
    }
    co_return UpstreamResult{UpstreamError::kClosed, nullptr};
  }

  void close_idle() override { state_->idle.clear(); }

 private:
  void close_idle_and_active() {
    state_->closed = true;
    state_->idle.clear();
    for (Connection* c : state_->live) c->close();
  }

  net::awaitable<UpstreamError> connect(std::unique_ptr<Connection>& out, const UpstreamTimeouts& timeouts,
                                        Clock::time_point deadline) {
    auto ex = co_await net::this_coro::executor;
    auto conn =
        std::make_unique<Connection>(ex, state_, state_->tls_context ? &*state_->tls_context : nullptr);
    const auto& ep = state_->endpoint;
    const bool total_armed = arm(*conn, timeouts.connect, deadline);
    boost::system::error_code ec;
    if (state_->literal) {
      std::tie(ec) = co_await conn->tcp().async_connect(*state_->literal, kTok);
    } else {
      tcp::resolver resolver(ex);
      const std::string service = std::to_string(ep.port);
      auto [rec, results] = co_await resolver.async_resolve(ep.host, service, kTok);
      if (rec) co_return UpstreamError::kResolve;
      tcp::endpoint connected;
      std::tie(ec, connected) = co_await conn->tcp().async_connect(results, kTok);
    }
    if (ec) {
      if (ec == beast::error::timeout) {
        co_return total_armed ? UpstreamError::kTotalTimeout : UpstreamError::kConnectTimeout;
      }
      if (ec == net::error::connection_refused) co_return UpstreamError::kConnectRefused;
      co_return UpstreamError::kConnect;
    }
    boost::system::error_code oec;
    conn->tcp().socket().set_option(tcp::no_delay(true), oec);
    if (!conn->secure) conn->tcp().socket().non_blocking(true, oec);  // for write_now() in send()
    if (conn->secure) {
      boost::system::error_code aec;
      net::ip::make_address(ep.host, aec);
      if (aec && !SSL_set_tlsext_host_name(conn->secure->native_handle(), ep.host.c_str())) {
        co_return UpstreamError::kTls;
      }
      if (ep.tls_verify) {
        conn->secure->set_verify_mode(ssl::verify_peer);
        conn->secure->set_verify_callback(ssl::host_name_verification(ep.host));
      } else {
        conn->secure->set_verify_mode(ssl::verify_none);
      }
      arm(*conn, timeouts.connect, deadline);
      auto [hec] = co_await conn->secure->async_handshake(ssl::stream_base::client, kTok);
      if (hec) co_return hec == beast::error::timeout ? UpstreamError::kConnectTimeout : UpstreamError::kTls;
    }
    out = std::move(conn);
    co_return UpstreamError::kNone;
  }

  std::shared_ptr<PoolState> state_;
};

}  // namespace

net::awaitable<UpstreamResult> UpstreamPool::send(const UpstreamRequest& request,
                                                  const UpstreamTimeouts& timeouts) {
  UpstreamRequestView view{
      .method = request.method, .target = request.target, .headers = {}, .body = request.body};
  view.headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) view.headers.emplace_back(name, value);
  UpstreamResult result = co_await send(view, timeouts);
  co_return result;
}

std::unique_ptr<UpstreamPool> make_upstream_pool(const UpstreamEndpoint& endpoint, std::size_t max_idle) {
  auto state = std::make_shared<PoolState>();
  state->endpoint = endpoint;
  state->max_idle = max_idle;
  const bool default_port = endpoint.port == (endpoint.tls ? 443 : 80);
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  state->host_header = ipv6 ? "[" + endpoint.host + "]" : endpoint.host;
  if (!default_port) state->host_header += ":" + std::to_string(endpoint.port);
  boost::system::error_code ec;
  auto address = net::ip::make_address(endpoint.host, ec);
  if (!ec) state->literal = tcp::endpoint(address, endpoint.port);
  if (endpoint.tls) {
    state->tls_context.emplace(ssl::context::tls_client);
    state->tls_context->set_default_verify_paths(ec);
    if (!endpoint.ca_file.empty()) {
      state->tls_context->load_verify_file(endpoint.ca_file, ec);
      if (ec) throw std::runtime_error("cannot load ca_file " + endpoint.ca_file + ": " + ec.message());
    }
  }
  return std::make_unique<Pool>(std::move(state));
}

}  // namespace spillway::http
