// SPDX-License-Identifier: MIT
// detail::udp::send_port's backlog: what enqueue holds and when it refuses, and what closing
// drops. The port's socket is never opened here: nothing is sent (the flush is exercised on
// real sockets by tests/net/test_udp_gso.cpp).
#include "racket/transport/detail/udp/send_port.hpp"

#include "catch.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/post.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace {

const racket::endpoint group{asio::ip::make_address("239.255.0.9"), 19090};

}  // namespace

TEST_CASE("send_port: the backlog keeps datagrams in order, copied, up to send_backlog_bytes", "[send_port]") {
  using namespace racket::detail::udp;
  asio::io_context io;
  auto book = std::make_shared<backlog_book>(strand_type(io.get_executor()));
  send_port port(io.get_executor(), book);
  const racket::detail::socket_address to(group);

  std::vector<std::byte> first(1000, std::byte{1});
  REQUIRE(enqueue(port, to, first));
  first[0] = std::byte{9};  // the backlog holds its own copy
  const std::vector<std::byte> big(send_backlog_bytes - 1000, std::byte{2});
  REQUIRE(enqueue(port, to, big));
  CHECK(port.backlog_bytes == send_backlog_bytes);
  CHECK(book->bytes() == send_backlog_bytes);  // the transport's book counts every port's
  REQUIRE(port.backlog.size() == 2);
  CHECK(port.backlog[0].data.size() == 1000);
  CHECK(port.backlog[0].data[0] == std::byte{1});
  CHECK(port.backlog[1].data.size() == big.size());
  CHECK(port.backlog[0].to.size == to.size);

  const std::byte one[1] = {std::byte{3}};
  CHECK_FALSE(enqueue(port, to, one));  // full: refused, nothing changes
  CHECK(port.backlog.size() == 2);
  CHECK(port.backlog_bytes == send_backlog_bytes);
  CHECK(book->bytes() == send_backlog_bytes);
  CHECK(enqueue(port, to, std::span<const std::byte>()));  // an empty datagram still fits
}

TEST_CASE("send_port: closing drops the backlog for good, on the strand", "[send_port]") {
  using namespace racket::detail::udp;
  asio::io_context io;
  const strand_type strand(io.get_executor());
  auto book = std::make_shared<backlog_book>(strand);
  auto port = std::make_shared<send_port>(strand, book);
  const racket::detail::socket_address to(group);
  const std::vector<std::byte> d(100, std::byte{1});
  REQUIRE(enqueue(*port, to, d));
  // A sender waiting for the backlog to drain is released by the close that drops it.
  int released = 0;
  asio::post(strand, [&] { book->wait([&] { ++released; }); });
  SECTION("from another thread: marked closed at once, the backlog goes when the strand runs") {
    close_send_port(strand, port);
    CHECK(port->closed);
    CHECK(port->backlog_bytes == 100);  // the strand's flush may be reading it
    io.run();
  }
  SECTION("on the strand: all at once") {
    asio::post(strand, [&] {
      close_send_port(strand, port);
      CHECK(port->backlog.empty());
    });
    io.run();
  }
  CHECK(port->closed);
  CHECK(port->backlog.empty());
  CHECK(port->backlog_bytes == 0);
  CHECK(book->bytes() == 0);
  CHECK(released == 1);
  CHECK_FALSE(port->socket.is_open());
}

TEST_CASE("backlog_book: waiters are posted when the last byte goes, not before, never inline", "[send_port]") {
  using namespace racket::detail::udp;
  asio::io_context io;
  const strand_type strand(io.get_executor());
  backlog_book book(strand);
  int calls = 0;
  SECTION("nothing held back: posted at once") {
    book.wait([&] { ++calls; });
    CHECK(calls == 0);  // posted, not run inside wait
    io.run();
    CHECK(calls == 1);
  }
  SECTION("held back: only when it has all gone") {
    book.changed(300);
    book.changed(200);
    book.wait([&] { ++calls; });
    book.wait([&] { calls += 10; });
    book.changed(-300);
    io.run();
    io.restart();
    CHECK(calls == 0);
    CHECK(book.bytes() == 200);
    book.changed(-200);
    CHECK(calls == 0);
    io.run();
    CHECK(calls == 11);
    book.changed(50);  // the waiters were released once, and only once
    book.changed(-50);
    io.restart();
    io.run();
    CHECK(calls == 11);
  }
}
