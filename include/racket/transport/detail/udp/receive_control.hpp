// SPDX-License-Identifier: MIT
#pragma once

// What the kernel says about one buffer `recvmmsg` filled: its control messages (SO_RXQ_OVFL's
// drop count, the arriving interface from IP_PKTINFO / IPV6_PKTINFO, UDP_GRO's segment size),
// and how a GRO-coalesced buffer splits into the datagrams it holds. Plain rules on bytes the
// kernel wrote: no socket, no counting, no handler.

#include "racket/detail/config.hpp"
#include "racket/transport/detail/socket_ops.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <netinet/in.h>
#include <sys/socket.h>

namespace racket::detail::udp {

struct receive_control {
  bool has_overflow = false;
  std::uint32_t overflow = 0;  // SO_RXQ_OVFL: the socket's running total of kernel drops
  bool has_ifindex = false;
  unsigned ifindex = 0;        // IP_PKTINFO / IPV6_PKTINFO: the interface it arrived on
  std::size_t segment = 0;     // UDP_GRO: the size of the datagrams it coalesced; 0: not coalesced
};

// The control messages of `h` that a receiver asks for; others are skipped.
RACKET_HOT_INLINE receive_control read_control(msghdr& h) noexcept {
  receive_control out;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      std::memcpy(&out.overflow, CMSG_DATA(c), sizeof out.overflow);
      out.has_overflow = true;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi{};
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      out.ifindex = static_cast<unsigned>(pi.ipi_ifindex);
      out.has_ifindex = true;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi{};
      std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
      out.ifindex = pi.ipi6_ifindex;
      out.has_ifindex = true;
    } else if (c->cmsg_level == udp_level && c->cmsg_type == udp_gro_option) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      if (size > 0) out.segment = static_cast<std::size_t>(size);
    }
  }
  return out;
}

// Hands each datagram of a `len`-byte buffer to `each(offset, size)`, in order: the whole
// buffer (possibly empty) when `segment` is 0 or not less than `len`; else the `segment`-byte
// datagrams GRO coalesced, the last one shorter when `len` is not a multiple of it. Stops
// after a call that returns false. Returns how many datagrams it handed over.
template <class Each>
RACKET_HOT_INLINE std::size_t split_segments(std::size_t len, std::size_t segment, Each&& each) {
  if (segment == 0 || segment >= len) segment = len;  // one datagram (possibly empty)
  std::size_t delivered = 0;
  std::size_t offset = 0;
  bool more = true;
  do {
    const std::size_t part = std::min(segment, len - offset);
    ++delivered;
    more = each(offset, part);
    offset += part;
  } while (offset < len && more);
  return delivered;
}

}  // namespace racket::detail::udp
