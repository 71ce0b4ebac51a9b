// SPDX-License-Identifier: MIT
// Tests of sim::network: topology, the multicast delivery model, partitions, the run loop and
// virtual time, scenario steps and the application PRNG. No real time and no sockets anywhere.
#include "racket/simulation/network_core.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "sim_test.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;
using namespace sim_test;

// ---------------------------------------------------------------------------------------------
// delivery

TEST_CASE("a datagram reaches every node on the LAN that joined the group, after the delay", "[sim][delivery]") {
  one_lan t;
  auto& a = t.add("a");
  auto& b = t.add("b");
  auto& c = t.add("c");
  auto& d = t.add("d");
  listener lb(b, group()), lc(c, group()), ld(d, group());
  sender sa(a);

  const auto t0 = t.net.now();
  auto buffer = bytes_of(7);
  const auto result = sa.transport.send(group(), buffer);
  CHECK(result.ok == 1);
  CHECK(result.failed == 0);
  CHECK(result.would_block == 0);
  buffer = bytes_of(99);  // the network copied the bytes: reusing the buffer changes nothing

  CHECK(lb.heard.empty());  // nothing arrives before the network runs
  t.net.run_for(1ms);
  for (auto* l : {&lb, &lc, &ld}) {
    REQUIRE(l->heard.size() == 1);
    CHECK(l->heard[0].value == 7);
    CHECK(l->heard[0].at == t0 + sim::fault_profile{}.delay);
    CHECK(l->heard[0].interface_index == 0);
  }
  const auto st = t.net.stats();
  CHECK(st.sent == 1);
  CHECK(st.delivered == 3);
  CHECK(st.lost == 0);

  const auto ts = sa.transport.stats();
  CHECK(ts.datagrams_sent == 1);
  CHECK(ts.bytes_sent == 4);
  CHECK(lb.transport.stats().datagrams_received == 1);
  CHECK(lb.transport.stats().bytes_received == 4);
}

TEST_CASE("nodes that did not join, joined another group or port, or sit on another LAN hear nothing",
          "[sim][delivery]") {
  sim::network net(3);
  const auto lan0 = net.add_lan("lan0");
  const auto lan1 = net.add_lan("lan1");
  auto& a = net.add_node("a");
  auto& joined = net.add_node("joined");
  auto& idle = net.add_node("idle");
  auto& other_group = net.add_node("other-group");
  auto& other_port = net.add_node("other-port");
  auto& elsewhere = net.add_node("elsewhere");
  for (auto* n : {&a, &joined, &idle, &other_group, &other_port}) net.attach(*n, lan0, "eth0");
  net.attach(elsewhere, lan1, "eth0");

  listener l_joined(joined, group());
  sim::transport t_idle(idle, {});
  t_idle.open(racket::address_family::v4);
  listener l_group(other_group, group("239.255.0.2"));
  listener l_port(other_port, group("239.255.0.1", 19091));
  listener l_elsewhere(elsewhere, group());
  sender sa(a);

  sa.send(1);
  net.run_for(1ms);
  CHECK(l_joined.values() == std::vector<std::uint32_t>{1});
  CHECK(l_group.heard.empty());
  CHECK(l_port.heard.empty());
  CHECK(l_elsewhere.heard.empty());
  CHECK(net.stats().delivered == 1);
}

TEST_CASE("IPv6 groups are delivered like IPv4 ones and need the v6 family opened", "[sim][delivery]") {
  one_lan t;
  auto& a = t.add("a");
  auto& b = t.add("b");
  const auto ep6 = group("ff15::1234", 19090);
  listener lb(b, ep6);

  sim::transport ta(a, {});
  ta.open(racket::address_family::v4);
  const auto payload = bytes_of(5);
  CHECK(ta.send(ep6, payload).failed == 1);  // v6 not opened
  ta.open(racket::address_family::v6);
  CHECK(ta.send(ep6, payload).ok == 1);
  t.net.run_for(1ms);
  CHECK(lb.values() == std::vector<std::uint32_t>{5});
}

