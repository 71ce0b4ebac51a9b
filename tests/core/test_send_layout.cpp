// SPDX-License-Identifier: MIT
// detail::udp::batch_layout: a batch's sendmmsg tables, plain and with runs as segmented sends
// (UDP GSO). Builds tables only: nothing is sent.
#include "racket/transport/detail/udp/send_layout.hpp"

#include "catch.hpp"

#include <asio/ip/address.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

namespace {

using racket::address_family;
using racket::endpoint;
using racket::outgoing_datagram;
using racket::detail::udp::batch_layout;
using racket::detail::udp::send_layout;

const endpoint group_a{asio::ip::make_address("239.255.0.1"), 19090};
const endpoint group_b{asio::ip::make_address("239.255.0.2"), 19090};
const endpoint group_v6{asio::ip::make_address("ff15::1"), 19090};

// Owns the bytes the batch's spans point at.
struct batch_builder {
  std::vector<std::vector<std::byte>> storage;
  std::vector<outgoing_datagram> batch;

  batch_builder() { storage.reserve(1024); }

  void add(const endpoint& to, std::size_t size, std::uint16_t run_length = 0) {
    storage.emplace_back(size, std::byte{0x5a});
    batch.push_back(outgoing_datagram{to, std::span<const std::byte>(storage.back()), run_length});
  }
  // A run of `count` datagrams of `size` bytes, the last `last` bytes.
  void add_run(const endpoint& to, std::size_t count, std::size_t size, std::size_t last) {
    for (std::size_t i = 0; i < count; ++i)
      add(to, i + 1 < count ? size : last, i == 0 ? static_cast<std::uint16_t>(count) : std::uint16_t{0});
  }
};

// The entries' sizes (datagrams per sendmmsg entry) of a layout.
std::vector<std::size_t> entry_sizes(const send_layout& l) {
  std::vector<std::size_t> out;
  for (std::size_t e = 0; e + 1 < l.first.size(); ++e) out.push_back(l.first[e + 1] - l.first[e]);
  return out;
}

std::uint16_t segment_size_of(const mmsghdr& m) {
  msghdr h = m.msg_hdr;
  const cmsghdr* c = CMSG_FIRSTHDR(&h);
  REQUIRE(c != nullptr);
  CHECK(c->cmsg_level == IPPROTO_UDP);
  CHECK(c->cmsg_type == racket::detail::udp_segment_option);
  CHECK(c->cmsg_len == CMSG_LEN(sizeof(std::uint16_t)));
  std::uint16_t size = 0;
  std::memcpy(&size, CMSG_DATA(c), sizeof size);
  return size;
}

}  // namespace

TEST_CASE("send_layout: collect picks one family's datagrams, in batch order, and sees runs", "[send_layout]") {
  batch_builder b;
  b.add(group_a, 10);
  b.add(group_v6, 20);
  b.add(group_b, 30);
  b.add(group_v6, 40, 2);
  b.add(group_v6, 40);
  batch_layout l;
  CHECK_FALSE(l.collect(b.batch, address_family::v4));
  CHECK(l.indices() == std::vector<std::size_t>{0, 2});
  CHECK(l.collect(b.batch, address_family::v6));
  CHECK(l.indices() == std::vector<std::size_t>{1, 3, 4});
  CHECK(l.index(1) == 3);

  batch_builder none;
  none.add(group_v6, 5);
  CHECK_FALSE(l.collect(none.batch, address_family::v4));
  CHECK(l.empty());
}

TEST_CASE("send_layout: the plain layout has one entry per datagram, each with its own address", "[send_layout]") {
  batch_builder b;
  b.add(group_a, 10);
  b.add(group_v6, 20);
  b.add(group_b, 30, 2);  // a run claim is ignored by the plain layout
  b.add(group_b, 30);
  batch_layout l;
  l.collect(b.batch, address_family::v4);
  l.prepare(b.batch);
  send_layout& plain = l.plain();
  REQUIRE(plain.msgs.size() == 3);
  CHECK(plain.first == std::vector<std::size_t>{0, 1, 2, 3});
  for (std::size_t k = 0; k < 3; ++k) {
    const msghdr& h = plain.msgs[k].msg_hdr;
    const outgoing_datagram& d = b.batch[l.index(k)];
    CHECK(h.msg_iovlen == 1);
    CHECK(h.msg_iov->iov_base == d.bytes.data());
    CHECK(h.msg_iov->iov_len == d.bytes.size());
    CHECK(h.msg_namelen == sizeof(sockaddr_in));
    CHECK(h.msg_name == l.address(k).get());
    CHECK(h.msg_control == nullptr);
    CHECK_FALSE(plain.segmented(k));
    sockaddr_in sin{};
    std::memcpy(&sin, h.msg_name, sizeof sin);
    CHECK(sin.sin_family == AF_INET);
    CHECK(ntohs(sin.sin_port) == 19090);
    CHECK(asio::ip::address_v4(ntohl(sin.sin_addr.s_addr)) == d.to.group.to_v4());
  }
  CHECK(&l.plain() == &plain);  // built once per prepare
}

