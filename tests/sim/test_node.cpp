// SPDX-License-Identifier: MIT
// Tests of sim::node: what a host reports, and crash and restart: a crashed node neither sends,
// receives nor fires timers; what was in flight to it or already posted for it is dropped.
#include "racket/simulation/node.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "sim_test.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;
using namespace sim_test;

TEST_CASE("a node reports its name, id, network, interfaces and incarnation", "[sim][node]") {
  sim::network net(30);
  const auto lan0 = net.add_lan("lan0");
  const auto lan1 = net.add_lan("lan1");
  auto& a = net.add_node("a");
  auto& b = net.add_node("b");
  CHECK(a.name() == "a");
  CHECK(a.id() == 0);
  CHECK(b.id() == 1);
  CHECK(&b.net() == &net);
  CHECK(&std::as_const(b).net() == &net);
  CHECK(b.interfaces().empty());
  CHECK(b.get_executor() == net.get_executor());

  net.attach(b, lan1, "eth0");
  net.attach(b, lan0, "eth1");
  REQUIRE(b.interfaces().size() == 2);  // in attach order
  CHECK(b.interfaces()[0].name == "eth0");
  CHECK(b.interfaces()[0].lan == lan1);
  CHECK(b.interfaces()[1].name == "eth1");
  CHECK(b.interfaces()[1].lan == lan0);

  // Every crash and every restart bumps the incarnation; crashing twice or restarting a live
  // node changes nothing.
  CHECK_FALSE(b.crashed());
  CHECK(b.incarnation() == 0);
  net.crash(b);
  CHECK(b.crashed());
  CHECK(b.incarnation() == 1);
  net.crash(b);
  CHECK(b.incarnation() == 1);
  net.restart(b);
  CHECK_FALSE(b.crashed());
  CHECK(b.incarnation() == 2);
  net.restart(b);
  CHECK(b.incarnation() == 2);
  CHECK(b.interfaces().size() == 2);  // a restart keeps the interfaces
  CHECK(a.incarnation() == 0);
}

TEST_CASE("a crashed node neither sends, receives nor fires timers, and after restart new objects work",
          "[sim][crash]") {
  one_lan t(31);
  auto& a = t.add("a");
  auto& b = t.add("b");
  listener lb(b, group());
  sender sa(a);
  sim::transport tb_sender(b, {});
  tb_sender.open(racket::address_family::v4);
  listener la(a, group());

  auto timer = lb.transport.make_timer();
  bool timer_ran = false;
  timer.expires_after(1ms);
  timer.async_wait([&](std::error_code) { timer_ran = true; });

  sa.send(1);  // in flight to b when b crashes
  t.net.crash(b);
  CHECK(b.crashed());
  t.net.run_for(10ms);
  CHECK(lb.heard.empty());
  CHECK_FALSE(timer_ran);
  CHECK(t.net.stats().crashed == 1);  // the datagram in flight to b
  CHECK(la.values() == std::vector<std::uint32_t>{1});  // a's own copy (loopback) is unaffected

  // The crashed node's transports cannot send, open or join.
  const auto payload = bytes_of(9);
  CHECK(tb_sender.send(group(), payload).failed == 1);
  std::error_code ec;
  tb_sender.open(racket::address_family::v4, ec);
  CHECK(ec == racket::errc::not_open);
  lb.transport.open_receiver(group(), [](std::span<const std::byte>, const racket::receive_info&) {}, ec);
  CHECK(ec == racket::errc::not_open);
  timer.expires_after(1ms);
  timer.async_wait([&](std::error_code) { timer_ran = true; });
  CHECK(timer.cancel() == 0);
  t.net.run_for(10ms);
  CHECK_FALSE(timer_ran);

  t.net.restart(b);
  CHECK_FALSE(b.crashed());
  sa.send(2);
  t.net.run_for(1ms);
  CHECK(lb.heard.empty());  // the old transport stays dead
  CHECK(tb_sender.send(group(), payload).failed == 1);

  listener fresh(b, group());
  sender fresh_sender(b);
  sa.send(3);
  fresh_sender.send(4);
  t.net.run_for(1ms);
  CHECK(fresh.values() == std::vector<std::uint32_t>{3, 4});
  CHECK(la.values() == std::vector<std::uint32_t>{1, 2, 3, 4});
  auto fresh_timer = fresh.transport.make_timer();
  fresh_timer.expires_after(1ms);
  bool fresh_ran = false;
  fresh_timer.async_wait([&](std::error_code e) { fresh_ran = !e; });
  t.net.run_for(2ms);
  CHECK(fresh_ran);
}

TEST_CASE("datagrams in flight to a node that crashes are lost, even if it restarts before arrival",
          "[sim][crash]") {
  one_lan t(32);
  auto& a = t.add("a");
  auto& b = t.add("b");
  t.net.set_faults({.delay = 5ms});
  auto l = std::make_unique<listener>(b, group());
  sender sa(a);
  sa.send(1);
  t.net.run_for(1ms);
  t.net.crash(b);
  t.net.restart(b);
  l = std::make_unique<listener>(b, group());  // a new process joins again at once
  t.net.run_for(10ms);
  CHECK(l->heard.empty());
  CHECK(t.net.stats().crashed == 1);
}

TEST_CASE("a handler already posted when its node crashes does not run", "[sim][crash]") {
  one_lan t(33);
  auto& a = t.add("a");
  auto& b = t.add("b");
  sender sa(a);
  // Two receivers on b hear the same arrival; the first one's handler crashes b, so the
  // second one's handler, already posted, must not run.
  sim::transport first(b, {});
  first.open(racket::address_family::v4);
  first.open_receiver(group(), [&](std::span<const std::byte>, const racket::receive_info&) { t.net.crash(b); });
  listener second(b, group());
  sa.send(1);
  t.net.run_for(1ms);
  CHECK(second.heard.empty());
  CHECK(t.net.stats().delivered == 1);
  CHECK(t.net.stats().crashed == 1);
}