TEST_CASE("a multi-homed node hears each LAN on its own interface, and two interfaces on one LAN hear twice",
          "[sim][delivery][multihomed]") {
  sim::network net(4);
  const auto lan0 = net.add_lan("lan0");
  const auto lan1 = net.add_lan("lan1");
  auto& s0 = net.add_node("s0");
  auto& s1 = net.add_node("s1");
  auto& m = net.add_node("m");
  auto& twice = net.add_node("twice");
  net.attach(s0, lan0, "eth0");
  net.attach(s1, lan1, "eth0");
  net.attach(m, lan0, "eth0");
  net.attach(m, lan1, "eth1");
  net.attach(twice, lan0, "eth0");
  net.attach(twice, lan0, "eth1");

  REQUIRE(m.interfaces().size() == 2);
  CHECK(m.interfaces()[1].name == "eth1");
  CHECK(m.interfaces()[1].lan == lan1);

  listener lm(m, group());
  listener lm1(m, group(), {.interfaces = {"eth1"}});  // only lan1
  listener ltwice(twice, group());
  CHECK(lm.transport.interface_names() == std::vector<std::string>{"eth0", "eth1"});
  CHECK(lm1.transport.interface_names() == std::vector<std::string>{"eth1"});

  sender a(s0), b(s1);
  a.send(100);
  net.run_for(1ms);
  b.send(200);
  net.run_for(1ms);

  REQUIRE(lm.heard.size() == 2);
  CHECK(lm.heard[0].value == 100);
  CHECK(lm.heard[0].interface_index == 0);  // eth0, lan0
  CHECK(lm.heard[1].value == 200);
  CHECK(lm.heard[1].interface_index == 1);  // eth1, lan1

  REQUIRE(lm1.heard.size() == 1);
  CHECK(lm1.heard[0].value == 200);
  CHECK(lm1.heard[0].interface_index == 0);  // index in lm1's own selection

  REQUIRE(ltwice.heard.size() == 2);
  CHECK(ltwice.values() == std::vector<std::uint32_t>{100, 100});
  std::set<std::uint32_t> indices{ltwice.heard[0].interface_index, ltwice.heard[1].interface_index};
  CHECK(indices == std::set<std::uint32_t>{0, 1});

  // Sending from a multi-homed node puts one copy on each selected interface.
  sender from_m(m);
  listener l_s0(s0, group()), l_s1(s1, group());
  CHECK(from_m.send(300).ok == 2);
  net.run_for(1ms);
  CHECK(l_s0.values() == std::vector<std::uint32_t>{300});
  CHECK(l_s1.values() == std::vector<std::uint32_t>{300});
}

TEST_CASE("loopback decides whether the sending node's own receivers hear it", "[sim][delivery][loopback]") {
  one_lan t;
  auto& a = t.add("a");
  auto& b = t.add("b");
  listener local(a, group());
  listener remote(b, group());

  SECTION("on") {
    sender s(a, {.loopback = true});
    s.send(1);
    t.net.run_for(1ms);
    CHECK(local.values() == std::vector<std::uint32_t>{1});
    CHECK(remote.values() == std::vector<std::uint32_t>{1});
  }
  SECTION("on, looped-back copies ignore faults") {
    t.net.set_faults({.loss = 1.0});
    sender s(a, {.loopback = true});
    s.send(1);
    t.net.run_for(1ms);
    CHECK(local.values() == std::vector<std::uint32_t>{1});
    CHECK(remote.heard.empty());
  }
  SECTION("off") {
    sender s(a, {.loopback = false});
    s.send(1);
    t.net.run_for(1ms);
    CHECK(local.heard.empty());
    CHECK(remote.values() == std::vector<std::uint32_t>{1});
  }
  SECTION("a transport hears itself with loopback") {
    sim::transport both(a, {});
    both.open(racket::address_family::v4);
    int self = 0;
    both.open_receiver(group(), [&](std::span<const std::byte>, const racket::receive_info&) { ++self; });
    const auto payload = bytes_of(2);
    both.send(group(), payload);
    t.net.run_for(1ms);
    CHECK(self == 1);
  }
}

