// SPDX-License-Identifier: MIT
// udp_transport's segmentation offload: runs of a batch sent as UDP GSO sends, UDP GRO buffers
// split again on receive, and every way that must still deliver each datagram on its own.
// Every test sends, so every test runs inside a private network namespace
// (tests/tools/in_netns.sh) and REQUIREs the guard first.
#include "racket/transport/udp.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include <asio/ip/address.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using namespace std::chrono_literals;
using racket::address_family;
using racket::endpoint;
using racket::outgoing_datagram;
using racket::receive_info;
using racket::udp_transport;
using racket::test::ep;
using racket::test::run_for;
using racket::test::run_until;

using bytes = std::vector<std::byte>;

// Datagram `id` of `size` bytes: the id, then bytes that depend on id and offset, so a datagram
// split at the wrong place, merged with another or reordered never compares equal.
bytes payload(std::uint32_t id, std::size_t size) {
  bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>((id * 131u + i * 7u) & 0xffu);
  for (std::size_t i = 0; i < 4 && i < size; ++i) out[i] = static_cast<std::byte>((id >> (8 * i)) & 0xffu);
  return out;
}

struct collected {
  std::vector<bytes> datagrams;
  racket::datagram_handler handler() {
    return [this](std::span<const std::byte> d, const receive_info&) { datagrams.emplace_back(d.begin(), d.end()); };
  }
};

// The setup most tests share: a sending and a receiving transport on lo, the sender's IPv4
// side open. Constructed in the test body after REQUIRE_PRIVATE_NETNS() (not a TEST_CASE_METHOD
// fixture, which would open sockets before the guard has run).
struct lo_transports {
  asio::io_context io;
  udp_transport tx{io, {.interfaces = {"lo"}}};
  udp_transport rx{io, {.interfaces = {"lo"}}};
  lo_transports() { tx.open(address_family::v4); }
};

// A group, and what a receiver opened on `rx` for it collects, in order of arrival. Not
// copyable: the receiver's handler holds `this`.
struct group_rx : collected {
  endpoint to;
  group_rx(udp_transport& rx, const char* group, std::uint16_t port) : to(ep(group, port)) {
    INFO("receiver for " << group << " port " << port);
    REQUIRE(rx.open_receiver(to, handler()) != 0);
  }
  group_rx(const group_rx&) = delete;
  group_rx& operator=(const group_rx&) = delete;
};

// A batch under construction: owns the payloads, remembers what each group must receive.
struct batch_builder {
  std::vector<bytes> owned;  // reserved up front: spans into it must stay valid
  std::vector<outgoing_datagram> batch;
  std::uint32_t next_id = 0;
  std::size_t bytes_total = 0;
  batch_builder() { owned.reserve(4096); }

  // Appends one datagram; its run_length is `run_length`.
  void add(const endpoint& to, std::size_t size, std::uint16_t run_length = 0) {
    owned.push_back(payload(next_id++, size));
    batch.push_back(outgoing_datagram{.to = to, .bytes = owned.back(), .run_length = run_length});
    bytes_total += size;
  }
  // Appends a run: `count` datagrams of `size`, the last one of `last` bytes.
  void run(const endpoint& to, std::size_t count, std::size_t size, std::size_t last) {
    for (std::size_t i = 0; i < count; ++i)
      add(to, i + 1 == count ? last : size, i == 0 ? static_cast<std::uint16_t>(count) : std::uint16_t{0});
  }
  // The payloads sent to `to`, in batch order.
  std::vector<bytes> sent_to(const endpoint& to) const {
    std::vector<bytes> out;
    for (const auto& d : batch)
      if (d.to == to) out.emplace_back(d.bytes.begin(), d.bytes.end());
    return out;
  }
};

