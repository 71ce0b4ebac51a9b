// SPDX-License-Identifier: MIT
// udp_transport on real sockets. Every test sends, so every test runs inside a private network
// namespace (tests/tools/in_netns.sh) and REQUIREs the guard first.
#include "racket/transport/udp.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include <asio/ip/address.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using racket::test::bytes_of;
using racket::test::collected;
using racket::test::ep;
using racket::test::run_for;
using racket::test::run_until;
using racket::test::string_of;

using namespace std::chrono_literals;
using racket::address_family;
using racket::endpoint;
using racket::receive_info;
using racket::udp_transport;

}  // namespace

TEST_CASE("udp: IPv4 round trip on lo", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}});
  udp.open(address_family::v4);
  REQUIRE(udp.interfaces(address_family::v4).size() == 1);
  REQUIRE(udp.interfaces(address_family::v4)[0].name == "lo");

  collected rx;
  const auto target = ep("239.255.0.1", 19090);
  const auto id = udp.open_receiver(target, rx.handler());
  REQUIRE(id != 0);

  const auto payload = bytes_of(std::string("hello\0world", 11));
  const auto result = udp.send(target, payload);
  CHECK(result.ok == 1);
  CHECK(result.failed == 0);
  CHECK(result.would_block == 0);

  REQUIRE(run_until(io, [&] { return !rx.datagrams.empty(); }));
  CHECK(rx.datagrams[0] == std::string("hello\0world", 11));
  CHECK(rx.interfaces[0] == 0);
  const auto s = udp.stats();
  CHECK(s.datagrams_sent == 1);
  CHECK(s.bytes_sent == 11);
  CHECK(s.datagrams_received >= 1);
  CHECK(s.bytes_received >= 11);
  CHECK(s.send_errors == 0);
  CHECK(s.join_errors == 0);
  CHECK(udp.describe().find("v4[lo]") != std::string::npos);
}

TEST_CASE("udp: default selection on lo-only namespace is lo for IPv4", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {});
  std::error_code ec;
  udp.open(address_family::v4, ec);
  REQUIRE_FALSE(ec);
  bool has_lo = false;
  for (const auto& i : udp.interfaces(address_family::v4)) has_lo = has_lo || i.name == "lo";
  CHECK(has_lo);
}

TEST_CASE("udp: two receivers on one group and port both get every datagram", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}});
  const auto target = ep("239.255.0.2", 19091);
  collected a, b;
  const auto ida = udp.open_receiver(target, a.handler());
  const auto idb = udp.open_receiver(target, b.handler());
  REQUIRE(ida != idb);
  for (int i = 0; i < 3; ++i) REQUIRE(udp.send(target, bytes_of("m" + std::to_string(i))).ok == 1);
  REQUIRE(run_until(io, [&] { return a.datagrams.size() >= 3 && b.datagrams.size() >= 3; }));
  CHECK(a.datagrams == std::vector<std::string>{"m0", "m1", "m2"});
  CHECK(b.datagrams == std::vector<std::string>{"m0", "m1", "m2"});
}

TEST_CASE("udp: receivers on different groups and the same port are isolated", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}});
  const auto g1 = ep("239.255.0.3", 19092);
  const auto g2 = ep("239.255.0.4", 19092);
  collected r1, r2;
  (void)udp.open_receiver(g1, r1.handler());
  (void)udp.open_receiver(g2, r2.handler());
  // Same sending socket, same path: if r2 were to get "to-g1" it would get it before "to-g2".
  REQUIRE(udp.send(g1, bytes_of("to-g1")).ok == 1);
  REQUIRE(udp.send(g2, bytes_of("to-g2")).ok == 1);
  REQUIRE(udp.send(g1, bytes_of("to-g1-again")).ok == 1);
  REQUIRE(run_until(io, [&] { return r1.datagrams.size() >= 2 && !r2.datagrams.empty(); }));
  CHECK(r1.datagrams == std::vector<std::string>{"to-g1", "to-g1-again"});
  CHECK(r2.datagrams == std::vector<std::string>{"to-g2"});
}

