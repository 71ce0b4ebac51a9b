// SPDX-License-Identifier: MIT
#pragma once

// Raw UDP multicast on `lo`, the benchmarks' baselines: a sending socket, a joined receiving
// socket (Racket's default buffer sizes: 1 MiB send, 4 MiB receive), UDP_GRO on a receiver,
// and `gso_send`, one sendmsg handing a buffer of full datagrams to the kernel as one
// UDP_SEGMENT send (the raw GSO reference). Knows nothing of Racket, processes or timing.

#include "racket/subscriber_options.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

namespace bench_common {

// The most one UDP_SEGMENT send carries: 64 segments and 65507 bytes of payload.
inline constexpr std::size_t gso_max_segments = 64;
inline constexpr std::size_t gso_max_bytes = 65507;

// How many datagrams of `datagram` bytes one GSO send takes.
constexpr std::size_t gso_segments(std::size_t datagram) {
  const std::size_t by_bytes = datagram == 0 ? 1 : gso_max_bytes / datagram;
  return by_bytes < gso_max_segments ? (by_bytes == 0 ? 1 : by_bytes) : gso_max_segments;
}

inline int raw_sender() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  in_addr lo{};
  lo.s_addr = htonl(INADDR_LOOPBACK);
  ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo);
  const int one = 1, sndbuf = 1 << 20;
  ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof one);
  ::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);  // as Racket's default
  return fd;
}

inline sockaddr_in raw_group(const char* group, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, group, &a.sin_addr);
  return a;
}

// A socket bound to and joined on `group`:`port` on lo; recv gives up after `timeout_ms`.
inline int raw_receiver(const char* group, std::uint16_t port, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const int one = 1, rcvbuf = racket::subscriber_options{}.receive_buffer_size;  // as Racket's default
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);  // as Racket does where allowed
  const sockaddr_in a = raw_group(group, port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) std::abort();
  ip_mreq m{};
  m.imr_multiaddr = a.sin_addr;
  m.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
  if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) std::abort();
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Coalesced receives: one recv returns up to 64 KB of same-sized datagrams.
inline void enable_gro(int fd) {
  const int one = 1;
  ::setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
}

// One sendmsg of `bytes` to `to`; with `segment` > 0 and under the bytes, as UDP_SEGMENT
// datagrams of `segment` bytes (the last may be shorter). Keeps its message header, so a
// loop re-sends the same buffer without rebuilding it.
class gso_send {
 public:
  gso_send(const sockaddr_in& to, std::span<const std::byte> bytes, std::size_t segment) : to_(to) {
    iov_.iov_base = const_cast<std::byte*>(bytes.data());
    iov_.iov_len = bytes.size();
    h_.msg_name = &to_;
    h_.msg_namelen = sizeof to_;
    h_.msg_iov = &iov_;
    h_.msg_iovlen = 1;
    if (segment > 0 && segment < bytes.size()) {
      h_.msg_control = control_;
      h_.msg_controllen = sizeof control_;
      cmsghdr* c = CMSG_FIRSTHDR(&h_);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto seg = static_cast<std::uint16_t>(segment);
      std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
  }
  gso_send(const gso_send&) = delete;
  gso_send& operator=(const gso_send&) = delete;

  // The send's result (bytes sent, or -1 with errno).
  ssize_t operator()(int fd) { return ::sendmsg(fd, &h_, 0); }
  // The same header for another buffer of the same segment size (its length may differ).
  void rebind(std::span<const std::byte> bytes) {
    iov_.iov_base = const_cast<std::byte*>(bytes.data());
    iov_.iov_len = bytes.size();
    h_.msg_iov = &iov_;
    h_.msg_iovlen = 1;
  }
  // The same header for a datagram run in pieces (`pieces` outlives the send).
  void rebind(std::span<iovec> pieces) {
    h_.msg_iov = pieces.data();
    h_.msg_iovlen = pieces.size();
  }

 private:
  sockaddr_in to_;
  iovec iov_{};
  msghdr h_{};
  alignas(cmsghdr) char control_[CMSG_SPACE(sizeof(std::uint16_t))] = {};
};

}  // namespace bench_common
