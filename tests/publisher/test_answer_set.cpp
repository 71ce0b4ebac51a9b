// SPDX-License-Identifier: MIT
// detail::filter_union and detail::answer_set: what merged snapshot requests select.
#include "racket/detail/publisher/answer_set.hpp"

#include "catch.hpp"

#include <string>

using racket::detail::answer_set;
using racket::detail::filter_union;

TEST_CASE("filter_union: distinct filters add up, and an empty one or too many mean everything", "[publisher][answer_set]") {
  filter_union u;
  CHECK(u.empty());
  CHECK_FALSE(u.matches("a.b"));
  u.add("plant.*");
  u.add("plant.*");  // once
  u.add("other.x");
  CHECK(u.filters.size() == 2);
  CHECK(u.matches("plant.a.b"));
  CHECK(u.matches("other.x"));
  CHECK_FALSE(u.matches("other.y"));
  u.add("");
  CHECK(u.all);
  CHECK(u.filters.empty());
  CHECK(u.matches("anything.at.all"));
  u.clear();
  CHECK(u.empty());

  for (std::size_t i = 0; i < filter_union::max_filters; ++i) u.add("f" + std::to_string(i));
  CHECK_FALSE(u.all);
  CHECK_FALSE(u.matches("g"));
  u.add("one.too.many");
  CHECK(u.all);
  CHECK(u.matches("g"));
}

TEST_CASE("answer_set: full filters select by subject, repairs by current sequence and filter", "[publisher][answer_set]") {
  answer_set a;
  CHECK(a.empty());
  CHECK_FALSE(a.selects("a.b", 5));
  a.repair.add("a.*");
  a.ranges.add(10, 20);
  CHECK_FALSE(a.empty());
  CHECK(a.selects("a.b", 10));
  CHECK(a.selects("a.b", 20));
  CHECK_FALSE(a.selects("a.b", 21));  // its current number is outside every range
  CHECK_FALSE(a.selects("b.b", 15));  // not the repair's filter
  a.full.add("b.*");
  CHECK(a.selects("b.b", 1));
  CHECK_FALSE(a.selects("c.b", 15));
  a.clear();
  CHECK(a.empty());
  CHECK_FALSE(a.selects("a.b", 15));
}
