#pragma once

#include "api/errors.h"
#include "pipeline/policy.h"

namespace spillway::pipeline {

// The client response for a gateway error: OpenAI error body, its status, its extra headers.
Reply error_reply(const api::ApiError& error);

}  // namespace spillway::pipeline
