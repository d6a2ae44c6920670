#include "http/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spillway::http {
namespace {

struct Event {
  std::string raw, event, data;
  bool operator==(const Event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{raw=" << testing::PrintToString(e.raw) << " event=" << e.event
            << " data=" << testing::PrintToString(e.data) << "}";
}

// Feeds `parts` in order; returns the events and leaves the parser's pending bytes in `pending`.
std::vector<Event> feed_all(const std::vector<std::string_view>& parts, std::string* pending = nullptr) {
  SseParser parser;
  std::vector<Event> events;
  for (const std::string_view part : parts) {
    parser.feed(part, [&](const SseEvent& e) {
      events.push_back({std::string(e.raw), std::string(e.event), e.data});
    });
  }
  if (pending) *pending = std::string(parser.pending());
  return events;
}

std::vector<Event> feed_one(std::string_view stream, std::string* pending = nullptr) {
  return feed_all({stream}, pending);
}

TEST(SseParserTest, ChatStream) {
  const std::string stream =
      "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"total_tokens\":3}}\n\n"
      "data: [DONE]\n\n";
  std::string pending;
  const auto events = feed_one(stream, &pending);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].raw, "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n");
  EXPECT_EQ(events[0].data, "{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}");
  EXPECT_EQ(events[0].event, "");
  EXPECT_EQ(events[3].data, "[DONE]");
  EXPECT_EQ(pending, "");
}

TEST(SseParserTest, IsDone) {
  SseEvent e;
  e.data = "[DONE]";
  EXPECT_TRUE(e.is_done());
  e.data = "[DONE] ";
  EXPECT_FALSE(e.is_done());
}

TEST(SseParserTest, FieldRules) {
  const auto events = feed_one(
      "event: response.created\n"
      "data: {\"a\":1}\n\n"
      "event:x\nevent:  two spaces\ndata:no-space\ndata:  kept space\ndata\ndata:\n\n"
      ": a comment\n: another\n\n"
      "id: 7\nretry: 1000\nunknown: field\ndata:value:with:colons\n\n"
      "data\n\n"
      "DATA: not a data field\n\n");
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events[0].event, "response.created");
  EXPECT_EQ(events[0].data, "{\"a\":1}");
  EXPECT_EQ(events[1].event, " two spaces");  // the last event field wins; one space stripped
  EXPECT_EQ(events[1].data, "no-space\n kept space\n\n");
  EXPECT_EQ(events[2].data, "");
  EXPECT_EQ(events[2].raw, ": a comment\n: another\n\n");
  EXPECT_EQ(events[3].data, "value:with:colons");
  EXPECT_EQ(events[4].data, "");  // a bare "data" line adds an empty line
  EXPECT_EQ(events[5].data, "");  // field names are case-sensitive
}

TEST(SseParserTest, LineEndings) {
  const auto events = feed_one("data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\ndata: e\n\r");
  // The final "\r" ends the stream's last event only when a following byte proves it is not "\r\n".
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].raw, "data: a\r\n\r\n");
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(events[1].raw, "data: b\r\r");
  EXPECT_EQ(events[1].data, "b");
  EXPECT_EQ(events[2].data, "c");

  std::string pending;
  const auto more = feed_all({"data: d\r\ndata: e\n\r", "x"}, &pending);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].raw, "data: d\r\ndata: e\n\r");
  EXPECT_EQ(more[0].data, "d\ne");
  EXPECT_EQ(pending, "x");
}

TEST(SseParserTest, CrLfSplitAcrossFeeds) {
  std::string pending;
  auto events = feed_all({"data: a\r", "\n\r", "\n"}, &pending);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].raw, "data: a\r\n\r\n");
  EXPECT_EQ(events[0].data, "a");
  EXPECT_EQ(pending, "");

  events = feed_all({"data: a\r", "\r", "data: b\r", "\n", "\r", "\n"}, &pending);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].raw, "data: a\r\r");
  EXPECT_EQ(events[1].raw, "data: b\r\n\r\n");
  EXPECT_EQ(pending, "");
}

