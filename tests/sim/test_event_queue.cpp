// SPDX-License-Identifier: MIT
// Tests of detail::event_queue, the network's pending events: earliest time first, and events
// at equal times in the order they were scheduled (the determinism of a run rests on it).
#include "racket/simulation/detail/event_queue.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstddef>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

TEST_CASE("events come out earliest first, and in scheduling order at equal times", "[sim][events]") {
  sim::detail::event_queue q;
  CHECK(q.empty());
  CHECK(q.size() == 0);
  std::vector<int> ran;
  const sim::clock::time_point t{1s};
  q.push(t + 2ms, [&] { ran.push_back(1); });
  q.push(t, [&] { ran.push_back(2); });
  q.push(t + 2ms, [&] { ran.push_back(3); });
  q.push(t, [&] { ran.push_back(4); });
  q.push(t + 1ms, [&] { ran.push_back(5); });
  for (int i = 0; i < 20; ++i) q.push(t + 2ms, [&ran, i] { ran.push_back(100 + i); });
  CHECK(q.size() == 25);
  CHECK(q.next_at() == t);

  std::vector<sim::detail::event_queue::event> out;
  while (!q.empty()) {
    out.push_back(q.pop());
    out.back().run();
  }
  std::vector<int> expected{2, 4, 5, 1, 3};
  for (int i = 0; i < 20; ++i) expected.push_back(100 + i);
  CHECK(ran == expected);
  for (std::size_t k = 1; k < out.size(); ++k) {
    CHECK(out[k - 1].at <= out[k].at);
    if (out[k - 1].at == out[k].at) CHECK(out[k - 1].sequence < out[k].sequence);
  }
}

TEST_CASE("an event pushed while others wait takes its place in the order, and clear drops them unrun",
          "[sim][events]") {
  sim::detail::event_queue q;
  int ran = 0;
  const sim::clock::time_point t{5s};
  q.push(t + 1ms, [&] { ran += 1; });
  auto e = q.pop();
  CHECK(e.at == t + 1ms);
  q.push(t + 1ms, [&] { ran += 10; });  // same time, scheduled later: comes after anything earlier
  q.push(t, [&] { ran += 100; });
  CHECK(q.next_at() == t);
  e.run();
  CHECK(ran == 1);
  q.clear();
  CHECK(q.empty());
  CHECK(ran == 1);

  // Sequence numbers keep counting after clear, so the order stays the order of scheduling.
  q.push(t, [] {});
  CHECK(q.pop().sequence == 3);
}
