#pragma once
// The admin listener: /healthz (the process runs) and /readyz (it accepts traffic; 503 while draining).

#include <functional>

#include "http/server.h"

namespace spillway::app {

class AdminHandler final : public http::Handler {
 public:
  explicit AdminHandler(std::function<bool()> draining) : draining_(std::move(draining)) {}

  // http::Handler
  boost::asio::awaitable<void> handle(http::Request& request, http::ResponseWriter& writer) override;
  http::Response protocol_error(http::ProtocolError error, std::string_view detail) override;

 private:
  std::function<bool()> draining_;
};

}  // namespace spillway::app
