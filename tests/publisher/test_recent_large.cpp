// SPDX-License-Identifier: MIT
// detail::recent_large: the large messages a publisher sent lately, kept for fragment repair
// within a byte budget and an age.
#include "racket/detail/publisher/recent_large.hpp"

#include "catch.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {
struct stream {};
using tp = std::chrono::steady_clock::time_point;
using store = racket::detail::recent_large<stream, tp>;

store::entry message(stream& s, std::uint64_t sequence, std::size_t size, tp sent) {
  return {&s, "files.m" + std::to_string(sequence), racket::detail::copy_bytes(std::vector<std::byte>(size)), sequence,
          7, 9, 0, sent};
}
}  // namespace

TEST_CASE("recent_large finds a message by stream and sequence", "[publisher][recent_large]") {
  stream a, b;
  store r{1000, 2000ms};
  const tp t0{};
  r.add(message(a, 1, 100, t0));
  r.add(message(b, 1, 100, t0));
  r.add(message(a, 2, 100, t0));
  REQUIRE(r.find(&a, 1) != nullptr);
  CHECK(r.find(&a, 1)->subject == "files.m1");
  CHECK(r.find(&a, 1)->stream == &a);
  CHECK(r.find(&b, 1)->stream == &b);
  CHECK(r.find(&a, 2) != nullptr);
  CHECK(r.find(&b, 2) == nullptr);
  CHECK(r.find(&a, 3) == nullptr);
  CHECK(r.size() == 3);
  CHECK(r.bytes() == 300);
}

TEST_CASE("recent_large keeps the newest messages within its byte budget", "[publisher][recent_large]") {
  stream a;
  store r{1000, 2000ms};
  const tp t0{};
  for (std::uint64_t seq = 1; seq <= 4; ++seq) r.add(message(a, seq, 300, t0));
  // 1200 bytes asked for, 1000 allowed: the oldest went.
  CHECK(r.find(&a, 1) == nullptr);
  CHECK(r.find(&a, 2) != nullptr);
  CHECK(r.find(&a, 4) != nullptr);
  CHECK(r.bytes() == 900);
  // One larger than the whole budget is not kept, and takes nothing with it.
  r.add(message(a, 5, 1001, t0));
  CHECK(r.find(&a, 5) == nullptr);
  CHECK(r.bytes() == 900);
  // One of the whole budget pushes out everything else.
  r.add(message(a, 6, 1000, t0));
  CHECK(r.size() == 1);
  CHECK(r.find(&a, 6) != nullptr);
  CHECK(r.find(&a, 4) == nullptr);
}

TEST_CASE("recent_large lets messages go at its age limit, and keeps none when told", "[publisher][recent_large]") {
  stream a;
  store r{1 << 20, 2000ms};
  const tp t0{};
  CHECK(r.next_expiry() == tp::max());
  r.add(message(a, 1, 100, t0));
  r.add(message(a, 2, 100, t0 + 500ms));
  CHECK(r.next_expiry() == t0 + 2000ms);
  r.prune(t0 + 1999ms);
  CHECK(r.size() == 2);
  r.prune(t0 + 2000ms);
  CHECK(r.find(&a, 1) == nullptr);
  CHECK(r.find(&a, 2) != nullptr);
  CHECK(r.next_expiry() == t0 + 2500ms);
  r.prune(t0 + 3000ms);
  CHECK(r.size() == 0);
  CHECK(r.bytes() == 0);

  store none_by_bytes{0, 2000ms};
  none_by_bytes.add(message(a, 1, 100, t0));
  CHECK(none_by_bytes.size() == 0);
  store none_by_age{1 << 20, 0ms};
  none_by_age.add(message(a, 1, 100, t0));
  CHECK(none_by_age.size() == 0);
}

TEST_CASE("recent_large holds the payload it is given, not a copy, until it lets go", "[publisher][recent_large]") {
  stream a;
  store r{1 << 20, 2000ms};
  const tp t0{};
  auto e = message(a, 1, 100, t0);
  const std::weak_ptr<const std::span<const std::byte>> watch = e.payload;
  const auto* data = e.payload->data();
  r.add(std::move(e));
  CHECK(r.find(&a, 1)->payload->data() == data);
  CHECK_FALSE(watch.expired());
  r.clear();
  CHECK(watch.expired());
  CHECK(r.find(&a, 1) == nullptr);
}
