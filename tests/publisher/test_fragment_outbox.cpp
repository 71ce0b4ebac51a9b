// SPDX-License-Identifier: MIT
// detail::fragment_outbox: large messages cut into fragments, sent a turn of at most
// fragment_turn_datagrams at a time, in GSO runs of full datagrams.
#include "racket/detail/publisher/fragment_outbox.hpp"

#include "catch.hpp"
#include "room_fakes.hpp"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

using namespace room_test;

namespace {

struct stream {
  std::string name = "files";
  racket::endpoint ep{};
  racket::detail::publisher_stream_counters counters{};
};

racket::detail::shared_bytes bytes_of_size(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>(i * 7);
  return racket::detail::copy_bytes(v);
}

}  // namespace

TEST_CASE("fragment_outbox sends a message in turns of at most 256 datagrams, in index order", "[publisher][fragment_outbox]") {
  stream s;
  recording_sender sender;
  racket::detail::fragment_outbox<stream> box(1, 1452);
  const auto payload = bytes_of_size(1'000'000);
  REQUIRE(box.add(s, "a.b", payload, 1000, 5, 123, 0xABCDEF, false));
  CHECK(box.live_bytes() == 1'000'000);
  int turns = 0;
  while (box.pump(sender)) {
    ++turns;
    CHECK(sender.log.size() == static_cast<std::size_t>(turns) * racket::detail::fragment_turn_datagrams);
  }
  ++turns;
  CHECK(box.empty());
  CHECK(box.live_bytes() == 0);
  std::vector<std::byte> rebuilt(payload->size());
  std::uint32_t expect = 0;
  std::size_t in_run = 0;
  for (const auto& d : sender.log) {
    std::error_code ec;
    const auto fd = racket::wire::decode_fragment(d.bytes, ec);
    REQUIRE_FALSE(ec);
    CHECK(fd.frag.index == expect++);
    CHECK(fd.frag.sequence == 5);
    CHECK_FALSE(fd.frag.resend());
    std::copy(fd.frag.bytes.begin(), fd.frag.bytes.end(), rebuilt.begin() + static_cast<std::ptrdiff_t>(fd.frag.offset()));
    // Runs: at most 45 datagrams of 1452 bytes (65507 / 1452), all full but a run's last.
    if (d.run_length > 1) {
      CHECK(in_run == 0);
      CHECK(d.run_length <= 45);
      in_run = d.run_length;
    }
    if (in_run > 1) CHECK(d.bytes.size() == 1452);
    if (in_run > 0) --in_run;
  }
  CHECK(std::ranges::equal(rebuilt, *payload));
  CHECK(turns == static_cast<int>((sender.log.size() + 255) / 256));
  CHECK(s.counters.fragments_sent.load() == sender.log.size());
  CHECK(s.counters.datagrams_sent.load() == 2 * sender.log.size());  // the fake's two interfaces
}

