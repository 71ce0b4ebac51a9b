// SPDX-License-Identifier: MIT
// detail::last_value_cache: the publisher's last value per subject of one stream.
#include "racket/detail/publisher/cache.hpp"

#include "catch.hpp"
#include "room_fakes.hpp"

#include <set>
#include <string>

using racket::detail::cached_record;
using racket::detail::slab;
using room_test::bytes_of;
using room_test::string_of;
using cache = racket::detail::last_value_cache<room_test::time_point>;

namespace {

cache::stored put(cache& c, slab& s, const std::string& subject, const std::string& payload, std::uint64_t seq = 1) {
  return c.store(s, c.find(subject), subject, bytes_of(payload), 1000, seq, 42);
}

}  // namespace

TEST_CASE("cache: a stored subject is found, with its record", "[publisher][cache]") {
  slab values;
  cache c;
  CHECK(c.empty());
  const auto none = c.find("plant.temp");
  CHECK_FALSE(none.found());
  CHECK(none.hash == 0);  // an empty cache computes no hash

  const auto first = put(c, values, "plant.temp", "21.5", 7);
  CHECK(first.added);
  CHECK(c.size() == 1);
  const auto found = c.find("plant.temp");
  REQUIRE(found.found());
  CHECK(found.index == first.index);
  CHECK(found.hash != 0);
  CHECK_FALSE(c.find("plant.tem").found());
  CHECK_FALSE(c.find("plant.temp2").found());

  const auto& sl = c[found.index];
  CHECK(sl.live);
  CHECK(sl.subject() == "plant.temp");
  CHECK(string_of(sl.payload()) == "21.5");
  const auto r = cached_record(sl, racket::wire::flags::resend);
  CHECK(r.flags == racket::wire::flags::resend);
  CHECK(r.sequence == 7);
  CHECK(r.timestamp_ns == 42);
  CHECK(r.interval_ms == 1000);
  CHECK(r.subject == "plant.temp");
  CHECK(string_of(r.payload) == "21.5");
}

TEST_CASE("cache: storing again replaces the value in the same slot, growing its block when needed", "[publisher][cache]") {
  slab values;
  cache c;
  const auto first = put(c, values, "a.b", "x", 1);
  const std::uint32_t capacity = c[first.index].capacity;
  const auto again = put(c, values, "a.b", "yy", 2);
  CHECK_FALSE(again.added);
  CHECK(again.index == first.index);
  CHECK(c.size() == 1);
  CHECK(string_of(c[again.index].payload()) == "yy");
  CHECK(c[again.index].sequence == 2);
  CHECK(c[again.index].capacity == capacity);  // fits the block it had

  const std::string big(3000, 'z');  // beyond the slab's small blocks
  const auto grown = put(c, values, "a.b", big, 3);
  CHECK(grown.index == first.index);
  CHECK(c[grown.index].capacity >= 3003);
  CHECK(c[grown.index].subject() == "a.b");  // the subject moved with it
  CHECK(string_of(c[grown.index].payload()) == big);
  CHECK(c.find("a.b").index == first.index);

  const auto empty_payload = put(c, values, "a.b", "", 4);
  CHECK(c[empty_payload.index].payload().empty());
  CHECK(c[empty_payload.index].subject() == "a.b");
}

TEST_CASE("cache: a removed subject is gone, its slot freed and reused", "[publisher][cache]") {
  slab values;
  cache c;
  const auto a = put(c, values, "s.a", "1");
  const auto b = put(c, values, "s.b", "2");
  const std::uint32_t generation = c[a.index].generation;
  c.remove(c.find("s.a"));
  CHECK(c.size() == 1);
  CHECK_FALSE(c.find("s.a").found());
  CHECK(c.find("s.b").index == b.index);
  CHECK_FALSE(c[a.index].live);
  CHECK(c[a.index].generation == generation + 1);  // its wheel entries go stale

  const auto d = put(c, values, "s.d", "4");
  CHECK(d.added);
  CHECK(d.index == a.index);  // the freed slot, not a new one
  CHECK(c.slot_count() == 2);
  CHECK(c[d.index].subject() == "s.d");
  CHECK(c.find("s.d").index == d.index);

  std::size_t live = 0;
  for (const auto& sl : c) live += sl.live ? 1 : 0;
  CHECK(live == 2);
}

TEST_CASE("cache: many subjects, removed and re-added, stay findable", "[publisher][cache]") {
  slab values;
  cache c;
  std::set<std::string> present;
  for (int i = 0; i < 3000; ++i) {
    const std::string s = "k." + std::to_string(i * 7919 % 3001);
    put(c, values, s, std::string(static_cast<std::size_t>(i % 200), 'p'));
    present.insert(s);
    if (i % 3 == 0) {
      const std::string gone = "k." + std::to_string(i * 31 % 3001);
      const auto f = c.find(gone);
      CHECK(f.found() == (present.count(gone) == 1));
      if (f.found()) {
        c.remove(f);
        present.erase(gone);
      }
    }
  }
  CHECK(c.size() == present.size());
  for (const auto& s : present) {
    const auto f = c.find(s);
    REQUIRE(f.found());
    CHECK(c[f.index].subject() == s);
  }
  CHECK(c.slot_count() < 3001);  // freed slots were reused
}
