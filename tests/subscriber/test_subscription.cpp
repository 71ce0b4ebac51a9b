// SPDX-License-Identifier: MIT
// racket::subscription: the RAII handle cancels exactly once, on unsubscribe or destruction,
// and moves its handle along.
#include "racket/subscription.hpp"

#include "catch.hpp"

#include <cstdint>
#include <utility>
#include <vector>

namespace {

struct canceller {
  std::vector<std::uint64_t> cancelled;
  racket::subscription make(std::uint64_t handle) {
    return racket::subscription([this](std::uint64_t h) { cancelled.push_back(h); }, handle);
  }
};

}  // namespace

TEST_CASE("a subscription cancels once, when dropped or unsubscribed", "[subscriber][subscription]") {
  canceller c;
  {
    auto s = c.make(1);
    CHECK(s.active());
  }
  CHECK(c.cancelled == std::vector<std::uint64_t>{1});
  auto s = c.make(2);
  s.unsubscribe();
  CHECK_FALSE(s.active());
  s.unsubscribe();
  CHECK(c.cancelled == std::vector<std::uint64_t>{1, 2});
  const racket::subscription empty;
  CHECK_FALSE(empty.active());
}

TEST_CASE("moving a subscription moves the handle, and assigning over one cancels it", "[subscriber][subscription]") {
  canceller c;
  auto a = c.make(1);
  auto b = std::move(a);
  CHECK_FALSE(a.active());  // NOLINT(bugprone-use-after-move): moved-from is inactive by contract
  CHECK(b.active());
  CHECK(c.cancelled.empty());
  b = c.make(2);  // 1 is cancelled, 2 taken over
  CHECK(c.cancelled == std::vector<std::uint64_t>{1});
  CHECK(b.active());
  b = racket::subscription{};
  CHECK(c.cancelled == std::vector<std::uint64_t>{1, 2});
  CHECK_FALSE(b.active());
}