// ---------------------------------------------------------------------------------------------
// partitions

TEST_CASE("a partition blocks both directions and heal restores delivery", "[sim][partition]") {
  one_lan t(21);
  auto& a = t.add("a");
  auto& b = t.add("b");
  auto& c = t.add("c");
  listener la(a, group()), lb(b, group()), lc(c, group());
  sender sa(a, {.loopback = false}), sb(b, {.loopback = false});

  t.net.partition({&a}, {&b});
  CHECK(t.net.partitioned(a, b));
  CHECK(t.net.partitioned(b, a));
  CHECK_FALSE(t.net.partitioned(a, c));
  sa.send(1);
  sb.send(2);
  t.net.run_for(1ms);
  CHECK(la.heard.empty());
  CHECK(lb.heard.empty());
  CHECK(lc.values() == std::vector<std::uint32_t>{1, 2});  // c is on neither side
  CHECK(t.net.stats().partitioned == 2);

  t.net.heal();
  CHECK_FALSE(t.net.partitioned(a, b));
  sa.send(3);
  sb.send(4);
  t.net.run_for(1ms);
  CHECK(la.values() == std::vector<std::uint32_t>{4});
  CHECK(lb.values() == std::vector<std::uint32_t>{3});

  // A datagram in flight when the partition is made is dropped when it arrives.
  sa.send(5);
  t.net.partition({&a}, {&b, &c});
  t.net.run_for(1ms);
  CHECK(lb.values() == std::vector<std::uint32_t>{3});
  CHECK(lc.values() == std::vector<std::uint32_t>{1, 2, 3, 4});
  CHECK(t.net.stats().partitioned == 4);
}

TEST_CASE("post_at runs scenario steps at their virtual time", "[sim][run]") {
  sim::network net(45);
  const auto t0 = net.now();
  std::vector<sim::clock::duration> at;
  net.post_at(t0 + 2s, [&] { at.push_back(sim::clock::now() - t0); });
  net.post_after(1s, [&] { at.push_back(sim::clock::now() - t0); });
  net.post_at(t0 - 1s, [&] { at.push_back(sim::clock::now() - t0); });  // past: at once
  CHECK(net.pending_events() == 3);
  net.run_for(5s);
  CHECK(at == std::vector<sim::clock::duration>{0s, 1s, 2s});
  CHECK(net.pending_events() == 0);
}

// ---------------------------------------------------------------------------------------------
// run loop

TEST_CASE("run_until stops when the predicate holds, or returns false at the timeout", "[sim][run]") {
  one_lan t(51);
  auto& a = t.add("a");
  auto& b = t.add("b");
  listener lb(b, group());
  sender sa(a);
  const auto t0 = t.net.now();

  CHECK_FALSE(t.net.run_until([&] { return !lb.heard.empty(); }, 2s));
  CHECK(t.net.now() == t0 + 2s);

  t.net.post_after(500ms, [&] { sa.send(1); });
  const auto t1 = t.net.now();
  CHECK(t.net.run_until([&] { return !lb.heard.empty(); }, 2s));
  CHECK(t.net.now() == t1 + 500ms + sim::fault_profile{}.delay);

  CHECK(t.net.run_until([] { return true; }, 1s));  // already true: no time passes
  CHECK(t.net.now() == t1 + 500ms + sim::fault_profile{}.delay);
}

TEST_CASE("run_until_idle stops at the last event, or at max for a network that never idles", "[sim][run]") {
  sim::network net(52);
  const auto t0 = net.now();
  sim::timer once(net);
  once.expires_after(3s);
  once.async_wait([](std::error_code) {});
  CHECK(net.run_until_idle() == 1);
  CHECK(net.now() == t0 + 3s);

  sim::timer forever(net);
  std::function<void(std::error_code)> again = [&](std::error_code) {
    forever.expires_after(1s);
    forever.async_wait(again);
  };
  forever.async_wait(again);
  net.run_until_idle(10s);
  CHECK(net.now() == t0 + 13s);
  forever.cancel();
}

