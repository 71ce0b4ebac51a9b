// SPDX-License-Identifier: MIT
// detail::subject_table: the rules that decide each record of a stream (deliver, duplicate,
// stale, tombstone, event window), expiry of what is not refreshed, eviction at the cap. Time
// is a plain time_point handed in; nothing here sends, locks or calls a handler.
#include "racket/detail/subscriber/subject_table.hpp"

#include "catch.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

using time_point = std::chrono::steady_clock::time_point;
using table = racket::detail::subject_table<time_point>;
using outcome = table::outcome;
using racket::removal_reason;
using racket::wire::record;

constexpr std::uint64_t pub_a = 100;
constexpr std::uint64_t pub_b = 200;
const time_point t0{std::chrono::hours(1)};

struct removed_call {
  std::string subject;
  std::uint64_t publisher_id;
  removal_reason reason;
};

// A table, its shared live count, the eviction generator and what it reported removed.
struct bed {
  explicit bed(racket::detail::subject_limits limits = {}) : subjects(limits, tracked) {}
  std::size_t tracked = 0;
  table subjects;
  racket::detail::splitmix64 rng{0x5EEDBA5Eull};
  std::vector<removed_call> removed;
  std::vector<std::vector<std::byte>> payloads;  // keeps the records' payloads alive

  table::verdict apply(const record& r, std::uint64_t publisher, time_point now = t0) {
    return subjects.apply(r, publisher, now, rng, [&](const std::string& s, std::uint64_t p, removal_reason why) {
      removed.push_back({s, p, why});
    });
  }
  table::deadline due(const table::deadline& d, time_point now) {
    return subjects.on_due(d.slot, d.generation, now, [&](const std::string& s, std::uint64_t p, removal_reason why) {
      removed.push_back({s, p, why});
    });
  }
  std::span<const std::byte> bytes(std::string_view text) {
    payloads.emplace_back(reinterpret_cast<const std::byte*>(text.data()),
                          reinterpret_cast<const std::byte*>(text.data()) + text.size());
    return payloads.back();
  }
  record value(std::string_view subject, std::uint64_t seq, std::string_view payload, std::uint64_t stamp = 0,
               std::uint32_t interval_ms = 1000) {
    return record{.interval_ms = interval_ms,
                  .sequence = seq,
                  .timestamp_ns = stamp != 0 ? stamp : seq,
                  .subject = subject,
                  .payload = bytes(payload)};
  }
  static record event(std::string_view subject, std::uint64_t seq) {
    return record{.interval_ms = 0, .sequence = seq, .timestamp_ns = seq, .subject = subject, .payload = {}};
  }
  static record tombstone(std::string_view subject, std::uint64_t seq, std::uint32_t interval_ms = 1000) {
    return record{.flags = racket::wire::flags::tombstone,
                  .interval_ms = interval_ms,
                  .sequence = seq,
                  .timestamp_ns = seq,
                  .subject = subject,
                  .payload = {}};
  }
  std::vector<std::string> held() const {
    std::vector<std::string> out;
    subjects.for_each_value([&](const auto& st) { out.push_back(st.subject); });
    return out;
  }
};

}  // namespace

TEST_CASE("a new subject is delivered as new, a changed value as not new", "[subscriber][subject_table]") {
  bed b;
  const auto first = b.apply(b.value("a", 1, "x"), pub_a);
  CHECK(first.what == outcome::deliver);
  CHECK(first.is_new);
  CHECK(first.expiry.add);
  CHECK(b.subjects.size() == 1);
  CHECK(b.tracked == 1);
  const auto changed = b.apply(b.value("a", 2, "y"), pub_a);
  CHECK(changed.what == outcome::deliver);
  CHECK_FALSE(changed.is_new);
  CHECK(b.held() == std::vector<std::string>{"a"});
}

