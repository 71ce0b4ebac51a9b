// SPDX-License-Identifier: MIT
// detail::request_limiter: the per-requester token buckets of one stream's snapshot requests.
#include "racket/detail/publisher/request_limiter.hpp"

#include "catch.hpp"
#include "room_fakes.hpp"

using namespace room_test;
using limiter = racket::detail::request_limiter<time_point>;

TEST_CASE("request_limiter: a requester gets its burst at once, then its rate", "[publisher][request_limiter]") {
  limiter l;
  const racket::detail::request_limits limits{.per_second = 20, .burst = 10, .max_requesters = 16};
  int admitted = 0;
  for (int i = 0; i < 15; ++i) admitted += l.admit(7, at(0ms), limits) ? 1 : 0;
  CHECK(admitted == 10);
  CHECK(l.admit(8, at(0ms), limits));  // another requester has its own bucket
  CHECK_FALSE(l.admit(7, at(40ms), limits));  // 0.8 of a token
  CHECK(l.admit(7, at(60ms), limits));        // one token per 50 ms
  CHECK_FALSE(l.admit(7, at(60ms), limits));
  admitted = 0;
  for (int i = 0; i < 15; ++i) admitted += l.admit(7, at(10s), limits) ? 1 : 0;
  CHECK(admitted == 10);  // refilled to the burst, no more
}

TEST_CASE("request_limiter: a full table refuses new requesters until idle ones are forgotten",
          "[publisher][request_limiter]") {
  limiter l;
  const racket::detail::request_limits limits{.per_second = 10, .burst = 2, .max_requesters = 2};
  CHECK(l.admit(1, at(0ms), limits));
  CHECK(l.admit(2, at(0ms), limits));
  CHECK_FALSE(l.admit(3, at(0ms), limits));   // no room, and 1 and 2 are not idle
  CHECK_FALSE(l.admit(3, at(50ms), limits));  // a sweep is at most every 100 ms... and none is idle
  CHECK(l.size() == 2);
  CHECK(l.admit(3, at(300ms), limits));  // 1 and 2 have full buckets again: forgotten
  CHECK(l.size() == 1);
  CHECK(l.admit(1, at(300ms), limits));  // back with a full bucket (nothing lost by forgetting)
  CHECK(l.admit(1, at(300ms), limits));
  CHECK_FALSE(l.admit(1, at(300ms), limits));
}

TEST_CASE("request_limiter: a rate of 0 admits everything", "[publisher][request_limiter]") {
  limiter l;
  const racket::detail::request_limits unlimited{.per_second = 0, .burst = 1, .max_requesters = 1};
  for (std::uint64_t id = 0; id < 100; ++id) CHECK(l.admit(id, at(0ms), unlimited));
  CHECK(l.size() == 0);
}

TEST_CASE("request_limiter: a requester that owes answer bytes is refused until it has paid them back",
          "[publisher][request_limiter][security]") {
  limiter l;
  const racket::detail::request_limits limits{.per_second = 20, .burst = 10, .max_requesters = 16,
                                              .bytes_per_second = 1000};
  CHECK(l.admit(7, at(0ms), limits));
  l.charge(7, 3000, at(0ms), limits);  // its answer was 3 s of its budget
  CHECK_FALSE(l.admit(7, at(100ms), limits));
  CHECK(l.admit(8, at(100ms), limits));  // others are not affected
  CHECK_FALSE(l.admit(7, at(1900ms), limits));  // 1000 - 3000 + 1900 <= 0
  CHECK(l.admit(7, at(2100ms), limits));        // paid back
  // Charges for a requester never admitted (or forgotten) are nobody's.
  l.charge(99, 1e9, at(2100ms), limits);
  CHECK(l.admit(99, at(2100ms), limits));
}
