#include "app/admin_handler.h"

#include "api/errors.h"
#include "pipeline/reply.h"
#include "telemetry/prometheus.h"

namespace spillway::app {
namespace {

http::Response json(int status, std::string body) {
  return http::Response{status, {{"content-type", "application/json"}}, std::move(body)};
}

}  // namespace

boost::asio::awaitable<void> AdminHandler::handle(http::Request& request, http::ResponseWriter& writer) {
  const std::string_view path = std::string_view(request.target).substr(0, request.target.find('?'));
  http::Response response;
  if (path == "/healthz" || path == "/readyz") {
    if (request.method != "GET" && request.method != "HEAD") {
      response = pipeline::error_reply(api::errors::method_not_allowed(request.method, "GET"));
    } else if (path == "/healthz") {
      response = json(200, R"({"status":"ok"})");
    } else {
      response = draining_() ? json(503, R"({"status":"draining"})") : json(200, R"({"status":"ready"})");
    }
  } else if (path == "/metrics" && metrics_ != nullptr) {
    if (request.method != "GET" && request.method != "HEAD") {
      response = pipeline::error_reply(api::errors::method_not_allowed(request.method, "GET"));
    } else {
      response = http::Response{200,
                                {{"content-type", std::string(telemetry::kPrometheusContentType)}},
                                telemetry::render_prometheus(metrics_->snapshot())};
    }
  } else {
    response = pipeline::error_reply(api::errors::unknown_route(path));
  }
  co_await writer.send(std::move(response));
}

http::Response AdminHandler::protocol_error(http::ProtocolError error, std::string_view detail) {
  if (error == http::ProtocolError::kBodyTooLarge)
    return pipeline::error_reply(api::errors::body_too_large(0));
  return pipeline::error_reply(api::errors::bad_request_line(detail));
}

}  // namespace spillway::app