// A slow link between two veth ends: packets wait in the qdisc and hold the (tiny) send
// buffer, so the kernel soon answers EAGAIN and the transport's backlog takes the rest. `tx`
// sends on end a, `got` hears the group on end b.
struct slow_link {
  slow_link(const char* a, const char* b, int subnet, const char* group, std::uint16_t port)
      : veth(a, b, {"198.18." + std::to_string(subnet) + ".1/24"}, {"198.18." + std::to_string(subnet) + ".2/24"}) {
    REQUIRE(veth.ok());
    REQUIRE(racket::test::run(std::string("tc qdisc add dev ") + a + " root tbf rate 200mbit burst 64kb latency 2s"));
    tx.emplace(io, racket::transport_options{.interfaces = {a}, .loopback = false, .send_buffer_size = 1});
    rx.emplace(io, racket::transport_options{.interfaces = {b}});
    tx->open(address_family::v4);
    got.emplace(*rx, group, port);
  }
  racket::test::veth_pair veth;
  asio::io_context io;
  std::optional<udp_transport> tx, rx;
  std::optional<group_rx> got;
};

// Datagrams in pieces, as a fragment goes: a head, a slice of one shared message, a trailer;
// `expect` holds each whole, as a receiver must see it.
struct pieces_builder {
  explicit pieces_builder(bytes msg) : message(std::move(msg)) {
    heads.reserve(4096);  // spans into them must stay valid
    trailers.reserve(4096);
  }
  void add(const endpoint& to, std::size_t slice_at, std::size_t slice, std::uint16_t run) {
    heads.push_back(payload(static_cast<std::uint32_t>(100 + heads.size()), 40));
    trailers.push_back(payload(static_cast<std::uint32_t>(200000 + trailers.size()), 8));
    outgoing_datagram d{.to = to, .bytes = heads.back(), .run_length = run};
    d.rest[0] = std::span<const std::byte>(message).subspan(slice_at, slice);
    d.rest[1] = trailers.back();
    batch.push_back(d);
    bytes whole(heads.back());
    whole.insert(whole.end(), d.rest[0].begin(), d.rest[0].end());
    whole.insert(whole.end(), trailers.back().begin(), trailers.back().end());
    expect.push_back(std::move(whole));
  }
  bytes message;
  std::vector<bytes> heads, trailers;
  std::vector<outgoing_datagram> batch;
  std::vector<bytes> expect;
};

void check_all_ok(const std::vector<outgoing_datagram>& batch, std::uint32_t interfaces = 1) {
  std::size_t bad = 0;
  for (const auto& d : batch)
    if (d.result.ok != interfaces || d.result.failed != 0 || d.result.would_block != 0) ++bad;
  CHECK(bad == 0);
}

// A plain socket that asks for UDP GRO, joined to an IPv4 group on lo: shows what the kernel
// hands a GRO receiver (how many buffers, with which segment size) without the transport.
struct gro_probe {
  int fd = -1;
  gro_probe(const char* group, std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    const auto b = asio::ip::make_address_v4(group).to_bytes();
    std::memcpy(&a.sin_addr, b.data(), b.size());
    ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    ip_mreqn m{};
    m.imr_multiaddr = a.sin_addr;
    m.imr_ifindex = 1;  // lo
    ::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
  }
  gro_probe(const gro_probe&) = delete;
  gro_probe& operator=(const gro_probe&) = delete;
  ~gro_probe() { ::close(fd); }
  // Reads every queued buffer: (length, GRO segment size or 0) for each.
  std::vector<std::pair<std::size_t, int>> read_all() const {
    std::vector<std::pair<std::size_t, int>> out;
    racket::test::read_queued(fd,
                              [&](std::span<const std::byte> b, int segment) { out.emplace_back(b.size(), segment); });
    return out;
  }
};

// Sets SO_NO_CHECK on every IPv4 UDP socket of this process. The kernel refuses segmented
// sends without a UDP checksum (EINVAL): the one black-box way to make it refuse GSO here.
int disable_udp_checksums() {
  int changed = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (const dirent* e = ::readdir(dir)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == ::dirfd(dir)) continue;
    int domain = 0;
    int type = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_INET) continue;
    len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM) continue;
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_NO_CHECK, &one, sizeof one) == 0) ++changed;
  }
  ::closedir(dir);
  return changed;
}

}  // namespace

