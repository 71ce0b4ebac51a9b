// SPDX-License-Identifier: MIT
// detail::large_value_cache: a stream's large cached values and when each is re-sent.
#include "racket/detail/publisher/large_values.hpp"

#include "catch.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {
using clock_type = std::chrono::steady_clock;
using tp = clock_type::time_point;
using cache = racket::detail::large_value_cache<tp>;

cache::value value(std::uint64_t seq, std::uint32_t interval_ms) {
  return {std::make_shared<const std::vector<std::byte>>(100), seq, 1, 2, interval_ms, {}};
}
}  // namespace

TEST_CASE("large_value_cache stores, replaces and removes by subject", "[publisher][large_values]") {
  cache c;
  const tp t0{};
  CHECK(c.store("a", value(1, 1000), t0));
  CHECK_FALSE(c.store("a", value(2, 500), t0));
  CHECK(c.size() == 1);
  CHECK(c.contains("a"));
  CHECK(c.remove("b") == 0);
  CHECK(c.remove("a") == 500);
  CHECK(c.empty());
}

TEST_CASE("large_value_cache: each value is due an interval after it was stored, then every interval", "[publisher][large_values]") {
  cache c;
  const tp t0{};
  c.store("a", value(1, 1000), t0);
  c.store("b", value(2, 300), t0);
  CHECK(c.next_due() == t0 + 300ms);
  std::vector<std::string> due;
  c.take_due(t0 + 299ms, [&](std::string_view s, const cache::value&) { due.emplace_back(s); });
  CHECK(due.empty());
  c.take_due(t0 + 300ms, [&](std::string_view s, const cache::value& v) {
    due.emplace_back(s);
    CHECK(v.sequence == 2);
  });
  CHECK(due == std::vector<std::string>{"b"});
  CHECK(c.next_due() == t0 + 600ms);
  // Far behind: the next one is an interval from now, not a burst of the missed ones.
  due.clear();
  c.take_due(t0 + 5000ms, [&](std::string_view s, const cache::value&) { due.emplace_back(s); });
  CHECK(due.size() == 2);
  CHECK(c.next_due() == t0 + 5300ms);
}
