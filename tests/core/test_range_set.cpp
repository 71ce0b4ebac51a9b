// SPDX-License-Identifier: MIT
#include "racket/detail/range_set.hpp"

#include "catch.hpp"

#include <cstdint>
#include <vector>

namespace wire = racket::wire;

TEST_CASE("range_set keeps sorted disjoint ranges and merges the smallest holes past its cap", "[range_set]") {
  using range = wire::sequence_range;
  racket::detail::range_set s{4};
  s.add(10, 12);
  s.add(1, 1);
  s.add(13, 13);  // adjacent: joins 10..12
  s.add(5, 6);
  CHECK(s.ranges() == std::vector<range>{{1, 1}, {5, 6}, {10, 13}});
  s.add(2, 9);  // bridges everything
  CHECK(s.ranges() == std::vector<range>{{1, 13}});
  s.remove(1);
  s.remove(13);
  s.remove(7);
  CHECK(s.ranges() == std::vector<range>{{2, 6}, {8, 12}});
  CHECK(s.contains(2));
  CHECK_FALSE(s.contains(7));
  CHECK(s.count() == 10);
  s.clear();
  for (std::uint64_t v : {100, 200, 210, 300, 1000, 1001 + 1}) s.add(v, v);
  // 6 ranges, cap 4: the holes 200..210 (10) and 1000..1002 (2) are merged away first.
  CHECK(s.ranges() == std::vector<range>{{100, 100}, {200, 210}, {300, 300}, {1000, 1002}});
  s.add(UINT64_MAX - 1, UINT64_MAX);
  s.add(UINT64_MAX, UINT64_MAX);
  CHECK(s.ranges().back() == range{UINT64_MAX - 1, UINT64_MAX});
  CHECK(s.size() <= 4);
}