TEST_CASE("udp gso: a run goes out as one segmented send and arrives as separate datagrams", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  lo_transports lo;
  CHECK(lo.tx.segmentation_offload());
  group_rx run(lo.rx, "239.255.3.1", 19110);
  group_rx single(lo.rx, "239.255.3.2", 19110);
  const gro_probe probe("239.255.3.1", 19110);

  batch_builder b;
  b.add(single.to, 200);
  b.add(run.to, 1000);  // a datagram on its own before the run, to the run's group
  b.run(run.to, 11, 1000, 300);
  b.add(single.to, 1000);
  b.add(single.to, 1000);  // equal sizes, same group, but not marked as a run
  lo.tx.send_batch(b.batch);
  check_all_ok(b.batch);

  REQUIRE(run_until(lo.io, [&] { return run.datagrams.size() >= 12 && single.datagrams.size() >= 3; }));
  run_for(lo.io, 20ms);  // nothing more may come: a wrongly split buffer would add datagrams
  CHECK(run.datagrams == b.sent_to(run.to));
  CHECK(single.datagrams == b.sent_to(single.to));

  const auto ts = lo.tx.stats();
  CHECK(ts.segmented_sends == 1);
  CHECK(ts.segmentation_fallbacks == 0);
  CHECK(ts.datagrams_sent == b.batch.size());
  CHECK(ts.bytes_sent == b.bytes_total);
  CHECK(ts.send_errors == 0);
  const auto rs = lo.rx.stats();
  CHECK(rs.datagrams_received == b.batch.size());  // segments, not buffers
  CHECK(rs.bytes_received == b.bytes_total);
  CHECK(rs.receive_errors == 0);

  // What a GRO receiver got from the kernel: the run coalesced into one buffer (so the
  // transport's receiver above really had to split one), the lone datagram on its own.
  const auto buffers = probe.read_all();
  REQUIRE(buffers.size() == 2);
  CHECK(buffers[0].first == 1000);
  CHECK(buffers[1].first == 10 * 1000 + 300);
  CHECK(buffers[1].second == 1000);
}

TEST_CASE("udp gso: datagrams in pieces go out whole, in a segmented run, one by one, and alone",
          "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  for (const bool offload : {true, false}) {
    CAPTURE(offload);
    asio::io_context io;
    udp_transport tx(io, {.interfaces = {"lo"}, .segmentation_offload = offload});
    udp_transport rx(io, {.interfaces = {"lo"}, .segmentation_offload = offload});
    tx.open(address_family::v4);
    group_rx g(rx, "239.255.3.9", 19115);
    // Each datagram as a fragment goes: a head, a slice of one shared payload, a trailer.
    pieces_builder p(payload(7, 20 * 1000));
    auto& batch = p.batch;
    auto& expect = p.expect;
    for (std::size_t k = 0; k < 19; ++k) p.add(g.to, k * 1000, 1000, k == 0 ? 20 : 0);  // a run of 20: 1048 bytes each
    p.add(g.to, 19 * 1000, 500, 0);                                                    // its shorter last
    tx.send_batch(batch);
    check_all_ok(batch);
    std::vector<outgoing_datagram> lone{batch[3]};  // a batch of one in pieces
    lone[0].run_length = 0;
    tx.send_batch(lone);
    check_all_ok(lone);
    expect.push_back(expect[3]);
    REQUIRE(run_until(io, [&] { return g.datagrams.size() >= expect.size(); }));
    run_for(io, 20ms);
    CHECK(g.datagrams == expect);
    CHECK(tx.stats().segmented_sends == (offload ? 1u : 0u));
    CHECK(tx.stats().bytes_sent == 19 * 1048 + 548 + 1048);
  }
}

