#pragma once
// How the OTLP exporter talks to a collector: one blocking POST at a time, on the exporter's thread.
// Tests substitute a fake.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "config/telemetry_config.h"

namespace spillway::telemetry {

struct PostResult {
  int status = 0;     // HTTP status; 0 when no response came (connect error, timeout ...)
  std::string error;  // what went wrong when status == 0 (never a secret)
  std::chrono::milliseconds retry_after{-1};  // the collector's Retry-After, when it sent one
};

class HttpPoster {
 public:
  virtual ~HttpPoster() = default;
  // POSTs `body` (application/json) to `path` below the collector URL. Blocks for at most the poster's
  // timeouts.
  virtual PostResult post(std::string_view path, const std::string& body) = 0;
};

// A poster over the gateway's upstream client (HTTP or HTTPS, keep-alive), with its own io_context run
// by the calling thread. REQUIRES: created and used on one thread (the exporter's).
std::unique_ptr<HttpPoster> make_upstream_poster(const config::TelemetrySettings& settings);

}  // namespace spillway::telemetry
