// SPDX-License-Identifier: MIT
// Tests of sim::random_engine: the reference splitmix64 and xoshiro256** outputs, seeding, and
// the bounds of below() and unit().
#include "racket/simulation/random.hpp"

#include "catch.hpp"

#include <array>
#include <concepts>
#include <cstdint>
#include <random>

namespace sim = racket::sim;

TEST_CASE("random_engine reproduces the reference splitmix64 and xoshiro256** outputs", "[sim][random]") {
  STATIC_REQUIRE(std::uniform_random_bit_generator<sim::random_engine>);

  // splitmix64 from seed 0 (Vigna's splitmix64.c).
  std::uint64_t x = 0;
  CHECK(sim::random_engine::splitmix64(x) == 0xe220a8397b1dcdafull);
  CHECK(sim::random_engine::splitmix64(x) == 0x6e789e6aa1b965f4ull);
  CHECK(sim::random_engine::splitmix64(x) == 0x06c45d188009454full);

  // xoshiro256** from the raw state {1, 2, 3, 4} (Vigna's xoshiro256starstar.c).
  sim::random_engine raw(std::array<std::uint64_t, 4>{1, 2, 3, 4});
  CHECK(raw() == 11520u);
  CHECK(raw() == 0u);
  CHECK(raw() == 1509978240u);
  CHECK(raw() == 1215971899390074240u);

  // Seeding from a 64-bit value = state from four splitmix64 outputs.
  std::uint64_t s = 42;
  std::array<std::uint64_t, 4> state{};
  for (auto& w : state) w = sim::random_engine::splitmix64(s);
  sim::random_engine a(42), b(state);
  for (int i = 0; i < 100; ++i) REQUIRE(a() == b());

  sim::random_engine r(7);
  for (int i = 0; i < 10'000; ++i) {
    REQUIRE(r.below(10) < 10);
    const double u = r.unit();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
  }
  CHECK(r.below(0) == 0);
  CHECK(r.below(1) == 0);
}

TEST_CASE("random_engine's below() and unit() draw exactly one number when nothing is rejected", "[sim][random]") {
  // The fault model's draws are counted by the determinism contract: each below() or unit()
  // must consume the generator's next output (below() a further one only on rejection).
  sim::random_engine a(3), b(3);
  const auto next = b();
  CHECK(a.unit() == static_cast<double>(next >> 11) * 0x1.0p-53);
  CHECK(a() == b());
  const auto bits = b();
  CHECK(a.below(1000) == bits % 1000);  // 2^64 mod 1000 = 616: only 616 of 2^64 outputs are rejected
  CHECK(a() == b());
  CHECK(a.below(0) == 0);  // draws nothing
  CHECK(a() == b());
}