TEST_CASE("udp: receiver joins exactly the selected interfaces and leaves on close", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  racket::test::veth_pair veth("rkva", "rkvb", {"198.18.0.1/24"}, {"198.18.0.2/24"});
  REQUIRE(veth.ok());
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo", "rkva"}});
  const auto key = racket::test::igmp_key("239.255.7.9");
  REQUIRE(key.size() == 8);

  CHECK_FALSE(racket::test::joined_groups_v4()["lo"].count(key));
  const auto id = udp.open_receiver(ep("239.255.7.9", 19093), [](auto, const auto&) {});
  auto groups = racket::test::joined_groups_v4();
  CHECK(groups["lo"].count(key) == 1);
  CHECK(groups["rkva"].count(key) == 1);
  CHECK(groups["rkvb"].count(key) == 0);

  udp.close_receiver(id);
  groups = racket::test::joined_groups_v4();
  CHECK(groups["lo"].count(key) == 0);
  CHECK(groups["rkva"].count(key) == 0);
  udp.close_receiver(id);  // twice: ignored
}

TEST_CASE("udp: closing a receiver from inside its own handler is safe", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}});
  const auto target = ep("239.255.0.5", 19094);
  int calls = 0;
  racket::receiver_id id = 0;
  collected other;
  id = udp.open_receiver(target, [&](std::span<const std::byte> d, const receive_info&) {
    ++calls;
    udp.close_receiver(id);
    // The span stays readable after the close, until the handler returns.
    CHECK(string_of(d).rfind("burst", 0) == 0);
  });
  (void)udp.open_receiver(target, other.handler());
  // Several datagrams queued before the first read: the batch must stop after the close.
  for (int i = 0; i < 8; ++i) REQUIRE(udp.send(target, bytes_of("burst" + std::to_string(i))).ok == 1);
  REQUIRE(run_until(io, [&] { return other.datagrams.size() >= 8; }));
  CHECK(calls == 1);
  // Destroying the transport from inside a handler is also safe.
  auto doomed = std::make_unique<udp_transport>(io, racket::transport_options{.interfaces = {"lo"}});
  int doomed_calls = 0;
  (void)doomed->open_receiver(ep("239.255.0.6", 19094), [&](auto, const auto&) {
    ++doomed_calls;
    doomed.reset();
  });
  for (int i = 0; i < 4; ++i) REQUIRE(udp.send(ep("239.255.0.6", 19094), bytes_of("x")).ok == 1);
  REQUIRE(run_until(io, [&] { return doomed == nullptr; }));
  CHECK(doomed_calls == 1);
  io.poll();
}

TEST_CASE("udp: sender on lo and a veth reaches receivers on lo and the peer veth", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  racket::test::veth_pair veth("rkva", "rkvb", {"198.18.0.1/24"}, {"198.18.0.2/24"});
  REQUIRE(veth.ok());
  asio::io_context io;
  udp_transport tx(io, {.interfaces = {"lo", "rkva"}});
  udp_transport rx_lo(io, {.interfaces = {"lo"}});
  udp_transport rx_both(io, {.interfaces = {"rkvb", "lo"}});
  tx.open(address_family::v4);
  REQUIRE(rx_both.open_receiver(ep("239.255.1.1", 19095), [](auto, const auto&) {}) != 0);
  REQUIRE(rx_both.interfaces(address_family::v4).size() == 2);
  REQUIRE(rx_both.interfaces(address_family::v4)[0].name == "rkvb");

  const auto target = ep("239.255.1.2", 19095);
  collected on_lo, on_both;
  (void)rx_lo.open_receiver(target, on_lo.handler());
  (void)rx_both.open_receiver(target, on_both.handler());
  const auto result = tx.send(target, bytes_of("multi"));
  CHECK(result.ok == 2);
  CHECK(result.failed == 0);
  // rx_both hears the datagram twice: once on rkvb (position 0), once on lo (position 1).
  REQUIRE(run_until(io, [&] { return !on_lo.datagrams.empty() && on_both.datagrams.size() >= 2; }));
  CHECK(on_lo.datagrams[0] == "multi");
  CHECK(on_lo.interfaces[0] == 0);
  REQUIRE(on_both.datagrams.size() == 2);
  CHECK(on_both.datagrams[0] == "multi");
  CHECK(on_both.datagrams[1] == "multi");
  std::vector<std::uint32_t> seen = on_both.interfaces;
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::uint32_t>{0, 1});
  CHECK(tx.stats().datagrams_sent == 2);
}

