// SPDX-License-Identifier: MIT
// detail::expiry_heap: deadlines come out earliest first and only when due; stale entries are
// swept once they outnumber twice the live subjects (plus 64), and not before.
#include "racket/detail/subscriber/expiry_heap.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstdint>
#include <set>
#include <vector>

using namespace std::chrono_literals;

namespace {

using time_point = std::chrono::steady_clock::time_point;
struct owner {
  std::set<std::uint32_t> live;  // slots whose entries are current
};
using heap = racket::detail::expiry_heap<time_point, owner>;
const time_point t0{std::chrono::hours(1)};

std::vector<std::uint32_t> pop_all(heap& h, time_point now) {
  std::vector<std::uint32_t> out;
  heap::entry e{};
  while (h.pop_due(now, e)) out.push_back(e.slot);
  return out;
}

}  // namespace

TEST_CASE("deadlines come out earliest first, and only once due", "[subscriber][expiry_heap]") {
  owner o;
  heap h;
  CHECK(h.empty());
  h.push({t0 + 30ms, &o, 3, 0});
  h.push({t0 + 10ms, &o, 1, 0});
  h.push({t0 + 20ms, &o, 2, 0});
  CHECK(h.earliest() == t0 + 10ms);
  CHECK(pop_all(h, t0 + 5ms).empty());
  CHECK(pop_all(h, t0 + 20ms) == std::vector<std::uint32_t>{1, 2});
  CHECK(h.earliest() == t0 + 30ms);
  CHECK(pop_all(h, t0 + 1s) == std::vector<std::uint32_t>{3});
  CHECK(h.empty());
}

TEST_CASE("stale entries are swept when they outnumber twice the live subjects", "[subscriber][expiry_heap]") {
  owner o;
  heap h;
  const auto current = [](const heap::entry& e) { return e.owner->live.count(e.slot) != 0; };
  // One live subject (slot 0), rescheduled earlier over and over: every older entry is stale.
  const std::size_t live = 1;
  for (std::uint32_t i = 0; i < 2 * live + 64; ++i) {
    o.live = {i};
    h.push_and_sweep({t0 + std::chrono::seconds(1000 - i), &o, i, 0}, live, current);
  }
  CHECK(h.size() == 2 * live + 64);  // not more than the bound yet: nothing swept
  o.live = {999};
  h.push_and_sweep({t0 + 1s, &o, 999, 0}, live, current);
  CHECK(h.size() == 1);  // past it: only the current entry is left
  CHECK(h.earliest() == t0 + 1s);
}

TEST_CASE("erase drops every entry of one owner", "[subscriber][expiry_heap]") {
  owner a, b;
  heap h;
  h.push({t0 + 1ms, &a, 1, 0});
  h.push({t0 + 2ms, &b, 2, 0});
  h.push({t0 + 3ms, &a, 3, 0});
  h.erase(&a);
  CHECK(h.size() == 1);
  heap::entry e{};
  REQUIRE(h.pop_due(t0 + 1s, e));
  CHECK(e.owner == &b);
  CHECK(e.slot == 2);
}