TEST_CASE("the same content again is a duplicate, whatever its sequence", "[subscriber][subject_table]") {
  bed b;
  b.apply(b.value("a", 1, "x"), pub_a);
  CHECK(b.apply(b.value("a", 5, "x"), pub_a).what == outcome::duplicate);  // a resend, or a copy
  CHECK(b.apply(b.value("a", 5, "x"), pub_a).what == outcome::duplicate);
  CHECK(b.subjects.counts().duplicates == 2);
  // The duplicate moved the held sequence on: an older one is stale now.
  CHECK(b.apply(b.value("a", 3, "z"), pub_a).what == outcome::stale);
}

TEST_CASE("a lower sequence from the same publisher is stale", "[subscriber][subject_table]") {
  bed b;
  b.apply(b.value("a", 10, "x"), pub_a);
  CHECK(b.apply(b.value("a", 9, "y", 1'000'000), pub_a).what == outcome::stale);  // a newer stamp does not help
  CHECK(b.subjects.counts().stale == 1);
  // The same sequence with other content: hostile or buggy, also stale.
  CHECK(b.apply(b.value("a", 10, "other"), pub_a).what == outcome::stale);
  CHECK(b.subjects.counts().stale == 2);
  CHECK(b.apply(b.value("a", 11, "y"), pub_a).what == outcome::deliver);
}

TEST_CASE("a forged record far ahead in sequence does not make the publisher's later updates stale",
          "[subscriber][subject_table][security]") {
  // Issue 21: one forged record with a real publisher's id and a sequence 10^12 ahead made
  // every later update of the subject stale until the forgery expired. The publisher's own
  // clock gives the forgery away: its next updates are older in sequence but newer by more
  // than a second on its clock, which a real value of its own could not be.
  bed b;
  constexpr std::uint64_t s = 1'000'000'000;  // 1 s in ns
  b.apply(b.value("a", 10, "real", 100 * s), pub_a);
  CHECK(b.apply(b.value("a", 1'000'000'000'000, "forged", 100 * s), pub_a).what == outcome::deliver);
  // Within the slack the forged value still shadows (the documented remaining risk) ...
  CHECK(b.apply(b.value("a", 11, "real 2", 100 * s + s / 2), pub_a).what == outcome::stale);
  // ... past it, the publisher's update is delivered and the forgery gone.
  CHECK(b.apply(b.value("a", 12, "real 3", 101 * s + 1), pub_a).what == outcome::deliver);
  CHECK(b.apply(b.value("a", 13, "real 4", 101 * s + 2), pub_a).what == outcome::deliver);
  // A re-sent old message stays stale however new its clock: it repeats an old stamp anyway.
  record resend = b.value("a", 5, "old", 200 * s);
  resend.flags = racket::wire::flags::resend;
  CHECK(b.apply(resend, pub_a).what == outcome::stale);
}

TEST_CASE("a value stamped in the future shadows other publishers' newer ones for at most max_clock_skew",
          "[subscriber][subject_table][security]") {
  // A forger with its own id and a stamp years ahead: held as at most max_clock_skew ahead
  // of this host's clock, so real publishers' values win again after that.
  bed b({.max_clock_skew = 10s});
  const auto wall_now = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const auto wall_at = [&](std::chrono::nanoseconds later) {
    return wall_now + static_cast<std::uint64_t>(later.count());
  };
  const time_point now = std::chrono::steady_clock::now();  // the table maps it to this host's wall clock
  constexpr std::uint64_t forger = 666;
  b.apply(b.value("a", 1, "real", wall_at(0s)), pub_a, now);
  CHECK(b.apply(b.value("a", 1, "forged", wall_at(std::chrono::hours(24 * 365))), forger, now).what == outcome::deliver);
  CHECK(b.apply(b.value("a", 2, "real 2", wall_at(5s)), pub_a, now + 5s).what == outcome::stale);
  CHECK(b.apply(b.value("a", 3, "real 3", wall_at(11s)), pub_a, now + 11s).what == outcome::deliver);
}

