// SPDX-License-Identifier: MIT
// detail::gap_tracker and publisher_gaps: which sequence numbers of each publisher were missed
// (gaps, numbers that arrive late, the head of an answer), when a repair must be queued, the
// cap on publishers, the token bucket that paces repairs and the ranges a request asks for.
#include "racket/detail/subscriber/gap_tracker.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstdint>
#include <vector>

using namespace std::chrono_literals;

namespace {

using time_point = std::chrono::steady_clock::time_point;
using tracker = racket::detail::gap_tracker<time_point>;
using publisher = tracker::publisher;
using racket::wire::record;
using racket::wire::sequence_range;
const time_point t0{std::chrono::hours(1)};

record live(std::uint64_t seq) { return record{.interval_ms = 1000, .sequence = seq, .subject = "s", .payload = {}}; }
record resend(std::uint64_t seq) {
  return record{.flags = racket::wire::flags::resend, .interval_ms = 1000, .sequence = seq, .subject = "s", .payload = {}};
}
record answer(std::uint64_t seq) {
  return record{.flags = racket::wire::flags::snapshot, .interval_ms = 1000, .sequence = seq, .subject = "s", .payload = {}};
}

// Notes one record as a datagram of its own (a fresh publisher cache).
bool note(tracker& t, std::uint64_t publisher_id, const record& r, time_point now = t0) {
  publisher* pub = nullptr;
  return t.note(publisher_id, pub, r, now);
}

std::vector<sequence_range> missing(tracker& t, std::uint64_t publisher_id) {
  return t.find(publisher_id)->missing.ranges();
}

}  // namespace

TEST_CASE("consecutive numbers are no gap, and a jump counts the numbers between and wants one repair",
          "[subscriber][gap_tracker]") {
  tracker t{16, true};
  CHECK_FALSE(note(t, 1, live(10)));
  CHECK_FALSE(note(t, 1, live(11)));
  CHECK(t.gaps() == 0);
  CHECK(note(t, 1, live(15)));  // 12..14 missed: a repair is wanted
  CHECK(t.gaps() == 3);
  CHECK(missing(t, 1) == std::vector<sequence_range>{{12, 14}});
  CHECK(t.find(1)->repair_queued);
  // A second gap while that repair is queued merges into it.
  CHECK_FALSE(note(t, 1, live(18)));
  CHECK(t.gaps() == 5);
  CHECK(missing(t, 1) == std::vector<sequence_range>{{12, 14}, {16, 17}});
}

TEST_CASE("one forged datagram far ahead neither counts 10^12 gaps nor stops the real count",
          "[subscriber][gap_tracker][security]") {
  tracker t{16, true};
  CHECK_FALSE(note(t, 1, live(10)));
  CHECK_FALSE(note(t, 1, live(1'000'000'000'010)));  // a forgery with publisher 1's id
  CHECK(t.gaps() == 0);
  CHECK(t.jumps() == 1);
  CHECK(t.find(1)->missing.empty());
  // The real publisher goes on: its next number contradicts the forged one and restarts the
  // count there, so its gaps are found and repaired again.
  CHECK_FALSE(note(t, 1, live(11)));
  CHECK(t.jumps() == 2);
  CHECK(note(t, 1, live(14)));
  CHECK(t.gaps() == 2);
  CHECK(missing(t, 1) == std::vector<sequence_range>{{12, 13}});
  // A resend of an old number never restarts the count (it carries an old number by design).
  CHECK_FALSE(note(t, 1, resend(14 + tracker::max_jump + 5)));  // above: a jump like any other
  CHECK(t.jumps() == 3);
  CHECK_FALSE(note(t, 1, resend(3)));
  CHECK(t.jumps() == 3);
  // Up to max_jump ahead is an ordinary gap.
  tracker u{16, true};
  note(u, 1, live(1));
  CHECK(note(u, 1, live(1 + tracker::max_jump)));
  CHECK(u.gaps() == tracker::max_jump - 1);
  CHECK(u.jumps() == 0);
}

TEST_CASE("a number that arrives late is taken out of the gap", "[subscriber][gap_tracker]") {
  tracker t{16, true};
  note(t, 1, live(1));
  note(t, 1, live(5));
  CHECK(t.gaps() == 3);
  CHECK_FALSE(note(t, 1, live(3)));  // reordered
  CHECK(t.gaps() == 2);
  CHECK(missing(t, 1) == std::vector<sequence_range>{{2, 2}, {4, 4}});
  CHECK_FALSE(note(t, 1, resend(2)));  // a resend of a lost record
  CHECK(t.gaps() == 1);
  CHECK_FALSE(note(t, 1, live(3)));  // a second copy changes nothing
  CHECK(t.gaps() == 1);
}