TEST_CASE("fragment_outbox: a resend still queued is not queued twice, and is flagged resend", "[publisher][fragment_outbox]") {
  stream s;
  recording_sender sender;
  racket::detail::fragment_outbox<stream> box(1, 1452);
  const auto payload = bytes_of_size(10'000);
  REQUIRE(box.add(s, "a.b", payload, 1000, 5, 123, 0xABCDEF, true));
  REQUIRE(box.add(s, "a.b", payload, 1000, 5, 123, 0xABCDEF, true));
  CHECK(box.live_bytes() == 0);
  CHECK_FALSE(box.pump(sender));
  REQUIRE_FALSE(sender.log.empty());
  std::uint32_t expect = 0;
  for (const auto& d : sender.log) {
    std::error_code ec;
    const auto fd = racket::wire::decode_fragment(d.bytes, ec);
    REQUIRE_FALSE(ec);
    CHECK(fd.frag.resend());
    CHECK(fd.frag.index == expect++);  // one copy: indexes 0..n-1 once
    CHECK(fd.frag.fragment_count() == sender.log.size());
  }
}

TEST_CASE("fragment_outbox refuses a message whose names leave no room for a fragment", "[publisher][fragment_outbox]") {
  stream s;
  s.name = std::string(255, 's');
  racket::detail::fragment_outbox<stream> box(1, 300);
  CHECK_FALSE(box.add(s, std::string(200, 'x'), bytes_of_size(1000), 1000, 5, 123, 1, false));
  CHECK(box.empty());
}

TEST_CASE("fragment_outbox: fragment ranges of a cached message are sent, clamped, once, and bounded",
          "[publisher][fragment_outbox]") {
  stream s;
  recording_sender sender;
  racket::detail::fragment_outbox<stream> box(1, 1452);
  const auto payload = bytes_of_size(100'000);  // some 72 fragments
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges{{10, 12}, {70, 500}, {900, 901}, {3, 3}};
  CHECK(box.add_ranges(s, "a.b", payload, 1000, 5, 123, 0xABCDEF, ranges) == 3);  // 900..901: past the end
  CHECK(box.live_bytes() == 0);
  // The same ranges again while queued: nothing new.
  CHECK(box.add_ranges(s, "a.b", payload, 1000, 5, 123, 0xABCDEF, ranges) == 0);
  CHECK_FALSE(box.pump(sender));
  CHECK(box.empty());
  std::vector<std::uint32_t> sent;
  std::uint32_t count = 0;
  for (const auto& d : sender.log) {
    std::error_code ec;
    const auto fd = racket::wire::decode_fragment(d.bytes, ec);
    REQUIRE_FALSE(ec);
    CHECK(fd.frag.resend());
    CHECK(fd.frag.sequence == 5);
    sent.push_back(fd.frag.index);
    count = fd.frag.fragment_count();
  }
  REQUIRE(count > 70);
  std::vector<std::uint32_t> expected{3, 10, 11, 12};
  for (std::uint32_t i = 70; i < count; ++i) expected.push_back(i);  // 70..500 clamped to the last
  CHECK(sent == expected);
  CHECK(s.counters.fragments_sent.load() == expected.size());

  // A whole send queued covers the ranges it has still to send.
  REQUIRE(box.add(s, "a.b", payload, 1000, 5, 123, 0xABCDEF, true));
  CHECK(box.add_ranges(s, "a.b", payload, 1000, 5, 123, 0xABCDEF, ranges) == 0);
  box.clear();

  // At most max_fragment_answers answers queued.
  for (std::size_t i = 0; i < racket::detail::max_fragment_answers; ++i)
    CHECK(box.add_ranges(s, "a.b", payload, 1000, 100 + i, 123, 0xABCDEF, ranges) == 3);
  CHECK(box.add_ranges(s, "a.b", payload, 1000, 999, 123, 0xABCDEF, ranges) == 0);
}

TEST_CASE("fragment_outbox: answers to fragment ranges go before the sends queued earlier, which then go on",
          "[publisher][fragment_outbox]") {
  stream s;
  recording_sender sender;
  racket::detail::fragment_outbox<stream> box(1, 1452);
  const auto big = bytes_of_size(1'000'000);  // some 730 fragments: three turns
  const auto old = bytes_of_size(100'000);
  REQUIRE(box.add(s, "a.live", big, 0, 9, 123, 0x1111, false));
  REQUIRE(box.pump(sender));  // the live send's first turn
  const std::size_t first_turn = sender.log.size();
  const std::vector<std::pair<std::uint32_t, std::uint32_t>> r1{{4, 5}}, r2{{7, 7}};
  CHECK(box.add_ranges(s, "a.old", old, 0, 3, 123, 0x2222, r1) == 1);
  CHECK(box.add_ranges(s, "a.old", old, 0, 2, 123, 0x3333, r2) == 1);
  while (box.pump(sender)) {
  }
  // Next on the wire: the two answers in the order they came, then the live send from where
  // it stopped, each of its fragments once.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> order;
  for (std::size_t k = first_turn; k < sender.log.size(); ++k) {
    std::error_code ec;
    const auto fd = racket::wire::decode_fragment(sender.log[k].bytes, ec);
    REQUIRE_FALSE(ec);
    order.emplace_back(fd.frag.sequence, fd.frag.index);
  }
  REQUIRE(order.size() >= 3);
  CHECK(order[0] == std::pair<std::uint64_t, std::uint32_t>{3, 4});
  CHECK(order[1] == std::pair<std::uint64_t, std::uint32_t>{3, 5});
  CHECK(order[2] == std::pair<std::uint64_t, std::uint32_t>{2, 7});
  std::vector<std::uint32_t> live;
  for (const auto& d : sender.log) {
    std::error_code ec;
    const auto fd = racket::wire::decode_fragment(d.bytes, ec);
    if (fd.frag.sequence == 9) live.push_back(fd.frag.index);
  }
  REQUIRE_FALSE(live.empty());
  for (std::size_t i = 0; i < live.size(); ++i) CHECK(live[i] == i);  // in order, none twice, none missing
  std::error_code ec;
  CHECK(live.size() == racket::wire::decode_fragment(sender.log.front().bytes, ec).frag.fragment_count());
  CHECK(box.empty());
  CHECK(box.live_bytes() == 0);
}
