// SPDX-License-Identifier: MIT
// detail::udp::read_control and split_segments: what the kernel attached to a received buffer,
// and how a GRO-coalesced buffer splits into its datagrams. Control data built by hand: no
// socket.
#include "racket/transport/detail/udp/receive_control.hpp"

#include "catch.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

namespace {

using racket::detail::udp::read_control;
using racket::detail::udp::receive_control;
using racket::detail::udp::split_segments;

// A msghdr whose control data holds the given messages, as recvmmsg would leave it.
class control_builder {
 public:
  template <class T>
  control_builder& add(int level, int type, const T& value) {
    const std::size_t at = used_;
    used_ += CMSG_SPACE(sizeof value);
    REQUIRE(used_ <= sizeof bytes_);
    auto* c = reinterpret_cast<cmsghdr*>(bytes_ + at);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(sizeof value);
    std::memcpy(CMSG_DATA(c), &value, sizeof value);
    return *this;
  }
  msghdr& header() {
    h_ = msghdr{};
    h_.msg_control = used_ == 0 ? nullptr : bytes_;
    h_.msg_controllen = used_;
    return h_;
  }

 private:
  alignas(cmsghdr) unsigned char bytes_[256]{};
  std::size_t used_ = 0;
  msghdr h_{};
};

std::vector<std::pair<std::size_t, std::size_t>> split(std::size_t len, std::size_t segment, std::size_t stop_after = 0) {
  std::vector<std::pair<std::size_t, std::size_t>> parts;
  const std::size_t n = split_segments(len, segment, [&](std::size_t offset, std::size_t size) {
    parts.emplace_back(offset, size);
    return stop_after == 0 || parts.size() < stop_after;
  });
  CHECK(n == parts.size());
  return parts;
}

using parts = std::vector<std::pair<std::size_t, std::size_t>>;

}  // namespace

TEST_CASE("receive_control: no control data says nothing", "[receive_control]") {
  control_builder b;
  const receive_control c = read_control(b.header());
  CHECK_FALSE(c.has_overflow);
  CHECK_FALSE(c.has_ifindex);
  CHECK(c.segment == 0);
}

TEST_CASE("receive_control: drop count, IPv4 packet info and GRO segment size are read", "[receive_control]") {
  in_pktinfo pi{};
  pi.ipi_ifindex = 7;
  control_builder b;
  b.add(SOL_SOCKET, SO_RXQ_OVFL, std::uint32_t{41})
      .add(IPPROTO_IP, IP_PKTINFO, pi)
      .add(IPPROTO_UDP, racket::detail::udp_gro_option, int{1200});
  const receive_control c = read_control(b.header());
  CHECK(c.has_overflow);
  CHECK(c.overflow == 41);
  CHECK(c.has_ifindex);
  CHECK(c.ifindex == 7);
  CHECK(c.segment == 1200);
}

TEST_CASE("receive_control: IPv6 packet info gives the interface, unknown messages are skipped", "[receive_control]") {
  in6_pktinfo pi{};
  pi.ipi6_ifindex = 3;
  control_builder b;
  b.add(SOL_SOCKET, SO_TIMESTAMP, std::uint64_t{99}).add(IPPROTO_IPV6, IPV6_PKTINFO, pi);
  const receive_control c = read_control(b.header());
  CHECK(c.has_ifindex);
  CHECK(c.ifindex == 3);
  CHECK_FALSE(c.has_overflow);
  CHECK(c.segment == 0);
}

TEST_CASE("receive_control: a GRO size of zero or less means not coalesced", "[receive_control]") {
  control_builder zero;
  zero.add(IPPROTO_UDP, racket::detail::udp_gro_option, int{0});
  CHECK(read_control(zero.header()).segment == 0);
  control_builder negative;
  negative.add(IPPROTO_UDP, racket::detail::udp_gro_option, int{-5});
  CHECK(read_control(negative.header()).segment == 0);
}

TEST_CASE("receive_control: a buffer that was not coalesced is one datagram, even an empty one", "[receive_control]") {
  CHECK(split(1000, 0) == parts{{0, 1000}});
  CHECK(split(0, 0) == parts{{0, 0}});
  CHECK(split(1000, 1000) == parts{{0, 1000}});
  CHECK(split(1000, 4000) == parts{{0, 1000}});  // a segment size past the length: one datagram
}

TEST_CASE("receive_control: a coalesced buffer splits at the segment size, the last one shorter", "[receive_control]") {
  CHECK(split(1000, 300) == parts{{0, 300}, {300, 300}, {600, 300}, {900, 100}});
  CHECK(split(1200, 300) == parts{{0, 300}, {300, 300}, {600, 300}, {900, 300}});
  CHECK(split(2, 1) == parts{{0, 1}, {1, 1}});
}

TEST_CASE("receive_control: splitting stops after the call that says so", "[receive_control]") {
  CHECK(split(1000, 300, 2) == parts{{0, 300}, {300, 300}});
  CHECK(split(1000, 300, 1) == parts{{0, 300}});
}
