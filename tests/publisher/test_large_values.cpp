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
  return {racket::detail::copy_bytes(std::vector<std::byte>(100)), seq, 1, 2, interval_ms, {}};
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

TEST_CASE("copy_bytes owns a copy, share_bytes keeps the caller's bytes alive without copying",
          "[publisher][large_values]") {
  std::vector<std::byte> src(1000, std::byte{3});
  const auto copy = racket::detail::copy_bytes(src);
  CHECK(copy->size() == 1000);
  CHECK(copy->data() != src.data());
  src[0] = std::byte{9};
  CHECK((*copy)[0] == std::byte{3});  // a copy: the caller's later writes do not reach it

  auto owned = std::make_shared<const std::vector<std::byte>>(2000, std::byte{5});
  const std::byte* where = owned->data();
  std::weak_ptr<const std::vector<std::byte>> watch = owned;
  auto shared = racket::detail::share_bytes(owned, *owned);
  owned.reset();
  CHECK_FALSE(watch.expired());  // the shared bytes hold the caller's value
  CHECK(shared->data() == where);  // the same bytes, not a copy
  CHECK(shared->size() == 2000);
  auto other = shared;  // what the cache, the recent store and the sends each hold
  shared.reset();
  CHECK_FALSE(watch.expired());
  other.reset();
  CHECK(watch.expired());  // the last holder gone: the caller's value freed
}