TEST(SseParserTest, BomAtStreamStartOnly) {
  auto events = feed_one(
      "\xEF\xBB\xBF"
      "data: x\n\n\xEF\xBB\xBF"
      "data: y\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "x");
  EXPECT_EQ(events[0].raw,
            "\xEF\xBB\xBF"
            "data: x\n\n");       // raw keeps every byte
  EXPECT_EQ(events[1].data, "");  // a BOM later on is part of the field name
  // Split inside the BOM.
  events = feed_all({"\xEF", "\xBB",
                     "\xBF"
                     "event: e\nda",
                     "ta: z\n", "\n"});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "e");
  EXPECT_EQ(events[0].data, "z");
  // A BOM followed directly by a blank line is an empty event.
  events = feed_one("\xEF\xBB\xBF\ndata: q\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].raw, "\xEF\xBB\xBF\n");
  EXPECT_EQ(events[1].data, "q");
}

TEST(SseParserTest, PendingAndMaxPending) {
  SseParser parser;
  int count = 0;
  const auto on_event = [&](const SseEvent&) { ++count; };
  parser.feed("data: one\n\ndata: tw", on_event);
  EXPECT_EQ(count, 1);
  EXPECT_EQ(parser.pending(), "data: tw");
  parser.feed("o\n", on_event);
  EXPECT_EQ(parser.pending(), "data: two\n");
  EXPECT_EQ(parser.max_pending(), 10u);
  parser.feed("\n", on_event);
  EXPECT_EQ(count, 2);
  EXPECT_EQ(parser.pending(), "");
  EXPECT_EQ(parser.max_pending(), 10u);
  parser.feed("", on_event);
  EXPECT_EQ(count, 2);
}

TEST(SseParserTest, RawConcatenationIsTheStream) {
  const std::string stream = "data: a\n\n\n\n: c\r\ndata: b\r\n\r\n\ndata: tail";
  std::string pending;
  const auto events = feed_one(stream, &pending);
  std::string joined;
  for (const Event& e : events) joined += e.raw;
  EXPECT_EQ(joined + pending, stream);
  EXPECT_EQ(pending, "data: tail");
}

// A stream with every feature; splitting it anywhere must not change the events.
const std::string kRichStream =
    "\xEF\xBB\xBF: keep-alive\n\n"
    "event: response.created\r\n"
    "data: {\"type\":\"response.created\"}\r\n\r\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"h\xC3\xA9\"}}]}\n\n"
    "data: line one\rdata: line two\r\r"
    "id: 1\nretry: 10\ndata:x\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\r\n\r\n"
    "data: [DONE]\n\n";

TEST(SseParserTest, SplitAtEveryBytePosition) {
  std::string reference_pending;
  const auto reference = feed_one(kRichStream, &reference_pending);
  ASSERT_EQ(reference.size(), 7u);
  EXPECT_EQ(reference_pending, "");
  EXPECT_EQ(reference[1].event, "response.created");
  EXPECT_EQ(reference[3].data, "line one\nline two");
  EXPECT_EQ(reference[6].data, "[DONE]");

  const std::string_view s = kRichStream;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    SCOPED_TRACE(i);
    std::string pending;
    EXPECT_EQ(feed_all({s.substr(0, i), s.substr(i)}, &pending), reference);
    EXPECT_EQ(pending, "");
  }
}

TEST(SseParserTest, SplitAtEveryPairOfPositions) {
  const std::string_view s = kRichStream;
  const auto reference = feed_one(s);
  for (std::size_t i = 0; i <= s.size(); ++i) {
    for (std::size_t j = i; j <= s.size(); j += 3) {
      ASSERT_EQ(feed_all({s.substr(0, i), s.substr(i, j - i), s.substr(j)}), reference) << i << "," << j;
    }
  }
}

TEST(SseParserTest, ByteByByte) {
  const std::string_view s = kRichStream;
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < s.size(); ++i) bytes.push_back(s.substr(i, 1));
  EXPECT_EQ(feed_all(bytes), feed_one(s));
}

TEST(SseParserTest, LongLineInManySmallFeedsStaysLinear) {
  // 4 MiB of data in 4 KiB feeds: a parser that rescans from the start of the line on every feed does
  // ~2 GiB of work here and the test times out.
  const std::string payload(4 * 1024 * 1024, 'a');
  const std::string stream = "data: " + payload + "\n\n";
  SseParser parser;
  std::size_t count = 0;
  std::size_t data_size = 0;
  for (std::size_t i = 0; i < stream.size(); i += 4096) {
    parser.feed(std::string_view(stream).substr(i, 4096), [&](const SseEvent& e) {
      ++count;
      data_size = e.data.size();
      EXPECT_EQ(e.raw.size(), stream.size());
    });
  }
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(data_size, payload.size());
  EXPECT_GE(parser.max_pending(), payload.size());
}

TEST(SseParserTest, ManyEventsInOneFeed) {
  std::string stream;
  for (int i = 0; i < 10000; ++i) stream += "data: " + std::to_string(i) + "\n\n";
  std::string pending;
  const auto events =
      feed_all({stream.substr(0, stream.size() - 1), stream.substr(stream.size() - 1)}, &pending);
  ASSERT_EQ(events.size(), 10000u);
  EXPECT_EQ(events[9999].data, "9999");
  EXPECT_EQ(pending, "");
}

}  // namespace
}  // namespace spillway::http
