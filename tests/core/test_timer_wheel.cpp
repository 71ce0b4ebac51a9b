// SPDX-License-Identifier: MIT
// detail::timer_wheel (the publisher's resend deadlines).
#include "racket/detail/timer_wheel.hpp"

#include "catch.hpp"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

using racket::detail::timer_wheel;

TEST_CASE("timer_wheel: every entry fires once, at the first advance that reaches its tick", "[timer_wheel]") {
  std::mt19937_64 rng(99);
  timer_wheel<std::uint32_t> wheel(64);  // small: many entries lie revolutions ahead
  std::map<std::uint32_t, std::uint64_t> due;  // entry -> tick
  std::uint32_t next_id = 0;
  std::uint64_t now = 1000;
  for (int i = 0; i < 500; ++i) {
    // Out of order and far apart (many revolutions): the cursor must follow the earliest.
    const std::uint64_t tick = now + (i == 0 ? 5000 : rng() % 1000);
    wheel.add(tick, next_id);
    due[next_id++] = tick;
  }
  std::size_t fired_total = 0;
  while (now < 3000) {
    const std::uint64_t target = now + rng() % 40;
    std::size_t budget = 1'000'000;
    std::uint64_t last = 0;
    std::vector<std::uint32_t> fired;
    REQUIRE(wheel.advance(target, budget, [&](std::uint32_t id) {
      fired.push_back(id);
      const std::uint64_t t = due.at(id);
      CHECK(t <= target);
      CHECK(t >= last);  // tick order
      last = t;
      // Re-filing from inside advance: held aside, never fired in this same advance.
      if (id % 3 == 0) {
        const std::uint64_t again = t + 1 + rng() % 200;
        wheel.add(again, next_id);
        due[next_id++] = again < target + 1 ? target + 1 : again;
      }
    }));
    for (const std::uint32_t id : fired) due.erase(id);
    fired_total += fired.size();
    for (const auto& [id, t] : due) REQUIRE(t > target);  // nothing due was left behind
    CHECK(wheel.cursor() == target + 1);
    CHECK(wheel.size() == due.size());
    if (!due.empty()) {
      std::uint64_t first = UINT64_MAX;
      for (const auto& [id, t] : due) first = std::min(first, t);
      CHECK(wheel.next_tick() <= first);
      CHECK(wheel.next_tick() >= wheel.cursor());
    }
    now = target + 1;
  }
  CHECK(fired_total > 500);
}

TEST_CASE("timer_wheel: a budget stops an advance part way and the next one resumes", "[timer_wheel]") {
  timer_wheel<int> wheel(16);
  for (int i = 0; i < 10; ++i) wheel.add(5, i);
  wheel.add(7, 100);
  std::vector<int> fired;
  std::size_t budget = 4;
  CHECK_FALSE(wheel.advance(10, budget, [&](int e) { fired.push_back(e); }));
  CHECK(fired.size() == 4);
  CHECK(budget == 0);
  CHECK(wheel.cursor() == 5);
  CHECK(wheel.next_tick() == 5);
  budget = 100;
  CHECK(wheel.advance(10, budget, [&](int e) { fired.push_back(e); }));
  CHECK(fired.size() == 11);
  CHECK(fired.back() == 100);
  CHECK(wheel.empty());
  CHECK(wheel.next_tick() == timer_wheel<int>::none);
  // An empty wheel's cursor follows the first entry; an earlier one moves it back.
  wheel.add(3000, 7);
  CHECK(wheel.next_tick() == 3000);
  wheel.add(40, 8);
  CHECK(wheel.next_tick() == 40);
  fired.clear();
  budget = 100;
  CHECK(wheel.advance(2999, budget, [&](int e) { fired.push_back(e); }));
  CHECK(fired == std::vector<int>{8});
  CHECK(wheel.next_tick() == 3000);
  CHECK(wheel.advance(5000, budget, [&](int e) { fired.push_back(e); }));
  CHECK(fired == std::vector<int>{8, 7});
}

TEST_CASE("timer_wheel: look-ahead sees the entries filed after each fired one, far then near", "[timer_wheel]") {
  timer_wheel<int> wheel(16);
  for (int i = 0; i < 20; ++i) wheel.add(5, i);
  wheel.add(5 + 16, 99);  // same bucket, next revolution: filed after the 20, never looked at now
  std::vector<int> fired, far, near;
  std::size_t budget = 100;
  REQUIRE(wheel.advance(5, budget, [&](int e) { fired.push_back(e); }, [&](int e, int step) {
    (step == 0 ? far : near).push_back(e);
    // Each look-ahead comes before its entry fires, by exactly its distance.
    const std::size_t distance = step == 0 ? timer_wheel<int>::look_far : timer_wheel<int>::look_near;
    CHECK(static_cast<std::size_t>(e == 99 ? 20 : e) == fired.size() + distance);
  }));
  CHECK(fired.size() == 20);
  std::vector<int> want_far, want_near;
  for (int i = static_cast<int>(timer_wheel<int>::look_far); i < 20; ++i) want_far.push_back(i);
  for (int i = static_cast<int>(timer_wheel<int>::look_near); i < 20; ++i) want_near.push_back(i);
  // 99 sits in the bucket but is a revolution ahead: looked at (harmless), not fired.
  want_far.push_back(99);
  want_near.push_back(99);
  CHECK(far == want_far);
  CHECK(near == want_near);
  CHECK(wheel.size() == 1);
}
