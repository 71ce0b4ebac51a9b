// SPDX-License-Identifier: MIT
// detail::resend_schedule: which cached subjects a timer pass re-sends, and when the timer fires.
#include "racket/detail/publisher/resend_schedule.hpp"

#include "catch.hpp"
#include "racket/detail/publisher/cache.hpp"
#include "room_fakes.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

using namespace room_test;

namespace {

// What the schedule reads of a stream.
struct stream {
  std::uint32_t ordinal = 0;
  racket::detail::last_value_cache<time_point> cache;
  racket::detail::publisher_stream_counters counters;
};

using schedule = racket::detail::resend_schedule<stream, no_clock>;

struct fixture {
  racket::detail::slab values;
  racket::detail::splitmix64 rng{1};
  schedule sched;
  explicit fixture(std::chrono::milliseconds coalesce = 20ms, double jitter = 0) : sched(coalesce, jitter) {}

  // Publishes `subject` (its payload `size` bytes) with `interval` at `now`.
  std::uint32_t publish(stream& s, const std::string& subject, std::chrono::milliseconds interval, time_point now,
                        std::size_t size = 10) {
    const std::string payload(size, 'v');
    const auto stored = s.cache.store(values, s.cache.find(subject), subject, bytes_of(payload),
                                      static_cast<std::uint32_t>(interval.count()), 1, 0);
    sched.stored(s, stored.index, *stored.sl, stored.added, now);
    return stored.index;
  }

  // The subjects of the resends a pass at `now` takes.
  std::vector<std::string> pass(time_point now) {
    sched.take_due(now, rng);
    std::vector<std::string> out;
    for (const auto& d : sched.due()) out.emplace_back(d.stream->cache[d.slot].subject());
    sched.clear_due();
    return out;
  }
};

}  // namespace

TEST_CASE("resend_schedule: a subject is taken once when due, then one interval later", "[publisher][resend_schedule]") {
  fixture f;
  stream s;
  CHECK(f.sched.empty());
  f.publish(s, "a", 100ms, at(0ms));
  CHECK_FALSE(f.sched.empty());
  CHECK(f.sched.next_deadline() == at(100ms));

  CHECK(f.pass(at(50ms)).empty());  // held back: not due, not within the window
  CHECK(f.pass(at(100ms)) == std::vector<std::string>{"a"});
  CHECK(f.pass(at(100ms)).empty());  // taken once
  CHECK(s.counters.resent.load() == 1);
  CHECK(f.sched.next_deadline() == at(200ms));
  CHECK(f.pass(at(199ms)) == std::vector<std::string>{"a"});  // within the 20 ms window
  CHECK(f.pass(at(250ms)).empty());
  CHECK(f.pass(at(300ms)) == std::vector<std::string>{"a"});  // due 300: the schedule kept its phase
  CHECK(s.counters.resent.load() == 3);
}

TEST_CASE("resend_schedule: resends due within the window coalesce, at most half their interval early",
          "[publisher][resend_schedule]") {
  fixture f{20ms};
  stream s;
  f.publish(s, "due", 100ms, at(0ms));
  f.publish(s, "soon", 115ms, at(0ms));   // 15 ms after: within 20 ms and half of 115
  f.publish(s, "late", 130ms, at(0ms));   // 30 ms after: outside the window
  f.publish(s, "short", 20ms, at(92ms));  // due 112: 12 ms after, but half of 20 is 10
  auto taken = f.pass(at(100ms));
  std::sort(taken.begin(), taken.end());
  CHECK(taken == std::vector<std::string>{"due", "soon"});
  // The held-back short interval wakes the timer at its own due time, not a tick later.
  CHECK(f.sched.next_deadline() <= at(112ms));
  CHECK(f.pass(at(102ms)) == std::vector<std::string>{"short"});  // now within its own 10 ms
  CHECK(f.pass(at(110ms)) == std::vector<std::string>{"late"});
}

TEST_CASE("resend_schedule: removed or republished subjects follow their slot", "[publisher][resend_schedule]") {
  fixture f;
  stream s;
  f.publish(s, "gone", 100ms, at(0ms));
  f.publish(s, "moved", 100ms, at(0ms));
  f.publish(s, "sooner", 500ms, at(0ms));
  s.cache.remove(s.cache.find("gone"));
  f.publish(s, "moved", 100ms, at(60ms));   // republished: due 160 now
  f.publish(s, "sooner", 50ms, at(10ms));   // a shorter interval: due 60, not 500
  CHECK(f.pass(at(60ms)) == std::vector<std::string>{"sooner"});
  CHECK(f.pass(at(85ms)).empty());  // "gone" is stale; "moved" (its entry at 100) moves on to 160
  CHECK(f.pass(at(110ms)) == std::vector<std::string>{"sooner"});
  auto last = f.pass(at(160ms));
  std::sort(last.begin(), last.end());
  CHECK(last == std::vector<std::string>{"moved", "sooner"});
  CHECK(s.counters.resent.load() == 4);
}

TEST_CASE("resend_schedule: a pass's resends come by stream, largest first, and jitter only delays",
          "[publisher][resend_schedule]") {
  fixture f{20ms, 0.5};
  stream s0, s1;
  s1.ordinal = 1;
  f.publish(s1, "one.small", 100ms, at(0ms), 5);
  f.publish(s0, "zero.small", 100ms, at(0ms), 5);
  f.publish(s1, "one.large", 100ms, at(0ms), 300);
  f.publish(s0, "zero.large", 100ms, at(0ms), 300);
  f.publish(s0, "zero.mid", 100ms, at(0ms), 50);
  CHECK(f.pass(at(100ms)) == std::vector<std::string>{"zero.large", "zero.mid", "zero.small", "one.large", "one.small"});
  // Next due one interval on plus up to half an interval of jitter, drawn per subject.
  for (stream* s : {&s0, &s1}) {
    for (const auto& sl : s->cache) {
      CHECK(sl.due >= at(200ms));
      CHECK(sl.due <= at(250ms));
    }
  }
  CHECK(s0.cache[0].due != s0.cache[1].due);
}

TEST_CASE("resend_schedule: a pass takes at most its budget, the rest wait for the next", "[publisher][resend_schedule]") {
  fixture f;
  stream s;
  for (int i = 0; i < 10000; ++i) f.publish(s, "k" + std::to_string(i), 1000ms, at(0ms));
  const auto first = f.pass(at(1000ms));
  CHECK(first.size() == 8192);
  CHECK(f.sched.next_deadline() <= at(1000ms));
  CHECK(f.pass(at(1000ms)).size() == 10000 - 8192);
  CHECK(s.counters.resent.load() == 10000);
}
