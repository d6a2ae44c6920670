#pragma once

#include <string>

#include "pipeline/request_context.h"

namespace spillway::proxy {

// One JSON object describing a finished request: ids, route, backend, status, usage, timings. Contains no
// secrets, no prompt text and no raw user ids.
std::string access_record(const pipeline::RequestContext& ctx);

}  // namespace spillway::proxy
