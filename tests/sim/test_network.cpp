// SPDX-License-Identifier: MIT
// Tests of the whole simulated network through its umbrella header: the same seed gives the same
// run bit for bit (deliveries, counters and the whole trace, pinned), another seed another run.
#include "racket/simulation/network.hpp"

#include "catch.hpp"

#include "racket/detail/hash.hpp"
#include "sim_test.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;
using namespace sim_test;

namespace {

struct run_result {
  std::uint64_t delivery_hash = 0;
  std::vector<std::string> trace;
  sim::network::stats_type stats;
};

// A hostile scenario: two LANs, a multi-homed node, periodic senders with random payloads,
// loss, duplication, jitter, reordering, a partition that heals, and a crash with restart.
run_result hostile_scenario(std::uint64_t seed) {
  run_result out;
  sim::network net(seed);
  net.set_trace([&](std::string_view line) { out.trace.emplace_back(line); });
  const auto lan0 = net.add_lan("lan0");
  const auto lan1 = net.add_lan("lan1");
  auto& a = net.add_node("a");
  auto& b = net.add_node("b");
  auto& c = net.add_node("c");
  auto& m = net.add_node("m");
  net.attach(a, lan0, "eth0");
  net.attach(b, lan0, "eth0");
  net.attach(c, lan1, "eth0");
  net.attach(m, lan0, "eth0");
  net.attach(m, lan1, "eth1");
  net.set_faults({.loss = 0.1, .duplicate = 0.05, .delay = 200us, .jitter = 2ms, .reorder = 0.05});
  net.set_faults(lan1, {.loss = 0.2, .delay = 1ms, .jitter = 500us});
  net.set_receive_faults(b, {.loss = 0.3});

  auto fold = [&](const std::string& who, std::span<const std::byte> d) {
    const auto t = sim::clock::now().time_since_epoch().count();
    std::string record = who + "@" + std::to_string(t) + ":";
    record.append(reinterpret_cast<const char*>(d.data()), d.size());
    out.delivery_hash = racket::detail::xxh3(record) ^ (out.delivery_hash * 0x100000001b3ull);
  };

  std::vector<std::unique_ptr<sim::transport>> transports;
  auto make_listener = [&](sim::node& n) {
    auto tr = std::make_unique<sim::transport>(n, racket::transport_options{});
    tr->open(racket::address_family::v4);
    tr->open_receiver(group(), [&fold, &n](std::span<const std::byte> d, const racket::receive_info& info) {
      fold(n.name() + "/" + std::to_string(info.interface_index), d);
    });
    transports.push_back(std::move(tr));
  };
  for (auto* n : {&a, &b, &c, &m}) make_listener(*n);

  // Periodic senders on a and c; payload drawn from the network's PRNG.
  struct periodic {
    std::unique_ptr<sim::transport> tr;
    std::optional<sim::timer> tm;
    std::function<void(std::error_code)> tick;
  };
  std::vector<std::unique_ptr<periodic>> senders;
  for (auto* n : {&a, &c}) {
    auto p = std::make_unique<periodic>();
    p->tr = std::make_unique<sim::transport>(*n, racket::transport_options{});
    p->tr->open(racket::address_family::v4);
    p->tm.emplace(p->tr->make_timer());
    auto* raw = p.get();
    p->tick = [raw, &net](std::error_code ec) {
      if (ec) return;
      const auto payload = bytes_of(static_cast<std::uint32_t>(net.random()));
      raw->tr->send(group(), payload);
      raw->tm->expires_after(std::chrono::microseconds{500 + static_cast<std::int64_t>(net.rng().below(1000))});
      raw->tm->async_wait(raw->tick);
    };
    p->tm->expires_after(1ms);
    p->tm->async_wait(p->tick);
    senders.push_back(std::move(p));
  }

  net.post_after(200ms, [&] { net.partition({&a}, {&b, &m}); });
  net.post_after(400ms, [&] { net.heal(); });
  net.post_after(500ms, [&] { net.crash(m); });
  net.post_after(600ms, [&] {
    net.restart(m);
    make_listener(m);
  });
  net.run_for(1s);
  out.stats = net.stats();
  for (auto& p : senders) p->tm->cancel();
  net.set_trace({});
  return out;
}

}  // namespace

TEST_CASE("the same seed gives the same run bit for bit, and another seed gives another run", "[sim][determinism]") {
  const auto first = hostile_scenario(2024);
  const auto again = hostile_scenario(2024);
  const auto other = hostile_scenario(2025);

  REQUIRE(first.stats.delivered > 1000);
  CHECK(first.stats.lost > 0);
  CHECK(first.stats.duplicated > 0);
  CHECK(first.stats.reordered > 0);
  CHECK(first.stats.partitioned > 0);

  CHECK(first.delivery_hash == again.delivery_hash);
  CHECK(first.trace == again.trace);
  CHECK(first.stats.delivered == again.stats.delivered);
  CHECK(first.stats.lost == again.stats.lost);

  // Pinned: the run must not depend on the compiler, standard library or platform. Update this
  // value only when the simulation's behaviour is changed on purpose (and say so in the log).
  CHECK(first.delivery_hash == 0x67458fec13646b07ull);
  CHECK(first.stats.delivered == 3915u);
  // The whole trace too: every send, delivery, loss, duplicate, reorder, partition drop, timer
  // expiry, crash and restart, in order, at its virtual time.
  std::string trace;
  for (const auto& line : first.trace) trace += line + "\n";
  CHECK(first.trace.size() == 8943u);
  CHECK(racket::detail::xxh3(trace) == 0x5036cf68d58f9ef0ull);

  CHECK(first.delivery_hash != other.delivery_hash);
  CHECK(first.trace != other.trace);

  // The trace is a readable account of the run.
  const auto has = [&](std::string_view needle) {
    return std::any_of(first.trace.begin(), first.trace.end(),
                       [&](const std::string& line) { return line.find(needle) != std::string::npos; });
  };
  CHECK(has("+0.000000000 lan lan0"));
  CHECK(has(" send a/eth0 239.255.0.1:19090 4B #"));
  CHECK(has(" deliver m/eth1 "));
  CHECK(has(" lost "));
  CHECK(has(" partition a | b m"));
  CHECK(has("+0.500000000 crash m"));
  CHECK(has("+0.600000000 restart m"));
}

TEST_CASE("the example of the simulation's file comment runs as written", "[sim][example]") {
  racket::sim::network net{/*seed=*/42};
  const auto lan = net.add_lan("lan0");
  auto& a = net.add_node("a");
  auto& b = net.add_node("b");
  net.attach(a, lan, "eth0");
  net.attach(b, lan, "eth0");
  net.set_faults({.loss = 0.05, .jitter = std::chrono::microseconds{200}});

  racket::sim::transport tb{b, {}};
  tb.open(racket::address_family::v4);
  const racket::endpoint ep{asio::ip::make_address("239.255.0.1"), 19090};
  int received = 0;
  tb.open_receiver(ep, [&](std::span<const std::byte>, const racket::receive_info&) { ++received; });

  racket::sim::transport ta{a, {}};
  ta.open(racket::address_family::v4);
  const std::byte hello[] = {std::byte{1}, std::byte{2}};
  ta.send(ep, hello);
  net.run_for(std::chrono::milliseconds{1});  // virtual time: returns at once
  CHECK(received + net.stats().lost == 1);
}