TEST_CASE("a resend cannot start the count, and one above the highest shows the gap below it",
          "[subscriber][gap_tracker]") {
  tracker t{16, true};
  CHECK_FALSE(note(t, 1, resend(40)));
  CHECK(t.find(1)->highest_live == 0);
  CHECK_FALSE(note(t, 1, live(41)));
  CHECK(t.gaps() == 0);
  CHECK(note(t, 1, resend(45)));  // a tail probe: 42..44 and the original of 45 were missed
  CHECK(t.gaps() == 3);
  CHECK(missing(t, 1) == std::vector<sequence_range>{{42, 44}});
}

TEST_CASE("an answer heard first asks for the numbers below it, not counted as a gap", "[subscriber][gap_tracker]") {
  tracker t{16, true};
  CHECK(note(t, 1, answer(100)));
  CHECK(t.gaps() == 0);
  publisher& p = *t.find(1);
  CHECK(p.head.ranges() == std::vector<sequence_range>{{1, 99}});
  CHECK(p.missing.empty());
  CHECK_FALSE(p.nothing_to_ask());
  note(t, 1, live(50));  // an older number still arriving is no longer asked for
  CHECK(p.head.ranges() == std::vector<sequence_range>{{1, 49}, {51, 99}});

  tracker quiet{16, false};  // no snapshot requests: nothing to ask
  CHECK_FALSE(note(quiet, 1, answer(100)));
  CHECK(quiet.find(1)->nothing_to_ask());
}

TEST_CASE("publishers are tracked apart, and past the cap the one seen longest ago is forgotten",
          "[subscriber][gap_tracker]") {
  tracker t{2, true};
  note(t, 1, live(1), t0);
  note(t, 2, live(1), t0 + 1ms);
  note(t, 1, live(2), t0 + 2ms);  // 1 seen again
  note(t, 3, live(1), t0 + 3ms);  // 2 goes
  CHECK(t.find(1) != nullptr);
  CHECK(t.find(2) == nullptr);
  CHECK(t.find(3) != nullptr);
  CHECK(t.gaps() == 0);
  t.clear();
  CHECK(t.find(1) == nullptr);
}

TEST_CASE("the publisher cache of a datagram is filled once", "[subscriber][gap_tracker]") {
  tracker t{16, true};
  publisher* pub = nullptr;
  t.note(7, pub, live(1), t0);
  REQUIRE(pub == t.find(7));
  t.note(7, pub, live(2), t0);
  CHECK(pub->highest_live == 2);
}

TEST_CASE("repairs are paced by a token bucket", "[subscriber][gap_tracker]") {
  publisher p;
  time_point retry{};
  // A full bucket of 2 at first, then one token every 100 ms (10 per second).
  CHECK(p.take_token(t0, 10, 2, retry));
  CHECK(p.take_token(t0, 10, 2, retry));
  CHECK_FALSE(p.take_token(t0, 10, 2, retry));
  CHECK(retry == t0 + 100ms);
  CHECK_FALSE(p.take_token(t0 + 50ms, 10, 2, retry));
  CHECK(retry >= t0 + 100ms);
  CHECK(retry <= t0 + 100ms + 1us);  // half a token still missing
  CHECK(p.take_token(t0 + 100ms, 10, 2, retry));
  // Never less than 100 us away, however fast the rate.
  publisher fast;
  CHECK(fast.take_token(t0, 1e9, 1, retry));
  CHECK_FALSE(fast.take_token(t0, 1e9, 1, retry));
  CHECK(retry == t0 + 100us);
}

TEST_CASE("a request takes the head and missing ranges, merged down to what fits", "[subscriber][gap_tracker]") {
  publisher p;
  p.head.add(1, 9);
  p.missing.add(20, 20);
  p.missing.add(30, 31);
  const auto all = p.take_ranges(8);
  CHECK(all.ranges() == std::vector<sequence_range>{{1, 9}, {20, 20}, {30, 31}});
  CHECK(p.nothing_to_ask());
  p.missing.add(20, 20);
  p.missing.add(30, 31);
  p.missing.add(33, 33);
  const auto two = p.take_ranges(2);
  CHECK(two.ranges() == std::vector<sequence_range>{{20, 20}, {30, 33}});  // the smallest hole merged
}
