#pragma once
// Beast parsers that write straight into Spillway's plain types: a request into http::Request, a response
// head into a HeaderList and its body into a caller's string. Private to src/http (includes Beast).
//
// Why not Beast's message parsers: those build a basic_fields (one heap node per field) that the callers
// then copied into lowercase HeaderList strings. These lowercase names as they store them and assign into
// the strings of the previous message, so a keep-alive connection reuses its header strings' capacity and
// a steady stream of requests allocates nothing for its headers.

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/types.h"
#include "util/ascii.h"
#include "util/raw_writer.h"

namespace spillway::http::detail {

// Beast's parser callbacks take boost::core::string_view in Boost 1.81.
using Sv = boost::beast::string_view;

// Appends (name, value) to `headers` as its `count`-th entry, reusing the strings of an entry left there by
// an earlier message. After the head, trim_headers(headers, count) drops the stale tail.
inline void put_header(HeaderList& headers, std::size_t& count, std::string_view name,
                       std::string_view value) {
  if (count < headers.size()) {
    util::assign_ascii_lower(headers[count].first, name);
    headers[count].second.assign(value.data(), value.size());
  } else {
    headers.emplace_back();
    util::assign_ascii_lower(headers.back().first, name);
    headers.back().second.assign(value.data(), value.size());
  }
  ++count;
}

inline void trim_headers(HeaderList& headers, std::size_t count) {
  if (headers.size() > count)
    headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(count), headers.end());
}

// Parses one request into `out` (method, target, lowercase headers, body). Construct one per request;
// `out` may be the previous request's object (its strings are reused).
class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  explicit RequestParser(Request& out) : out_(out) {
    out_.body.clear();
    // A large body of an earlier request on this connection need not stay allocated.
    if (out_.body.capacity() > kKeepBodyCapacity) std::string().swap(out_.body);
  }
  unsigned version() const { return version_; }

 private:
  static constexpr std::size_t kKeepBodyCapacity = 64 * 1024;

  void on_request_impl(boost::beast::http::verb, Sv method, Sv target, int version,
                       boost::system::error_code&) override {
    out_.method.assign(method.data(), method.size());
    out_.target.assign(target.data(), target.size());
    version_ = static_cast<unsigned>(version);
  }
  void on_response_impl(int, Sv, int, boost::system::error_code&) override {}
  void on_field_impl(boost::beast::http::field, Sv name, Sv value, boost::system::error_code&) override {
    put_header(out_.headers, count_, {name.data(), name.size()}, {value.data(), value.size()});
  }
  void on_header_impl(boost::system::error_code&) override { trim_headers(out_.headers, count_); }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, boost::system::error_code&) override {
    if (length) out_.body.reserve(static_cast<std::size_t>(*length));  // body_limit() was checked first
  }
  std::size_t on_body_impl(Sv body, boost::system::error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, Sv, boost::system::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, Sv body, boost::system::error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(boost::system::error_code&) override {}

  Request& out_;
  std::size_t count_ = 0;
  unsigned version_ = 11;
};

// Parses one response: the head into status() and `headers` (lowercase names, strings reused), the body
// into whatever string set_sink() names at the time the bytes are parsed (dropped when there is none).
class ResponseParser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit ResponseParser(HeaderList& headers) : headers_(headers) {}
  int status() const { return status_; }
  void set_sink(std::string* sink) { sink_ = sink; }

 private:
  void on_request_impl(boost::beast::http::verb, Sv, Sv, int, boost::system::error_code&) override {}
  void on_response_impl(int code, Sv, int, boost::system::error_code&) override { status_ = code; }
  void on_field_impl(boost::beast::http::field, Sv name, Sv value, boost::system::error_code&) override {
    put_header(headers_, count_, {name.data(), name.size()}, {value.data(), value.size()});
  }
  void on_header_impl(boost::system::error_code&) override { trim_headers(headers_, count_); }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, boost::system::error_code&) override {}
  std::size_t on_body_impl(Sv body, boost::system::error_code&) override {
    if (sink_) sink_->append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, Sv, boost::system::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, Sv body, boost::system::error_code&) override {
    if (sink_) sink_->append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(boost::system::error_code&) override {}

  HeaderList& headers_;
  std::string* sink_ = nullptr;
  std::size_t count_ = 0;
  int status_ = 0;
};

// Writes a message head through a raw pointer into `out`, which the constructor resizes to `bound` bytes:
// the caller's upper bound of everything it will write (the variable parts, plus kHeadSlack for the fixed
// ones). finish() cuts `out` to what was written. Instead of an append per part, each checking the
// capacity (and a strlen per literal): a head took some thirty of them. The writes are util::RawWriter's.
class HeadWriter {
 public:
  // Room for every fixed part a head adds besides names, values, target, reason and host: request and
  // status lines, content-length or transfer-encoding, connection, and the blank line (under 160 bytes).
  static constexpr std::size_t kHeadSlack = 256;
  static std::size_t size_of(const HeaderList& headers) {
    std::size_t n = 0;
    for (const auto& [name, value] : headers) n += name.size() + value.size() + 4;
    return n;
  }

  HeadWriter(std::string& out, std::size_t bound) : out_(out) {
    out.resize(bound);
    w_.p = out.data();
  }
  HeadWriter& put(std::string_view s) {
    w_.append(s);
    return *this;
  }
  HeadWriter& put(char c) {
    w_.push_back(c);
    return *this;
  }
  HeadWriter& crlf() { return put('\r').put('\n'); }
  HeadWriter& decimal(std::uint64_t v) {
    w_.integer(v);
    return *this;
  }
  HeadWriter& field(std::string_view name, std::string_view value) {
    return put(name).put(':').put(' ').put(value).crlf();
  }
  HeadWriter& fields(const HeaderList& headers) {
    for (const auto& [name, value] : headers) field(name, value);
    return *this;
  }
  void finish() { out_.resize(static_cast<std::size_t>(w_.p - out_.data())); }

 private:
  std::string& out_;
  util::RawWriter w_{nullptr};
};

// `done` conditions for parse_buffered() and read_until() (read_until.h).
struct MessageDone {  // the whole message
  template <bool isRequest>
  bool operator()(const boost::beast::http::basic_parser<isRequest>& p) const {
    return p.is_done();
  }
};
struct HeaderDone {  // its head (Beast's parser_is_header_done)
  template <bool isRequest>
  bool operator()(const boost::beast::http::basic_parser<isRequest>& p) const {
    return p.is_header_done();
  }
};

// Feeds `parser` what `buffer` already holds, without reading: until `done(parser)` (at the latest the
// end of the message) or the parser needs more input. Consumes what was parsed. Returns the parser's
// error, if any (needing more is none).
template <bool isRequest, class DynamicBuffer, class Done = MessageDone>
boost::system::error_code parse_buffered(boost::beast::http::basic_parser<isRequest>& parser,
                                         DynamicBuffer& buffer, Done done = {}) {
  boost::system::error_code ec;
  while (!parser.is_done() && !done(parser) && buffer.size() > 0) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == boost::beast::http::error::need_more) return {};
    if (ec || used == 0) break;
  }
  return ec;
}

}  // namespace spillway::http::detail
