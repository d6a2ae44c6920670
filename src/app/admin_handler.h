#pragma once
// The admin listener: /healthz (the process runs), /readyz (it accepts traffic; 503 while draining) and
// /metrics (Prometheus text format of the metrics registry).

#include <functional>

#include "http/server.h"

namespace spillway::telemetry {
class MetricsRegistry;
}

namespace spillway::app {

class AdminHandler final : public http::Handler {
 public:
  // `metrics` may be null (then /metrics is 404); REQUIRES: it outlives the handler.
  explicit AdminHandler(std::function<bool()> draining, const telemetry::MetricsRegistry* metrics = nullptr)
      : draining_(std::move(draining)), metrics_(metrics) {}

  // http::Handler
  boost::asio::awaitable<void> handle(http::Request& request, http::ResponseWriter& writer) override;
  http::Response protocol_error(http::ProtocolError error, std::string_view detail) override;

 private:
  std::function<bool()> draining_;
  const telemetry::MetricsRegistry* metrics_;
};

}  // namespace spillway::app
