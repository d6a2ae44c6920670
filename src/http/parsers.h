#pragma once
// Parsers that write straight into Spillway's plain types: a request into http::Request, a response head
// into a HeaderList and its body into a caller's string. Private to src/http (includes Beast).
//
// Why not Beast's message parsers: those build a basic_fields (one heap node per field) that the callers
// then copied into lowercase HeaderList strings. These lowercase names as they store them and assign into
// the strings of the previous message, so a keep-alive connection reuses its header strings' capacity and
// a steady stream of requests allocates nothing for its headers. A plain head is parsed by fast_head.h,
// any other by Beast's basic_parser.

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/fast_head.h"
#include "http/types.h"
#include "util/ascii.h"
#include "util/raw_writer.h"

namespace spillway::http::detail {

// Beast's parser callbacks take boost::core::string_view in Boost 1.81.
using Sv = boost::beast::string_view;

// The Beast parsers behind RequestParser and ResponseParser, for the messages fast_head.h leaves to Beast.
class BeastRequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  explicit BeastRequestParser(Request& out) : out_(out) {}
  unsigned version() const { return version_; }

 private:
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

class BeastResponseParser final : public boost::beast::http::basic_parser<false> {
 public:
  explicit BeastResponseParser(HeaderList& headers) : headers_(headers) {}
  int status() const { return status_; }
  unsigned version() const { return version_; }
  void set_sink(std::string* sink) { sink_ = sink; }

 private:
  void on_request_impl(boost::beast::http::verb, Sv, Sv, int, boost::system::error_code&) override {}
  void on_response_impl(int code, Sv, int version, boost::system::error_code&) override {
    status_ = code;
    version_ = static_cast<unsigned>(version);
  }
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
  unsigned version_ = 11;
};

// One message: its head parsed by fast_head.h when the first input holds it whole and it is plain, then
// its Content-Length body counted here; any other message is parsed from its first byte by Beast (beast_).
// The interface is the part of Beast's basic_parser that read_until() and the callers use, with Beast's
// meaning: put() consumes what it parsed, stops after the head (as Beast's non-eager parser does) and
// reports need_more when it wants more input.
template <class Beast, class Derived>
class MessageParser {
 public:
  void header_limit(std::uint32_t n) {
    header_limit_ = n;
    beast_.header_limit(n);
  }
  void body_limit(boost::optional<std::uint64_t> n) {
    body_limit_ = n ? *n : UINT64_MAX;
    beast_.body_limit(n);
  }

  bool got_some() const { return fast_ || beast_.got_some(); }
  bool is_header_done() const { return fast_ || beast_.is_header_done(); }
  bool is_done() const { return fast_ ? remaining_ == 0 : beast_.is_done(); }
  bool keep_alive() const { return fast_ ? head_.keep_alive() : beast_.keep_alive(); }
  boost::optional<std::uint64_t> content_length() const {
    if (!fast_) return beast_.content_length();
    if (!head_.has_content_length) return boost::none;
    return head_.content_length;
  }
  unsigned version() const { return fast_ ? head_.version : beast_.version(); }
  // Whether fast_head.h parsed this message's head (for tests).
  bool fast() const { return fast_; }

  std::size_t put(boost::asio::const_buffer buffer, boost::system::error_code& ec) {
    const auto* data = static_cast<const char*>(buffer.data());
    if (fast_) {
      ec = {};
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, buffer.size()));
      if (n > 0) static_cast<Derived*>(this)->on_body(std::string_view(data, n));
      remaining_ -= n;
      return n;
    }
    if (!beast_.got_some() && buffer.size() > 0 &&
        static_cast<Derived*>(this)->parse_head({data, buffer.size()}, head_)) {
      fast_ = true;
      remaining_ = head_.content_length;
      ec = {};
      return head_.size;
    }
    return beast_.put(buffer, ec);
  }

  void put_eof(boost::system::error_code& ec) {
    if (!fast_) return beast_.put_eof(ec);
    ec = {};
    if (remaining_ > 0) ec = boost::beast::http::error::partial_message;
  }

 protected:
  template <class Out>
  explicit MessageParser(Out& out) : beast_(out) {}

  Beast beast_;
  FastHead head_;
  std::size_t header_limit_ = 8 * 1024;  // Beast's defaults
  std::uint64_t body_limit_ = 8 * 1024 * 1024;
  std::uint64_t remaining_ = 0;  // bytes of the body still to come, after a fast head
  bool fast_ = false;
};

// Parses one request into `out` (method, target, lowercase headers, body). Construct one per request;
// `out` may be the previous request's object (its strings are reused).
class RequestParser final : public MessageParser<BeastRequestParser, RequestParser> {
 public:
  explicit RequestParser(Request& out) : MessageParser(out), out_(out) {
    out_.body.clear();
    // A large body of an earlier request on this connection need not stay allocated.
    if (out_.body.capacity() > kKeepBodyCapacity) std::string().swap(out_.body);
  }

 private:
  friend class MessageParser<BeastRequestParser, RequestParser>;
  static constexpr std::size_t kKeepBodyCapacity = 64 * 1024;

  bool parse_head(std::string_view in, FastHead& head) {
    if (!parse_request_head(in, header_limit_, body_limit_, out_, head)) return false;
    out_.body.reserve(static_cast<std::size_t>(head.content_length));  // within body_limit_
    return true;
  }
  void on_body(std::string_view bytes) { out_.body.append(bytes.data(), bytes.size()); }

  Request& out_;
};

// Parses one response: the head into status() and `headers` (lowercase names, strings reused), the body
// into whatever string set_sink() names at the time the bytes are parsed (dropped when there is none).
class ResponseParser final : public MessageParser<BeastResponseParser, ResponseParser> {
 public:
  explicit ResponseParser(HeaderList& headers) : MessageParser(headers), headers_(headers) {}
  int status() const { return fast_ ? head_.status : beast_.status(); }
  void set_sink(std::string* sink) {
    sink_ = sink;
    beast_.set_sink(sink);
  }
  // Forgets the message parsed so far (a 1xx interim response: its head is the whole of it), to parse the
  // next one from its first byte with the same limits.
  void next_message() {
    std::destroy_at(&beast_);
    std::construct_at(&beast_, headers_);
    beast_.header_limit(static_cast<std::uint32_t>(header_limit_));
    if (body_limit_ != UINT64_MAX)
      beast_.body_limit(body_limit_);
    else
      beast_.body_limit(boost::none);
    beast_.set_sink(sink_);
    head_ = FastHead{};
    remaining_ = 0;
    fast_ = false;
  }

 private:
  friend class MessageParser<BeastResponseParser, ResponseParser>;

  bool parse_head(std::string_view in, FastHead& head) {
    return parse_response_head(in, header_limit_, headers_, head) && head.content_length <= body_limit_;
  }
  void on_body(std::string_view bytes) {
    if (sink_) sink_->append(bytes.data(), bytes.size());
  }

  HeaderList& headers_;
  std::string* sink_ = nullptr;
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
  template <class Parser>
  bool operator()(const Parser& p) const {
    return p.is_done();
  }
};
struct HeaderDone {  // its head (Beast's parser_is_header_done)
  template <class Parser>
  bool operator()(const Parser& p) const {
    return p.is_header_done();
  }
};

// Feeds `parser` what `buffer` already holds, without reading: until `done(parser)` (at the latest the
// end of the message) or the parser needs more input. Consumes what was parsed. Returns the parser's
// error, if any (needing more is none).
template <class Parser, class DynamicBuffer, class Done = MessageDone>
boost::system::error_code parse_buffered(Parser& parser, DynamicBuffer& buffer, Done done = {}) {
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
