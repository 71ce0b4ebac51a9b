// SPDX-License-Identifier: MIT
#include "racket/security/replay_window.hpp"

#include <cstdint>
#include <random>
#include <set>

#include "catch.hpp"

using racket::replay_window;
using verdict = racket::replay_window::verdict;

TEST_CASE("replay_window: in order, each counter is fresh once, then replayed") {
  replay_window w;
  CHECK(w.highest() == 0);
  for (std::uint64_t c = 1; c <= 3000; ++c) {
    REQUIRE(w.check(c) == verdict::fresh);
    w.accept(c);
    REQUIRE(w.check(c) == verdict::replayed);
    REQUIRE(w.highest() == c);
  }
  CHECK(w.check(3000 - 1023) == verdict::replayed);
  CHECK(w.check(3000 - 1024) == verdict::too_old);
  CHECK(w.check(0) == verdict::too_old);
}

TEST_CASE("replay_window: counter 0 is never fresh, even first") {
  replay_window w;
  CHECK(w.check(0) == verdict::too_old);
  w.accept(0);
  CHECK(w.highest() == 0);
  CHECK(w.check(1) == verdict::fresh);
}

TEST_CASE("replay_window: out of order inside the window, each accepted once") {
  replay_window w;
  w.accept(100);
  for (std::uint64_t c : {99, 50, 77, 1}) {
    CHECK(w.check(c) == verdict::fresh);
    w.accept(c);
    CHECK(w.check(c) == verdict::replayed);
  }
  CHECK(w.check(98) == verdict::fresh);  // not accepted yet
  CHECK(w.highest() == 100);
}

TEST_CASE("replay_window: the window edge is exactly size below the highest") {
  replay_window w;
  w.accept(5000);
  CHECK(w.check(5000 - replay_window::size + 1) == verdict::fresh);
  CHECK(w.check(5000 - replay_window::size) == verdict::too_old);
}

TEST_CASE("replay_window: a jump forgets what fell out and keeps what stayed") {
  replay_window w;
  for (std::uint64_t c = 1; c <= 1024; ++c) w.accept(c);
  // Jump by 1000: counters 25..1024 stay in the window (seen), 1025..2023 are new.
  w.accept(2024);
  CHECK(w.check(1024) == verdict::replayed);
  CHECK(w.check(1001) == verdict::replayed);
  CHECK(w.check(1000) == verdict::too_old);
  for (std::uint64_t c = 1025; c < 2024; ++c) REQUIRE(w.check(c) == verdict::fresh);
  // A jump past the whole window: everything before is too old, nothing inside is seen.
  w.accept(1'000'000);
  CHECK(w.check(2024) == verdict::too_old);
  for (std::uint64_t c = 1'000'000 - 1023; c < 1'000'000; ++c) REQUIRE(w.check(c) == verdict::fresh);
}

TEST_CASE("replay_window: agrees with a set-based model over random traffic") {
  // The model: a counter is fresh iff it is not 0, not accepted before, and above
  // highest - size. Seeds and step sizes cover small reorders, long jumps and replays.
  for (unsigned seed = 1; seed <= 40; ++seed) {
    std::mt19937_64 rng(seed);
    replay_window w;
    std::set<std::uint64_t> accepted;
    std::uint64_t highest = 0;
    std::uint64_t next = 1;
    for (int i = 0; i < 5000; ++i) {
      std::uint64_t c;
      switch (rng() % 6) {
        case 0: c = next + rng() % 3000; break;                     // ahead, sometimes far
        case 1: c = highest > 0 ? highest - rng() % 1100 : 0; break;  // around the edge
        case 2: c = accepted.empty() ? 1 : *accepted.rbegin(); break; // a replay
        default: c = next; break;                                    // in order
      }
      const bool model_fresh = c != 0 && !accepted.contains(c) && (c > highest || highest - c < replay_window::size);
      const verdict v = w.check(c);
      REQUIRE((v == verdict::fresh) == model_fresh);
      if (!model_fresh && c != 0 && c <= highest && highest - c < replay_window::size) REQUIRE(v == verdict::replayed);
      if (model_fresh) {
        w.accept(c);
        accepted.insert(c);
        if (c > highest) highest = c;
        next = highest + 1;
      }
      REQUIRE(w.highest() == highest);
    }
  }
}
