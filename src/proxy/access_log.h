#pragma once

#include <chrono>
#include <string>

#include "pipeline/request_context.h"

namespace spillway::proxy {

// One JSON object describing a finished request: ids, route, backend, status, usage, timings. Contains no
// secrets, no prompt text and no raw user ids.
std::string access_record(const pipeline::RequestContext& ctx);

// The same object appended to `out` (which the caller may reuse across requests).
void append_access_record(std::string& out, const pipeline::RequestContext& ctx);

// Appends `d` in milliseconds with three decimals, exactly as printf("%.3f") prints the millisecond
// double (std::chrono::duration<double, std::milli>), using integer arithmetic.
void append_millis(std::string& out, std::chrono::nanoseconds d);

}  // namespace spillway::proxy
