#pragma once
// One parsed JSON document (simdjson DOM), private to src/api. Small documents reuse a thread_local
// parser (no allocation once warm); large ones get their own parser, freed with the ParsedJson, so a
// single multi-MiB body does not pin its buffers to the worker thread for the life of the process.
//
// REQUIRES: at most one ParsedJson that uses the thread_local parser is alive per thread (they are
// short-lived locals inside one function; none of them calls out while holding one).

#include <simdjson.h>

#include <memory>
#include <string_view>

namespace spillway::api {

class ParsedJson {
 public:
  explicit ParsedJson(std::string_view json);
  ParsedJson(const ParsedJson&) = delete;
  ParsedJson& operator=(const ParsedJson&) = delete;

  simdjson::error_code error() const { return error_; }
  // Valid only when error() == SUCCESS, and only while *this lives.
  simdjson::dom::element root() const { return root_; }

 private:
  std::unique_ptr<simdjson::dom::parser> own_;
  simdjson::dom::element root_;
  simdjson::error_code error_ = simdjson::SUCCESS;
};

}  // namespace spillway::api
