#include "config/address.h"

#include <gtest/gtest.h>

#include <string>

namespace spillway::config {
namespace {

TEST(ParseHostPort, AcceptsHostsAndIpLiterals) {
  auto v4 = parse_host_port("0.0.0.0:8080");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 8080);

  auto v6 = parse_host_port("[::1]:9090");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9090);

  auto any_port = parse_host_port("localhost:0");
  ASSERT_TRUE(any_port);
  EXPECT_EQ(any_port->host, "localhost");
  EXPECT_EQ(any_port->port, 0);

  auto max_port = parse_host_port("127.0.0.1:65535");
  ASSERT_TRUE(max_port);
  EXPECT_EQ(max_port->port, 65535);
}

TEST(ParseHostPort, RejectsMalformedAddresses) {
  for (const char* text : {"", "8080", "host", "host:", ":8080", "host:65536", "host:80x", "host:-1",
                           "a b:80", "[::1]", "[::1]8080", "[]:80", "[host]:80", "::1:8080", "h:1:2"}) {
    EXPECT_FALSE(parse_host_port(text)) << text;
  }
}

TEST(ParseBackendUrl, SplitsSchemeHostPortAndPath) {
  std::string error;
  auto https = parse_backend_url("https://payg.openai.azure.com", error);
  ASSERT_TRUE(https) << error;
  EXPECT_TRUE(https->tls);
  EXPECT_EQ(https->host, "payg.openai.azure.com");
  EXPECT_EQ(https->port, 443);
  EXPECT_EQ(https->base_path, "");

  auto http = parse_backend_url("HTTP://127.0.0.1:8000/v1/base//", error);
  ASSERT_TRUE(http) << error;
  EXPECT_FALSE(http->tls);
  EXPECT_EQ(http->host, "127.0.0.1");
  EXPECT_EQ(http->port, 8000);
  EXPECT_EQ(http->base_path, "/v1/base");

  auto plain = parse_backend_url("http://vllm/", error);
  ASSERT_TRUE(plain) << error;
  EXPECT_EQ(plain->port, 80);
  EXPECT_EQ(plain->base_path, "");

  auto v6 = parse_backend_url("https://[::1]:8443/x", error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8443);
  EXPECT_EQ(v6->base_path, "/x");
}

TEST(ParseBackendUrl, NamesTheProblem) {
  struct Case {
    const char* url;
    const char* error;
  };
  for (const Case& c : {
           Case{"ftp://host", "http:// or https://"},
           Case{"host.example.com", "http:// or https://"},
           Case{"https://host/path?api-key=x", "query or fragment"},
           Case{"https://host/#frag", "query or fragment"},
           Case{"https://user:pw@host", "user info"},
           Case{"https://host:0", "invalid port"},
           Case{"https://host:99999", "invalid port"},
           Case{"https://host:", "invalid port"},
           Case{"https://", "invalid host"},
           Case{"https:///path", "invalid host"},
           Case{"https://ho$t", "invalid host"},
           Case{"https://host/a b", "whitespace"},
       }) {
    std::string error;
    EXPECT_FALSE(parse_backend_url(c.url, error)) << c.url;
    EXPECT_NE(error.find(c.error), std::string::npos) << c.url << ": " << error;
  }
}

}  // namespace
}  // namespace spillway::config