TEST_CASE("run_* refuses to re-enter from a handler, and a throwing handler leaves the network usable",
          "[sim][run]") {
  sim::network net(54);
  bool refused = false;
  net.post_after(1ms, [&] {
    try {
      net.run_for(1ms);
    } catch (const std::logic_error&) {
      refused = true;
    }
  });
  net.post_after(2ms, [] { throw std::runtime_error("boom"); });
  int later = 0;
  net.post_after(3ms, [&] { ++later; });
  CHECK_THROWS_AS(net.run_for(10ms), std::runtime_error);
  CHECK(refused);
  CHECK(net.elapsed() == 2ms);
  CHECK(sim::clock::now() == net.now());
  net.run_for(10ms);
  CHECK(later == 1);
  CHECK(net.elapsed() == 12ms);
}

TEST_CASE("hours of virtual time pass in almost no wall time", "[sim][run]") {
  one_lan t(53);
  auto& a = t.add("a");
  auto& b = t.add("b");
  t.net.set_faults({.loss = 0.01, .jitter = 1ms});
  listener lb(b, group());
  sender sa(a);
  auto timer = sa.transport.make_timer();
  std::uint32_t sent = 0;
  std::function<void(std::error_code)> tick = [&](std::error_code ec) {
    if (ec) return;
    sa.send(sent++);
    timer.expires_at(timer.expiry() + 100ms);
    timer.async_wait(tick);
  };
  timer.expires_after(100ms);
  timer.async_wait(tick);

  const auto wall0 = std::chrono::steady_clock::now();
  const auto virtual0 = sim::clock::now();
  t.net.run_for(1h);
  const auto wall = std::chrono::steady_clock::now() - wall0;

  CHECK(sim::clock::now() - virtual0 == 1h);
  CHECK(sent == 36'000);
  CHECK(lb.heard.size() > 35'000);
  INFO("wall time for 1 h of virtual time: " << std::chrono::duration_cast<std::chrono::milliseconds>(wall).count()
                                              << " ms");
  CHECK(wall < 20s);  // typically well under a second; generous for sanitizers on a shared machine
}

// ---------------------------------------------------------------------------------------------
// topology and the application PRNG

TEST_CASE("topology errors are reported", "[sim][topology]") {
  sim::network net(81), other(82);
  const auto lan = net.add_lan("lan");
  CHECK(net.lan_name(lan) == "lan");
  CHECK(net.lan_count() == 1);
  auto& a = net.add_node("a");
  CHECK(a.id() == 0);
  CHECK(&a.net() == &net);
  CHECK(net.find_node("a") == &a);
  CHECK(net.find_node("zz") == nullptr);
  CHECK(&net.node_at(0) == &a);
  CHECK(net.node_count() == 1);
  CHECK_THROWS_AS(net.add_node("a"), std::invalid_argument);
  CHECK_THROWS_AS(net.add_node(""), std::invalid_argument);
  net.attach(a, lan, "eth0");
  CHECK_THROWS_AS(net.attach(a, lan, "eth0"), std::invalid_argument);
  CHECK_THROWS_AS(net.attach(a, lan, ""), std::invalid_argument);
  CHECK_THROWS_AS(net.attach(a, 7, "eth1"), std::out_of_range);
  auto& foreign = other.add_node("f");
  CHECK_THROWS_AS(net.attach(foreign, lan, "eth0"), std::invalid_argument);
  CHECK_THROWS_AS(net.crash(foreign), std::invalid_argument);
}

TEST_CASE("the application PRNG follows the network's seed", "[sim][random]") {
  sim::network n1(5), n2(5), n3(6);
  const auto first = n1.random();
  CHECK(first == n2.random());
  CHECK(first != n3.random());
}
