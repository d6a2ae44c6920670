#pragma once
// Config -> the usage-log policy with its SQLite writer and OTLP exporter threads. Used by
// app/runtime.cpp only.

#include <functional>
#include <memory>

#include "config/config.h"
#include "pipeline/policy.h"
#include "util/clock.h"

namespace spillway::telemetry {

class MetricsRegistry;

struct UsageLogRuntime {
  std::unique_ptr<pipeline::Policy> policy;  // null when neither usage_log nor telemetry.otlp is set
  // Drains and closes the writer, then the exporter (the SIGTERM path, after the server has drained).
  // Idempotent; the policy's destruction does the same.
  std::function<void()> stop;
};

// Opens the usage log (creating the file) and starts the threads. Throws std::runtime_error naming the
// file when it cannot be opened. `clock` must outlive the returned objects. With `metrics`, the writer's
// counts are exported there: spillway_usage_log_records_total{outcome} and spillway_usage_log_waiting.
UsageLogRuntime make_usage_log(const config::Config& config, const util::Clock& clock,
                               MetricsRegistry* metrics = nullptr);

}  // namespace spillway::telemetry