TEST_CASE("udp gso: runs over 64 segments or 65507 bytes are split into chunks", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  lo_transports lo;
  group_rx a(lo.rx, "239.255.3.3", 19111);
  group_rx bb(lo.rx, "239.255.3.4", 19111);

  batch_builder b;
  b.run(a.to, 130, 1000, 1000);  // 130 segments: at least 3 chunks of <= 64
  b.add(bb.to, 77);
  b.run(bb.to, 60, 1452, 1452);  // 87120 bytes: at least 2 chunks of <= 65507 bytes
  b.run(a.to, 3, 30000, 5);      // 60005 bytes, but only 2 of 30000 fit 65507: 2 chunks
  lo.tx.send_batch(b.batch);
  check_all_ok(b.batch);

  REQUIRE(run_until(lo.io, [&] { return a.datagrams.size() >= 133 && bb.datagrams.size() >= 61; }));
  CHECK(a.datagrams == b.sent_to(a.to));
  CHECK(bb.datagrams == b.sent_to(bb.to));
  const auto ts = lo.tx.stats();
  // 3 + 2 chunks of several segments; the 30000-byte run is one chunk of 2 and a lone one.
  CHECK(ts.segmented_sends == 6);
  CHECK(ts.segmentation_fallbacks == 0);
  CHECK(ts.send_errors == 0);
  CHECK(ts.datagrams_sent == b.batch.size());
  CHECK(ts.bytes_sent == b.bytes_total);
  CHECK(lo.rx.stats().datagrams_received == b.batch.size());
}

TEST_CASE("udp gso: with segmentation_offload off the same batch is sent one by one", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport tx(io, {.interfaces = {"lo"}, .segmentation_offload = false});
  udp_transport rx(io, {.interfaces = {"lo"}, .segmentation_offload = false});
  CHECK_FALSE(tx.segmentation_offload());
  tx.open(address_family::v4);
  CHECK_FALSE(tx.segmentation_offload());
  group_rx run(rx, "239.255.3.5", 19112);
  group_rx single(rx, "239.255.3.6", 19112);
  const gro_probe probe("239.255.3.5", 19112);

  batch_builder b;
  b.add(single.to, 200);
  b.run(run.to, 11, 1000, 300);
  b.run(run.to, 70, 900, 900);
  b.add(single.to, 1000);
  tx.send_batch(b.batch);
  check_all_ok(b.batch);
  REQUIRE(run_until(io, [&] { return run.datagrams.size() >= 81 && single.datagrams.size() >= 2; }));
  CHECK(run.datagrams == b.sent_to(run.to));
  CHECK(single.datagrams == b.sent_to(single.to));
  CHECK(tx.stats().segmented_sends == 0);
  CHECK(tx.stats().segmentation_fallbacks == 0);
  CHECK(tx.stats().datagrams_sent == b.batch.size());
  CHECK(rx.stats().datagrams_received == b.batch.size());
  // Nothing was coalesced: a GRO receiver gets one buffer per datagram.
  const auto buffers = probe.read_all();
  CHECK(buffers.size() == 81);
}

