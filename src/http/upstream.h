#pragma once
// Client side of the proxy: a keep-alive connection pool per backend and worker, over HTTP or HTTPS
// (certificate verification on by default, SNI). Beast stays in upstream.cpp.
//
// Threading: a pool and every exchange it hands out belong to one worker thread.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/types.h"

namespace spillway::http {

struct UpstreamEndpoint {
  std::string host;
  uint16_t port = 0;
  bool tls = false;
  bool tls_verify = true;
  std::string ca_file;  // extra trust anchors (PEM); empty = system default
};

struct UpstreamTimeouts {
  std::chrono::milliseconds connect{5'000};
  std::chrono::milliseconds first_byte{120'000};
  std::chrono::milliseconds idle{60'000};
  std::chrono::milliseconds total{600'000};
};

enum class UpstreamError {
  kNone,
  kResolve,
  kConnectRefused,
  kConnectTimeout,
  kConnect,
  kTls,
  kWrite,
  kFirstByteTimeout,
  kIdleTimeout,
  kTotalTimeout,
  kProtocol,  // malformed response
  kClosed,    // peer closed mid-response
  kTooLarge,  // body over the caller's limit
  kCancelled,
};

// "connect_refused", "first_byte_timeout", ... (stable; used in x-spillway-attempts and logs).
std::string_view upstream_error_name(UpstreamError e);
bool is_timeout(UpstreamError e);

struct UpstreamRequest {
  std::string method;
  std::string target;
  HeaderList headers;  // the Host header is added by the pool
  std::string body;
};

// The same request with its strings owned elsewhere, so the proxy forwards the client's headers and body
// without copying them. REQUIRES: every view outlives the send() call that takes it.
struct UpstreamRequestView {
  std::string_view method;
  std::string_view target;
  std::vector<std::pair<std::string_view, std::string_view>>
      headers;  // the pool adds Host (and Content-Length)
  std::string_view body;
  // Called on the sending thread once the request is written, before the wait for the response: work that
  // can overlap the backend's (the proxy writes its due access-log lines). Optional.
  void (*after_write)() = nullptr;
};

// One response being read. Destroying it before the body is complete closes the connection; a complete
// keep-alive response returns the connection to its pool.
class UpstreamExchange {
 public:
  virtual ~UpstreamExchange() = default;
  virtual int status() const = 0;
  virtual const HeaderList& headers() const = 0;  // lowercase names
  // Appends the next bytes of the (de-chunked) body to `out`. Sets `done` after the last byte.
  virtual boost::asio::awaitable<UpstreamError> read_some(std::string& out, bool& done) = 0;
  // As read_some, but only what has already arrived (with the head, or with an earlier read): never
  // waits, and may append nothing.
  virtual UpstreamError read_buffered(std::string& out, bool& done) = 0;
  // Reads the rest of the body into `out`; kTooLarge past `limit` bytes.
  virtual boost::asio::awaitable<UpstreamError> read_all(std::string& out, std::size_t limit) = 0;
};

struct UpstreamResult {
  UpstreamError error = UpstreamError::kNone;
  std::unique_ptr<UpstreamExchange> exchange;  // set iff error == kNone (response headers received)
};

class UpstreamPool {
 public:
  virtual ~UpstreamPool() = default;
  // Sends `request` on a pooled or new connection and waits for the response head. A pooled connection
  // the server has closed meanwhile is retried once on a fresh connection (nothing was processed).
  virtual boost::asio::awaitable<UpstreamResult> send(const UpstreamRequestView& request,
                                                      const UpstreamTimeouts& timeouts) = 0;
  boost::asio::awaitable<UpstreamResult> send(const UpstreamRequest& request,
                                              const UpstreamTimeouts& timeouts);
  // Closes idle connections (shutdown).
  virtual void close_idle() = 0;
};

// REQUIRES: called on the worker thread that will use the pool. Throws std::runtime_error when the TLS
// context cannot be set up (e.g. unreadable ca_file).
std::unique_ptr<UpstreamPool> make_upstream_pool(const UpstreamEndpoint& endpoint, std::size_t max_idle = 64);

}  // namespace spillway::http