TEST_CASE("from another publisher an older stamp is stale, and on equal stamps the lower id",
          "[subscriber][subject_table]") {
  bed b;
  b.apply(b.value("a", 50, "x", 1000), pub_b);
  // Sequences of different publishers are not comparable: only the stamp counts.
  CHECK(b.apply(b.value("a", 99, "y", 999), pub_a).what == outcome::stale);
  CHECK(b.apply(b.value("a", 99, "y", 1000), pub_a).what == outcome::stale);  // tie: pub_a < pub_b
  const auto newer = b.apply(b.value("a", 1, "y", 1001), pub_a);
  CHECK(newer.what == outcome::deliver);
  CHECK_FALSE(newer.is_new);
  // Now held from pub_a at stamp 1001; pub_b wins a tie on stamps, being the higher id.
  CHECK(b.apply(b.value("a", 51, "z", 1001), pub_b).what == outcome::deliver);
  CHECK(b.subjects.counts().stale == 2);
}

TEST_CASE("a tombstone removes a held value, is remembered, and a later value is new again",
          "[subscriber][subject_table]") {
  bed b;
  b.apply(b.value("a", 1, "x"), pub_a);
  const auto t = b.apply(bed::tombstone("a", 2), pub_a);
  CHECK(t.what == outcome::tombstone);
  CHECK_FALSE(t.expiry.add);  // the value's deadline, due as late, re-checks it
  REQUIRE(b.removed.size() == 1);
  CHECK(b.removed[0].subject == "a");
  CHECK(b.removed[0].publisher_id == pub_a);
  CHECK(b.removed[0].reason == removal_reason::withdrawn);
  CHECK(b.subjects.counts().withdrawn == 1);
  CHECK(b.held().empty());
  CHECK(b.subjects.size() == 1);  // the marker stays
  // Older resends still in flight do not resurrect it; a copy of the tombstone is a duplicate.
  CHECK(b.apply(b.value("a", 1, "x"), pub_a).what == outcome::stale);
  CHECK(b.apply(bed::tombstone("a", 2), pub_a).what == outcome::duplicate);
  // A tombstone of a subject never seen is remembered without a removal.
  CHECK(b.apply(bed::tombstone("b", 3), pub_a).what == outcome::tombstone);
  CHECK(b.removed.size() == 1);
  CHECK(b.subjects.counts().withdrawn == 1);
  // A newer value after the tombstone is new.
  const auto back = b.apply(b.value("a", 4, "y"), pub_a);
  CHECK(back.what == outcome::deliver);
  CHECK(back.is_new);
}

TEST_CASE("a tombstone is remembered for expiry_factor times max(interval, 1 s)", "[subscriber][subject_table]") {
  bed b{{.expiry_factor = 3}};
  const auto t = b.apply(bed::tombstone("a", 1, 200), pub_a);
  CHECK(t.expiry.due == t0 + 3s);  // 200 ms is below the 1 s floor
  const auto u = b.apply(bed::tombstone("b", 1, 2000), pub_a);
  CHECK(u.expiry.due == t0 + 6s);
  CHECK_FALSE(b.due(t.expiry, t0 + 3s).add);
  CHECK(b.subjects.size() == 1);
  CHECK(b.removed.empty());  // forgetting a marker tells no subscription
  CHECK(b.subjects.counts().expired == 0);
}