TEST_CASE("udp gso: runs that are not what they claim are sent as separate datagrams", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  lo_transports lo;
  group_rx a(lo.rx, "239.255.3.7", 19113);
  group_rx bb(lo.rx, "239.255.3.8", 19113);

  batch_builder b;
  // A size that differs in the middle.
  b.add(a.to, 1000, 5);
  b.add(a.to, 1000);
  b.add(a.to, 999);
  b.add(a.to, 1000);
  b.add(a.to, 1000);
  // A last datagram larger than the others: segmented, the kernel would cut it in two.
  b.add(a.to, 1000, 4);
  b.add(a.to, 1000);
  b.add(a.to, 1000);
  b.add(a.to, 1200);
  // Another destination inside the run.
  b.add(a.to, 500, 3);
  b.add(bb.to, 500);
  b.add(a.to, 500);
  // An empty last datagram (a segmented send would have no segment for it).
  b.add(bb.to, 400, 2);
  b.add(bb.to, 0);
  // An IPv6 datagram inside an IPv4 run (its family is not open: it fails on its own).
  b.add(a.to, 600, 3);
  b.add(ep("ff15::3:9", 19113), 600);
  b.add(a.to, 600);
  // Running past the end of the batch.
  b.add(bb.to, 300, 9);
  b.add(bb.to, 300);
  lo.tx.send_batch(b.batch);
  std::size_t failed = 0;
  for (const auto& d : b.batch) {
    if (d.to.group.is_v6()) {
      CHECK(d.result.failed == 1);
      ++failed;
    } else {
      CHECK(d.result.ok == 1);
      CHECK(d.result.failed == 0);
    }
  }
  CHECK(failed == 1);

  const auto want_a = b.sent_to(a.to);
  const auto want_b = b.sent_to(bb.to);
  REQUIRE(want_a.size() == 13);
  REQUIRE(want_b.size() == 5);
  REQUIRE(run_until(lo.io,
                    [&] { return a.datagrams.size() >= want_a.size() && bb.datagrams.size() >= want_b.size(); }));
  run_for(lo.io, 20ms);
  CHECK(a.datagrams == want_a);
  CHECK(bb.datagrams == want_b);
  CHECK(lo.tx.stats().segmented_sends == 0);
  CHECK(lo.tx.stats().segmentation_fallbacks == 0);
  CHECK(lo.tx.stats().datagrams_sent == b.batch.size() - 1);
}

TEST_CASE("udp gso: a kernel refusing segmentation falls back to single sends, losing nothing", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  udp_transport tx(io, {.interfaces = {"lo"}});
  std::vector<std::error_code> errors;
  tx.set_error_handler([&](const std::error_code& e, std::string_view) { errors.push_back(e); });
  tx.open(address_family::v4);
  REQUIRE(tx.segmentation_offload());
  // Only the transport's send socket exists yet: the kernel now refuses its GSO sends.
  REQUIRE(disable_udp_checksums() == 1);

  udp_transport rx(io, {.interfaces = {"lo"}});
  group_rx got(rx, "239.255.3.10", 19114);

  batch_builder b;
  b.add(got.to, 100);
  b.run(got.to, 20, 800, 800);
  b.add(got.to, 100);
  b.run(got.to, 5, 700, 1);
  tx.send_batch(b.batch);
  check_all_ok(b.batch);
  CHECK(tx.stats().segmentation_fallbacks == 1);
  CHECK(tx.stats().segmented_sends == 0);
  CHECK_FALSE(tx.segmentation_offload());  // its only port gave up on GSO

  // A second batch goes one by one at once: no further refusal.
  b.run(got.to, 4, 600, 600);
  std::vector<outgoing_datagram> second(b.batch.end() - 4, b.batch.end());
  tx.send_batch(second);
  check_all_ok(second);
  CHECK(tx.stats().segmentation_fallbacks == 1);

  REQUIRE(run_until(io, [&] { return got.datagrams.size() >= b.batch.size(); }));
  CHECK(got.datagrams == b.sent_to(got.to));
  CHECK(errors.empty());
  CHECK(tx.stats().send_errors == 0);
  CHECK(tx.stats().datagrams_sent == b.batch.size());
}

namespace {

// A second receiver of `to` beside the one a case closes: a run of 10 datagrams sent to the
// group all reach it, whatever the first did. Returns what was sent.
batch_builder run_reaches_other(lo_transports& lo, const endpoint& to, collected& other) {
  REQUIRE(lo.rx.open_receiver(to, other.handler()) != 0);
  batch_builder b;
  b.run(to, 10, 500, 500);
  lo.tx.send_batch(b.batch);
  REQUIRE(run_until(lo.io, [&] { return other.datagrams.size() >= 10; }));
  run_for(lo.io, 20ms);
  return b;
}

}  // namespace

