// SPDX-License-Identifier: MIT
// A request flood (issue 21, "requests"): one requester sending a full snapshot request every
// millisecond for two seconds gets answers of at most its byte budget per second plus one
// pass, while the amplification of a single request stays the size of the cache; a second
// requester, well behaved, is still answered. Simulated network, virtual clock.
#include "racket/publisher.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "racket/subscriber.hpp"
#include "racket/wire.hpp"
#include "sim/raw_node.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

namespace sim = racket::sim;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;
using sim_subscriber = racket::basic_subscriber<sim::transport>;

const racket::multicast_pool pool{};

}  // namespace

TEST_CASE("a request flood gets at most its answer budget per second, and others are still answered",
          "[sim][snapshot][security]") {
  sim::network net{1};
  const std::size_t lan = net.add_lan("lan");
  auto& pub_node = net.add_node("pub");
  net.attach(pub_node, lan, "eth0");
  const racket::stream<std::string> s{"flood.plant", pool};
  constexpr std::uint64_t budget = 256 << 10;  // bytes per requester and second
  sim_publisher pub{pub_node, {.seed = 1, .snapshot_bytes_per_requester = budget}};
  const std::string payload(100, 'v');
  for (int i = 0; i < 2000; ++i) pub.publish(s, "s." + std::to_string(i), payload, 3600s);
  net.run_for(1s);  // the cache is out; resends are an hour away

  racket_test::raw_node attacker(net, lan, "attacker");
  attacker.listen(s.endpoint());
  // One request alone: the amplification of a full request is the cache.
  const std::size_t request_bytes = attacker.request(0xBAD, s.name(), s.endpoint());
  net.run_for(500ms);
  const std::uint64_t one_answer = attacker.heard_bytes;
  std::cout << "[sim] one full request of " << request_bytes << " B answered with " << one_answer
            << " B: amplification " << one_answer / request_bytes << "x (the cache of 2000 subjects)\n";
  CHECK(one_answer > 2000 * payload.size());

  // Then a flood: a request every millisecond for two seconds.
  const std::uint64_t before = attacker.heard_bytes;
  for (int i = 0; i < 2000; ++i) {
    attacker.request(0xBAD, s.name(), s.endpoint());
    net.run_for(1ms);
  }
  net.run_for(500ms);
  const std::uint64_t flooded = attacker.heard_bytes - before;
  const auto st = pub.stats(s.name());
  std::cout << "[sim] flood of 2000 requests in 2 s: answered " << flooded << " B (budget " << budget
            << " B/s), " << st.snapshot_requests_limited << " requests limited\n";
  // The budget for 2.5 s, plus the pass that was under way when it ran out.
  CHECK(flooded <= budget * 5 / 2 + one_answer + 64 * 1024);
  CHECK(st.snapshot_requests_limited > 1900);

  // A well-behaved late joiner is still answered at once.
  auto& sub_node = net.add_node("sub");
  net.attach(sub_node, lan, "eth0");
  sim_subscriber sub{sub_node, {.seed = 2}};
  std::size_t got = 0;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>&) { ++got; });
  REQUIRE(net.run_until([&] { return got == 2000; }, 1s));
}
