// SPDX-License-Identifier: MIT
// detail::large_sender over the simulated network: a large message goes out in paced turns,
// async_flush's wait ends after its last one, its tail probes and periodic resends follow, a
// request's fragment ranges are answered, and a close drops what is left.
#include "racket/detail/publisher/large_sender.hpp"
#include "racket/wire.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "sim/sim_test.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

namespace {

// What the large sender uses of a stream.
struct stream {
  std::string name = "plant";
  racket::endpoint ep = sim_test::group();
  std::uint64_t next_sequence = 1;
  racket::detail::large_value_cache<sim::clock::time_point> large;
  bool has_large = false;
  racket::detail::publisher_stream_counters counters;
};

using sender_type = racket::detail::large_sender<sim::transport, sim::clock, stream>;

// A publisher's node with a large sender (bound to itself: here nothing else owns it) and a
// subscriber's node that counts the datagrams heard on the stream's group.
struct rig {
  rig() {
    transport.open(racket::address_family::v4);
    heard_on.open(racket::address_family::v4);
    heard_on.open_receiver(sim_test::group(), [this](std::span<const std::byte>, const racket::receive_info&) { ++heard; });
    large->bind(large);
  }

  // Publishes `size` bytes on `s` as the stream's next message.
  void publish(stream& s, std::size_t size, std::uint32_t interval_ms) {
    auto bytes = racket::detail::copy_bytes(std::vector<std::byte>(size, std::byte{7}));
    const std::uint64_t hash = racket::wire::content_hash(s.name, "files.a", std::span<const std::byte>(*bytes));
    large->publish(s, "files.a", std::move(bytes), hash, s.next_sequence++, 99, interval_ms, sim::clock::now());
  }

  sim_test::pub_sub_lan lan;
  sim::transport transport{lan.pub_node, {}};
  racket::detail::transport_gate<sim::transport> gate{transport};
  std::shared_ptr<sender_type> large = std::make_shared<sender_type>(transport, gate, 42, racket::publisher_options{});
  sim::transport heard_on{lan.sub_node, {}};
  std::size_t heard = 0;
};

}  // namespace

TEST_CASE("large_sender: a one-shot message goes out in turns, the flush wait ends after the last, then 3 tail probes",
          "[publisher][large_sender]") {
  rig r;
  stream s;
  r.publish(s, 1 << 20, 0);
  const std::uint64_t first_turn = s.counters.fragments_sent.load();
  CHECK(first_turn == racket::detail::fragment_turn_datagrams);  // one turn at once, the rest posted
  std::optional<std::error_code> flushed;
  r.large->when_sent([&](std::error_code ec) { flushed = ec; });
  CHECK_FALSE(flushed.has_value());

  r.lan.net.run_for(1ms);
  REQUIRE(flushed.has_value());
  CHECK_FALSE(*flushed);
  const std::uint64_t n = s.counters.fragments_sent.load();
  CHECK(n > 2 * first_turn);  // three turns at least
  CHECK(r.heard == n);
  CHECK(s.counters.cached_subjects.load() == 0);  // one-shot: not cached

  r.lan.net.run_for(200ms);  // 10, 40 and 130 ms after the last fragment: the recent store still holds it
  CHECK(s.counters.tail_probes.load() == 3);
  CHECK(s.counters.fragments_sent.load() == n + 3);
  CHECK(s.counters.resent.load() == 0);

  bool at_once = false;
  r.large->when_sent([&](std::error_code ec) { at_once = !ec; });
  CHECK(at_once);  // nothing under way
}

TEST_CASE("large_sender: a cached value is resent every interval, a small record drops it, a close ends the waits",
          "[publisher][large_sender]") {
  rig r;
  stream s;
  r.publish(s, 100000, 100);
  CHECK(s.counters.cached_subjects.load() == 1);
  r.lan.net.run_for(250ms);
  CHECK(s.counters.resent.load() == 2);  // at 100 and 200 ms
  CHECK(s.counters.tail_probes.load() == 3);

  CHECK(r.large->drop(s, "files.a") == 100);
  CHECK(s.counters.cached_subjects.load() == 0);
  CHECK(r.large->drop(s, "files.a") == 0);
  r.lan.net.run_for(250ms);
  CHECK(s.counters.resent.load() == 2);

  r.publish(s, 1 << 20, 0);  // one turn goes, the rest is dropped by the close
  std::optional<std::error_code> flushed;
  r.large->when_sent([&](std::error_code ec) { flushed = ec; });
  r.large->close();
  REQUIRE(flushed.has_value());
  CHECK(*flushed == racket::errc::not_open);
  const std::uint64_t sent = s.counters.fragments_sent.load();
  r.lan.net.run_for(1s);
  CHECK(s.counters.fragments_sent.load() == sent);
  r.large->when_sent([&](std::error_code ec) { flushed = ec; });
  CHECK(*flushed == racket::errc::not_open);
}

TEST_CASE("large_sender: a request's fragment ranges of a held message are answered, of others ignored",
          "[publisher][large_sender]") {
  rig r;
  stream s;
  r.publish(s, 100000, 0);
  r.lan.net.run_for(1s);  // sent, probed; still among the recent ones (2 s)
  const std::uint64_t sent = s.counters.fragments_sent.load();

  std::vector<std::byte> buf(1500);
  const racket::wire::fragment_range ranges[] = {{.sequence = 1, .first = 3, .last = 5},
                                                 {.sequence = 7, .first = 0, .last = 1}};
  const auto encoded = racket::wire::encode_request(
      buf, {.requester_id = 5, .stream = s.name, .target_publisher = 42, .fragments = ranges});
  REQUIRE_FALSE(encoded.empty());
  std::error_code ec;
  const auto req = racket::wire::decode_request(encoded, ec);
  REQUIRE_FALSE(ec);
  r.large->answer_fragments(s, req);
  r.lan.net.run_for(1ms);
  CHECK(s.counters.fragment_requests_answered.load() == 1);
  CHECK(s.counters.fragments_sent.load() == sent + 3);  // 3, 4 and 5 of message 1; nothing of 7
}