TEST_CASE("udp: IPv6 ff15:: multicast over a veth pair", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  racket::test::veth_pair veth("rkva", "rkvb", {"2001:2::1/64 nodad"}, {"2001:2::2/64 nodad"});
  REQUIRE(veth.ok());
  asio::io_context io;
  udp_transport tx(io, {.interfaces = {"rkva"}});
  udp_transport rx(io, {.interfaces = {"rkvb"}});
  std::vector<std::pair<std::error_code, std::string>> errors;
  rx.set_error_handler([&](const std::error_code& e, std::string_view name) { errors.emplace_back(e, name); });
  tx.open(address_family::v6);
  const auto target = ep("ff15::42:1", 19096);
  collected got;
  const auto id = rx.open_receiver(target, got.handler());
  REQUIRE(id != 0);
  CHECK(errors.empty());
  CHECK(racket::test::joined_groups_v6()["rkvb"].count(racket::test::igmp6_key("ff15::42:1")) == 1);

  // The first datagrams may race the MLD join on a fresh link: resend until one arrives.
  REQUIRE(run_until(io, [&] {
    if (got.datagrams.empty()) CHECK(tx.send(target, bytes_of("six")).ok == 1);
    io.run_for(5ms);
    return !got.datagrams.empty();
  }));
  CHECK(got.datagrams[0] == "six");
  CHECK(got.interfaces[0] == 0);
  rx.close_receiver(id);
  CHECK(racket::test::joined_groups_v6()["rkvb"].count(racket::test::igmp6_key("ff15::42:1")) == 0);
}

TEST_CASE("udp: unknown interface is refused and named", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo", "rknosuch9"}});
  std::error_code ec;
  udp.open(address_family::v4, ec);
  CHECK(ec == racket::errc::unknown_interface);
  CHECK_FALSE(udp.is_open(address_family::v4));
  try {
    udp.open(address_family::v4);
    FAIL("open did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == racket::errc::unknown_interface);
    CHECK(std::string(e.what()).find("interface 'rknosuch9'") != std::string::npos);
  }
  // open_receiver opens the family too, and reports the same.
  const auto id = udp.open_receiver(ep("239.255.0.7", 19097), [](auto, const auto&) {}, ec);
  CHECK(id == 0);
  CHECK(ec == racket::errc::unknown_interface);
}

TEST_CASE("udp: no interface for the family is no_interfaces", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  {
    // lo cannot carry IPv6 multicast.
    udp_transport udp(io, {.interfaces = {"lo"}});
    std::error_code ec;
    udp.open(address_family::v6, ec);
    CHECK(ec == racket::errc::no_interfaces);
    try {
      udp.open(address_family::v6);
      FAIL("open did not throw");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::no_interfaces);
      CHECK(std::string(e.what()).find("IPv6") != std::string::npos);
    }
    // v4 is independent of the failed v6.
    udp.open(address_family::v4, ec);
    CHECK_FALSE(ec);
  }
  {
    // Automatic selection in a namespace with only lo: nothing carries IPv6 multicast.
    udp_transport udp(io, {});
    std::error_code ec;
    udp.open(address_family::v6, ec);
    CHECK(ec == racket::errc::no_interfaces);
    // send on a family that is not open: nothing sent, not_open reported.
    std::error_code reported;
    udp.set_error_handler([&](const std::error_code& e, std::string_view) { reported = e; });
    const auto r = udp.send(ep("ff15::1", 19090), bytes_of("x"));
    CHECK(r.failed == 1);
    CHECK(r.ok == 0);
    // Reported on the strand, after send returned.
    CHECK(run_until(io, [&] { return reported == racket::errc::not_open; }));
    CHECK(udp.stats().send_errors == 1);
  }
}

