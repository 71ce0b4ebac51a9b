// SPDX-License-Identifier: MIT
#pragma once

// A udp_transport's unicast socket (one per family, for unicast peers): how it is opened (a
// receiver with no group, bound to the wildcard address, asking for senders' addresses) and
// how one datagram is sent from it to one peer. Knows nothing of peers' names, the
// multicast selection, the transport's lock or its error handler.

#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/socket_ops.hpp"
#include "racket/transport/detail/udp/core.hpp"
#include "racket/transport/detail/udp/receiver.hpp"

#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>

#include <cerrno>
#include <cstdint>
#include <span>
#include <system_error>

#include <sys/socket.h>

namespace racket::detail::udp {

// Opens r's socket as the family's unicast socket (open_socket: SO_RCVBUF, SO_RXQ_OVFL, IPv6
// only for v6, non-blocking): SO_SNDBUF (best effort), bound to the wildcard address and
// `port` (0: any). No group, no GRO. False with `ec` set (and the socket closed) on failure.
inline bool open_unicast_socket(receiver& r, const transport_options& options, std::uint16_t port,
                                std::error_code& ec) {
  r.unicast = true;
  return open_socket(r, options, ec, [&](int fd, std::error_code& e) {
    set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, options.send_buffer_size, e);
    e.clear();
    const asio::ip::address any = r.family == address_family::v4 ? asio::ip::address(asio::ip::address_v4::any())
                                                                 : asio::ip::address(asio::ip::address_v6::any());
    r.socket.bind(asio::ip::udp::endpoint(any, port), e);
    if (e) return false;
    r.ep = endpoint{any, r.socket.local_endpoint(e).port()};
    return !e;
  });
}

// One datagram from r's unicast socket to `to`, counted in c's stats; never blocks, never
// reports (the caller names the peer).
inline send_result send_unicast_datagram(core& c, receiver& r, const endpoint& to, std::span<const std::byte> bytes) {
  const asio::ip::udp::endpoint dest(to.group, to.port);
  ssize_t n;
  do {
    n = ::sendto(r.socket.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT, dest.data(),
                 static_cast<socklen_t>(dest.size()));
  } while (n < 0 && errno == EINTR);
  if (n >= 0) {
    ++c.stats.datagrams_sent;
    c.stats.bytes_sent += bytes.size();
    return {.ok = 1};
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    ++c.stats.send_would_block;
    return {.would_block = 1};
  }
  ++c.stats.send_errors;
  return {.failed = 1};
}

}  // namespace racket::detail::udp
