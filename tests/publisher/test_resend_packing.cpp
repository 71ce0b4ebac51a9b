// SPDX-License-Identifier: MIT
// detail::pack_resends: a timer pass's resends into datagrams, first-fit decreasing.
#include "racket/detail/publisher/resend_packing.hpp"

#include "catch.hpp"
#include "racket/detail/publisher/cache.hpp"
#include "racket/detail/publisher/packer.hpp"
#include "room_fakes.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

using namespace room_test;

namespace {

struct cached_stream {
  std::string name = "st";
  racket::endpoint ep{};
  std::uint32_t ordinal = 0;
  racket::detail::open_datagram out{};
  racket::detail::publisher_stream_counters counters{};
  racket::detail::last_value_cache<time_point> cache{};
};

struct resend {
  cached_stream* stream;
  std::uint32_t slot;
};

struct fixture {
  recording_sender sender;
  racket::detail::packer<recording_sender, cached_stream> packer;
  racket::detail::slab values;
  std::vector<resend> due;

  explicit fixture(std::size_t max_datagram_size) : packer(sender, 9, max_datagram_size) {}

  // Caches `subject` with a payload of `size` bytes on `s` and adds it to the pass.
  void take(cached_stream& s, const std::string& subject, std::size_t size) {
    const std::string payload(size, 'v');
    const auto stored = s.cache.store(values, s.cache.find(subject), subject, bytes_of(payload), 1000,
                                      static_cast<std::uint64_t>(due.size() + 1), 5);
    due.push_back({&s, stored.index});
  }

  void pack() {
    racket::detail::pack_resends(packer, std::span<const resend>(due));
    packer.send_open();
    packer.clear_opened();
  }
};

}  // namespace

TEST_CASE("pack_resends: every datagram is topped up with the largest that still fit", "[publisher][resend_packing]") {
  // Two large records never share a datagram, one large and two small ones do. In the order
  // given (largest first), filling each datagram until a record does not fit takes four
  // datagrams (L, L, L+S+S, S+S+S+S); first-fit decreasing takes three (L+S+S each).
  fixture f{950};
  cached_stream s;
  for (int i = 0; i < 3; ++i) f.take(s, "large." + std::to_string(i), 470);
  for (int i = 0; i < 6; ++i) f.take(s, "small." + std::to_string(i), 190);
  f.pack();
  const auto& log = f.sender.log;
  REQUIRE(log.size() == 3);
  for (const auto& d : log) {
    REQUIRE(d.subjects.size() == 3);
    CHECK(d.subjects[0].rfind("large.", 0) == 0);
    CHECK(d.subjects[1].rfind("small.", 0) == 0);
    CHECK(d.subjects[2].rfind("small.", 0) == 0);
    for (std::uint8_t flags : d.flags) CHECK(flags == racket::wire::flags::resend);
  }
}

TEST_CASE("pack_resends: every resend goes once, stream by stream, also past a block", "[publisher][resend_packing]") {
  // 150 resends on a (three blocks of at most 64), 5 on b; each stream's largest first.
  auto take_all = [](fixture& f, cached_stream& a, cached_stream& b) {
    for (int i = 0; i < 150; ++i) f.take(a, "a." + std::to_string(i), static_cast<std::size_t>(400 - 2 * i));
    for (int i = 0; i < 5; ++i) f.take(b, "b." + std::to_string(i), static_cast<std::size_t>(100 - i));
  };
  fixture f{1452};
  cached_stream a{.name = "aa", .ordinal = 0};
  cached_stream b{.name = "bb", .ordinal = 1};
  take_all(f, a, b);
  f.pack();
  std::map<std::string, int> seen;
  for (const auto& d : f.sender.log) {
    const char stream_letter = d.subjects.at(0).at(0);
    for (const auto& subject : d.subjects) {
      ++seen[subject];
      CHECK(subject.at(0) == stream_letter);  // a datagram holds one stream's records
    }
  }
  CHECK(seen.size() == 155);
  for (const auto& [subject, n] : seen) CHECK(n == 1);

  // The same resends appended in their order, each datagram closed by the first record that
  // does not fit, take more datagrams.
  fixture in_order{1452};
  cached_stream a2{.name = "aa", .ordinal = 0};
  cached_stream b2{.name = "bb", .ordinal = 1};
  take_all(in_order, a2, b2);
  for (const auto& r : in_order.due)
    in_order.packer.append(*r.stream, racket::detail::cached_record(r.stream->cache[r.slot], racket::wire::flags::resend));
  in_order.packer.send_open();
  in_order.packer.clear_opened();
  CHECK(f.sender.log.size() < in_order.sender.log.size());
}
