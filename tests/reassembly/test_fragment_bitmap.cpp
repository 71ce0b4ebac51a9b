// SPDX-License-Identifier: MIT
// fragment_bitmap: one bit per fragment, the count, and the runs of missing indexes.
#include "racket/detail/reassembly/fragment_bitmap.hpp"

#include "catch.hpp"

#include <cstdint>
#include <utility>
#include <vector>

using racket::detail::fragment_bitmap;

namespace {

std::vector<std::pair<std::uint32_t, std::uint32_t>> missing(const fragment_bitmap& b, std::size_t max = 1000) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  b.for_each_missing(max, [&](std::uint32_t first, std::uint32_t last) { out.emplace_back(first, last); });
  return out;
}

}  // namespace

TEST_CASE("fragment_bitmap counts and refuses a second set", "[reassembly]") {
  fragment_bitmap b{130};
  CHECK(b.size() == 130);
  CHECK(b.received() == 0);
  CHECK_FALSE(b.complete());
  CHECK(b.set(0));
  CHECK_FALSE(b.set(0));
  CHECK(b.set(129));
  CHECK(b.test(129));
  CHECK_FALSE(b.test(128));
  CHECK(b.received() == 2);
  for (std::uint32_t i = 1; i < 129; ++i) CHECK(b.set(i));
  CHECK(b.complete());
  CHECK(missing(b).empty());
  CHECK(fragment_bitmap::bytes_for(130) == 24);
  CHECK(fragment_bitmap::bytes_for(1u << 20) == 131072);
}

TEST_CASE("fragment_bitmap lists missing runs across word boundaries", "[reassembly]") {
  fragment_bitmap b{200};
  using runs = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
  CHECK(missing(b) == runs{{0, 199}});
  b.set(5);
  b.set(63);
  b.set(64);
  b.set(199);
  CHECK(missing(b) == runs{{0, 4}, {6, 62}, {65, 198}});
  CHECK(missing(b, 2) == runs{{0, 4}, {6, 62}});
  for (std::uint32_t i = 65; i < 128; ++i) b.set(i);
  CHECK(missing(b) == runs{{0, 4}, {6, 62}, {128, 198}});
  fragment_bitmap one{1};
  CHECK(missing(one) == runs{{0, 0}});
  one.set(0);
  CHECK(missing(one).empty());
  CHECK(one.complete());
}
