// SPDX-License-Identifier: MIT
// detail::repair_queue: a repair is due one holdoff after it is queued; due items are taken in
// the queue's order (the last one moving into a taken one's place), kept ones stay with the due
// time they were moved to.
#include "racket/detail/subscriber/repair_queue.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstdint>
#include <vector>

using namespace std::chrono_literals;

namespace {

using time_point = std::chrono::steady_clock::time_point;
struct stream {};
using queue = racket::detail::repair_queue<time_point, stream>;
const time_point t0{std::chrono::hours(1)};

}  // namespace

TEST_CASE("a repair is due one holdoff after it is queued", "[subscriber][repair_queue]") {
  stream s;
  queue q{5ms};
  CHECK(q.empty());
  CHECK(q.add(&s, 1, t0) == t0 + 5ms);
  CHECK(q.add(&s, 2, t0 + 1ms) == t0 + 6ms);
  CHECK(q.earliest() == t0 + 5ms);
  std::vector<std::uint64_t> taken;
  q.take_due(t0 + 4ms, [&](queue::item& i) {
    taken.push_back(i.publisher_id);
    return true;
  });
  CHECK(taken.empty());
  q.take_due(t0 + 5ms, [&](queue::item& i) {
    taken.push_back(i.publisher_id);
    return true;
  });
  CHECK(taken == std::vector<std::uint64_t>{1});
  CHECK(q.size() == 1);
  CHECK(q.earliest() == t0 + 6ms);
}

TEST_CASE("taking an item moves the last one into its place, which is looked at next",
          "[subscriber][repair_queue]") {
  stream s;
  queue q{0ms};
  for (std::uint64_t p = 1; p <= 4; ++p) q.add(&s, p, t0);
  std::vector<std::uint64_t> seen;
  q.take_due(t0, [&](queue::item& i) {
    seen.push_back(i.publisher_id);
    return i.publisher_id != 3;  // 3 is kept
  });
  // 1 taken (4 moves in), 4 taken (3 moves in), 3 kept, 2 taken.
  CHECK(seen == std::vector<std::uint64_t>{1, 4, 3, 2});
  CHECK(q.size() == 1);
}

TEST_CASE("a kept item stays with the due time it was moved to", "[subscriber][repair_queue]") {
  stream s, other;
  queue q{5ms};
  q.add(&s, 1, t0);
  q.add(&other, 2, t0);
  q.take_due(t0 + 5ms, [&](queue::item& i) {
    if (i.publisher_id == 1) {
      i.due = t0 + 50ms;  // no token yet
      return false;
    }
    return true;
  });
  CHECK(q.size() == 1);
  CHECK(q.earliest() == t0 + 50ms);
  q.add(&other, 3, t0 + 10ms);
  q.erase(&s);
  CHECK(q.size() == 1);
  CHECK(q.earliest() == t0 + 15ms);
}