TEST_CASE("send_layout: a run becomes one segmented entry carrying its segment size", "[send_layout]") {
  batch_builder b;
  b.add(group_a, 50);
  b.add_run(group_b, 5, 100, 60);  // positions 1..5
  b.add(group_a, 70);
  batch_layout l;
  REQUIRE(l.collect(b.batch, address_family::v4));
  l.prepare(b.batch);
  REQUIRE(l.build_segmented(b.batch));
  const send_layout& runs = l.runs();
  CHECK(entry_sizes(runs) == std::vector<std::size_t>{1, 5, 1});
  CHECK(runs.entry_at[0] == 0);
  CHECK(runs.entry_at[1] == 1);
  CHECK(runs.entry_at[6] == 2);
  CHECK_FALSE(runs.segmented(0));
  CHECK(runs.segmented(1));
  const msghdr& h = runs.msgs[1].msg_hdr;
  CHECK(h.msg_iovlen == 5);
  CHECK(h.msg_iov == &l.iov(1));
  CHECK(h.msg_name == l.address(1).get());
  CHECK(segment_size_of(runs.msgs[1]) == 100);
  CHECK(runs.msgs[0].msg_hdr.msg_control == nullptr);
  CHECK(runs.msgs[2].msg_hdr.msg_control == nullptr);
}

TEST_CASE("send_layout: runs are cut into chunks of at most 64 datagrams and 65507 bytes", "[send_layout]") {
  SECTION("by count") {
    batch_builder b;
    b.add_run(group_a, 130, 100, 100);
    batch_layout l;
    l.collect(b.batch, address_family::v4);
    l.prepare(b.batch);
    REQUIRE(l.build_segmented(b.batch));
    CHECK(entry_sizes(l.runs()) == std::vector<std::size_t>{64, 64, 2});
    CHECK(l.runs().entry_at[64] == 1);
    CHECK(l.runs().entry_at[128] == 2);
  }
  SECTION("by bytes") {
    batch_builder b;
    b.add_run(group_a, 20, 4000, 4000);  // 16 x 4000 = 64000 fits, 17 do not
    batch_layout l;
    l.collect(b.batch, address_family::v4);
    l.prepare(b.batch);
    REQUIRE(l.build_segmented(b.batch));
    CHECK(entry_sizes(l.runs()) == std::vector<std::size_t>{16, 4});
  }
  SECTION("a chunk of one datagram is not segmented") {
    batch_builder b;
    b.add_run(group_a, 65, 100, 100);
    batch_layout l;
    l.collect(b.batch, address_family::v4);
    l.prepare(b.batch);
    REQUIRE(l.build_segmented(b.batch));
    CHECK(entry_sizes(l.runs()) == std::vector<std::size_t>{64, 1});
    CHECK_FALSE(l.runs().segmented(1));
    CHECK(l.runs().msgs[1].msg_hdr.msg_control == nullptr);
  }
}

TEST_CASE("send_layout: a run that is not what it claims is sent as separate datagrams", "[send_layout]") {
  batch_builder b;
  SECTION("past the end of the batch") {
    b.add(group_a, 100, 3);
    b.add(group_a, 100);
  }
  SECTION("another destination") {
    b.add(group_a, 100, 3);
    b.add(group_b, 100);
    b.add(group_a, 100);
  }
  SECTION("a size that differs") {
    b.add(group_a, 100, 3);
    b.add(group_a, 99);
    b.add(group_a, 100);
  }
  SECTION("a last datagram larger than the first") {
    b.add(group_a, 100, 3);
    b.add(group_a, 100);
    b.add(group_a, 101);
  }
  SECTION("an empty last datagram") {
    b.add(group_a, 100, 2);
    b.add(group_a, 0);
  }
  SECTION("an empty first datagram") {
    b.add(group_a, 0, 2);
    b.add(group_a, 0);
  }
  SECTION("a datagram over 65507 bytes") {
    b.add(group_a, 65508, 2);
    b.add(group_a, 100);
  }
  SECTION("another family's datagram in between") {
    b.add(group_a, 100, 3);
    b.add(group_v6, 100);
    b.add(group_a, 100);
    b.add(group_a, 100);
  }
  batch_layout l;
  REQUIRE(l.collect(b.batch, address_family::v4));
  l.prepare(b.batch);
  CHECK_FALSE(l.build_segmented(b.batch));
  for (const std::size_t s : entry_sizes(l.runs())) CHECK(s == 1);
  CHECK(l.runs().msgs.size() == l.size());
}

