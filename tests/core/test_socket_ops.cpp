// SPDX-License-Identifier: MIT
// detail::socket_address (an endpoint as the sockaddr sendto takes) and the GSO constants.
// Builds addresses only: no socket is opened.
#include "racket/transport/detail/socket_ops.hpp"

#include "catch.hpp"

#include <asio/ip/address.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

TEST_CASE("socket_ops: an IPv4 endpoint as a sockaddr_in", "[socket_ops]") {
  const racket::endpoint ep{asio::ip::make_address("239.255.1.2"), 19091};
  const racket::detail::socket_address a(ep);
  REQUIRE(a.size == sizeof(sockaddr_in));
  sockaddr_in sin{};
  std::memcpy(&sin, a.get(), sizeof sin);
  CHECK(sin.sin_family == AF_INET);
  CHECK(ntohs(sin.sin_port) == 19091);
  CHECK(ntohl(sin.sin_addr.s_addr) == 0xEFFF0102u);
}

TEST_CASE("socket_ops: an IPv6 endpoint as a sockaddr_in6, scope id included", "[socket_ops]") {
  const auto group = asio::ip::make_address_v6("ff12::1234");
  const racket::endpoint ep{asio::ip::address_v6(group.to_bytes(), 7), 19092};
  const racket::detail::socket_address a(ep);
  REQUIRE(a.size == sizeof(sockaddr_in6));
  sockaddr_in6 sin6{};
  std::memcpy(&sin6, a.get(), sizeof sin6);
  CHECK(sin6.sin6_family == AF_INET6);
  CHECK(ntohs(sin6.sin6_port) == 19092);
  CHECK(sin6.sin6_scope_id == 7);
  CHECK(std::memcmp(&sin6.sin6_addr, group.to_bytes().data(), 16) == 0);
}

TEST_CASE("socket_ops: which errors mean the kernel refuses segmentation itself", "[socket_ops]") {
  for (const int e : {EIO, EINVAL, EOPNOTSUPP, ENOPROTOOPT}) CHECK(racket::detail::refuses_segmentation(e));
  for (const int e : {0, EAGAIN, EMSGSIZE, ENETUNREACH, EPERM}) CHECK_FALSE(racket::detail::refuses_segmentation(e));
  // The kernel's ABI values (include/uapi/linux/udp.h) and its limits for one segmented send.
  CHECK(racket::detail::udp_segment_option == 103);
  CHECK(racket::detail::udp_gro_option == 104);
  CHECK(racket::detail::max_segments == 64);
  CHECK(racket::detail::max_segmented_bytes == 65535 - 20 - 8);
}

namespace {
int rmem_max() {
  FILE* f = std::fopen("/proc/sys/net/core/rmem_max", "r");
  if (f == nullptr) return -1;
  int v = -1;
  if (std::fscanf(f, "%d", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}
}  // namespace

TEST_CASE("socket_ops: a receive buffer over rmem_max is forced where the process may, else capped",
          "[socket_ops]") {
  // Opens a socket and sends nothing: safe outside a private namespace.
  const int cap = rmem_max();
  REQUIRE(cap > 0);
  const int want = cap * 2 + 4096;  // more than rmem_max lets SO_RCVBUF give
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  const int got = racket::detail::set_receive_buffer(fd, want);
  // Whether this process may force a size (CAP_NET_ADMIN), asked of another socket.
  const int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(probe >= 0);
  const bool may_force = ::setsockopt(probe, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) == 0;
  ::close(probe);
  INFO("rmem_max " << cap << ", asked " << want << ", kernel reports " << got << ", may force " << may_force);
  if (may_force)
    CHECK(got / 2 >= want);  // the kernel reports twice what it holds in payload
  else
    CHECK(got / 2 == cap);
  // A request under the cap is what SO_RCVBUF alone gives.
  const int small = racket::detail::set_receive_buffer(fd, 64 << 10);
  CHECK(small / 2 == (64 << 10));
  ::close(fd);
}