TEST_CASE("an event's copies within the window are duplicates, and it is forgotten after",
          "[subscriber][subject_table]") {
  bed b{{.event_window = 100ms}};
  const auto e = b.apply(bed::event("ev", 7), pub_a);
  CHECK(e.what == outcome::deliver);
  CHECK(e.is_new);
  CHECK(e.expiry.due == t0 + 100ms);
  CHECK(b.apply(bed::event("ev", 7), pub_a, t0 + 50ms).what == outcome::duplicate);  // another interface's copy
  CHECK(b.held().empty());  // events are not held values
  // The next event of the subject is delivered, as new, and remembered for its own window.
  const auto next = b.apply(bed::event("ev", 8), pub_a, t0 + 60ms);
  CHECK(next.what == outcome::deliver);
  CHECK(next.is_new);
  CHECK_FALSE(next.expiry.add);  // the first event's deadline comes first and re-checks
  const auto moved = b.due(e.expiry, t0 + 100ms);
  REQUIRE(moved.add);
  CHECK(moved.due == t0 + 160ms);
  CHECK(b.apply(bed::event("ev", 8), pub_a, t0 + 150ms).what == outcome::duplicate);
  // Once the window is over the subject is forgotten silently.
  CHECK_FALSE(b.due(moved, t0 + 160ms).add);
  CHECK(b.subjects.size() == 0);
  CHECK(b.removed.empty());
}

TEST_CASE("an event replaces a held value, and a value after it is new", "[subscriber][subject_table]") {
  bed b;
  b.apply(b.value("a", 1, "x"), pub_a);
  CHECK(b.apply(bed::event("a", 2), pub_a).what == outcome::deliver);
  CHECK(b.held().empty());
  const auto v = b.apply(b.value("a", 3, "x"), pub_a);
  CHECK(v.what == outcome::deliver);
  CHECK(v.is_new);
}

TEST_CASE("a value expires expiry_factor intervals after its last refresh", "[subscriber][subject_table]") {
  bed b{{.expiry_factor = 3}};
  const auto first = b.apply(b.value("a", 1, "x", 0, 100), pub_a);
  REQUIRE(first.expiry.add);
  CHECK(first.expiry.due == t0 + 300ms);
  // A refresh (a duplicate) at +200 ms moves the expiry to +500 ms, without a new heap entry:
  // the one due at +300 ms fires first and re-checks.
  const auto refresh = b.apply(b.value("a", 2, "x", 0, 100), pub_a, t0 + 200ms);
  CHECK(refresh.what == outcome::duplicate);
  CHECK_FALSE(refresh.expiry.add);
  const auto moved = b.due(first.expiry, t0 + 300ms);
  REQUIRE(moved.add);
  CHECK(moved.due == t0 + 500ms);
  CHECK(b.held().size() == 1);
  CHECK_FALSE(b.due(moved, t0 + 500ms).add);
  CHECK(b.held().empty());
  CHECK(b.subjects.size() == 0);
  CHECK(b.tracked == 0);
  CHECK(b.subjects.counts().expired == 1);
  REQUIRE(b.removed.size() == 1);
  CHECK(b.removed[0].reason == removal_reason::expired);
  CHECK(b.removed[0].subject == "a");
}