TEST_CASE("udp gso: closing the receiver inside a coalesced buffer stops its deliveries", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  lo_transports lo;
  const auto to = ep("239.255.3.11", 19115);
  int calls = 0;
  racket::receiver_id id = 0;
  id = lo.rx.open_receiver(to, [&](std::span<const std::byte>, const receive_info&) {
    if (++calls == 3) lo.rx.close_receiver(id);
  });
  collected other;
  const batch_builder b = run_reaches_other(lo, to, other);
  CHECK(calls == 3);
  CHECK(other.datagrams == b.sent_to(to));
  CHECK(lo.tx.stats().segmented_sends == 1);
}

TEST_CASE("udp gso: a receiver with a segments handler is offered a GRO buffer, the rest comes one by one",
          "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  lo_transports lo;
  const auto to = ep("239.255.3.12", 19116);
  collected one;  // what the datagram handler got
  std::vector<bytes> taken;  // what the segments handler took, datagram by datagram
  std::vector<std::pair<std::size_t, std::size_t>> offers;  // (buffer size, segment size)
  std::error_code ec;
  const racket::receiver_id id = lo.rx.open_receiver(
      to, one.handler(),
      [&](std::span<const std::byte> buffer, std::size_t segment, const receive_info&) -> std::size_t {
        offers.emplace_back(buffer.size(), segment);
        // Takes one datagram of the first offer, then three, then none: the rest goes one by one.
        const std::size_t take = offers.size() == 1 ? 1 : offers.size() == 2 ? 3 : 0;
        for (std::size_t k = 0; k < take; ++k) {
          const auto d = buffer.subspan(k * segment, std::min(segment, buffer.size() - k * segment));
          taken.emplace_back(d.begin(), d.end());
        }
        return take;
      },
      ec);
  REQUIRE_FALSE(ec);
  REQUIRE(id != 0);
  batch_builder b;
  b.run(to, 10, 1000, 400);
  lo.tx.send_batch(b.batch);
  REQUIRE(run_until(lo.io, [&] { return taken.size() + one.datagrams.size() >= 10; }));
  run_for(lo.io, 20ms);
  REQUIRE(lo.tx.stats().segmented_sends == 1);
  // One GRO buffer of the ten: offered whole, then its rest after the one taken, then after
  // the three more; the six left went to the datagram handler, in order.
  REQUIRE(offers.size() == 3);
  CHECK(offers[0] == std::pair<std::size_t, std::size_t>{9 * 1000 + 400, 1000});
  CHECK(offers[1] == std::pair<std::size_t, std::size_t>{8 * 1000 + 400, 1000});
  CHECK(offers[2] == std::pair<std::size_t, std::size_t>{5 * 1000 + 400, 1000});
  std::vector<bytes> all = taken;
  all.insert(all.end(), one.datagrams.begin(), one.datagrams.end());
  CHECK(taken.size() == 4);
  CHECK(all == b.sent_to(to));
  const auto rs = lo.rx.stats();
  CHECK(rs.datagrams_received == 10);  // datagrams, whoever took them
  CHECK(rs.bytes_received == 9 * 1000 + 400);

  // A lone datagram is never offered; a buffer taken whole at once is offered once.
  offers.clear();
  taken.clear();
  one.datagrams.clear();
  batch_builder lone;
  lone.add(to, 700);
  lo.tx.send_batch(lone.batch);
  REQUIRE(run_until(lo.io, [&] { return one.datagrams.size() >= 1; }));
  CHECK(offers.empty());
  lo.rx.close_receiver(id);
}

TEST_CASE("udp gso: closing the receiver from its segments handler stops the buffer's deliveries", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  lo_transports lo;
  const auto to = ep("239.255.3.13", 19117);
  int singles = 0, offers = 0;
  racket::receiver_id id = 0;
  std::error_code ec;
  id = lo.rx.open_receiver(
      to, [&](std::span<const std::byte>, const receive_info&) { ++singles; },
      [&](std::span<const std::byte>, std::size_t, const receive_info&) -> std::size_t {
        ++offers;
        lo.rx.close_receiver(id);
        return 2;
      },
      ec);
  REQUIRE_FALSE(ec);
  collected other;
  run_reaches_other(lo, to, other);
  CHECK(offers == 1);
  CHECK(singles == 0);
}

