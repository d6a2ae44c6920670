#include "api/json_doc.h"

#include <vector>

namespace spillway::api {
namespace {

// Documents up to this size reuse the thread's parser; its buffers grow to at most about this much.
constexpr std::size_t kThreadParserLimit = 256 * 1024;

// Retained documents: parsers whose capacity is at most kPooledCapacity bytes go back to the pool of the
// thread that destroys their document, which keeps at most kPoolSize of them (simdjson needs about 15
// bytes per byte of capacity: at most about 2 MiB per thread).
constexpr std::size_t kPooledCapacity = 16 * 1024;
constexpr std::size_t kPoolSize = 8;

std::vector<std::unique_ptr<simdjson::dom::parser>>& parser_pool() {
  thread_local std::vector<std::unique_ptr<simdjson::dom::parser>> pool;
  return pool;
}

}  // namespace

struct ParsedJson::Retained {};

std::shared_ptr<const ParsedJson> ParsedJson::retain(std::string_view json) {
  return std::make_shared<const ParsedJson>(json, Retained{});
}

ParsedJson::ParsedJson(std::string_view json, Retained) {
  auto& pool = parser_pool();
  if (json.size() <= kPooledCapacity && !pool.empty()) {
    own_ = std::move(pool.back());
    pool.pop_back();
  } else {
    own_ = std::make_unique<simdjson::dom::parser>();
  }
  pooled_ = true;
  error_ = own_->parse(json.data(), json.size(), /*realloc_if_needed=*/true).get(root_);
}

ParsedJson::~ParsedJson() {
  if (!pooled_ || !own_ || own_->capacity() > kPooledCapacity) return;
  auto& pool = parser_pool();
  if (pool.size() < kPoolSize) pool.push_back(std::move(own_));
}

ParsedJson::ParsedJson(std::string_view json) {
  simdjson::dom::parser* parser;
  if (json.size() <= kThreadParserLimit) {
    thread_local simdjson::dom::parser thread_parser;
    parser = &thread_parser;
  } else {
    own_ = std::make_unique<simdjson::dom::parser>();
    parser = own_.get();
  }
  // realloc_if_needed: simdjson copies into its own padded buffer (reused by the thread parser).
  error_ = parser->parse(json.data(), json.size(), /*realloc_if_needed=*/true).get(root_);
}

}  // namespace spillway::api