TEST_CASE("udp: kernel drops of a flooded receiver are counted", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}, .receive_buffer_size = 1});
  const auto target = ep("239.255.0.8", 19098);
  std::size_t got = 0;
  (void)udp.open_receiver(target, [&](auto, const auto&) { ++got; });
  const std::vector<std::byte> payload(1000, std::byte{0x5a});
  // Flood while nothing reads: the tiny receive buffer overflows.
  for (int i = 0; i < 200; ++i) udp.send(target, payload);
  REQUIRE(run_until(io, [&] { return got > 0; }));
  // SO_RXQ_OVFL is stamped on datagrams queued after the drops: send until one arrives.
  REQUIRE(run_until(io, [&] {
    udp.send(target, payload);
    io.run_for(2ms);
    return udp.stats().kernel_drops > 0;
  }));
  CHECK(got < 200);
  CHECK(udp.stats().kernel_drops > 0);
}

TEST_CASE("udp: a failing interface is reported and the others keep working", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  // rkva exists but is down (and has no address): selected because it is named.
  racket::test::veth_pair veth("rkva", "rkvb", {"198.18.0.1/24"}, {});
  REQUIRE(veth.ok());
  REQUIRE(racket::test::run("ip link set rkva down"));
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"rkva", "lo"}});
  std::vector<std::string> failed_on;
  udp.set_error_handler([&](const std::error_code&, std::string_view name) { failed_on.emplace_back(name); });
  udp.open(address_family::v4);
  REQUIRE(udp.interfaces(address_family::v4).size() == 2);
  const auto target = ep("239.255.0.9", 19099);
  collected rx;
  (void)udp.open_receiver(target, rx.handler());
  const auto r = udp.send(target, bytes_of("still"));
  CHECK(r.ok == 1);      // lo
  CHECK(r.failed == 1);  // rkva is down: the kernel refuses the send
  REQUIRE(run_until(io, [&] { return !rx.datagrams.empty(); }));
  CHECK(rx.datagrams[0] == "still");
  CHECK(rx.interfaces[0] == 1);  // arrived on lo, position 1
  CHECK(udp.stats().send_errors == 1);
  CHECK(udp.stats().datagrams_sent == 1);
  REQUIRE(run_until(io, [&] { return !failed_on.empty(); }));  // reported on the strand
  CHECK(failed_on.size() == 1);
  CHECK(failed_on[0] == "rkva");
}

TEST_CASE("udp: a join failing on one interface is counted, the others still receive", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  auto veth = std::make_unique<racket::test::veth_pair>("rkva", "rkvb", std::vector<std::string>{"198.18.0.1/24"},
                                                        std::vector<std::string>{});
  REQUIRE(veth->ok());
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"rkva", "lo"}});
  udp_transport only_veth(io, {.interfaces = {"rkva"}});
  std::vector<std::string> failed_on;
  udp.set_error_handler([&](const std::error_code&, std::string_view name) { failed_on.emplace_back(name); });
  udp.open(address_family::v4);
  only_veth.open(address_family::v4);
  veth.reset();  // rkva disappears after the selection: joining on it fails (ENODEV)

  const auto target = ep("239.255.0.10", 19100);
  collected rx;
  std::error_code ec;
  const auto id = udp.open_receiver(target, rx.handler(), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(id != 0);
  CHECK(udp.stats().join_errors == 1);
  REQUIRE(run_until(io, [&] { return !failed_on.empty(); }));  // reported on the strand
  CHECK(failed_on.size() == 1);
  CHECK(failed_on[0] == "rkva");
  CHECK(racket::test::joined_groups_v4()["lo"].count(racket::test::igmp_key("239.255.0.10")) == 1);

  const auto r = udp.send(target, bytes_of("survivor"));
  CHECK(r.ok == 1);
  CHECK(r.failed == 1);
  REQUIRE(run_until(io, [&] { return !rx.datagrams.empty(); }));
  CHECK(rx.datagrams[0] == "survivor");
  CHECK(rx.interfaces[0] == 1);

  // Every join failing is an error, and no receiver is left behind.
  const auto none = only_veth.open_receiver(target, [](auto, const auto&) {}, ec);
  CHECK(none == 0);
  CHECK(ec);
  CHECK(only_veth.stats().join_errors == 1);
  CHECK_THROWS_AS(only_veth.open_receiver(target, [](auto, const auto&) {}), std::system_error);
}