TEST_CASE("udp gso: a kind-filtered receiver judges every datagram of a segmented run", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  lo_transports lo;
  const auto to = ep("239.255.3.12", 19116);
  collected requests;
  REQUIRE(lo.rx.open_receiver(to, requests.handler(), 2) != 0);
  collected everything;
  REQUIRE(lo.rx.open_receiver(to, everything.handler()) != 0);
  // One run of equal-size datagrams whose byte 5 (the kind) alternates 1, 2, 1, 2, ...: were
  // the filter to see a coalesced buffer, it would judge them all by the first (kind 1).
  std::vector<bytes> owned;
  for (int i = 0; i < 8; ++i) {
    bytes d(64, std::byte{0});
    std::memcpy(d.data(), "RKTM\x03", 5);
    d[5] = static_cast<std::byte>(i % 2 == 0 ? 1 : 2);
    d[6] = static_cast<std::byte>(i);
    owned.push_back(d);
  }
  std::vector<outgoing_datagram> batch;
  for (int i = 0; i < 8; ++i)
    batch.push_back({.to = to,
                     .bytes = owned[static_cast<std::size_t>(i)],
                     .run_length = static_cast<std::uint16_t>(i == 0 ? 8 : 0)});
  lo.tx.send_batch(batch);
  CHECK(lo.tx.stats().segmented_sends == 1);
  REQUIRE(run_until(lo.io, [&] { return everything.datagrams.size() >= 8 && requests.datagrams.size() >= 4; }));
  run_for(lo.io, 20ms);
  CHECK(everything.datagrams == owned);
  REQUIRE(requests.datagrams.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) CHECK(requests.datagrams[i] == owned[2 * i + 1]);
}

TEST_CASE("udp gso: over a veth, runs go out segmented and segments over the MTU still arrive", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  racket::test::veth_pair veth("rkga", "rkgb", {"198.18.0.1/24"}, {"198.18.0.2/24"});
  REQUIRE(veth.ok());
  asio::io_context io;
  udp_transport tx(io, {.interfaces = {"rkga"}, .loopback = false});
  udp_transport rx(io, {.interfaces = {"rkgb"}});
  tx.open(address_family::v4);
  group_rx got(rx, "239.255.3.13", 19117);

  batch_builder b;
  b.run(got.to, 20, 1472, 100);  // 1472 + 28 = the 1500-byte MTU: segments fit
  b.run(got.to, 5, 1600, 1600);  // over the MTU: EMSGSIZE, sent alone (fragmented) instead
  b.run(got.to, 10, 1000, 1000);
  tx.send_batch(b.batch);
  check_all_ok(b.batch);
  REQUIRE(run_until(io, [&] { return got.datagrams.size() >= b.batch.size(); }));
  run_for(io, 20ms);
  CHECK(got.datagrams == b.sent_to(got.to));
  const auto ts = tx.stats();
  CHECK(ts.segmented_sends == 2);
  CHECK(ts.segmentation_fallbacks == 1);
  CHECK(ts.send_errors == 0);
  CHECK(tx.segmentation_offload());  // an MTU refusal does not turn GSO off
  CHECK(rx.stats().datagrams_received == b.batch.size());
}

