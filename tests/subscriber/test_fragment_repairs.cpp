// SPDX-License-Identifier: MIT
// detail::fragment_repairs: which missing fragments of stalled messages are asked for, when,
// how often, and how many runs at most.
#include "racket/detail/subscriber/fragment_repairs.hpp"

#include "catch.hpp"

#include "racket/detail/reassembly/fragment_bitmap.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;
using run = std::pair<std::uint32_t, std::uint32_t>;

const time_point t0{};

// What the repairs read of a message in progress.
struct message {
  std::uint64_t publisher = 7;
  std::uint64_t seq = 42;
  racket::detail::fragment_bitmap bits;
  time_point progressed{};
  std::uint64_t publisher_id() const noexcept { return publisher; }
  std::uint64_t sequence() const noexcept { return seq; }
  const racket::detail::fragment_bitmap& fragments() const noexcept { return bits; }
};

struct fake_reassembler {
  std::vector<message> messages;
  template <class F>
  void for_each_in_progress(F&& f) const {
    for (const message& m : messages) f(std::string_view("st"), m, m.progressed);
  }
};

struct asked {
  std::uint64_t publisher;
  std::uint64_t sequence;
  std::vector<run> runs;
};

struct fixture {
  fake_reassembler r;
  racket::detail::fragment_repairs<time_point> repairs{20ms};
  std::vector<asked> out;

  time_point scan(time_point now) {
    return repairs.scan(r, now, [this](std::string_view stream, std::uint64_t p, std::uint64_t s, std::span<const run> runs) {
      CHECK(stream == "st");
      out.push_back({p, s, std::vector<run>(runs.begin(), runs.end())});
    });
  }

  // A message of `n` fragments with every index received but those in `missing`.
  void add(std::uint32_t n, const std::vector<std::uint32_t>& missing, time_point progressed) {
    message m;
    m.bits = racket::detail::fragment_bitmap(n);
    for (std::uint32_t i = 0; i < n; ++i)
      if (std::find(missing.begin(), missing.end(), i) == missing.end()) m.bits.set(i);
    m.progressed = progressed;
    r.messages.push_back(std::move(m));
  }
};

}  // namespace

TEST_CASE("fragment_repairs: a message that stalled for the delay has its missing runs asked for, not before",
          "[subscriber][fragment_repairs]") {
  fixture f;
  f.add(100, {3, 4, 5, 50, 98, 99}, t0);
  CHECK(f.scan(t0 + 10ms) == t0 + 20ms);  // still arriving: not yet
  CHECK(f.out.empty());
  const time_point next = f.scan(t0 + 20ms);
  REQUIRE(f.out.size() == 1);
  CHECK(f.out[0].publisher == 7);
  CHECK(f.out[0].sequence == 42);
  CHECK(f.out[0].runs == std::vector<run>{{3, 5}, {50, 50}, {98, 99}});  // holes and the lost tail
  CHECK(next == t0 + 60ms);  // the next round: twice the delay later
}

TEST_CASE("fragment_repairs: rounds back off, stop after the sixth, and progress postpones them",
          "[subscriber][fragment_repairs]") {
  fixture f;
  f.add(10, {9}, t0);
  time_point now = t0 + 20ms;
  std::vector<time_point> asked_at;
  for (int i = 0; i < 200; ++i, now += 10ms) {
    const std::size_t before = f.out.size();
    f.scan(now);
    if (f.out.size() != before) asked_at.push_back(now);
  }
  REQUIRE(asked_at.size() == racket::detail::max_fragment_repair_rounds);
  CHECK(asked_at[1] - asked_at[0] == 40ms);
  CHECK(asked_at[2] - asked_at[1] == 80ms);
  CHECK(asked_at[3] - asked_at[2] == 160ms);

  fixture g;
  g.add(10, {9}, t0);
  g.scan(t0 + 20ms);
  REQUIRE(g.out.size() == 1);
  g.r.messages[0].progressed = t0 + 55ms;  // an answer brought fragments meanwhile
  CHECK(g.scan(t0 + 60ms) == t0 + 75ms);   // stalled again only 20 ms after that
  CHECK(g.out.size() == 1);
  g.scan(t0 + 75ms);
  CHECK(g.out.size() == 2);
}

TEST_CASE("fragment_repairs: at most 256 runs a round, the lowest, the rest in the next rounds",
          "[subscriber][fragment_repairs]") {
  fixture f;
  std::vector<std::uint32_t> missing;
  for (std::uint32_t i = 0; i < 5000; i += 3) missing.push_back(i);  // 1667 one-fragment runs
  f.add(5000, missing, t0);
  f.scan(t0 + 20ms);
  REQUIRE(f.out.size() == 1);
  const auto& runs = f.out[0].runs;
  REQUIRE(runs.size() == racket::detail::max_fragment_repair_runs);
  for (std::size_t k = 0; k < runs.size(); ++k) CHECK(runs[k] == run{3 * k, 3 * k});
  // Answers came in (the first 256 now received): the next round asks for the next runs.
  for (std::size_t k = 0; k < 256; ++k) f.r.messages[0].bits.set(static_cast<std::uint32_t>(3 * k));
  f.r.messages[0].progressed = t0 + 30ms;
  f.scan(t0 + 50ms);
  REQUIRE(f.out.size() == 2);
  CHECK(f.out[1].runs.front() == run{768, 768});
}

TEST_CASE("fragment_repairs: messages no longer in progress are forgotten, and a zero delay never asks",
          "[subscriber][fragment_repairs]") {
  fixture f;
  f.add(10, {1}, t0);
  f.scan(t0 + 20ms);
  CHECK(f.repairs.tracked() == 1);
  f.r.messages.clear();
  CHECK(f.scan(t0 + 30ms) == time_point::max());
  CHECK(f.repairs.tracked() == 0);

  fake_reassembler r;
  racket::detail::fragment_repairs<time_point> off{0ms};
  CHECK_FALSE(off.enabled());
  int calls = 0;
  CHECK(off.scan(r, t0 + 1s, [&](auto&&...) { ++calls; }) == time_point::max());
  CHECK(calls == 0);
}