TEST_CASE("a deadline for an earlier time than the queued one is a new entry, and the old one is stale",
          "[subscriber][subject_table]") {
  bed b;
  const auto slow = b.apply(b.value("a", 1, "x", 0, 10'000), pub_a);
  const auto fast = b.apply(b.value("a", 2, "y", 0, 100), pub_a);
  REQUIRE(fast.expiry.add);
  CHECK(fast.expiry.due < slow.expiry.due);
  CHECK_FALSE(b.subjects.current(slow.expiry.slot, slow.expiry.generation));
  CHECK(b.subjects.current(fast.expiry.slot, fast.expiry.generation));
  CHECK_FALSE(b.due(slow.expiry, slow.expiry.due).add);  // stale: nothing happens
  CHECK(b.held().size() == 1);
}

TEST_CASE("at the cap a subject is evicted to make room, and counted", "[subscriber][subject_table]") {
  bed b{{.max_subjects = 4}};
  for (int i = 0; i < 4; ++i) b.apply(b.value("s" + std::to_string(i), 1, "x"), pub_a);
  CHECK(b.subjects.size() == 4);
  CHECK(b.removed.empty());
  const auto v = b.apply(b.value("new", 1, "x"), pub_a);
  CHECK(v.what == outcome::deliver);
  CHECK(v.is_new);
  CHECK(b.subjects.size() == 4);
  CHECK(b.tracked == 4);
  CHECK(b.subjects.counts().evicted == 1);
  REQUIRE(b.removed.size() == 1);
  CHECK(b.removed[0].reason == removal_reason::evicted);
  CHECK(b.removed[0].subject != "new");
  std::set<std::string> held;
  for (const auto& s : b.held()) held.insert(s);
  CHECK(held.count("new") == 1);
  CHECK(held.count(b.removed[0].subject) == 0);
}

TEST_CASE("the bytes held stay under max_bytes: others are evicted, a value larger than the cap is refused",
          "[subscriber][subject_table][security]") {
  // Subjects of 2 bytes ("sN") and payloads of 100: 102 bytes each; a cap of 1000 holds 9.
  bed b{{.max_bytes = 1000}};
  const std::string hundred(100, 'p');
  for (int i = 0; i < 9; ++i) REQUIRE(b.apply(b.value("s" + std::to_string(i), 1, hundred), pub_a).what == outcome::deliver);
  CHECK(b.subjects.bytes() == 9 * 102);
  CHECK(b.subjects.counts().evicted == 0);
  // The tenth makes room by evicting one other subject.
  CHECK(b.apply(b.value("s9", 1, hundred), pub_a).what == outcome::deliver);
  CHECK(b.subjects.bytes() == 9 * 102);
  CHECK(b.subjects.counts().evicted == 1);
  REQUIRE(b.removed.size() == 1);
  CHECK(b.removed[0].subject != "s9");
  // A held value that grows evicts others, never itself.
  const std::string big(500, 'q');
  CHECK(b.apply(b.value("s9", 2, big), pub_a).what == outcome::deliver);
  CHECK(b.subjects.bytes() <= 1000);
  CHECK(b.subjects.counts().evicted == 5);
  for (const auto& r : b.removed) CHECK(r.subject != "s9");
  // A value larger than the whole cap is refused and counted; what was held stays.
  const auto bytes_before = b.subjects.bytes();
  const std::string huge(1000, 'h');
  CHECK(b.apply(b.value("s9", 3, huge), pub_a).what == outcome::no_room);
  CHECK(b.apply(b.value("fresh", 1, huge), pub_a).what == outcome::no_room);
  CHECK(b.subjects.counts().no_room == 2);
  CHECK(b.subjects.bytes() == bytes_before);
  CHECK(b.tracked == b.subjects.size());
  // Withdrawing and expiring give the bytes back.
  b.apply(b.tombstone("s9", 4), pub_a);
  CHECK(b.subjects.bytes() == bytes_before - big.size());
  b.subjects.clear();
  CHECK(b.subjects.bytes() == 0);
}

TEST_CASE("with a cap of zero no subject can be held", "[subscriber][subject_table]") {
  bed b{{.max_subjects = 0}};
  CHECK(b.apply(b.value("a", 1, "x"), pub_a).what == outcome::no_room);
  CHECK(b.subjects.size() == 0);
}

TEST_CASE("clear forgets every subject and gives back the live count", "[subscriber][subject_table]") {
  std::size_t tracked = 0;
  racket::detail::splitmix64 rng{1};
  table one{{}, tracked};
  table two{{}, tracked};
  const auto none = [](const std::string&, std::uint64_t, removal_reason) {};
  std::vector<std::byte> payload{std::byte{1}};
  one.apply(record{.interval_ms = 1000, .sequence = 1, .subject = "a", .payload = payload}, pub_a, t0, rng, none);
  one.apply(record{.interval_ms = 1000, .sequence = 2, .subject = "b", .payload = payload}, pub_a, t0, rng, none);
  two.apply(record{.interval_ms = 1000, .sequence = 1, .subject = "a", .payload = payload}, pub_a, t0, rng, none);
  CHECK(tracked == 3);
  one.clear();
  CHECK(tracked == 1);
  CHECK(one.size() == 0);
  two.clear();
  CHECK(tracked == 0);
}