TEST_CASE("send_layout: a valid run after an invalid one is still segmented", "[send_layout]") {
  batch_builder b;
  b.add(group_a, 100, 2);
  b.add(group_b, 100);  // breaks the first claim
  b.add_run(group_a, 3, 200, 150);
  batch_layout l;
  l.collect(b.batch, address_family::v4);
  l.prepare(b.batch);
  REQUIRE(l.build_segmented(b.batch));
  CHECK(entry_sizes(l.runs()) == std::vector<std::size_t>{1, 1, 3});
  CHECK(segment_size_of(l.runs().msgs[2]) == 200);
}

TEST_CASE("send_layout: a layout is reused from batch to batch", "[send_layout]") {
  batch_layout l;
  batch_builder first;
  first.add_run(group_a, 4, 100, 100);
  l.collect(first.batch, address_family::v4);
  l.prepare(first.batch);
  REQUIRE(l.plain().msgs.size() == 4);
  REQUIRE(l.build_segmented(first.batch));

  batch_builder second;
  second.add(group_b, 10);
  second.add(group_b, 20);
  l.collect(second.batch, address_family::v4);
  l.prepare(second.batch);
  CHECK(l.plain().msgs.size() == 2);  // rebuilt after prepare
  CHECK(l.plain().msgs[1].msg_hdr.msg_iov->iov_len == 20);
  CHECK_FALSE(l.build_segmented(second.batch));
  CHECK(entry_sizes(l.runs()) == std::vector<std::size_t>{1, 1});
}

TEST_CASE("send_layout: a datagram in pieces gets an iovec per piece, plain and in a run", "[send_layout]") {
  std::vector<std::byte> heads(3 * 10, std::byte{1}), payload(3 * 80, std::byte{2}), trailers(3 * 8, std::byte{3});
  std::vector<outgoing_datagram> batch;
  for (std::size_t i = 0; i < 3; ++i) {
    outgoing_datagram d{.to = group_a, .bytes = std::span<const std::byte>(heads).subspan(i * 10, 10)};
    d.rest[0] = std::span<const std::byte>(payload).subspan(i * 80, i == 2 ? 40 : 80);
    d.rest[1] = std::span<const std::byte>(trailers).subspan(i * 8, 8);
    batch.push_back(d);
  }
  batch[0].run_length = 3;  // 98, 98, 58 bytes
  batch_layout l;
  REQUIRE(l.collect(batch, address_family::v4));
  l.prepare(batch);
  CHECK(l.datagram_size(0) == 98);
  CHECK(l.datagram_size(2) == 58);
  send_layout& plain = l.plain();
  REQUIRE(plain.msgs.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    const msghdr& h = plain.msgs[k].msg_hdr;
    REQUIRE(h.msg_iovlen == 3);
    CHECK(h.msg_iov[0].iov_base == batch[k].bytes.data());
    CHECK(h.msg_iov[1].iov_base == batch[k].rest[0].data());
    CHECK(h.msg_iov[1].iov_len == batch[k].rest[0].size());
    CHECK(h.msg_iov[2].iov_base == batch[k].rest[1].data());
  }
  REQUIRE(l.build_segmented(batch));
  const send_layout& runs = l.runs();
  CHECK(entry_sizes(runs) == std::vector<std::size_t>{3});
  const msghdr& h = runs.msgs[0].msg_hdr;
  CHECK(h.msg_iovlen == 9);  // three pieces of each of three datagrams
  CHECK(h.msg_iov == &l.iov(0));
  CHECK(segment_size_of(runs.msgs[0]) == 98);  // the datagram's size, not its first piece's
  std::size_t total = 0;
  for (std::size_t i = 0; i < h.msg_iovlen; ++i) total += h.msg_iov[i].iov_len;
  CHECK(total == 98 + 98 + 58);
}
