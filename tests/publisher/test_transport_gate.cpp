// SPDX-License-Identifier: MIT
// transport_gate alone, over a fake transport: busy only inside a send, batches sent one by
// one where the transport has no send_batch, what became of the datagrams reported once, and
// (with libsodium) the datagrams of keyed streams leaving sealed, the others as they were.
#include "racket/detail/publisher/transport_gate.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "racket/simulation/transport.hpp"

#include <asio/ip/address.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <functional>
#include <span>
#include <vector>

namespace {

// Only what the gate calls; no send_batch, not thread safe.
struct fake_transport {
  using clock_type = std::chrono::steady_clock;
  std::function<racket::send_result()> next = [] { return racket::send_result{.ok = 1}; };
  std::function<void()> during_send;
  std::size_t sends = 0;
  std::vector<std::vector<std::byte>> sent;
  racket::send_result send(const racket::endpoint&, std::span<const std::byte> bytes) {
    ++sends;
    sent.emplace_back(bytes.begin(), bytes.end());
    if (during_send) during_send();
    return next();
  }
};

const racket::endpoint to{asio::ip::make_address("239.255.0.1"), 19090};

}  // namespace

TEST_CASE("transport_gate: busy inside a send only, and a batch sent datagram by datagram", "[transport_gate]") {
  fake_transport t;
  racket::detail::transport_gate<fake_transport> gate(t);
  bool busy_inside = false;
  t.during_send = [&] { busy_inside = gate.busy(); };
  const std::byte b[3]{};
  CHECK(gate.send(to, b).ok == 1);
  CHECK(busy_inside);
  CHECK_FALSE(gate.busy());
  CHECK_FALSE(gate.segments());  // the fake has no segmentation_offload
  std::vector<racket::outgoing_datagram> batch(3, racket::outgoing_datagram{to, b});
  gate.send_batch(batch);
  CHECK(t.sends == 4);
  for (const auto& d : batch) CHECK(d.result.ok == 1);
  CHECK_FALSE(gate.take_losses());
}

TEST_CASE("transport_gate: losses are a refusal first, then a drop, each reported once", "[transport_gate]") {
  fake_transport t;
  racket::detail::transport_gate<fake_transport> gate(t);
  const std::byte b[1]{};
  t.next = [] { return racket::send_result{.would_block = 1}; };
  (void)gate.send(to, b);
  CHECK(gate.take_losses() == std::errc::no_buffer_space);
  CHECK_FALSE(gate.take_losses());  // reset
  (void)gate.send(to, b);
  t.next = [] { return racket::send_result{.failed = 1}; };
  (void)gate.send(to, b);
  CHECK(gate.take_losses() == std::errc::io_error);  // a refusal outranks a drop
  t.next = [] { return racket::send_result{.ok = 1, .failed = 1}; };
  (void)gate.send(to, b);
  CHECK_FALSE(gate.take_losses());  // one interface took it: not lost
}

#if defined(RACKET_HAS_SODIUM) && RACKET_HAS_SODIUM
namespace {
std::vector<std::byte> datagram_of(std::string_view stream, std::size_t size) {
  std::vector<std::byte> d(size, std::byte{0x11});
  const char head[] = "RKTM\x03\x01";
  for (int i = 0; i < 6; ++i) d[static_cast<std::size_t>(i)] = static_cast<std::byte>(head[i]);
  d[16] = static_cast<std::byte>(stream.size());
  for (std::size_t i = 0; i < stream.size(); ++i) d[17 + i] = static_cast<std::byte>(stream[i]);
  return d;
}
}  // namespace

TEST_CASE("transport_gate: keyed streams leave sealed, one at a time and in a batch, others unchanged",
          "[transport_gate][security]") {
  fake_transport t;
  racket::detail::transport_gate<fake_transport> gate(t);
  racket::key_ring ring;
  ring.add("keyed", racket::stream_key::parse(std::string(64, 'a')));
  racket::detail::datagram_sealer sealer(ring, 42, racket::protection::encrypt);
  gate.seal_with(&sealer, 200);
  const auto keyed = datagram_of("keyed", 100);
  const auto clear = datagram_of("clear", 100);
  (void)gate.send(to, keyed);
  (void)gate.send(to, clear);
  std::vector<racket::outgoing_datagram> batch{{to, keyed}, {to, clear}, {to, keyed}};
  gate.send_batch(batch);
  REQUIRE(t.sent.size() == 5);
  std::error_code ec;
  std::uint64_t last_counter = 0;
  for (const std::size_t i : {0, 2, 4}) {
    INFO(i);
    REQUIRE(t.sent[i].size() == 100 + racket::wire::seal_overhead);
    const auto h = racket::wire::decode_sealed_header(t.sent[i], ec);
    REQUIRE_FALSE(ec);
    CHECK(h.sender_id == 42);
    CHECK(h.counter > last_counter);
    last_counter = h.counter;
    CHECK(h.timestamp_ns > 1'600'000'000'000'000'000ull);  // this host's wall clock
  }
  CHECK(t.sent[1] == clear);
  CHECK(t.sent[3] == clear);
  CHECK(batch[0].bytes.size() == 100 + racket::wire::seal_overhead);  // what the counters see
}
#endif

namespace {

// A whole transport (the simulated one) that takes batches in pieces (gathering_transport),
// recording what it was handed.
struct gathering_fake : racket::sim::transport {
  using racket::sim::transport::transport;
  static constexpr bool gathers = true;
  std::vector<racket::outgoing_datagram> handed;
  void send_batch(std::span<racket::outgoing_datagram> batch) {
    for (auto& d : batch) {
      d.result = {.ok = 1};
      handed.push_back(d);
    }
  }
};

}  // namespace

TEST_CASE("transport_gate: a datagram in pieces is joined for a transport that cannot gather, passed as it is to one that can",
          "[transport_gate]") {
  const std::byte head[3]{std::byte{1}, std::byte{2}, std::byte{3}};
  const std::byte payload[4]{std::byte{4}, std::byte{5}, std::byte{6}, std::byte{7}};
  const std::byte trailer[2]{std::byte{8}, std::byte{9}};
  const std::byte whole[9]{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5},
                           std::byte{6}, std::byte{7}, std::byte{8}, std::byte{9}};
  const auto pieces = [&] {
    std::vector<racket::outgoing_datagram> batch(2, racket::outgoing_datagram{.to = to, .bytes = head,
                                                                              .rest = {payload, trailer}});
    batch.push_back(racket::outgoing_datagram{to, head});  // one piece: as it was
    return batch;
  };
  {
    fake_transport t;  // no send_batch: one send per datagram, each whole
    racket::detail::transport_gate<fake_transport> gate(t);
    auto batch = pieces();
    gate.send_batch(batch);
    REQUIRE(t.sent.size() == 3);
    CHECK(std::ranges::equal(t.sent[0], whole));
    CHECK(std::ranges::equal(t.sent[1], whole));
    CHECK(std::ranges::equal(t.sent[2], head));
  }
  {
    racket::sim::network net{1};
    gathering_fake t{net.add_node("pub")};
    static_assert(racket::gathering_transport<gathering_fake>);
    racket::detail::transport_gate<gathering_fake> gate(t);
    auto batch = pieces();
    gate.send_batch(batch);
    REQUIRE(t.handed.size() == 3);
    CHECK(t.handed[0].bytes.data() == head);  // not copied
    CHECK(t.handed[0].rest[0].data() == payload);
    CHECK(t.handed[0].rest[1].data() == trailer);
    CHECK(t.handed[0].size() == 9);
    CHECK_FALSE(t.handed[2].gathered());
  }
}
