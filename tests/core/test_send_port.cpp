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
  send_port port(io.get_executor());
  const racket::detail::socket_address to(group);

  std::vector<std::byte> first(1000, std::byte{1});
  REQUIRE(enqueue(port, to, first));
  first[0] = std::byte{9};  // the backlog holds its own copy
  const std::vector<std::byte> big(send_backlog_bytes - 1000, std::byte{2});
  REQUIRE(enqueue(port, to, big));
  CHECK(port.backlog_bytes == send_backlog_bytes);
  REQUIRE(port.backlog.size() == 2);
  CHECK(port.backlog[0].data.size() == 1000);
  CHECK(port.backlog[0].data[0] == std::byte{1});
  CHECK(port.backlog[1].data.size() == big.size());
  CHECK(port.backlog[0].to.size == to.size);

  const std::byte one[1] = {std::byte{3}};
  CHECK_FALSE(enqueue(port, to, one));  // full: refused, nothing changes
  CHECK(port.backlog.size() == 2);
  CHECK(port.backlog_bytes == send_backlog_bytes);
  CHECK(enqueue(port, to, std::span<const std::byte>()));  // an empty datagram still fits
}

TEST_CASE("send_port: closing drops the backlog for good, on the strand", "[send_port]") {
  using namespace racket::detail::udp;
  asio::io_context io;
  const strand_type strand(io.get_executor());
  auto port = std::make_shared<send_port>(strand);
  const racket::detail::socket_address to(group);
  const std::vector<std::byte> d(100, std::byte{1});
  REQUIRE(enqueue(*port, to, d));
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
  CHECK_FALSE(port->socket.is_open());
}
