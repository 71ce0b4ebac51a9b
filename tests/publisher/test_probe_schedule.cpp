// SPDX-License-Identifier: MIT
// detail::probe_schedule: three probes, a delay, then 3 and 9 times as long.
#include "racket/detail/publisher/probe_schedule.hpp"

#include "catch.hpp"
#include "room_fakes.hpp"

using namespace room_test;

TEST_CASE("probe_schedule: three probes, each wait three times the one before", "[publisher][probe_schedule]") {
  racket::detail::probe_schedule<time_point> p;
  CHECK_FALSE(p.due_by(at(1h)));  // none started
  p.start(at(0ms), 10ms);
  CHECK(p.left == 3);
  CHECK(p.due == at(10ms));
  CHECK_FALSE(p.due_by(at(9ms)));
  CHECK(p.due_by(at(10ms)));
  CHECK(p.advance(at(12ms)));  // the next from when the probe went
  CHECK(p.due == at(42ms));
  CHECK(p.advance(at(42ms)));
  CHECK(p.due == at(132ms));
  CHECK_FALSE(p.advance(at(132ms)));  // that was the last
  CHECK_FALSE(p.due_by(at(1h)));

  p.start(at(200ms), 5ms);  // starts over
  CHECK(p.left == 3);
  CHECK(p.due == at(205ms));
}
