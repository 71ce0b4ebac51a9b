// SPDX-License-Identifier: MIT
#pragma once

// One receiver of a udp_transport: its socket (options, bind, kind filter), its memberships
// (the interfaces its group is joined on), the positions of the selected interfaces, and the
// buffers and headers `recvmmsg` fills. Reading them is detail/udp/receive_loop.hpp. Knows
// nothing of the transport's other receivers, its send ports or its lock.

#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/socket_ops.hpp"
#include "racket/transport/detail/udp/serial_executor.hpp"
#include "racket/transport/interfaces.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/error.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/address_v6.hpp>
#include <asio/ip/udp.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <system_error>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace racket::detail::udp {

// Datagrams (or GRO buffers) read per `recvmmsg` call (udp_transport::receive_batch).
inline constexpr std::size_t receive_batch = 16;
// Size of each receive slot: the largest UDP payload fits (udp_transport::receive_slot_size).
inline constexpr std::size_t receive_slot_size = 65536;

struct receiver {
  // On the transport's strand `s`: the socket's completions (the reads) are taken there
  // (receive_loop::arm_read). The socket is made on `s.io_object_executor()`.
  explicit receiver(const serial_executor& s) : strand(s), socket(s.io_object_executor()) {}
  static constexpr std::size_t control_size = 128;
  // SO_RXQ_OVFL, the larger of the PKTINFOs, UDP_GRO: all three fit, so none is cut off.
  static_assert(CMSG_SPACE(sizeof(std::uint32_t)) + CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) <=
                control_size);

  void allocate() {
    // Not zero-filled: untouched pages of the 1 MiB stay unmapped, so a receiver of small
    // datagrams costs a few pages of memory, not the whole batch.
    buffers = std::make_unique_for_overwrite<std::byte[]>(receive_batch * receive_slot_size);
    control.resize(receive_batch * control_size);
    if (unicast) names.resize(receive_batch);
    iov.resize(receive_batch);
    msgs.resize(receive_batch);
    for (std::size_t i = 0; i < receive_batch; ++i) {
      iov[i].iov_base = buffers.get() + i * receive_slot_size;
      iov[i].iov_len = receive_slot_size;
    }
    reset_headers();
  }

  // The first `n` headers, as recvmmsg wants them: it rewrites only the lengths and flags
  // of the ones it filled, so after a call only those are reset (a lone datagram, the
  // latency case, resets one, not all sixteen). Only a unicast socket asks for the sender's
  // address (requests go back there); a multicast receiver's datagrams need none.
  void reset_headers(std::size_t n = receive_batch) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
      msghdr& h = msgs[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &iov[i];
      h.msg_iovlen = 1;
      h.msg_control = control.data() + i * control_size;
      h.msg_controllen = control_size;
      if (unicast) {
        h.msg_name = &names[i];
        h.msg_namelen = sizeof(sockaddr_storage);
      }
      msgs[i].msg_len = 0;
    }
  }

  // Joins the group on `ifindex`, remembering it for leave and shut.
  bool join(unsigned ifindex, std::error_code& ec) {
    if (!join_group(socket.native_handle(), ep.group, ifindex, ec)) return false;
    joined.push_back(ifindex);
    return true;
  }

  // Leaves the group on `ifindex` if it was joined there; errors are expected (the device may
  // be gone, which already dropped the kernel's membership) and ignored.
  void leave(unsigned ifindex) {
    const auto it = std::find(joined.begin(), joined.end(), ifindex);
    if (it == joined.end()) return;
    std::error_code ignored;
    leave_group(socket.native_handle(), ep.group, ifindex, ignored);
    joined.erase(it);
  }

  // The selection, in order: a datagram's interface position is its ifindex's place here.
  void set_positions(const std::vector<interface_info>& interfaces) {
    ifindex_to_position.clear();
    for (const auto& itf : interfaces) ifindex_to_position.push_back(itf.index);
    one_interface.store(ifindex_to_position.size() <= 1, std::memory_order_relaxed);
  }

  // From any thread (under the transport's mutex, which guards `joined`): marks the receiver
  // closed, so the strand's read stops before its next datagram, and leaves every group now
  // (a setsockopt, safe beside a read on the same socket). The socket itself is closed by
  // close_socket, on the strand. False when it was closed already.
  bool shut() {
    if (closed.exchange(true)) return false;
    const int fd = socket.native_handle();
    for (const unsigned ifindex : joined) {
      std::error_code ignored;  // closing the socket drops the membership anyway
      leave_group(fd, ep.group, ifindex, ignored);
    }
    joined.clear();
    return true;
  }

  // On the strand only, after shut: a pending wait completes with operation_aborted and,
  // seeing `closed`, does nothing.
  void close_socket() {
    std::error_code ignored;
    socket.close(ignored);
  }

  // Gives up on a receiver being opened: `ec` = e, the socket closed.
  void abandon(std::error_code e, std::error_code& ec) {
    // Asio reports socket errors in its own category, which does not compare equal to
    // std::errc values: hand the application the plain system error instead.
    if (e.category() == asio::error::get_system_category()) e = std::error_code(e.value(), std::system_category());
    ec = e;
    std::error_code ignored;
    socket.close(ignored);
  }

  // The sender of buffer i of a unicast socket (false: no address, or not one of ours).
  bool source_of(std::size_t i, endpoint& out) const noexcept {
    const msghdr& h = msgs[i].msg_hdr;
    if (!unicast || h.msg_name == nullptr) return false;
    const auto& ss = names[i];
    if (ss.ss_family == AF_INET && h.msg_namelen >= sizeof(sockaddr_in)) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
      out = endpoint{asio::ip::address_v4(ntohl(a->sin_addr.s_addr)), ntohs(a->sin_port)};
      return true;
    }
    if (ss.ss_family == AF_INET6 && h.msg_namelen >= sizeof(sockaddr_in6)) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
      asio::ip::address_v6::bytes_type b;
      std::copy(a->sin6_addr.s6_addr, a->sin6_addr.s6_addr + 16, b.begin());
      out = endpoint{asio::ip::address_v6(b, a->sin6_scope_id), ntohs(a->sin6_port)};
      return true;
    }
    return false;
  }

  receiver_id id = 0;
  bool unicast = false;  // a unicast socket (open_unicast): no group, asks for senders' addresses
  std::vector<sockaddr_storage> names;  // unicast only: the senders of the batch
  endpoint sender;                      // unicast only: the sender of the datagram being handled
  endpoint ep;
  address_family family = address_family::v4;
  serial_executor strand;  // the transport's (a copy made once, not one per read)
  asio::ip::udp::socket socket;
  datagram_handler handler;
  segments_handler segments;  // may be empty: every datagram then goes to `handler`
  std::vector<unsigned> joined;               // ifindexes the group is joined on
  std::vector<unsigned> ifindex_to_position;  // selection order
  // Set with ifindex_to_position: with one interface every datagram's position is 0, and
  // position_of need not take the mutex to look it up.
  std::atomic<bool> one_interface{true};
  std::uint32_t last_overflow = 0;            // SO_RXQ_OVFL running total last seen
  bool gro = false;                           // UDP_GRO on: a buffer may hold several datagrams
  std::atomic<bool> closed{false};            // set by any thread (shut); read by the strand's reads
  std::unique_ptr<std::byte[]> buffers;
  std::vector<std::byte> control;
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;
};

