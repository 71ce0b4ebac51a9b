// SPDX-License-Identifier: MIT
#pragma once

// The Linux socket calls the UDP transport makes that Asio does not wrap: setting options,
// joining and leaving groups by interface index, the classic-BPF kind filter, an endpoint as
// a sockaddr, and the kernel's UDP GSO/GRO constants. Stateless: knows nothing of the
// transport, its interfaces or its receivers.

#include "racket/endpoint.hpp"

#include <asio/ip/address.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/ip/address_v6.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

namespace racket::detail {

// Lets only datagrams whose payload byte 5 (the Racket kind) equals `kind` reach the socket,
// and sealed ones (kind 4) whose inner kind (byte 7, in clear) equals it. For UDP sockets the
// filter sees the packet from the UDP header on: byte 5 is at offset 13.
inline void attach_kind_filter(int fd, std::uint8_t kind) noexcept {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8 + 5),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kind, 3, 0),  // the kind: pass
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 3),     // not sealed: drop
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8 + 7),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kind, 0, 1),  // sealed, of the kind: pass
      BPF_STMT(BPF_RET | BPF_K, 0xFFFFFFFFu),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  (void)::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

// UDP segmentation offload (UDP_SEGMENT, Linux 4.18) and coalesced receive (UDP_GRO, 5.0).
// The values are the kernel's ABI, spelled out for C libraries whose headers predate them;
// whether the running kernel has them is found out at run time. SOL_UDP is IPPROTO_UDP.
#ifdef UDP_SEGMENT
inline constexpr int udp_segment_option = UDP_SEGMENT;
#else
inline constexpr int udp_segment_option = 103;
#endif
#ifdef UDP_GRO
inline constexpr int udp_gro_option = UDP_GRO;
#else
inline constexpr int udp_gro_option = 104;
#endif
inline constexpr int udp_level = IPPROTO_UDP;

// Limits of one segmented send: Linux before 6.x takes at most 64 segments (UDP_MAX_SEGMENTS),
// and the whole must fit one UDP datagram over IPv4 (65535 - 20 - 8), which IPv6 also takes.
inline constexpr std::size_t max_segments = 64;
inline constexpr std::size_t max_segmented_bytes = 65507;

// The kernel refusing segmentation itself (no UDP_SEGMENT, a device or route that cannot
// segment), rather than the datagrams: worth retrying them one by one, without GSO.
inline bool refuses_segmentation(int err) noexcept {
  return err == EIO || err == EINVAL || err == EOPNOTSUPP || err == ENOPROTOOPT;
}

inline std::error_code last_errno() noexcept { return {errno, std::system_category()}; }

inline bool set_opt(int fd, int level, int name, const void* value, socklen_t size,
                    std::error_code& ec) noexcept {
  if (::setsockopt(fd, level, name, value, size) == 0) return true;
  ec = last_errno();
  return false;
}

inline bool set_int_opt(int fd, int level, int name, int value, std::error_code& ec) noexcept {
  return set_opt(fd, level, name, &value, sizeof value, ec);
}

// SO_RCVBUF of `bytes`, best effort. The kernel caps the request at net.core.rmem_max (often
// 208 KiB); a process allowed to (CAP_NET_ADMIN in the socket's network namespace) then gets
// the size asked for through SO_RCVBUFFORCE, as administrators raise rmem_max for multicast
// receivers. Returns the buffer the kernel reports (twice the payload bytes it holds, its
// bookkeeping included), 0 when it cannot be read.
inline int set_receive_buffer(int fd, int bytes) noexcept {
  std::error_code e;
  set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, bytes, e);
  int got = 0;
  socklen_t len = sizeof got;
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) != 0) return 0;
  if (got / 2 < bytes && set_int_opt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes, e)) {
    len = sizeof got;
    if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) != 0) return 0;
  }
  return got;
}

// IPv4 membership by interface index (ip_mreqn), so interfaces without an address or with
// several addresses are unambiguous.
inline bool change_membership_v4(int fd, int option, const asio::ip::address_v4& group,
                                 unsigned ifindex, std::error_code& ec) noexcept {
  ip_mreqn req{};
  const auto b = group.to_bytes();
  std::memcpy(&req.imr_multiaddr, b.data(), b.size());
  req.imr_ifindex = static_cast<int>(ifindex);
  return set_opt(fd, IPPROTO_IP, option, &req, sizeof req, ec);
}

inline bool change_membership_v6(int fd, int option, const asio::ip::address_v6& group,
                                 unsigned ifindex, std::error_code& ec) noexcept {
  ipv6_mreq req{};
  const auto b = group.to_bytes();
  std::memcpy(&req.ipv6mr_multiaddr, b.data(), b.size());
  req.ipv6mr_interface = ifindex;
  return set_opt(fd, IPPROTO_IPV6, option, &req, sizeof req, ec);
}

// Joins `group` on the interface `ifindex` (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP).
inline bool join_group(int fd, const asio::ip::address& group, unsigned ifindex, std::error_code& ec) noexcept {
  return group.is_v4() ? change_membership_v4(fd, IP_ADD_MEMBERSHIP, group.to_v4(), ifindex, ec)
                       : change_membership_v6(fd, IPV6_JOIN_GROUP, group.to_v6(), ifindex, ec);
}

// Leaves `group` on the interface `ifindex` (IP_DROP_MEMBERSHIP / IPV6_LEAVE_GROUP).
inline bool leave_group(int fd, const asio::ip::address& group, unsigned ifindex, std::error_code& ec) noexcept {
  return group.is_v4() ? change_membership_v4(fd, IP_DROP_MEMBERSHIP, group.to_v4(), ifindex, ec)
                       : change_membership_v6(fd, IPV6_LEAVE_GROUP, group.to_v6(), ifindex, ec);
}

// sockaddr for sendto, built once per call.
struct socket_address {
  // The two families only, not a sockaddr_storage: one is built per datagram sent, and
  // zeroing 128 bytes (rep stos) was a quarter of send_batch's time at 64 B payloads.
  union {
    sockaddr_in v4;
    sockaddr_in6 v6;
  } storage{};
  socklen_t size = 0;

  explicit socket_address(const endpoint& ep) noexcept {
    if (ep.group.is_v4()) {
      sockaddr_in sin{};
      sin.sin_family = AF_INET;
      sin.sin_port = htons(ep.port);
      const auto b = ep.group.to_v4().to_bytes();
      std::memcpy(&sin.sin_addr, b.data(), b.size());
      storage.v4 = sin;
      size = sizeof sin;
    } else {
      sockaddr_in6 sin6{};
      sin6.sin6_family = AF_INET6;
      sin6.sin6_port = htons(ep.port);
      const auto v6 = ep.group.to_v6();
      const auto b = v6.to_bytes();
      std::memcpy(&sin6.sin6_addr, b.data(), b.size());
      sin6.sin6_scope_id = static_cast<std::uint32_t>(v6.scope_id());
      storage.v6 = sin6;
      size = sizeof sin6;
    }
  }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

}  // namespace racket::detail
