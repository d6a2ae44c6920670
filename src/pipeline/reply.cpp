#include "pipeline/reply.h"

namespace spillway::pipeline {

Reply error_reply(const api::ApiError& error) {
  Reply reply;
  reply.status = error.status;
  reply.headers.reserve(error.headers.size() + 1);
  reply.headers.emplace_back("content-type", "application/json");
  for (const auto& h : error.headers) reply.headers.push_back(h);
  reply.body = api::error_body(error);
  return reply;
}

}  // namespace spillway::pipeline
