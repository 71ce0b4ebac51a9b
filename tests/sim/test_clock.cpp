// SPDX-License-Identifier: MIT
// Tests of sim::clock: a steady std::chrono clock that reads the virtual time of the network
// current on the thread, and the saturating addition every deadline goes through.
#include "racket/simulation/clock.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"

#include <chrono>
#include <type_traits>

namespace sim = racket::sim;
using namespace std::chrono_literals;

TEST_CASE("sim::clock is a steady std::chrono clock reading the current network's virtual time", "[sim][clock]") {
  STATIC_REQUIRE(std::chrono::is_clock_v<sim::clock>);
  STATIC_REQUIRE(sim::clock::is_steady);
  STATIC_REQUIRE(std::is_same_v<sim::clock::duration, std::chrono::nanoseconds>);

  CHECK(sim::clock::now() == sim::clock::time_point{});  // no network alive on this thread
  {
    sim::network outer(1);
    CHECK(sim::clock::now() == sim::network::default_start);
    CHECK(outer.now() == sim::network::default_start);
    outer.run_for(3s);
    CHECK(sim::clock::now() == sim::network::default_start + 3s);
    {
      sim::network inner(2, sim::clock::time_point{10s});
      CHECK(sim::clock::now() == sim::clock::time_point{10s});
      // While a network runs, now() is that network's time, whichever is the most recent.
      bool checked = false;
      outer.post_after(1s, [&] {
        CHECK(sim::clock::now() == sim::network::default_start + 4s);
        checked = true;
      });
      outer.run_for(2s);
      CHECK(checked);
      CHECK(sim::clock::now() == sim::clock::time_point{10s});
    }
    CHECK(sim::clock::now() == sim::network::default_start + 5s);
  }
  CHECK(sim::clock::now() == sim::clock::time_point{});
}

TEST_CASE("deadlines saturate at the latest time point instead of overflowing", "[sim][clock]") {
  using sim::detail::saturating_add;
  const sim::clock::time_point t{10s};
  const auto max = sim::clock::time_point::max();
  CHECK(saturating_add(t, 5s) == sim::clock::time_point{15s});
  CHECK(saturating_add(t, -5s) == sim::clock::time_point{5s});
  CHECK(saturating_add(t, 0s) == t);
  CHECK(saturating_add(t, sim::clock::duration::max()) == max);
  CHECK(saturating_add(max - 1ns, 1ns) == max);
  CHECK(saturating_add(max - 1ns, 2ns) == max);
  CHECK(saturating_add(max, 1h) == max);

  // A network run for "forever" stops at the end of time rather than wrapping around.
  sim::network net(1);
  net.run_for(sim::clock::duration::max());
  CHECK(net.now() == max);
}