TEST_CASE("udp gso: IPv6 runs over a veth pair arrive as separate datagrams", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  racket::test::veth_pair veth("rkga", "rkgb", {"2001:2::1/64 nodad"}, {"2001:2::2/64 nodad"});
  REQUIRE(veth.ok());
  asio::io_context io;
  udp_transport tx(io, {.interfaces = {"rkga"}, .loopback = false});
  udp_transport rx(io, {.interfaces = {"rkgb"}});
  tx.open(address_family::v6);
  group_rx got(rx, "ff15::3:14", 19118);
  // The first datagrams may race the MLD join on a fresh link: probe until one arrives.
  const bytes hello = payload(9999, 10);
  REQUIRE(run_until(io, [&] {
    if (got.datagrams.empty()) tx.send(got.to, hello);
    io.run_for(5ms);
    return !got.datagrams.empty();
  }));
  got.datagrams.clear();
  const auto before = rx.stats().datagrams_received;

  batch_builder b;
  b.run(got.to, 30, 1452, 1000);  // 1452 + 48 = the 1500-byte MTU
  b.run(got.to, 70, 200, 10);
  tx.send_batch(b.batch);
  check_all_ok(b.batch);
  REQUIRE(run_until(io, [&] { return got.datagrams.size() >= b.batch.size(); }));
  run_for(io, 20ms);
  CHECK(got.datagrams == b.sent_to(got.to));
  CHECK(tx.stats().segmented_sends == 3);  // 30; 64 + 6
  CHECK(tx.stats().segmentation_fallbacks == 0);
  CHECK(rx.stats().datagrams_received - before == b.batch.size());
}

TEST_CASE("udp gso: datagrams in pieces that would block are joined into the backlog whole, in order", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  // Most of the batch waits in the backlog, which keeps each datagram as one piece
  // (outgoing_datagram::copy_to).
  slow_link link("rkgc", "rkgd", 1, "239.255.3.16", 19120);
  auto& tx = *link.tx;
  pieces_builder p(payload(9, 300 * 1000));
  for (std::size_t k = 0; k < 300; ++k)  // runs of 30, each a head, a 1000-byte slice, a trailer
    p.add(link.got->to, k * 1000, 1000, k % 30 == 0 ? std::uint16_t{30} : std::uint16_t{0});
  tx.send_batch(p.batch);
  check_all_ok(p.batch);
  CHECK(tx.stats().datagrams_sent < p.batch.size());  // some wait in the backlog
  CHECK(tx.send_backlog() > 0);
  REQUIRE(run_until(link.io, [&] { return link.got->datagrams.size() >= p.batch.size(); }, 10000ms));
  run_for(link.io, 20ms);
  CHECK(link.got->datagrams == p.expect);
  CHECK(tx.stats().datagrams_sent == p.batch.size());
  CHECK(tx.stats().send_errors == 0);
}

TEST_CASE("udp gso: a segmented send that would block is queued datagram by datagram, in order", "[udp][gso][net]") {
  REQUIRE_PRIVATE_NETNS();
  slow_link link("rkga", "rkgb", 0, "239.255.3.15", 19119);
  auto& io = link.io;
  auto& tx = *link.tx;
  auto& got = *link.got;

  batch_builder b;
  for (int i = 0; i < 8; ++i) {
    b.run(got.to, 40, 1400, 700);
    b.add(got.to, 50);
  }
  tx.send_batch(b.batch);
  check_all_ok(b.batch);  // taken or queued, none refused
  CHECK(tx.stats().datagrams_sent < b.batch.size());  // some wait in the backlog
  CHECK(tx.stats().segmented_sends >= 1);
  // The backlog says how much it holds, and calls back once all of it has gone (the io_context
  // is not running: these calls are as good as on the strand).
  CHECK(tx.send_backlog() > 0);
  bool drained = false;
  std::uint64_t sent_when_drained = 0;
  std::size_t backlog_when_drained = 1;
  tx.async_wait_send_backlog([&] {
    drained = true;
    sent_when_drained = tx.stats().datagrams_sent;
    backlog_when_drained = tx.send_backlog();
  });
  CHECK_FALSE(drained);  // posted, never inline
  REQUIRE(run_until(io, [&] { return got.datagrams.size() >= b.batch.size(); }, 10000ms));
  REQUIRE(run_until(io, [&] { return drained; }, 1000ms));
  CHECK(sent_when_drained == b.batch.size());
  CHECK(backlog_when_drained == 0);
  run_for(io, 20ms);
  CHECK(got.datagrams == b.sent_to(got.to));
  CHECK(tx.stats().datagrams_sent == b.batch.size());
  CHECK(tx.stats().bytes_sent == b.bytes_total);
  CHECK(tx.stats().send_errors == 0);
}
