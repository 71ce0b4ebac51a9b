// SPDX-License-Identifier: MIT
// udp_transport's unicast capability (unicast peers) on real sockets, inside a private network
// namespace: a datagram to 127.0.0.1:port arrives with its sender's address and port, a send
// to an unreachable peer is counted and the others still get theirs.
#include "racket/transport/udp.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include <asio/ip/address.hpp>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace {

using racket::address_family;
using racket::endpoint;
using racket::receive_info;
using racket::udp_transport;
using racket::test::bytes_of;
using racket::test::run_until;

struct heard {
  std::vector<std::string> datagrams;
  std::vector<endpoint> sources;
  racket::datagram_handler handler() {
    return [this](std::span<const std::byte> d, const receive_info& info) {
      datagrams.emplace_back(reinterpret_cast<const char*>(d.data()), d.size());
      sources.push_back(info.source != nullptr ? *info.source : endpoint{});
    };
  }
};

}  // namespace

static_assert(racket::unicast_transport<udp_transport>);

TEST_CASE("udp unicast: IPv4 datagram arrives with its source", "[udp][unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport a(io, {.interfaces = {"lo"}});
  udp_transport b(io, {.interfaces = {"lo"}});
  heard at_a, at_b;
  const std::uint16_t pa = a.open_unicast(address_family::v4, 0, at_a.handler());
  const std::uint16_t pb = b.open_unicast(address_family::v4, 0, at_b.handler());
  REQUIRE(pa != 0);
  REQUIRE(pb != 0);
  REQUIRE(pa != pb);
  CHECK(a.unicast_port(address_family::v4) == pa);
  CHECK(a.unicast_port(address_family::v6) == 0);
  // Opened again: the same socket.
  std::error_code ec;
  CHECK(a.open_unicast(address_family::v4, 0, {}, ec) == pa);
  CHECK_FALSE(ec);

  const auto hello = bytes_of("hello");
  const auto res = a.send_unicast(endpoint{asio::ip::make_address("127.0.0.1"), pb}, hello);
  CHECK(res.ok == 1);
  REQUIRE(run_until(io, [&] { return at_b.datagrams.size() == 1; }));
  CHECK(at_b.datagrams[0] == "hello");
  CHECK(at_b.sources[0] == endpoint{asio::ip::make_address("127.0.0.1"), pa});

  // Back to where it came from, as a subscriber's request goes back to a publisher.
  CHECK(b.send_unicast(at_b.sources[0], bytes_of("back")).ok == 1);
  REQUIRE(run_until(io, [&] { return at_a.datagrams.size() == 1; }));
  CHECK(at_a.datagrams[0] == "back");
  CHECK(at_a.sources[0].port == pb);
  CHECK(a.stats().datagrams_sent == 1);
  CHECK(b.stats().datagrams_received == 1);
}

TEST_CASE("udp unicast: IPv6 on ::1, and a fixed port", "[udp][unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport a(io, {.interfaces = {"lo"}});
  udp_transport b(io, {.interfaces = {"lo"}});
  heard at_b;
  std::error_code ec;
  const std::uint16_t pa = a.open_unicast(address_family::v6, 0, {}, ec);
  INFO(ec.message());
  REQUIRE_FALSE(ec);
  const std::uint16_t pb = b.open_unicast(address_family::v6, 19377, at_b.handler());
  REQUIRE(pb == 19377);
  CHECK(a.send_unicast(endpoint{asio::ip::make_address("::1"), pb}, bytes_of("six")).ok == 1);
  REQUIRE(run_until(io, [&] { return at_b.datagrams.size() == 1; }));
  CHECK(at_b.sources[0] == endpoint{asio::ip::make_address("::1"), pa});

  // A port in use fails with the error, not a crash.
  udp_transport c(io, {.interfaces = {"lo"}});
  CHECK(c.open_unicast(address_family::v6, 19377, {}, ec) == 0);
  CHECK(ec);
}

TEST_CASE("udp unicast: an unreachable peer is counted, the others still get theirs", "[udp][unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport a(io, {.interfaces = {"lo"}});
  udp_transport b(io, {.interfaces = {"lo"}});
  heard at_b;
  a.open_unicast(address_family::v4, 0, {});
  const std::uint16_t pb = b.open_unicast(address_family::v4, 0, at_b.handler());
  const endpoint nowhere{asio::ip::make_address("10.77.0.1"), 9};  // no route in the namespace
  const endpoint good{asio::ip::make_address("127.0.0.1"), pb};
  const auto d = bytes_of("x");
  for (int i = 0; i < 3; ++i) {
    CHECK(a.send_unicast(nowhere, d).failed == 1);
    CHECK(a.send_unicast(good, d).ok == 1);
  }
  REQUIRE(run_until(io, [&] { return at_b.datagrams.size() == 3; }));
  CHECK(a.stats().send_errors == 3);
  CHECK(a.stats().datagrams_sent == 3);
  // No socket for the family: failed, not a crash.
  CHECK(a.send_unicast(endpoint{asio::ip::make_address("::1"), pb}, d).failed == 1);
  // Closed: sends fail, the port is free again.
  b.close_unicast(address_family::v4);
  CHECK(b.unicast_port(address_family::v4) == 0);
  CHECK(b.send_unicast(endpoint{asio::ip::make_address("127.0.0.1"), pb}, d).failed == 1);
}
