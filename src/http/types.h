#pragma once
// Plain HTTP types shared between the HTTP layer and the proxy; no Beast here.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spillway::http {

// Header names are lowercase ASCII. Order is preserved; repeated names are allowed.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// First value of `lowercase_name`, or "" when absent.
std::string_view find_header(const HeaderList& headers, std::string_view lowercase_name);

struct Request {
  std::string method;
  std::string target;  // origin-form: path[?query]
  HeaderList headers;
  std::string body;
  std::string remote_address;
};

struct Response {
  int status = 200;
  HeaderList headers;
  std::string body;
};

}  // namespace spillway::http
