#include "mock/mock_args.h"

#include <gtest/gtest.h>

#include "mock/mock_llm.h"

namespace spillway::mock {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(ParseMockArgs, DefaultsWhenEmpty) {
  std::string error;
  const auto options = parse_mock_args({}, error);
  ASSERT_TRUE(options) << error;
  EXPECT_EQ(options->host, "127.0.0.1");
  EXPECT_EQ(options->port, 0);
  EXPECT_EQ(options->latency, milliseconds(0));
  EXPECT_EQ(options->threads, 1);
  EXPECT_EQ(options->name, "mock");
}

TEST(ParseMockArgs, ReadsEveryFlag) {
  std::string error;
  const auto options =
      parse_mock_args({"--listen", "0.0.0.0:8081", "--latency", "20ms", "--tokens-per-second", "50.5",
                       "--tpm-capacity", "1000", "--fail-rate", "0.25", "--name", "ptu-1", "--api-key", "k1",
                       "--seed", "42", "--threads", "2", "--ready-file=/tmp/ready.json"},
                      error);
  ASSERT_TRUE(options) << error;
  EXPECT_EQ(options->host, "0.0.0.0");
  EXPECT_EQ(options->port, 8081);
  EXPECT_EQ(options->latency, milliseconds(20));
  EXPECT_DOUBLE_EQ(options->tokens_per_second, 50.5);
  EXPECT_EQ(options->tpm_capacity, 1000);
  EXPECT_DOUBLE_EQ(options->fail_rate, 0.25);
  EXPECT_EQ(options->name, "ptu-1");
  EXPECT_EQ(options->api_key, "k1");
  EXPECT_EQ(options->seed, 42u);
  EXPECT_EQ(options->threads, 2);
  EXPECT_EQ(options->ready_file, "/tmp/ready.json");
}

TEST(ParseMockArgs, TpmWindow) {
  std::string error;
  auto options = parse_mock_args({}, error);
  ASSERT_TRUE(options) << error;
  EXPECT_EQ(options->tpm_window, milliseconds(60'000));
  options = parse_mock_args({"--tpm-window", "3s"}, error);
  ASSERT_TRUE(options) << error;
  EXPECT_EQ(options->tpm_window, milliseconds(3'000));
  EXPECT_FALSE(parse_mock_args({"--tpm-window", "0s"}, error));
  EXPECT_FALSE(parse_mock_args({"--tpm-window", "soon"}, error));
}

TEST(ParseMockArgs, AcceptsIpv6AndLocalhost) {
  std::string error;
  auto options = parse_mock_args({"--listen", "[::1]:0"}, error);
  ASSERT_TRUE(options) << error;
  EXPECT_EQ(options->host, "::1");
  options = parse_mock_args({"--listen", "localhost:9000"}, error);
  ASSERT_TRUE(options) << error;
  EXPECT_EQ(options->host, "localhost");
  EXPECT_EQ(options->port, 9000);
}

TEST(ParseMockArgs, LatencyUnits) {
  std::string error;
  EXPECT_EQ(parse_mock_args({"--latency", "2s"}, error)->latency, milliseconds(2000));
  EXPECT_EQ(parse_mock_args({"--latency", "15"}, error)->latency, milliseconds(15));
  // Sub-millisecond latencies round up so that a non-zero latency stays non-zero.
  EXPECT_EQ(parse_mock_args({"--latency", "1500us"}, error)->latency, milliseconds(2));
}

TEST(ParseMockArgs, RejectsBadInput) {
  const std::vector<std::vector<std::string>> bad = {
      {"--bogus", "1"},
      {"--listen"},
      {"--listen", "8080"},
      {"--listen", "host.example:80"},
      {"--listen", "1.2.3.4:70000"},
      {"--latency", "fast"},
      {"--latency", "-5ms"},
      {"--latency", "5m"},
      {"--fail-rate", "1.5"},
      {"--fail-rate", "x"},
      {"--tpm-capacity", "-1"},
      {"--tokens-per-second", "-2"},
      {"--threads", "0"},
      {"--seed", "-3"},
      {"--name", ""},
      {"positional"},
  };
  for (const auto& args : bad) {
    std::string error;
    EXPECT_FALSE(parse_mock_args(args, error)) << args[0];
    EXPECT_FALSE(error.empty()) << args[0];
  }
}

TEST(ParseMockArgs, ErrorNamesTheFlag) {
  std::string error;
  EXPECT_FALSE(parse_mock_args({"--fail-rate", "2"}, error));
  EXPECT_NE(error.find("--fail-rate"), std::string::npos) << error;
  EXPECT_FALSE(parse_mock_args({"--nope"}, error));
  EXPECT_NE(error.find("--nope"), std::string::npos) << error;
}

TEST(ParseDuration, UnitsAndBareNumbers) {
  EXPECT_EQ(parse_duration("200ms"), microseconds(200000));
  EXPECT_EQ(parse_duration("1.5s"), microseconds(1500000));
  EXPECT_EQ(parse_duration("250us"), microseconds(250));
  EXPECT_EQ(parse_duration("7"), microseconds(7000));
  EXPECT_EQ(parse_duration("0"), microseconds(0));
  EXPECT_FALSE(parse_duration(""));
  EXPECT_FALSE(parse_duration("ms"));
  EXPECT_FALSE(parse_duration("1h"));
  EXPECT_FALSE(parse_duration("-1ms"));
}

TEST(ParseCount, WholeNonNegativeOnly) {
  EXPECT_EQ(parse_count("0"), 0);
  EXPECT_EQ(parse_count("123"), 123);
  EXPECT_FALSE(parse_count(""));
  EXPECT_FALSE(parse_count("-1"));
  EXPECT_FALSE(parse_count("1.5"));
  EXPECT_FALSE(parse_count(" 1"));
}

}  // namespace
}  // namespace spillway::mock
