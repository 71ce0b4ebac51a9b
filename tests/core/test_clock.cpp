// SPDX-License-Identifier: MIT
#include "racket/detail/clock.hpp"

#include <chrono>
#include <cstdint>

#include "catch.hpp"
#include "racket/simulation/clock.hpp"

namespace {

std::int64_t system_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t gap(std::uint64_t a, std::int64_t b) {
  const std::int64_t d = static_cast<std::int64_t>(a) - b;
  return d < 0 ? -d : d;
}

}  // namespace

TEST_CASE("a stamp from the steady clock is the system clock's time") {
  racket::detail::wall_stamper<std::chrono::steady_clock> stamp;
  const std::int64_t before = system_ns();
  const std::uint64_t s = stamp(std::chrono::steady_clock::now());
  const std::int64_t after = system_ns();
  // Not the steady clock's own count (time since boot here), but the Unix time read around it.
  CHECK(static_cast<std::int64_t>(s) >= before - 50'000'000);
  CHECK(static_cast<std::int64_t>(s) <= after + 50'000'000);
}

TEST_CASE("stamps follow the steady readings between resyncs, and the system clock again after") {
  using namespace std::chrono;
  racket::detail::wall_stamper<steady_clock> stamp;
  const steady_clock::time_point t = steady_clock::now();
  const std::uint64_t s0 = stamp(t);
  // Within the resync period the stamp is the reading plus the offset: exact differences.
  CHECK(stamp(t + milliseconds(500)) - s0 == 500'000'000u);
  CHECK(stamp(t + milliseconds(999)) - s0 == 999'000'000u);
  // A reading a resync period later (here: in the future, as if the steady clock had run on
  // while the system clock stood still) takes the system clock's offset again, so its stamp is
  // the system time now, not s0 + 2 s.
  const std::int64_t now = system_ns();
  const std::uint64_t s2 = stamp(t + seconds(2));
  CHECK(gap(s2, now) < 50'000'000);
  CHECK(gap(s0 + 2'000'000'000u, now) >= 1'900'000'000);
  // ... and the readings after it follow from there.
  CHECK(stamp(t + seconds(2) + milliseconds(100)) - s2 == 100'000'000u);
}

TEST_CASE("a virtual clock's reading is its own stamp") {
  using clock = racket::sim::clock;
  racket::detail::wall_stamper<clock> stamp;
  const clock::time_point t{std::chrono::nanoseconds(1'700'000'000'123'456'789)};
  CHECK(stamp(t) == 1'700'000'000'123'456'789u);
  CHECK(stamp(t + std::chrono::seconds(5)) == 1'700'000'005'123'456'789u);
}
