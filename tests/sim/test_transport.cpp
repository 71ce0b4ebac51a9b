// SPDX-License-Identifier: MIT
// Tests of sim::transport: the racket::transport contract, its errors, its receivers (closing
// from inside a handler, closing the transport), and moving it.
#include "racket/simulation/transport.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "sim_test.hpp"

#include <asio/io_context.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;
using namespace sim_test;

TEST_CASE("sim::transport models racket::transport and reports errors like the UDP transport",
          "[sim][transport]") {
  STATIC_REQUIRE(racket::transport<sim::transport>);
  STATIC_REQUIRE(std::is_same_v<sim::transport::context_type, sim::node>);
  STATIC_REQUIRE(std::is_same_v<sim::transport::clock_type, sim::clock>);
  STATIC_REQUIRE(std::is_same_v<sim::transport::timer_type, sim::timer>);
  STATIC_REQUIRE(std::is_same_v<sim::transport::executor_type, asio::io_context::executor_type>);

  one_lan t(71);
  auto& a = t.add("a");
  auto& lonely = t.net.add_node("lonely");
  std::error_code ec;

  sim::transport none(lonely, {});
  none.open(racket::address_family::v4, ec);
  CHECK(ec == racket::errc::no_interfaces);
  CHECK_THROWS_AS(none.open(racket::address_family::v4), std::system_error);

  sim::transport unknown(a, {.interfaces = {"eth0", "wlan0"}});
  unknown.open(racket::address_family::v4, ec);
  CHECK(ec == racket::errc::unknown_interface);
  CHECK_FALSE(unknown.is_open());

  sim::transport tr(a, {.interfaces = {"eth0", "eth0"}});
  const auto noop = [](std::span<const std::byte>, const racket::receive_info&) {};
  CHECK(tr.open_receiver(group(), noop, ec) == 0);
  CHECK(ec == racket::errc::not_open);
  CHECK_THROWS_AS(tr.open_receiver(group(), noop), std::system_error);
  const auto payload = bytes_of(1);
  CHECK(tr.send(group(), payload).failed == 1);

  tr.open(racket::address_family::v4, ec);
  CHECK_FALSE(ec);
  CHECK(tr.interface_names() == std::vector<std::string>{"eth0"});  // duplicates collapse
  tr.open_receiver(group("ff15::1"), noop, ec);
  CHECK(ec == racket::errc::family_mismatch);
  tr.open_receiver(group(), racket::datagram_handler{}, ec);
  CHECK(ec == std::errc::invalid_argument);
  CHECK(tr.open_receiver(group(), noop, ec) != 0);
  CHECK_FALSE(ec);

  std::vector<std::byte> huge(sim::transport::max_datagram_size_v4 + 1);
  CHECK(tr.send(group(), huge).failed == 1);
  huge.pop_back();
  CHECK(tr.send(group(), huge).ok == 1);
  CHECK(tr.stats().send_errors == 2);
  CHECK(tr.stats().datagrams_sent == 1);
  t.net.run_for(1ms);  // the big one loops back to tr's own receiver

  CHECK(&tr.context() == &a);
  CHECK(tr.get_executor() == t.net.get_executor());
  CHECK(a.get_executor() == t.net.get_executor());

  // Moving a transport keeps its receivers working.
  sim::transport moved = std::move(tr);
  sender other(t.add("b"));
  int heard = 0;
  moved.open_receiver(group(), [&](std::span<const std::byte>, const racket::receive_info&) { ++heard; });
  other.send(1);
  t.net.run_for(1ms);
  CHECK(heard == 1);
}

TEST_CASE("sim::transport claims none of the transport's optional capabilities", "[sim][transport]") {
  // The publisher and subscriber switch on these concepts: a member added to sim::transport
  // with a matching signature would silently change what they do over the simulation.
  STATIC_REQUIRE_FALSE(racket::batch_sending_transport<sim::transport>);
  STATIC_REQUIRE_FALSE(racket::segmenting_transport<sim::transport>);
  STATIC_REQUIRE_FALSE(racket::kind_filtering_transport<sim::transport>);
  STATIC_REQUIRE_FALSE(racket::error_reporting_transport<sim::transport>);
  STATIC_REQUIRE_FALSE(racket::thread_safe_transport<sim::transport>);
  STATIC_REQUIRE_FALSE(racket::segment_receiving_transport<sim::transport>);
}

// ---------------------------------------------------------------------------------------------
// receivers

TEST_CASE("close_receiver is safe from inside that receiver's handler", "[sim][receiver]") {
  one_lan t(61);
  auto& a = t.add("a");
  auto& b = t.add("b");
  sim::transport tb(b, {});
  tb.open(racket::address_family::v4);
  std::vector<std::uint32_t> first, second;
  racket::receiver_id self = 0;
  racket::receiver_id victim = 0;
  self = tb.open_receiver(group(), [&](std::span<const std::byte> d, const racket::receive_info&) {
    first.push_back(value_of(d));
    tb.close_receiver(self);
    tb.close_receiver(self);  // twice is harmless
    tb.close_receiver(victim);  // its handler for this datagram is already posted: it must not run
  });
  tb.open_receiver(group(), [&](std::span<const std::byte> d, const racket::receive_info&) {
    second.push_back(value_of(d));
  });
  int victim_calls = 0;
  victim = tb.open_receiver(group(), [&](std::span<const std::byte>, const racket::receive_info&) { ++victim_calls; });
  sender sa(a);
  sa.send(1);
  sa.send(2);  // both arrive at the same instant: the second is dropped for the closed receiver
  t.net.run_for(1ms);
  sa.send(3);
  t.net.run_for(1ms);
  CHECK(first == std::vector<std::uint32_t>{1});
  CHECK(second == std::vector<std::uint32_t>{1, 2, 3});
  CHECK(victim_calls == 0);
}

TEST_CASE("closing a transport closes its receivers, and it can be opened again", "[sim][receiver]") {
  one_lan t(62);
  auto& a = t.add("a");
  auto& b = t.add("b");
  listener lb(b, group());
  sender sa(a);
  sa.send(1);
  t.net.run_for(1ms);
  lb.transport.close();
  CHECK_FALSE(lb.transport.is_open());
  sa.send(2);
  t.net.run_for(1ms);
  CHECK(lb.values() == std::vector<std::uint32_t>{1});
  const auto payload = bytes_of(3);
  CHECK(lb.transport.send(group(), payload).failed == 1);
  lb.transport.open(racket::address_family::v4);
  lb.transport.open_receiver(group(), [&](std::span<const std::byte> d, const racket::receive_info&) {
    lb.heard.push_back({sim::clock::now(), value_of(d), 0});
  });
  sa.send(4);
  t.net.run_for(1ms);
  CHECK(lb.values() == std::vector<std::uint32_t>{1, 4});
}
