#pragma once
// One parsed JSON document (simdjson DOM), for src/api and for the policies that read a request body api
// parsed (api::RequestFields::document). Small documents reuse a thread_local
// parser (no allocation once warm); large ones get their own parser, freed with the ParsedJson, so a
// single multi-MiB body does not pin its buffers to the worker thread for the life of the process.
//
// REQUIRES: at most one ParsedJson that uses the thread_local parser is alive per thread (they are
// short-lived locals inside one function; none of them calls out while holding one). A document that must
// stay alive longer (across co_await, next to other ParsedJson) comes from retain() instead.

#include <simdjson.h>

#include <memory>
#include <string_view>

namespace spillway::api {

class ParsedJson {
 public:
  explicit ParsedJson(std::string_view json);
  // A document with a parser of its own, taken from a small per-thread pool of parsers for small
  // documents and given back when the document is destroyed (on any thread), so that keeping one per
  // request costs no allocation once warm.
  static std::shared_ptr<const ParsedJson> retain(std::string_view json);
  // For retain() only (nothing else can make a Retained, which is defined in json_doc.cpp): public so that
  // make_shared can allocate the document and its reference count together.
  struct Retained;
  ParsedJson(std::string_view json, Retained);
  ~ParsedJson();
  ParsedJson(const ParsedJson&) = delete;
  ParsedJson& operator=(const ParsedJson&) = delete;

  simdjson::error_code error() const { return error_; }
  // Valid only when error() == SUCCESS, and only while *this lives.
  simdjson::dom::element root() const { return root_; }

 private:
  std::unique_ptr<simdjson::dom::parser> own_;
  bool pooled_ = false;  // own_ goes back to the pool
  simdjson::dom::element root_;
  simdjson::error_code error_ = simdjson::SUCCESS;
};

}  // namespace spillway::api
