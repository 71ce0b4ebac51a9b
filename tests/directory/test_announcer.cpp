// SPDX-License-Identifier: MIT
// A node's announcer alone: when it announces (the first within 100-200 ms, then period
// ±20 %), how entries split into datagrams (by channel, 64 at most, the size), the rate on the
// wire, and the identity it names (the system's, or the options' overrides, cut to the wire's
// limits).
#include "racket/detail/announce/announcer.hpp"

#include "catch.hpp"

#include <asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;

namespace {

using time_point = std::chrono::steady_clock::time_point;
namespace wire = racket::wire;
namespace detail = racket::detail;
using item = detail::announce_item<wire::announced_publication>;

racket::endpoint channel(const char* group) { return {asio::ip::make_address(group), 19094}; }

}  // namespace

TEST_CASE("the first announcement comes 100-200 ms after the first stream, then every period ±20 %",
          "[directory][announce]") {
  detail::splitmix64 rng(1);
  const time_point t0{};
  detail::announce_schedule<time_point> s(5000ms);
  REQUIRE(s.enabled());
  CHECK(s.period_ms() == 5000);
  for (int i = 0; i < 1000; ++i) {
    detail::announce_schedule<time_point> fresh(5000ms);
    const auto first = fresh.started(t0, rng);
    CHECK(first >= t0 + 100ms);
    CHECK(first <= t0 + 200ms);
    const auto next = fresh.sent(first, rng);
    CHECK(next >= first + 4000ms);
    CHECK(next < first + 6000ms);
  }
  // A stream that appears later does not delay an announcement due sooner, and brings a later one forward.
  const auto due = s.sent(t0, rng);
  CHECK(s.started(t0 + 10ms, rng) <= t0 + 210ms);
  CHECK(s.next() < due);
  const auto soon = s.next();
  CHECK(s.started(t0 + 300ms, rng) == soon);  // due sooner already: unchanged

  CHECK_FALSE(detail::announce_schedule<time_point>(0ms).enabled());
  CHECK_FALSE(detail::announce_schedule<time_point>(-5ms).enabled());
  CHECK(detail::announce_schedule<time_point>(48h).period_ms() == 86'400'000);
  // A period under 100 ms: the first within one to two periods.
  detail::announce_schedule<time_point> fast(20ms);
  const auto first = fast.started(t0, rng);
  CHECK(first >= t0 + 20ms);
  CHECK(first <= t0 + 40ms);
}

TEST_CASE("entries go out by channel, at most 64 and as many as fit per datagram", "[directory][announce]") {
  std::vector<std::string> names;
  for (int i = 0; i < 150; ++i) names.push_back("s" + std::to_string(i));
  std::vector<item> items;
  for (int i = 0; i < 100; ++i) items.push_back({channel("239.255.1.1"), {.stream = names[static_cast<std::size_t>(i)]}});
  for (int i = 100; i < 150; ++i) items.push_back({channel("239.255.1.2"), {.stream = names[static_cast<std::size_t>(i)]}});
  const std::string huge(255, 'h');
  items.push_back({channel("239.255.1.3"), {.stream = huge}});

  detail::announcer<time_point> a(wire::announce_role::publisher, 7, 1000ms, {"host", 9, "prog"}, 1452);
  detail::splitmix64 rng(2);
  std::vector<std::pair<racket::endpoint, std::size_t>> sent;
  std::size_t total = 0;
  a.announce(time_point{}, rng, std::span<const item>(items), [&](const racket::endpoint& to, std::span<const std::byte> d) {
    std::error_code ec;
    const auto v = wire::decode_announcement(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(d.size() <= 1452);
    CHECK(v.sender_id() == 7);
    CHECK(v.header().host == "host");
    CHECK(v.header().period_ms == 1000);
    sent.emplace_back(to, v.entry_count());
    total += v.entry_count();
  });
  REQUIRE(sent.size() == 4);
  CHECK(sent[0] == std::make_pair(channel("239.255.1.1"), std::size_t{64}));
  CHECK(sent[1] == std::make_pair(channel("239.255.1.1"), std::size_t{36}));
  CHECK(sent[2] == std::make_pair(channel("239.255.1.2"), std::size_t{50}));
  CHECK(sent[3] == std::make_pair(channel("239.255.1.3"), std::size_t{1}));
  CHECK(total == 151);
  CHECK(a.datagrams_sent() == 4);

  // A datagram too small for an entry: that entry is skipped, the others still go.
  detail::announcer<time_point> small(wire::announce_role::publisher, 7, 1000ms, {"host", 9, "prog"}, 200);
  std::size_t small_total = 0;
  small.announce(time_point{}, rng, std::span<const item>(items), [&](const racket::endpoint&, std::span<const std::byte> d) {
    std::error_code ec;
    small_total += wire::decode_announcement(d, ec).entry_count();
    CHECK_FALSE(ec);
  });
  CHECK(small_total == 150);
}

TEST_CASE("sort_by_channel groups a channel's entries and keeps their order", "[directory][announce]") {
  std::vector<item> items{{channel("239.255.1.2"), {.stream = "a"}},
                          {channel("239.255.1.1"), {.stream = "b"}},
                          {channel("239.255.1.2"), {.stream = "c"}}};
  detail::sort_by_channel(items);
  CHECK(items[0].entry.stream == "b");
  CHECK(items[1].entry.stream == "a");
  CHECK(items[2].entry.stream == "c");
}

TEST_CASE("the rate on the wire is messages per second times 1000", "[directory][announce]") {
  CHECK(detail::rate_milli(10, 4s) == 2500);
  CHECK(detail::rate_milli(0, 5s) == 0);
  CHECK(detail::rate_milli(5, 0s) == 0);
  CHECK(detail::rate_milli(1, 3s) == 333);
  CHECK(detail::rate_milli(~std::uint64_t{0}, 1ns) == ~std::uint64_t{0});
}

TEST_CASE("the identity is the system's, with the options' overrides cut to the wire's limits",
          "[directory][announce]") {
  const auto& sys = detail::system_identity();
  CHECK_FALSE(sys.host.empty());
  CHECK(sys.host.size() <= 255);
  CHECK(sys.pid != 0);
  CHECK(sys.program == "test_directory_");  // /proc/self/comm keeps 15 bytes of test_directory_announcer
  const auto same = detail::make_identity("", 0, "");
  CHECK(same.host == sys.host);
  CHECK(same.pid == sys.pid);
  const auto over = detail::make_identity(std::string(300, 'x') + "", 42, std::string("a\0b\nc", 5));
  CHECK(over.host == std::string(255, 'x'));
  CHECK(over.pid == 42);
  CHECK(over.program == "abc");
  CHECK(detail::make_identity(std::string("\0", 1), 0, "").host == sys.host);  // nothing left: the system's
}
