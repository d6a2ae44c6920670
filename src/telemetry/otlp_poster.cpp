#include "telemetry/otlp_poster.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <charconv>

#include "http/upstream.h"
#include "util/log.h"

namespace spillway::telemetry {
namespace {

namespace asio = boost::asio;

std::chrono::milliseconds parse_retry_after(std::string_view v) {
  int seconds = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec != std::errc() || end != v.data() + v.size() || seconds < 0) return std::chrono::milliseconds(-1);
  return std::chrono::seconds(seconds);
}

asio::awaitable<void> exchange(http::UpstreamPool& pool, http::UpstreamRequest request,
                               http::UpstreamTimeouts timeouts, PostResult& out) {
  http::UpstreamResult sent = co_await pool.send(request, timeouts);
  if (sent.error != http::UpstreamError::kNone) {
    out.error = std::string(http::upstream_error_name(sent.error));
    co_return;
  }
  std::string body;
  const http::UpstreamError e = co_await sent.exchange->read_all(body, 1024 * 1024);
  if (e != http::UpstreamError::kNone) {
    out.error = std::string(http::upstream_error_name(e));
    co_return;
  }
  out.status = sent.exchange->status();
  out.retry_after = parse_retry_after(http::find_header(sent.exchange->headers(), "retry-after"));
}

class UpstreamPoster final : public HttpPoster {
 public:
  explicit UpstreamPoster(const config::TelemetrySettings& s) : base_path_(s.otlp_base_path) {
    http::UpstreamEndpoint endpoint;
    endpoint.host = s.otlp_host;
    endpoint.port = s.otlp_port;
    endpoint.tls = s.otlp_tls;
    pool_ = http::make_upstream_pool(endpoint, 2);
    headers_.emplace_back("content-type", "application/json");
    headers_.emplace_back("user-agent", "spillway");
    for (const auto& h : s.otlp_headers) headers_.push_back(h);
    timeouts_.connect = s.otlp_timeout;
    timeouts_.first_byte = s.otlp_timeout;
    timeouts_.idle = s.otlp_timeout;
    timeouts_.total = s.otlp_timeout * 2;
  }

  PostResult post(std::string_view path, const std::string& body) override {
    http::UpstreamRequest request{
        .method = "POST", .target = base_path_ + std::string(path), .headers = headers_, .body = body};
    PostResult result;
    bool done = false;
    io_.restart();
    asio::co_spawn(io_, exchange(*pool_, std::move(request), timeouts_, result),
                   [&done, &result](std::exception_ptr e) {
                     done = true;
                     if (e) {
                       result.status = 0;
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         result.error = ex.what();
                       }
                     }
                   });
    // run_one: a stream's expiry timer may still be armed after the exchange; do not wait for it.
    while (!done && io_.run_one() > 0) {
    }
    return result;
  }

 private:
  asio::io_context io_{1};
  std::string base_path_;
  http::HeaderList headers_;
  http::UpstreamTimeouts timeouts_;
  std::unique_ptr<http::UpstreamPool> pool_;  // destroyed before io_
};

}  // namespace

std::unique_ptr<HttpPoster> make_upstream_poster(const config::TelemetrySettings& settings) {
  return std::make_unique<UpstreamPoster>(settings);
}

}  // namespace spillway::telemetry
