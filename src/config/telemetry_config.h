#pragma once
// Config of observability: user identity hashing, token metrics, usage log, header enrichment, OTLP
// export. Loaded by config/telemetry_loader.cpp.

#include <string>

namespace spillway::config {

struct IdentitySettings {};   // filled by the observability feature (#5)
struct UsageLogSettings {};   // filled by the observability feature (#5)
struct PoliciesSettings {};   // filled by the observability feature (#5)
struct TelemetrySettings {};  // filled by the observability feature (#5)

}  // namespace spillway::config