using receiver_map = std::map<receiver_id, std::shared_ptr<receiver>>;

// What opening every receiver's socket shares, a group's or the unicast one: a socket of
// r.family with SO_RCVBUF (best effort: capped at rmem_max unless the process may force it,
// set_receive_buffer, and a refusal must not stop receiving), SO_RXQ_OVFL and, for v6, IPv6
// only; then `setup(fd, e)`: the socket's own options and its bind, false with `e` set when a
// step fails; then non-blocking. False with `ec` set (and the socket closed) when a step fails.
template <class Setup>
bool open_socket(receiver& r, const transport_options& options, std::error_code& ec, Setup&& setup) {
  const bool v4 = r.family == address_family::v4;
  r.socket.open(v4 ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
  if (ec) return false;
  const int fd = r.socket.native_handle();
  std::error_code e;
  set_receive_buffer(fd, options.receive_buffer_size);
  bool ok = set_int_opt(fd, SOL_SOCKET, SO_RXQ_OVFL, 1, e) &&
            (v4 || set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, e)) && setup(fd, e);
  if (ok) {
    e.clear();
    r.socket.non_blocking(true, e);
    ok = !e;
  }
  if (!ok) r.abandon(e, ec);
  return ok;
}

// Opens r's socket for r.ep and r.family (open_socket), sets its options and binds it, before
// any join: with SO_REUSEADDR, packet info, UDP_GRO when asked (best effort, not for a
// kind-filtered receiver), IP(V6)_MULTICAST_ALL off, bound to the group (link-scope IPv6
// without a scope id: the wildcard), the kind filter when `only_kind` is 0..255. False with
// `ec` set (and the socket closed) when a step fails.
inline bool open_receive_socket(receiver& r, const transport_options& options, int only_kind, std::error_code& ec) {
  return open_socket(r, options, ec, [&](int fd, std::error_code& e) {
    const endpoint& ep = r.ep;
    const bool v4 = r.family == address_family::v4;
    if (!set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1, e)) return false;
    const bool filtered = only_kind >= 0 && only_kind <= 255;
    // Best effort (Linux 5.0+): without it the kernel splits coalesced datagrams itself.
    if (options.segmentation_offload && !filtered) r.gro = set_int_opt(fd, udp_level, udp_gro_option, 1, e);
    e.clear();
    if (v4) {
      if (!set_int_opt(fd, IPPROTO_IP, IP_PKTINFO, 1, e)) return false;
      if (!set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, e)) return false;
    } else {
      if (!set_int_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, e)) return false;
#ifdef IPV6_MULTICAST_ALL
      // Linux >= 4.20; older kernels keep the default (deliver all joined groups), which the
      // bind to the group address already narrows to this group.
      set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, e);
      e.clear();
#endif
    }
    // A link-scope IPv6 group (ff02::/16, ff12::/16) cannot be bound without a scope id: such
    // a receiver binds the wildcard address instead and relies on IPV6_MULTICAST_ALL = 0.
    const bool wildcard = !v4 && ep.group.to_v6().is_multicast_link_local() && ep.group.to_v6().scope_id() == 0;
    r.socket.bind(
        asio::ip::udp::endpoint(wildcard ? asio::ip::address(asio::ip::address_v6::any()) : ep.group, ep.port), e);
    if (e) return false;
    if (filtered) attach_kind_filter(fd, static_cast<std::uint8_t>(only_kind));
    return true;
  });
}

}  // namespace racket::detail::udp
