#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "http/parsers.h"

namespace spillway::http::detail {
namespace {

// The head is exactly what was put, the string cut to it (a reused string's longer contents are gone), and
// the bound callers compute (variable parts + kHeadSlack) holds the longest fixed parts with room to spare.
TEST(HeadWriter, WritesExactlyWhatWasPut) {
  std::string head(1000, 'x');
  const HeaderList headers = {{"content-type", "application/json"}, {"x-empty", ""}};
  HeadWriter w(head, HeadWriter::size_of(headers) + HeadWriter::kHeadSlack);
  w.put("HTTP/1.1 ").decimal(200).put(' ').put("OK").crlf().fields(headers);
  w.put("content-length: ").decimal(UINT64_MAX).crlf().put("connection: keep-alive\r\n").crlf();
  w.finish();
  EXPECT_EQ(head,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-empty: \r\n"
            "content-length: 18446744073709551615\r\nconnection: keep-alive\r\n\r\n");
  EXPECT_EQ(HeadWriter::size_of(headers), 12 + 16 + 4 + 7 + 0 + 4);
  EXPECT_LT(head.size() - HeadWriter::size_of(headers) - 2, HeadWriter::kHeadSlack / 2);

  HeadWriter again(head, HeadWriter::kHeadSlack);
  again.decimal(0).crlf();
  again.finish();
  EXPECT_EQ(head, "0\r\n");
}

}  // namespace
}  // namespace spillway::http::detail