TEST_CASE("udp: a kind filter lets only that datagram kind reach the receiver, sealed or not", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}});
  udp.open(address_family::v4);
  const auto target = ep("239.255.0.21", 19101);
  collected only_requests, everything;
  (void)udp.open_receiver(target, only_requests.handler(), 2);
  (void)udp.open_receiver(target, everything.handler());
  // Byte 5 is the kind: "RKTM", version 3, then the kind; a sealed datagram (kind 4) has its
  // suite in byte 6 and the inner kind in byte 7.
  udp.send(target, bytes_of(std::string("RKTM\x03\x01-data", 11)));
  udp.send(target, bytes_of(std::string("RKTM\x03\x02-request", 14)));
  udp.send(target, bytes_of(std::string("RKTM\x03\x04\x01\x01sealed-data", 20)));
  udp.send(target, bytes_of(std::string("RKTM\x03\x04\x01\x02sealed-request", 23)));
  udp.send(target, bytes_of(std::string("RKTM\x03\x05\x01\x02other", 14)));
  REQUIRE(run_until(io, [&] { return everything.datagrams.size() == 5; }));
  run_for(io, std::chrono::milliseconds{50});
  REQUIRE(only_requests.datagrams.size() == 2);
  CHECK(only_requests.datagrams[0] == std::string("RKTM\x03\x02-request", 14));
  CHECK(only_requests.datagrams[1] == std::string("RKTM\x03\x04\x01\x02sealed-request", 23));
}

TEST_CASE("udp: send_batch delivers every datagram, in order, each to its own group", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}});
  udp.open(address_family::v4);
  collected a;
  collected b;
  const auto to_a = ep("239.255.0.21", 19090);
  const auto to_b = ep("239.255.0.22", 19091);
  REQUIRE(udp.open_receiver(to_a, a.handler()) != 0);
  REQUIRE(udp.open_receiver(to_b, b.handler()) != 0);

  // 150 datagrams: more than one sendmmsg call would take if the kernel stopped early, and
  // the two destinations interleaved.
  std::vector<std::vector<std::byte>> payloads;
  for (int i = 0; i < 150; ++i) payloads.push_back(bytes_of("dg" + std::to_string(i)));
  std::vector<racket::outgoing_datagram> batch;
  std::size_t bytes = 0;
  for (int i = 0; i < 150; ++i) {
    batch.push_back({.to = i % 3 == 0 ? to_b : to_a, .bytes = payloads[static_cast<std::size_t>(i)]});
    bytes += payloads[static_cast<std::size_t>(i)].size();
  }
  udp.send_batch(batch);
  for (const auto& d : batch) {
    CHECK(d.result.ok == 1);
    CHECK(d.result.failed == 0);
    CHECK(d.result.would_block == 0);
  }
  REQUIRE(run_until(io, [&] { return a.datagrams.size() == 100 && b.datagrams.size() == 50; }));
  std::vector<std::string> want_a;
  std::vector<std::string> want_b;
  for (int i = 0; i < 150; ++i) (i % 3 == 0 ? want_b : want_a).push_back("dg" + std::to_string(i));
  CHECK(a.datagrams == want_a);
  CHECK(b.datagrams == want_b);
  const auto s = udp.stats();
  CHECK(s.datagrams_sent == 150);
  CHECK(s.bytes_sent == bytes);
}

TEST_CASE("udp: send_batch to a family that is not open fails each of its datagrams", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport udp(io, {.interfaces = {"lo"}});
  udp.open(address_family::v4);
  collected a;
  const auto to_a = ep("239.255.0.23", 19090);
  REQUIRE(udp.open_receiver(to_a, a.handler()) != 0);
  const auto v4 = bytes_of("four");
  const auto v6 = bytes_of("six");
  std::vector<racket::outgoing_datagram> batch{{.to = ep("ff15::23", 19090), .bytes = v6}, {.to = to_a, .bytes = v4}};
  udp.send_batch(batch);
  CHECK(batch[0].result.failed == 1);
  CHECK(batch[0].result.ok == 0);
  CHECK(batch[1].result.ok == 1);
  REQUIRE(run_until(io, [&] { return a.datagrams.size() == 1; }));
  CHECK(a.datagrams[0] == "four");
  CHECK(udp.stats().send_errors == 1);
}

