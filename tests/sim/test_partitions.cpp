// SPDX-License-Identifier: MIT
// Tests of detail::partition_set: whether a cut separates two nodes, in both directions; cuts
// add up; a node on neither side is unaffected; clear heals everything.
#include "racket/simulation/detail/partitions.hpp"

#include "catch.hpp"

#include <cstddef>
#include <vector>

namespace sim = racket::sim;

TEST_CASE("a cut separates each node of one side from each node of the other, both ways", "[sim][partition]") {
  using partition_set = sim::detail::partition_set;
  partition_set p;
  CHECK_FALSE(p.separated(0, 1));

  const auto c = partition_set::cut::between({5, 1, 3}, {4, 0});
  CHECK(c.a == std::vector<std::size_t>{1, 3, 5});  // sorted
  CHECK(c.b == std::vector<std::size_t>{0, 4});
  p.add(c);
  for (std::size_t x : {1, 3, 5}) {
    for (std::size_t y : {0, 4}) {
      CHECK(p.separated(x, y));
      CHECK(p.separated(y, x));
    }
  }
  CHECK_FALSE(p.separated(1, 3));  // same side
  CHECK_FALSE(p.separated(0, 4));
  CHECK_FALSE(p.separated(1, 2));  // 2 is on neither side
  CHECK_FALSE(p.separated(2, 0));
  CHECK_FALSE(p.separated(2, 2));

  p.add(partition_set::cut::between({2}, {1}));  // cuts add up
  CHECK(p.separated(1, 2));
  CHECK(p.separated(3, 4));

  p.clear();
  CHECK_FALSE(p.separated(1, 2));
  CHECK_FALSE(p.separated(3, 4));
}
