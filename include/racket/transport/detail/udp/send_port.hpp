// SPDX-License-Identifier: MIT
#pragma once

// One send port: a non-blocking UDP socket pinned to one interface (IP_MULTICAST_IF /
// IPV6_MULTICAST_IF), with its EAGAIN backlog and the flush that empties it when the socket
// becomes writable. Knows nothing of batches, receivers or which interfaces are selected.

#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/socket_ops.hpp"
#include "racket/transport/detail/udp/core.hpp"
#include "racket/transport/interfaces.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/bind_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/ip/udp.hpp>
#include <asio/socket_base.hpp>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

namespace racket::detail::udp {

// Bytes a send port may hold back when the kernel says EAGAIN; beyond it, datagrams are
// dropped and counted as `would_block` (udp_transport::send_backlog_bytes).
inline constexpr std::size_t send_backlog_bytes = std::size_t{4} << 20;

struct queued {
  socket_address to;
  std::vector<std::byte> data;
};

struct send_port {
  // On the transport's strand: the socket's completions (the backlog's flush) run there.
  send_port(const asio::any_io_executor& ex, std::shared_ptr<backlog_book> book)
      : socket(ex), book(std::move(book)) {}
  asio::ip::udp::socket socket;
  std::shared_ptr<backlog_book> book;  // the transport's: this port's backlog is in it
  std::string name;
  unsigned ifindex = 0;
  std::deque<queued> backlog;
  std::size_t backlog_bytes = 0;
  bool segmentation = false;  // GSO attempted: the option is on and the kernel has not refused it
  bool flushing = false;  // strand only
  std::atomic<bool> closed{false};  // set by any thread (close); read on the strand
};

// Sets the port's socket options: GSO where the kernel knows UDP_SEGMENT, the interface, TTL,
// loopback, SO_SNDBUF. Stops at the first option refused (ec), except SO_SNDBUF.
inline void configure_send_socket(send_port& port, address_family family, const transport_options& options,
                                  std::error_code& ec) {
  const int fd = port.socket.native_handle();
  if (options.segmentation_offload) {
    // A kernel without UDP_SEGMENT (before 4.18) does not know the option: no GSO from the start.
    int size = 0;
    socklen_t len = sizeof size;
    port.segmentation = ::getsockopt(fd, udp_level, udp_segment_option, &size, &len) == 0;
  }
  const int loop = options.loopback ? 1 : 0;
  if (family == address_family::v4) {
    ip_mreqn req{};
    req.imr_ifindex = static_cast<int>(port.ifindex);
    if (!set_opt(fd, IPPROTO_IP, IP_MULTICAST_IF, &req, sizeof req, ec)) return;
    if (!set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL, options.ttl, ec)) return;
    if (!set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, loop, ec)) return;
  } else {
    if (!set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, ec)) return;
    if (!set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(port.ifindex), ec)) return;
    if (!set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, options.ttl, ec)) return;
    if (!set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, loop, ec)) return;
  }
  set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, options.send_buffer_size, ec);
}

// A send port for `itf`: its socket opened non-blocking and configured. `ec`: the socket could
// not be opened (nullptr is returned). `option_ec`: an option was refused (the port is still
// returned; its sends then fail and are reported per datagram).
inline std::shared_ptr<send_port> open_send_port(core& c, const interface_info& itf, address_family family,
                                                 std::error_code& ec, std::error_code& option_ec) {
  const transport_options& options = c.options;
  auto port = std::make_shared<send_port>(c.strand.io_object_executor(), c.backlog);
  port->name = itf.name;
  port->ifindex = itf.index;
  port->socket.open(family == address_family::v4 ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
  if (!ec) port->socket.non_blocking(true, ec);
  if (ec) return nullptr;
  configure_send_socket(*port, family, options, option_ec);
  return port;
}

// Closes the port for good, from any thread: a pending flush sees `closed` and stops. The
// socket and its backlog (which the strand's flush reads) go on the strand: at once when the
// caller is on it, else as soon as the strand's running job, which may be sending on the
// socket, is done.
inline void close_send_port(const strand_type& strand, std::shared_ptr<send_port> port) {
  port->closed = true;
  asio::dispatch(strand, [port = std::move(port)] {
    port->book->changed(-static_cast<std::ptrdiff_t>(port->backlog_bytes));
    port->backlog.clear();
    port->backlog_bytes = 0;
    std::error_code ignored;
    port->socket.close(ignored);
  });
}

// Queues a datagram behind the backlog; false when that would pass send_backlog_bytes.
inline bool enqueue(send_port& port, const socket_address& to, std::span<const std::byte> bytes) {
  if (port.backlog_bytes + bytes.size() > send_backlog_bytes) return false;
  port.backlog.push_back(queued{to, std::vector<std::byte>(bytes.begin(), bytes.end())});
  port.backlog_bytes += bytes.size();
  port.book->changed(static_cast<std::ptrdiff_t>(bytes.size()));
  return true;
}

inline void flush(core& c, const std::shared_ptr<send_port>& port);

// Waits for the port's socket to become writable, then flushes its backlog (once at a time).
inline void arm_flush(core& c, const std::shared_ptr<send_port>& port) {
  if (port->flushing) return;
  port->flushing = true;
  port->socket.async_wait(asio::socket_base::wait_write, asio::bind_executor(c.strand, [&c, port](const std::error_code& ec) {
    // `closed` is set by close(), which the destructor runs: checked before touching `c`.
    if (port->closed) return;
    port->flushing = false;
    if (ec) {
      c.report(ec, port->name);
      return;
    }
    flush(c, port);
  }));
}

// Sends the backlog in order until it is empty or the kernel says EAGAIN again (then waits).
inline void flush(core& c, const std::shared_ptr<send_port>& port) {
  while (!port->backlog.empty()) {
    queued& q = port->backlog.front();
    const ssize_t n = ::sendto(port->socket.native_handle(), q.data.data(), q.data.size(),
                               MSG_DONTWAIT | MSG_NOSIGNAL, q.to.get(), q.to.size);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      arm_flush(c, port);
      return;
    }
    if (n >= 0) {
      ++c.stats.datagrams_sent;
      c.stats.bytes_sent += q.data.size();
    } else {
      ++c.stats.send_errors;
      c.report(last_errno(), port->name);
    }
    port->backlog_bytes -= q.data.size();
    const auto sent = static_cast<std::ptrdiff_t>(q.data.size());
    port->backlog.pop_front();
    port->book->changed(-sent);  // may post the waiters: last, after the port is consistent
  }
}

}  // namespace racket::detail::udp