// A sender and a receiver with `busy_poll` (0: off), both open for IPv4 on lo.
struct poll_pair {
  udp_transport tx;
  udp_transport rx;
  poll_pair(asio::io_context& io, std::chrono::microseconds busy_poll)
      : tx(io, {.interfaces = {"lo"}}), rx(io, {.interfaces = {"lo"}, .busy_poll = busy_poll}) {
    tx.open(address_family::v4);
    rx.open(address_family::v4);
  }
  // Opens a receiver on `target` into `got`, sends "first" and runs `io` until it is there.
  void receive_first(asio::io_context& io, const endpoint& target, collected& got) {
    REQUIRE(rx.open_receiver(target, got.handler()) != 0);
    REQUIRE(tx.send(target, bytes_of("first")).ok == 1);
    REQUIRE(run_until(io, [&] { return got.datagrams.size() == 1; }));
  }
};

TEST_CASE("udp: busy polling reads what arrives after the socket was drained, without waiting", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  const auto target = ep("239.255.0.9", 19090);
  for (const auto poll : {std::chrono::microseconds{0}, std::chrono::microseconds{200'000}}) {
    INFO("busy_poll " << poll.count() << " us");
    asio::io_context io;
    poll_pair p(io, poll);
    udp_transport& tx = p.tx;
    udp_transport& rx = p.rx;
    std::vector<std::string> got;
    const auto id = rx.open_receiver(target, [&](std::span<const std::byte> d, const receive_info&) {
      got.push_back(string_of(d));
      // Sent from inside the handler: on lo it is queued on the receiving socket before the
      // handler returns, after the read that brought "one" found the socket empty.
      if (got.size() == 1) CHECK(tx.send(target, bytes_of("two")).ok == 1);
    });
    REQUIRE(id != 0);
    REQUIRE(tx.send(target, bytes_of("one")).ok == 1);
    REQUIRE(run_until(io, [&] { return got.size() == 2; }));
    CHECK(got == std::vector<std::string>{"one", "two"});
    // Polling, "two" is read by the poll that follows the drain; without it, after a wait.
    CHECK(rx.stats().busy_poll_datagrams == (poll.count() > 0 ? 1u : 0u));
    CHECK(rx.stats().datagrams_received == 2);
  }
}

TEST_CASE("udp: a busy poll that finds nothing goes back to waiting, and later datagrams still arrive",
          "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  poll_pair p(io, std::chrono::microseconds{2000});
  udp_transport& tx = p.tx;
  udp_transport& rx = p.rx;
  const auto target = ep("239.255.0.10", 19090);
  collected got;
  p.receive_first(io, target, got);
  // Long after the 2 ms poll gave up: the receiver waits on the event loop again.
  asio::steady_timer later(io);
  later.expires_after(100ms);
  later.async_wait([&](const std::error_code&) { tx.send(target, bytes_of("second")); });
  REQUIRE(run_until(io, [&] { return got.datagrams.size() == 2; }));
  CHECK(got.datagrams[1] == "second");
  CHECK(rx.stats().busy_poll_datagrams == 0);
}

TEST_CASE("udp: a busy poll lets the executor's other handlers run while it finds nothing", "[udp][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  // Half a second of polling after each batch: far longer than the timer below.
  poll_pair p(io, std::chrono::microseconds{500'000});
  udp_transport& tx = p.tx;
  udp_transport& rx = p.rx;
  const auto target = ep("239.255.0.11", 19090);
  collected got;
  p.receive_first(io, target, got);
  // The receiver is polling now. A timer due in 10 ms still fires long before the poll would
  // give up (it yields every busy_poll_slice), and what its handler sends is read by the poll.
  const auto armed = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration fired_after{};
  asio::steady_timer timer(io);
  timer.expires_after(10ms);
  timer.async_wait([&](const std::error_code&) {
    fired_after = std::chrono::steady_clock::now() - armed;
    tx.send(target, bytes_of("second"));
  });
  REQUIRE(run_until(io, [&] { return got.datagrams.size() == 2; }));
  CHECK(fired_after >= 10ms);
  CHECK(fired_after < 250ms);
  CHECK(rx.stats().busy_poll_datagrams == 1);
}
