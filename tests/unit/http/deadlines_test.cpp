#include "http/deadlines.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <memory>
#include <optional>
#include <thread>

namespace spillway::http::detail {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = ReadDeadlines::Clock;

// A connected pair of loopback sockets; reads on `a` wait until something is written on `b`.
struct SocketPair {
  net::io_context ioc;
  tcp::socket a{ioc};
  tcp::socket b{ioc};
  SocketPair() {
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
  }
  // Starts a read on `a`; its error lands in `result` when the io_context runs it.
  void read(std::optional<boost::system::error_code>& result, char* buf) {
    a.async_read_some(net::buffer(buf, 1),
                      [&result](boost::system::error_code ec, std::size_t) { result = ec; });
  }
};

TEST(ReadDeadlines, ASweepPastTheDeadlineCancelsTheReadAndMarksTheEntry) {
  SocketPair p;
  ReadDeadlines d(std::chrono::milliseconds(10));
  ReadDeadlines::Entry e;
  std::optional<boost::system::error_code> result;
  char buf[1];
  p.read(result, buf);
  const auto t0 = Clock::now();
  d.arm(e, p.a, t0 + std::chrono::seconds(5));
  EXPECT_TRUE(e.armed());

  d.sweep(t0 + std::chrono::seconds(4));  // not due yet
  p.ioc.poll();
  EXPECT_FALSE(result.has_value());
  EXPECT_TRUE(e.armed());
  EXPECT_FALSE(e.expired());

  d.sweep(t0 + std::chrono::seconds(5));
  EXPECT_FALSE(e.armed());
  EXPECT_TRUE(e.expired());
  EXPECT_EQ(d.now(), t0 + std::chrono::seconds(5));
  p.ioc.poll();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, net::error::operation_aborted);
}

TEST(ReadDeadlines, ADisarmedOrReArmedEntryIsNotCancelled) {
  SocketPair p;
  ReadDeadlines d;
  ReadDeadlines::Entry e;
  const auto t0 = Clock::now();
  std::optional<boost::system::error_code> result;
  char buf[1];
  p.read(result, buf);

  d.arm(e, p.a, t0 + std::chrono::seconds(1));
  e.disarm();
  EXPECT_FALSE(e.armed());
  d.sweep(t0 + std::chrono::seconds(2));
  p.ioc.poll();
  EXPECT_FALSE(result.has_value());
  EXPECT_FALSE(e.expired());

  // Re-arming moves the deadline (and does not link the entry twice).
  d.arm(e, p.a, t0 + std::chrono::seconds(1));
  d.arm(e, p.a, t0 + std::chrono::seconds(10));
  d.sweep(t0 + std::chrono::seconds(5));
  p.ioc.poll();
  EXPECT_FALSE(result.has_value());
  EXPECT_TRUE(e.armed());

  // The read completes normally once data comes.
  e.disarm();
  net::write(p.b, net::buffer("x", 1));
  p.ioc.run_one_for(std::chrono::seconds(5));
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
}

TEST(ReadDeadlines, OnlyTheEntriesDueAreCancelledAndDestroyedEntriesAreGone) {
  SocketPair p1;
  SocketPair p2;
  ReadDeadlines d;
  const auto t0 = Clock::now();
  std::optional<boost::system::error_code> r1, r2;
  char b1[1], b2[1];
  p1.read(r1, b1);
  p2.read(r2, b2);
  ReadDeadlines::Entry late;
  d.arm(late, p2.a, t0 + std::chrono::seconds(60));
  {
    // Armed, then destroyed with its socket still open: the sweep must not touch it.
    auto gone = std::make_unique<ReadDeadlines::Entry>();
    d.arm(*gone, p1.a, t0);
  }
  ReadDeadlines::Entry due;
  d.arm(due, p1.a, t0 + std::chrono::seconds(1));
  d.sweep(t0 + std::chrono::seconds(2));
  p1.ioc.poll();
  p2.ioc.poll();
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(*r1, net::error::operation_aborted);
  EXPECT_TRUE(due.expired());
  EXPECT_FALSE(r2.has_value());
  EXPECT_TRUE(late.armed());
  EXPECT_FALSE(late.expired());
}

TEST(ReadDeadlines, CurrentIsPerThread) {
  EXPECT_EQ(ReadDeadlines::current(), nullptr);
  {
    ReadDeadlines d;
    d.make_current();
    EXPECT_EQ(ReadDeadlines::current(), &d);
    ReadDeadlines* seen = &d;
    std::thread([&seen] { seen = ReadDeadlines::current(); }).join();
    EXPECT_EQ(seen, nullptr);
  }
  EXPECT_EQ(ReadDeadlines::current(), nullptr);  // cleared when it is destroyed
}

}  // namespace
}  // namespace spillway::http::detail
