#include "http/types.h"

namespace spillway::http {

std::string_view find_header(const HeaderList& headers, std::string_view lowercase_name) {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

}  // namespace spillway::http
