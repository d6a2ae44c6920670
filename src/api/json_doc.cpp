#include "api/json_doc.h"

namespace spillway::api {
namespace {

// Documents up to this size reuse the thread's parser; its buffers grow to at most about this much.
constexpr std::size_t kThreadParserLimit = 256 * 1024;

}  // namespace

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
