// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// `udp_transport`: the real-network `racket::transport`, IP multicast over Asio UDP sockets
/// (Linux).

#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/transport/interfaces.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <linux/filter.h>
#include <sys/socket.h>

namespace racket {

namespace detail {

// Lets only datagrams whose payload byte 5 (the Racket kind) equals `kind` reach the socket.
// For UDP sockets the filter sees the packet from the UDP header on: byte 5 is at offset 13.
inline void attach_kind_filter(int fd, std::uint8_t kind) noexcept {
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8 + 5),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kind, 0, 1),
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

}  // namespace detail

/// IP multicast transport over UDP (Linux), the real-network model of `racket::transport`.
///
/// For each address family it is opened for, the transport selects interfaces
/// (`select_interfaces`) and owns one non-blocking send socket per interface, pinned to it with
/// IP_MULTICAST_IF / IPV6_MULTICAST_IF. `send` puts each datagram on every selected interface
/// of the endpoint's family. Each `open_receiver` owns one socket bound to the group and port,
/// joined on every selected interface of the family, drained with `recvmmsg` in batches.
///
/// Failures on one interface (a join, a send) never stop the others: they are counted in
/// `stats()` and reported to the handler given to `set_error_handler`.
///
/// Segmentation offload (`transport_options::segmentation_offload`, on by default): `send_batch`
/// hands each run of equal-size datagrams (`outgoing_datagram::run_length`) to the kernel as
/// one segmented send (UDP GSO), which the kernel splits into the same datagrams on the wire,
/// so one trip through the stack carries up to 64 of them. Receive sockets ask for UDP GRO:
/// the kernel may then return several datagrams of one sender in one buffer, which the
/// transport splits again; the handler is called once per datagram either way, and the
/// counters count datagrams. Where the kernel or a device refuses segmentation, the datagrams
/// are sent one by one instead (counted in `segmentation_fallbacks`, never lost or reported)
/// and that interface stops trying. Neither changes what goes on the wire or is delivered.
///
/// Interfaces come and go (a VPN, a hot-plugged NIC, a container's veth): while a family is
/// open, the selection is re-run every `transport_options::rescan_interval` (on the executor;
/// `rescan()` runs it at once). Without a named list, every interface that now can carry the
/// family's multicast is used; with one, the named interfaces that exist are (so a named
/// interface missing or down earlier is picked up once it is there and up). A new interface
/// gets a send socket and every open receiver's group joined on it; a vanished one (or, without
/// a named list, one that went down or lost its last address) loses its send socket and its
/// memberships, while the other interfaces carry on untouched. Each is counted
/// (`interfaces_added`, `interfaces_removed`); the error handler hears about an interface event
/// at most once (the last failure of its joins or of its send socket), never for the others.
///
/// Thread safety: `open`, `send`, `open_receiver`, `close_receiver`, `close`, `rescan`,
/// `is_open` and `describe` may be called from any thread (an internal mutex serialises them
/// with each other and with the rescan timer); two threads must not call them for the same
/// receiver at once. `interfaces()` and `stats()` return state the executor updates: call
/// them on the executor, or when the io_context is not running. Handlers run on the executor,
/// never under the internal mutex held by another thread; the error handler may call back into
/// the transport. `publisher`/`subscriber` serialise their own calls. Pending operations hold
/// what they touch, so destroying the transport while the io_context still has its handlers
/// queued is safe, even from inside a receive handler; the io_context must outlive the
/// transport.
///
/// \code
/// asio::io_context io;
/// racket::udp_transport udp(io, {.interfaces = {"lo"}});
/// udp.open(racket::address_family::v4);
/// racket::endpoint ep{asio::ip::make_address("239.255.0.1"), 19090};
/// auto id = udp.open_receiver(ep, [](std::span<const std::byte> d, const racket::receive_info&) {
///   std::printf("%zu bytes\n", d.size());
/// });
/// const std::byte hello[] = {std::byte{'h'}, std::byte{'i'}};
/// udp.send(ep, hello);
/// io.run_for(std::chrono::milliseconds(100));
/// udp.close_receiver(id);
/// \endcode
class udp_transport {
 public:
  using context_type = asio::io_context;
  using executor_type = asio::io_context::executor_type;
  using clock_type = std::chrono::steady_clock;
  using timer_type = asio::steady_timer;
  /// Called with the error and the interface's name ("" when not tied to one interface).
  using error_handler = transport_error_handler;

  /// Bytes a send socket may hold back when the kernel says EAGAIN; beyond it, datagrams are
  /// dropped and counted as `would_block`.
  static constexpr std::size_t send_backlog_bytes = std::size_t{4} << 20;
  /// Datagrams read per `recvmmsg` call.
  static constexpr std::size_t receive_batch = 16;
  /// Datagrams a receiver handles per wakeup before it yields to other handlers.
  static constexpr std::size_t max_datagrams_per_wakeup = 256;
  /// Longest a busy poll (transport_options::busy_poll) reads an empty socket before it lets
  /// the executor's other handlers run.
  static constexpr std::chrono::microseconds busy_poll_slice{50};
  /// Size of each receive slot: the largest UDP payload fits.
  static constexpr std::size_t receive_slot_size = 65536;

  /// Creates a closed transport; nothing is selected or opened before `open`.
  udp_transport(asio::io_context& io, const transport_options& options)
      : io_(io), options_(options) {}

  udp_transport(const udp_transport&) = delete;
  udp_transport& operator=(const udp_transport&) = delete;

  /// Closes everything (`close()`).
  ~udp_transport() { close(); }

  /// The executor every handler and timer completion runs on.
  executor_type get_executor() const noexcept { return io_.get_executor(); }

  /// A one-shot timer on the transport's io_context.
  timer_type make_timer() { return timer_type(io_); }

  /// Installs the handler told about per-interface failures (joins, sends, reads). It runs on
  /// the executor, inside the call that hit the failure (`send`, `open_receiver`) or a read.
  void set_error_handler(error_handler handler) {
    std::lock_guard lock(error_mutex_);
    on_error_ = std::move(handler);
  }

  /// Selects the interfaces for `family` and opens one send socket per interface; starts the
  /// rescan timer (`transport_options::rescan_interval`) if it is not running.
  /// Idempotent: a family already open is left as it is. Both families may be open at once.
  ///
  /// \param ec `errc::unknown_interface`, `errc::no_interfaces` (see `select_interfaces`), or
  ///           the errno of a socket that could not be created. A send socket that cannot be
  ///           configured for one interface (e.g. it lost its address) is not an error: that
  ///           interface's sends then fail and are reported per datagram.
  void open(address_family family, std::error_code& ec) {
    std::lock_guard lock(mutex_);
    ec.clear();
    family_state& fs = state(family);
    if (fs.open) return;
    std::string bad;
    auto selected = detail::select_interfaces(options_.interfaces, family, ec, bad);
    if (ec) {
      last_bad_interface_ = bad;
      return;
    }
    std::vector<std::shared_ptr<send_port>> ports;
    for (std::size_t i = 0; i < selected.size(); ++i) {
      auto port = std::make_shared<send_port>(io_);
      port->name = selected[i].name;
      port->ifindex = selected[i].index;
      port->socket.open(family == address_family::v4 ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
      if (ec) return;
      port->socket.non_blocking(true, ec);
      if (ec) return;
      std::error_code opt_ec;
      configure_send_socket(*port, family, opt_ec);
      if (opt_ec) report(opt_ec, port->name);
      ports.push_back(std::move(port));
    }
    fs.interfaces = std::move(selected);
    fs.ports = std::move(ports);
    fs.open = true;
    start_rescan();
  }

  /// Throwing overload of `open`.
  /// \throws std::system_error naming the unknown interface or the family without interfaces.
  void open(address_family family) {
    std::error_code ec;
    open(family, ec);
    std::lock_guard lock(mutex_);
    if (ec == errc::unknown_interface) detail::throw_error(ec, "interface '" + last_bad_interface_ + "'");
    detail::throw_if(ec, std::string(detail::family_name(family)) + " interfaces");
  }

  /// Whether `send_batch` will hand runs to the kernel as segmented sends (UDP GSO): the
  /// option is on, and the kernel has not refused segmentation on every interface (a kernel
  /// without UDP_SEGMENT is found out when a send socket opens). A caller that pads datagrams
  /// to make runs asks this first. True before any family is open when the option is on.
  bool segmentation_offload() const noexcept {
    if (!options_.segmentation_offload) return false;
    std::lock_guard lock(mutex_);
    bool any = false;
    for (const family_state* fs : {&v4_, &v6_}) {
      for (const auto& port : fs->ports) {
        if (port->segmentation) return true;
        any = true;
      }
    }
    return !any;
  }

  /// Whether `open` succeeded for `family` (and `close` was not called since).
  bool is_open(address_family family) const {
    std::lock_guard lock(mutex_);
    return state(family).open;
  }

  /// The selected interfaces of `family`, in selection order (empty when not open).
  /// `receive_info::interface_index` is a position in this vector. A rescan may change it
  /// (on the executor): call on the executor, or with the io_context not running.
  const std::vector<interface_info>& interfaces(address_family family) const noexcept {
    return state(family).interfaces;
  }

  /// Sends one datagram to `ep` on every selected interface of its family. Never blocks.
  ///
  /// Per interface: `ok` when the kernel took it or it was queued behind earlier datagrams the
  /// kernel could not take yet (EAGAIN; flushed when the socket becomes writable, up to
  /// `send_backlog_bytes`); `would_block` when that backlog is full (dropped); `failed` on any
  /// other error (counted in `send_errors`, reported to the error handler). When the family is
  /// not open nothing is sent and the result is `{.failed = 1}` (`errc::not_open`).
  /// Must be called on the executor's thread.
  send_result send(const endpoint& ep, std::span<const std::byte> bytes) {
    std::lock_guard lock(mutex_);
    return send_locked(ep, bytes);
  }

  /// Sends every datagram of `batch` like `send` does (each to its own `to`, on every selected
  /// interface of its family; per-interface backlog on EAGAIN, counting, error reports), but
  /// with one `sendmmsg` per interface for the whole batch instead of one `sendto` per datagram
  /// and interface: the kernel is entered once per interface, whatever the batch size. Sets
  /// each datagram's `result`. Must be called on the executor's thread.
  ///
  /// A run (`run_length` > 1, see `outgoing_datagram`) becomes, while `segmentation_offload()`
  /// holds for the interface, one segmented send per chunk of at most 64 datagrams and 65507
  /// bytes: one entry of the `sendmmsg`. A run that is not what it claims (another `to`, a size
  /// that differs, a last datagram larger than the first, past the end of the batch) is sent
  /// as separate datagrams. Each datagram of a run still gets its own `result` and is counted
  /// on its own in `datagrams_sent` and `bytes_sent`; `segmented_sends` counts the chunks.
  /// When the kernel refuses a segmented send (EIO, EINVAL, EOPNOTSUPP, ENOPROTOOPT), that
  /// interface stops using segmentation; when the segments exceed its MTU (EMSGSIZE), only
  /// that chunk goes one by one. Either way its datagrams are sent individually at once and
  /// `segmentation_fallbacks` counts the refusal, which is not an error.
  void send_batch(std::span<outgoing_datagram> batch) {
    std::lock_guard lock(mutex_);
    for (outgoing_datagram& d : batch) d.result = send_result{};
    if (batch.size() == 1 && batch[0].run_length <= 1) {
      // The idle publisher's case (the latency path): one sendto per port, without building
      // the batch's index, address and iovec tables.
      batch[0].result = send_locked(batch[0].to, batch[0].bytes);
      return;
    }
    for (const address_family family : {address_family::v4, address_family::v6}) {
      batch_index_.clear();
      bool runs = false;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (family_of(batch[i].to) != family) continue;
        batch_index_.push_back(i);
        runs = runs || batch[i].run_length > 1;
      }
      if (batch_index_.empty()) continue;
      family_state& fs = state(family);
      if (!fs.open) {
        for (const std::size_t i : batch_index_) {
          ++stats_.send_errors;
          report(make_error_code(errc::not_open), "");
          batch[i].result.failed = 1;
        }
        continue;
      }
      const std::size_t n = batch_index_.size();
      batch_addrs_.clear();
      batch_iov_.resize(n);
      for (std::size_t k = 0; k < n; ++k) {
        const outgoing_datagram& d = batch[batch_index_[k]];
        batch_addrs_.emplace_back(d.to);
        batch_iov_[k] = iovec{const_cast<std::byte*>(d.bytes.data()), d.bytes.size()};
      }
      plain_.built = false;
      bool segmented = false;
      if (runs && options_.segmentation_offload) {
        for (const auto& port : fs.ports) segmented = segmented || port->segmentation;
        if (segmented) segmented = build_segmented(batch, n);
      }
      for (const auto& port : fs.ports) send_batch_on(port, batch, n, segmented && port->segmentation);
    }
  }

  /// Opens a receiver for `ep`: one socket with SO_REUSEADDR (other sockets and processes on
  /// the host may receive the same group), bound to the group address and port (Linux then
  /// delivers only that group; IP_MULTICAST_ALL is off so memberships of other sockets do not
  /// leak in; link-scope IPv6 groups without a scope id bind the wildcard address), joined on
  /// every selected interface of the family. Opens the family first if it is not open.
  ///
  /// `handler(datagram, info)` runs on the executor for each datagram; the span is valid only
  /// during the call; `info.interface_index` is the arriving interface's position in
  /// `interfaces(family)`. Truncated datagrams (over `receive_slot_size`) are dropped and
  /// counted in `receive_errors`. Kernel drops (SO_RXQ_OVFL) are added to `kernel_drops` when
  /// the next datagram after them arrives; the kernel counts buffers, so a dropped GRO buffer
  /// counts once however many datagrams it held. With `transport_options::segmentation_offload`
  /// the socket asks for UDP GRO (best effort): a buffer the kernel coalesced from several
  /// datagrams is split at the segment size it reports, and the handler still runs once per
  /// datagram, in order, with the same `info` (stopping if it closes the receiver).
  ///
  /// \param ec a failed join on one interface is counted (`join_errors`) and reported, and the
  ///           receiver still opens; if every join fails, or the socket cannot be opened or
  ///           bound, `ec` is set and 0 is returned.
  /// \param only_kind when 0..255, a socket filter (classic BPF) lets only datagrams whose
  ///        byte 5 (the Racket datagram kind) equals it reach the socket: a publisher listening
  ///        for snapshot requests is then not woken by the data on its group, its own included.
  ///        Best effort: where the kernel refuses the filter, every datagram arrives. Such a
  ///        receiver does not ask for UDP GRO, so the filter judges each datagram, not just the
  ///        first of a coalesced buffer.
  /// \returns a non-zero id for `close_receiver`.
  [[nodiscard]] receiver_id open_receiver(const endpoint& ep, datagram_handler handler, std::error_code& ec,
                                          int only_kind = -1) {
    std::lock_guard lock(mutex_);
    ec.clear();
    const address_family family = family_of(ep);
    open(family, ec);
    if (ec) return 0;
    family_state& fs = state(family);

    auto r = std::make_shared<receiver>(io_);
    r->ep = ep;
    r->handler = std::move(handler);
    r->family = family;
    auto fail = [&](std::error_code e) -> receiver_id {
      // Asio reports socket errors in its own category, which does not compare equal to
      // std::errc values: hand the application the plain system error instead.
      if (e.category() == asio::error::get_system_category()) e = std::error_code(e.value(), std::system_category());
      ec = e;
      std::error_code ignored;
      r->socket.close(ignored);
      return 0;
    };
    const bool v4 = family == address_family::v4;
    r->socket.open(v4 ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
    if (ec) return 0;
    const int fd = r->socket.native_handle();
    std::error_code e;
    if (!detail::set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1, e)) return fail(e);
    // Best effort: the kernel caps it at rmem_max, and a refusal must not stop receiving.
    detail::set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, options_.receive_buffer_size, e);
    e.clear();
    if (!detail::set_int_opt(fd, SOL_SOCKET, SO_RXQ_OVFL, 1, e)) return fail(e);
    const bool filtered = only_kind >= 0 && only_kind <= 255;
    // Best effort (Linux 5.0+): without it the kernel splits coalesced datagrams itself.
    if (options_.segmentation_offload && !filtered)
      r->gro = detail::set_int_opt(fd, detail::udp_level, detail::udp_gro_option, 1, e);
    e.clear();
    if (v4) {
      if (!detail::set_int_opt(fd, IPPROTO_IP, IP_PKTINFO, 1, e)) return fail(e);
      if (!detail::set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, e)) return fail(e);
    } else {
      if (!detail::set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, e)) return fail(e);
      if (!detail::set_int_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, e)) return fail(e);
#ifdef IPV6_MULTICAST_ALL
      // Linux >= 4.20; older kernels keep the default (deliver all joined groups), which the
      // bind to the group address already narrows to this group.
      detail::set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, e);
      e.clear();
#endif
    }
    // A link-scope IPv6 group (ff02::/16, ff12::/16) cannot be bound without a scope id: such
    // a receiver binds the wildcard address instead and relies on IPV6_MULTICAST_ALL = 0.
    const bool wildcard = !v4 && ep.group.to_v6().is_multicast_link_local() && ep.group.to_v6().scope_id() == 0;
    r->socket.bind(asio::ip::udp::endpoint(wildcard ? asio::ip::address(asio::ip::address_v6::any()) : ep.group,
                                           ep.port),
                   e);
    if (e) return fail(e);
    if (filtered) detail::attach_kind_filter(fd, static_cast<std::uint8_t>(only_kind));
    r->socket.non_blocking(true, e);
    if (e) return fail(e);

    std::error_code last_join_error;
    for (const auto& itf : fs.interfaces) {
      std::error_code je;
      const bool ok = v4 ? detail::change_membership_v4(fd, IP_ADD_MEMBERSHIP, ep.group.to_v4(), itf.index, je)
                         : detail::change_membership_v6(fd, IPV6_JOIN_GROUP, ep.group.to_v6(), itf.index, je);
      if (ok) {
        r->joined.push_back(itf.index);
      } else {
        ++stats_.join_errors;
        last_join_error = je;
        report(je, itf.name);
      }
    }
    if (r->joined.empty()) return fail(last_join_error);

    r->ifindex_to_position.reserve(fs.interfaces.size());
    for (const auto& itf : fs.interfaces) r->ifindex_to_position.push_back(itf.index);
    r->one_interface.store(r->ifindex_to_position.size() <= 1, std::memory_order_relaxed);
    r->allocate();
    r->id = next_id_++;
    receivers_.emplace(r->id, r);
    arm_read(r);
    return r->id;
  }

  /// Throwing overload of `open_receiver`.
  /// \throws std::system_error naming the endpoint (or the unknown interface).
  [[nodiscard]] receiver_id open_receiver(const endpoint& ep, datagram_handler handler, int only_kind = -1) {
    std::error_code ec;
    const auto id = open_receiver(ep, std::move(handler), ec, only_kind);
    std::lock_guard lock(mutex_);
    if (ec == errc::unknown_interface) detail::throw_error(ec, "interface '" + last_bad_interface_ + "'");
    detail::throw_if(ec, "receiver " + ep.to_string());
    return id;
  }

  /// Leaves the group on every interface and closes the receiver. Unknown ids (or ids closed
  /// already) are ignored. Safe to call from inside that receiver's own handler: the handler
  /// is not called again, and the buffer it is reading stays valid until it returns.
  void close_receiver(receiver_id id) {
    std::lock_guard lock(mutex_);
    const auto it = receivers_.find(id);
    if (it == receivers_.end()) return;
    auto r = std::move(it->second);
    receivers_.erase(it);
    shut(*r);
  }

  /// Closes every receiver and send socket, for both families; queued datagrams are dropped.
  /// Stops the rescan timer. The transport may be opened again afterwards.
  void close() {
    std::lock_guard lock(mutex_);
    if (rescan_) {
      rescan_->closed = true;
      rescan_->timer.cancel();
      rescan_.reset();
    }
    auto receivers = std::move(receivers_);
    receivers_.clear();
    for (auto& [id, r] : receivers) shut(*r);
    for (family_state* fs : {&v4_, &v6_}) {
      for (auto& port : fs->ports) {
        port->closed = true;
        port->backlog.clear();
        std::error_code ignored;
        port->socket.close(ignored);
      }
      fs->ports.clear();
      fs->interfaces.clear();
      fs->open = false;
    }
  }

  /// Every member locks the transport's own mutex where it needs to (see `thread_safe_transport`).
  static constexpr bool thread_safe = true;

  /// Counters since construction (plain copy).
  transport_stats stats() const noexcept { return stats_; }

  /// Re-runs the interface selection of every open family now (what the rescan timer does
  /// every `rescan_interval`): starts using interfaces that appeared, drops the ones that
  /// vanished. See the class comment. Errors go to the error handler, called after the
  /// internal mutex is released.
  void rescan() {
    std::vector<std::pair<std::error_code, std::string>> reports;
    {
      std::lock_guard lock(mutex_);
      for (const auto f : {address_family::v4, address_family::v6})
        if (state(f).open) rescan_family(f, reports);
    }
    for (const auto& [ec, name] : reports) report(ec, name);
  }

  /// One line for logs: "udp v4[lo,eth0] v6[eth0] receivers=3".
  std::string describe() const {
    std::lock_guard lock(mutex_);
    std::string out = "udp";
    for (const auto f : {address_family::v4, address_family::v6}) {
      const auto& fs = state(f);
      if (!fs.open) continue;
      out += f == address_family::v4 ? " v4[" : " v6[";
      for (std::size_t i = 0; i < fs.interfaces.size(); ++i) {
        if (i != 0) out += ',';
        out += fs.interfaces[i].name;
      }
      out += ']';
    }
    out += " receivers=" + std::to_string(receivers_.size());
    return out;
  }

 private:
  struct queued {
    detail::socket_address to;
    std::vector<std::byte> data;
  };

  struct send_port {
    explicit send_port(asio::io_context& io) : socket(io) {}
    asio::ip::udp::socket socket;
    std::string name;
    unsigned ifindex = 0;
    std::deque<queued> backlog;
    std::size_t backlog_bytes = 0;
    bool segmentation = false;  // GSO attempted: the option is on and the kernel has not refused it
    bool flushing = false;
    bool closed = false;
  };

  // The cmsg of one segmented send: UDP_SEGMENT with the segment size.
  struct segment_control {
    alignas(cmsghdr) unsigned char bytes[CMSG_SPACE(sizeof(std::uint16_t))];
  };

  // A family's share of a batch as sendmmsg entries over batch_iov_ / batch_addrs_ (whose
  // index is the datagram's position in batch_index_). Entry e holds positions
  // [first[e], first[e + 1]); an entry of several is one segmented send.
  struct send_layout {
    std::vector<mmsghdr> msgs;
    std::vector<std::size_t> first;
    std::vector<std::size_t> entry_at;  // position -> the entry that starts there
    std::vector<segment_control> controls;
    bool built = false;
    bool segmented(std::size_t e) const noexcept { return first[e + 1] - first[e] > 1; }
  };

  struct receiver {
    explicit receiver(asio::io_context& io) : socket(io) {}
    static constexpr std::size_t control_size = 128;
    // SO_RXQ_OVFL, the larger of the PKTINFOs, UDP_GRO: all three fit, so none is cut off.
    static_assert(CMSG_SPACE(sizeof(std::uint32_t)) + CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) <=
                  control_size);

    void allocate() {
      // Not zero-filled: untouched pages of the 1 MiB stay unmapped, so a receiver of small
      // datagrams costs a few pages of memory, not the whole batch.
      buffers = std::make_unique_for_overwrite<std::byte[]>(receive_batch * receive_slot_size);
      control.resize(receive_batch * control_size);
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
    // latency case, resets one, not all sixteen). No sender address is asked for: nothing
    // uses it.
    void reset_headers(std::size_t n = receive_batch) noexcept {
      for (std::size_t i = 0; i < n; ++i) {
        msghdr& h = msgs[i].msg_hdr;
        h = msghdr{};
        h.msg_iov = &iov[i];
        h.msg_iovlen = 1;
        h.msg_control = control.data() + i * control_size;
        h.msg_controllen = control_size;
        msgs[i].msg_len = 0;
      }
    }

    receiver_id id = 0;
    endpoint ep;
    address_family family = address_family::v4;
    asio::ip::udp::socket socket;
    datagram_handler handler;
    std::vector<unsigned> joined;               // ifindexes the group is joined on
    std::vector<unsigned> ifindex_to_position;  // selection order
    // Set with ifindex_to_position: with one interface every datagram's position is 0, and
    // position_of need not take the mutex to look it up.
    std::atomic<bool> one_interface{true};
    std::uint32_t last_overflow = 0;            // SO_RXQ_OVFL running total last seen
    bool gro = false;                           // UDP_GRO on: a buffer may hold several datagrams
    bool closed = false;
    std::unique_ptr<std::byte[]> buffers;
    std::vector<std::byte> control;
    std::vector<iovec> iov;
    std::vector<mmsghdr> msgs;
  };

  struct rescan_state {
    explicit rescan_state(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::atomic<bool> closed{false};
  };

  struct family_state {
    bool open = false;
    std::vector<interface_info> interfaces;
    std::vector<std::shared_ptr<send_port>> ports;
  };

  static address_family family_of(const endpoint& ep) noexcept {
    return ep.group.is_v4() ? address_family::v4 : address_family::v6;
  }
  family_state& state(address_family f) noexcept { return f == address_family::v4 ? v4_ : v6_; }
  const family_state& state(address_family f) const noexcept { return f == address_family::v4 ? v4_ : v6_; }

  void report(const std::error_code& ec, std::string_view interface_name) {
    error_handler h;
    {
      std::lock_guard lock(error_mutex_);
      h = on_error_;
    }
    if (h) h(ec, interface_name);
  }

  // Under mutex_.
  void start_rescan() {
    if (rescan_ || options_.rescan_interval <= std::chrono::milliseconds::zero()) return;
    rescan_ = std::make_shared<rescan_state>(io_);
    arm_rescan(rescan_);
  }

  // Under mutex_.
  void arm_rescan(const std::shared_ptr<rescan_state>& t) {
    t->timer.expires_after(options_.rescan_interval);
    t->timer.async_wait([this, t](const std::error_code& ec) {
      // `closed` is set by close(), which the destructor runs: checked before touching `this`.
      if (t->closed || ec) return;
      rescan();
      std::lock_guard lock(mutex_);
      if (!t->closed) arm_rescan(t);
    });
  }

  static bool same_interface(const interface_info& a, const interface_info& b) noexcept {
    return a.index == b.index && a.name == b.name;
  }

  // Under mutex_. Joins every receiver of `family` not yet joined on `itf`; the last failure
  // (if any) is reported once for the interface.
  void join_all(address_family family, const interface_info& itf,
                std::vector<std::pair<std::error_code, std::string>>& reports) {
    std::error_code last;
    for (auto& [id, r] : receivers_) {
      if (r->family != family || r->closed) continue;
      if (std::find(r->joined.begin(), r->joined.end(), itf.index) != r->joined.end()) continue;
      std::error_code je;
      const int fd = r->socket.native_handle();
      const bool ok = family == address_family::v4
                          ? detail::change_membership_v4(fd, IP_ADD_MEMBERSHIP, r->ep.group.to_v4(), itf.index, je)
                          : detail::change_membership_v6(fd, IPV6_JOIN_GROUP, r->ep.group.to_v6(), itf.index, je);
      if (ok) {
        r->joined.push_back(itf.index);
      } else {
        ++stats_.join_errors;
        last = je;
      }
    }
    if (last) reports.emplace_back(last, itf.name);
  }

  // Under mutex_. Leaves every receiver's group on `ifindex`; errors are expected (the device
  // may be gone, which already dropped the kernel's membership) and ignored.
  void leave_all(address_family family, unsigned ifindex) {
    for (auto& [id, r] : receivers_) {
      if (r->family != family) continue;
      const auto it = std::find(r->joined.begin(), r->joined.end(), ifindex);
      if (it == r->joined.end()) continue;
      std::error_code ignored;
      const int fd = r->socket.native_handle();
      if (family == address_family::v4)
        detail::change_membership_v4(fd, IP_DROP_MEMBERSHIP, r->ep.group.to_v4(), ifindex, ignored);
      else
        detail::change_membership_v6(fd, IPV6_LEAVE_GROUP, r->ep.group.to_v6(), ifindex, ignored);
      r->joined.erase(it);
    }
  }

  // Under mutex_.
  void rescan_family(address_family family, std::vector<std::pair<std::error_code, std::string>>& reports) {
    std::error_code ec;
    std::vector<interface_info> all = list_interfaces(ec);
    if (ec) {
      reports.emplace_back(ec, "");
      return;
    }
    std::vector<interface_info> target;
    if (options_.interfaces.empty()) {
      for (auto& i : all)
        if (can_carry_multicast(i, family)) target.push_back(std::move(i));
    } else {
      // As `select_interfaces`: the named ones, in the order named, down ones included (their
      // failures are reported); missing ones are left out until they exist.
      for (const auto& name : options_.interfaces) {
        const auto named = [&](const interface_info& i) { return i.name == name; };
        if (std::any_of(target.begin(), target.end(), named)) continue;
        const auto it = std::find_if(all.begin(), all.end(), named);
        if (it != all.end()) target.push_back(*it);
      }
    }

    family_state& fs = state(family);
    for (std::size_t i = 0; i < fs.interfaces.size(); ++i) {
      const interface_info& old = fs.interfaces[i];
      const auto still = [&](const interface_info& t) { return same_interface(t, old); };
      if (std::any_of(target.begin(), target.end(), still)) continue;
      send_port& port = *fs.ports[i];
      port.closed = true;  // a pending flush sees it and stops
      port.backlog.clear();
      port.backlog_bytes = 0;
      std::error_code ignored;
      port.socket.close(ignored);
      leave_all(family, old.index);
      ++stats_.interfaces_removed;
    }

    std::vector<interface_info> kept;
    std::vector<std::shared_ptr<send_port>> ports;
    for (auto& t : target) {
      const auto was = [&](const interface_info& o) { return same_interface(t, o); };
      const auto old = std::find_if(fs.interfaces.begin(), fs.interfaces.end(), was);
      if (old != fs.interfaces.end()) {
        auto port = fs.ports[static_cast<std::size_t>(old - fs.interfaces.begin())];
        // A named interface that was down (or had no address) and now works: join it now.
        if (!can_carry_multicast(*old, family) && can_carry_multicast(t, family)) join_all(family, t, reports);
        ports.push_back(std::move(port));
        kept.push_back(std::move(t));
        continue;
      }
      auto port = std::make_shared<send_port>(io_);
      port->name = t.name;
      port->ifindex = t.index;
      std::error_code e;
      port->socket.open(family == address_family::v4 ? asio::ip::udp::v4() : asio::ip::udp::v6(), e);
      if (!e) port->socket.non_blocking(true, e);
      if (e) {  // e.g. out of descriptors: left out, tried again at the next rescan
        reports.emplace_back(e, t.name);
        continue;
      }
      std::error_code opt_ec;
      configure_send_socket(*port, family, opt_ec);
      const std::size_t before = reports.size();
      if (can_carry_multicast(t, family)) join_all(family, t, reports);
      if (opt_ec && reports.size() == before) reports.emplace_back(opt_ec, t.name);
      ++stats_.interfaces_added;
      ports.push_back(std::move(port));
      kept.push_back(std::move(t));
    }
    fs.interfaces = std::move(kept);
    fs.ports = std::move(ports);
    for (auto& [id, r] : receivers_) {
      if (r->family != family) continue;
      r->ifindex_to_position.clear();
      for (const auto& itf : fs.interfaces) r->ifindex_to_position.push_back(itf.index);
      r->one_interface.store(r->ifindex_to_position.size() <= 1, std::memory_order_relaxed);
    }
  }

  void configure_send_socket(send_port& port, address_family family, std::error_code& ec) {
    const int fd = port.socket.native_handle();
    if (options_.segmentation_offload) {
      // A kernel without UDP_SEGMENT (before 4.18) does not know the option: no GSO from the start.
      int size = 0;
      socklen_t len = sizeof size;
      port.segmentation = ::getsockopt(fd, detail::udp_level, detail::udp_segment_option, &size, &len) == 0;
    }
    const int loop = options_.loopback ? 1 : 0;
    if (family == address_family::v4) {
      ip_mreqn req{};
      req.imr_ifindex = static_cast<int>(port.ifindex);
      if (!detail::set_opt(fd, IPPROTO_IP, IP_MULTICAST_IF, &req, sizeof req, ec)) return;
      if (!detail::set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_TTL, options_.ttl, ec)) return;
      if (!detail::set_int_opt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, loop, ec)) return;
    } else {
      if (!detail::set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, ec)) return;
      if (!detail::set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(port.ifindex), ec)) return;
      if (!detail::set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, options_.ttl, ec)) return;
      if (!detail::set_int_opt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, loop, ec)) return;
    }
    detail::set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, options_.send_buffer_size, ec);
  }

  // Under mutex_: the length of the valid run starting at position k of batch_index_, or 1
  // (also for a datagram that is not the head of a run, or whose run is not what it claims).
  std::size_t valid_run(std::span<const outgoing_datagram> batch, std::size_t k, std::size_t n) const {
    const std::size_t i = batch_index_[k];
    const outgoing_datagram& head = batch[i];
    const std::size_t r = head.run_length;
    const std::size_t size = head.bytes.size();
    if (r <= 1 || r > n - k || size == 0 || size > detail::max_segmented_bytes) return 1;
    for (std::size_t j = 1; j < r; ++j) {
      if (batch_index_[k + j] != i + j) return 1;  // another family's datagram in between
      const outgoing_datagram& d = batch[i + j];
      if (d.to != head.to) return 1;
      const std::size_t s = d.bytes.size();
      if (j + 1 < r ? s != size : (s == 0 || s > size)) return 1;
    }
    return r;
  }

  // Under mutex_: runs_ for the family's `n` datagrams; false when it holds no segmented send.
  bool build_segmented(std::span<const outgoing_datagram> batch, std::size_t n) {
    send_layout& l = runs_;
    l.first.clear();
    l.entry_at.assign(n, 0);
    std::size_t segmented = 0;
    for (std::size_t k = 0; k < n;) {
      const std::size_t run_end = k + valid_run(batch, k, n);
      while (k < run_end) {  // chunks of at most max_segments datagrams and max_segmented_bytes
        const std::size_t start = k;
        std::size_t bytes = batch_iov_[k].iov_len;
        for (++k; k < run_end && k - start < detail::max_segments &&
                  bytes + batch_iov_[k].iov_len <= detail::max_segmented_bytes;
             ++k)
          bytes += batch_iov_[k].iov_len;
        l.entry_at[start] = l.first.size();
        l.first.push_back(start);
        if (k - start > 1) ++segmented;
      }
    }
    l.first.push_back(n);
    const std::size_t entries = l.first.size() - 1;
    l.msgs.resize(entries);
    l.controls.resize(entries);
    for (std::size_t e = 0; e < entries; ++e) {
      const std::size_t from = l.first[e];
      msghdr& h = l.msgs[e].msg_hdr;
      l.msgs[e] = mmsghdr{};
      h.msg_name = const_cast<sockaddr*>(batch_addrs_[from].get());
      h.msg_namelen = batch_addrs_[from].size;
      h.msg_iov = &batch_iov_[from];
      h.msg_iovlen = l.first[e + 1] - from;
      if (!l.segmented(e)) continue;
      h.msg_control = l.controls[e].bytes;
      h.msg_controllen = sizeof l.controls[e].bytes;
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = detail::udp_level;
      c->cmsg_type = detail::udp_segment_option;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto size = static_cast<std::uint16_t>(batch_iov_[from].iov_len);
      std::memcpy(CMSG_DATA(c), &size, sizeof size);
    }
    l.built = true;
    return segmented != 0;
  }

  // Under mutex_: `send`'s work, also a lone datagram's from `send_batch`.
  send_result send_locked(const endpoint& ep, std::span<const std::byte> bytes) {
    send_result result;
    family_state& fs = state(family_of(ep));
    if (!fs.open) {
      ++stats_.send_errors;
      report(make_error_code(errc::not_open), "");
      result.failed = 1;
      return result;
    }
    const detail::socket_address to(ep);
    for (const auto& port : fs.ports) {
      if (!port->backlog.empty()) {
        if (enqueue(*port, to, bytes)) {
          ++result.ok;
        } else {
          ++result.would_block;
          ++stats_.send_would_block;
        }
        continue;
      }
      const ssize_t n = ::sendto(port->socket.native_handle(), bytes.data(), bytes.size(),
                                 MSG_DONTWAIT | MSG_NOSIGNAL, to.get(), to.size);
      if (n >= 0) {
        ++result.ok;
        ++stats_.datagrams_sent;
        stats_.bytes_sent += bytes.size();
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (enqueue(*port, to, bytes)) {
          ++result.ok;
          arm_flush(port);
        } else {
          ++result.would_block;
          ++stats_.send_would_block;
        }
      } else {
        const auto ec = detail::last_errno();
        ++result.failed;
        ++stats_.send_errors;
        report(ec, port->name);
      }
    }
    return result;
  }

  // Under mutex_: plain_ (one entry per datagram) for the family's `n` datagrams, built on
  // first use in a batch.
  send_layout& plain_layout(std::size_t n) {
    send_layout& l = plain_;
    if (l.built) return l;
    l.msgs.resize(n);
    l.first.resize(n + 1);
    for (std::size_t k = 0; k < n; ++k) {
      l.first[k] = k;
      l.msgs[k] = mmsghdr{};
      l.msgs[k].msg_hdr.msg_name = const_cast<sockaddr*>(batch_addrs_[k].get());
      l.msgs[k].msg_hdr.msg_namelen = batch_addrs_[k].size;
      l.msgs[k].msg_hdr.msg_iov = &batch_iov_[k];
      l.msgs[k].msg_hdr.msg_iovlen = 1;
    }
    l.first[n] = n;
    l.built = true;
    return l;
  }

  // Under mutex_: the family's `n` prepared datagrams on one port, as runs_ entries when
  // `segmented` (GSO on for the port), else one by one. sendmmsg counts entries: each entry is
  // mapped back to its datagrams for results, counters and the backlog.
  void send_batch_on(const std::shared_ptr<send_port>& port, std::span<outgoing_datagram> batch, std::size_t n,
                     bool segmented) {
    const int fd = port->socket.native_handle();
    std::size_t k = 0;            // next position to send
    std::size_t plain_until = 0;  // positions before it go one by one although `segmented`
    while (k < n && port->backlog.empty()) {
      const bool runs = segmented && k >= plain_until;
      send_layout& l = runs ? runs_ : plain_layout(n);
      const std::size_t e = runs ? l.entry_at[k] : k;
      const std::size_t end = runs ? l.msgs.size() : (segmented ? plain_until : n);
      const int sent = ::sendmmsg(fd, l.msgs.data() + e, static_cast<unsigned>(end - e), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (sent > 0) {
        const std::size_t done = e + static_cast<std::size_t>(sent);
        for (std::size_t j = e; j < done; ++j)
          if (l.segmented(j)) ++stats_.segmented_sends;
        for (; k < l.first[done]; ++k) {
          outgoing_datagram& d = batch[batch_index_[k]];
          ++d.result.ok;
          ++stats_.datagrams_sent;
          stats_.bytes_sent += d.bytes.size();
        }
        continue;
      }
      // sendmmsg reports the error of the first entry it could not send: entry e.
      const int err = sent < 0 ? errno : 0;
      const std::size_t entry_end = l.first[e + 1];
      if (err == EAGAIN || err == EWOULDBLOCK) {
        bool queued = false;
        for (; k < entry_end; ++k) {
          outgoing_datagram& d = batch[batch_index_[k]];
          if (enqueue(*port, batch_addrs_[k], d.bytes)) {
            ++d.result.ok;
            queued = true;
          } else {
            ++d.result.would_block;
            ++stats_.send_would_block;
          }
        }
        if (queued) arm_flush(port);
        break;
      }
      if (l.segmented(e) && detail::refuses_segmentation(err)) {
        // The kernel or device cannot segment: this port sends one by one from here on,
        // starting with this entry's datagrams.
        port->segmentation = false;
        segmented = false;
        ++stats_.segmentation_fallbacks;
        continue;
      }
      if (l.segmented(e) && err == EMSGSIZE) {
        // Segments larger than the path MTU: sent alone, the kernel fragments them.
        plain_until = entry_end;
        ++stats_.segmentation_fallbacks;
        continue;
      }
      const auto ec = err != 0 ? std::error_code(err, std::system_category()) : make_error_code(std::errc::io_error);
      for (; k < entry_end; ++k) {
        ++batch[batch_index_[k]].result.failed;
        ++stats_.send_errors;
      }
      report(ec, port->name);
    }
    for (; k < n; ++k) {  // behind a backlog: keep the order
      outgoing_datagram& d = batch[batch_index_[k]];
      if (enqueue(*port, batch_addrs_[k], d.bytes)) {
        ++d.result.ok;
      } else {
        ++d.result.would_block;
        ++stats_.send_would_block;
      }
    }
  }

  static bool enqueue(send_port& port, const detail::socket_address& to, std::span<const std::byte> bytes) {
    if (port.backlog_bytes + bytes.size() > send_backlog_bytes) return false;
    port.backlog.push_back(queued{to, std::vector<std::byte>(bytes.begin(), bytes.end())});
    port.backlog_bytes += bytes.size();
    return true;
  }

  void arm_flush(const std::shared_ptr<send_port>& port) {
    if (port->flushing) return;
    port->flushing = true;
    port->socket.async_wait(asio::socket_base::wait_write, [this, port](const std::error_code& ec) {
      // `closed` is set by close(), which the destructor runs: checked before touching `this`.
      if (port->closed) return;
      port->flushing = false;
      if (ec) {
        report(ec, port->name);
        return;
      }
      flush(port);
    });
  }

  void flush(const std::shared_ptr<send_port>& port) {
    while (!port->backlog.empty()) {
      queued& q = port->backlog.front();
      const ssize_t n = ::sendto(port->socket.native_handle(), q.data.data(), q.data.size(),
                                 MSG_DONTWAIT | MSG_NOSIGNAL, q.to.get(), q.to.size);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        arm_flush(port);
        return;
      }
      if (n >= 0) {
        ++stats_.datagrams_sent;
        stats_.bytes_sent += q.data.size();
      } else {
        ++stats_.send_errors;
        report(detail::last_errno(), port->name);
      }
      port->backlog_bytes -= q.data.size();
      port->backlog.pop_front();
    }
  }

  void shut(receiver& r) {
    if (r.closed) return;
    r.closed = true;
    const int fd = r.socket.native_handle();
    for (const unsigned ifindex : r.joined) {
      std::error_code ignored;  // closing the socket drops the membership anyway
      if (r.family == address_family::v4)
        detail::change_membership_v4(fd, IP_DROP_MEMBERSHIP, r.ep.group.to_v4(), ifindex, ignored);
      else
        detail::change_membership_v6(fd, IPV6_LEAVE_GROUP, r.ep.group.to_v6(), ifindex, ignored);
    }
    r.joined.clear();
    std::error_code ignored;
    r.socket.close(ignored);  // a pending wait completes with operation_aborted
  }

  // The wait owns a reference to the receiver, handed on from wait to wait (moved, not
  // copied: no atomic count changes per wake-up).
  void arm_read(std::shared_ptr<receiver> r) {
    receiver& rr = *r;
    rr.socket.async_wait(asio::socket_base::wait_read, [this, r = std::move(r)](const std::error_code& ec) mutable {
      // `closed` is set by close_receiver/close (and so the destructor) before the socket
      // goes: checked before touching `this`.
      if (r->closed) return;
      if (ec) {
        ++stats_.receive_errors;
        report(ec, "");
        return;
      }
      drain(std::move(r));
    });
  }

  std::uint32_t position_of(const receiver& r, unsigned ifindex) const {
    if (r.one_interface.load(std::memory_order_relaxed)) return 0;  // no lookup, no lock
    std::lock_guard lock(mutex_);  // a rescan may reorder the selection
    for (std::size_t i = 0; i < r.ifindex_to_position.size(); ++i)
      if (r.ifindex_to_position[i] == ifindex) return static_cast<std::uint32_t>(i);
    return 0;
  }

  // What one read_batch did.
  struct batch_read {
    std::size_t buffers = 0;    // buffers read (0: the socket was empty)
    std::size_t datagrams = 0;  // datagrams handed to the handler
    std::size_t handled = 0;    // the same, a dropped buffer counting as one (so a flood of them still yields)
    bool failed = false;        // the read failed (counted and reported)
    bool closed = false;        // closed (or the transport destroyed) from inside the handler: `this` may be gone
  };

  // One `recvmmsg` without blocking, each buffer it read handed to the handler.
  batch_read read_batch(receiver& r) {
    batch_read b;
    int n;
    while ((n = ::recvmmsg(r.socket.native_handle(), r.msgs.data(), static_cast<unsigned>(receive_batch),
                           MSG_DONTWAIT, nullptr)) < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ++stats_.receive_errors;
        report(detail::last_errno(), "");
        b.failed = true;
      }
      return b;
    }
    b.buffers = static_cast<std::size_t>(n);
    for (std::size_t i = 0; i < b.buffers; ++i) {
      const std::size_t d = deliver(r, i);
      if (r.closed) {
        b.closed = true;
        return b;
      }
      b.datagrams += d;
      b.handled += std::max<std::size_t>(1, d);
    }
    r.reset_headers(b.buffers);
    return b;
  }

  void drain(std::shared_ptr<receiver> r) {
    std::size_t handled = 0;
    while (handled < max_datagrams_per_wakeup) {
      const batch_read b = read_batch(*r);
      if (b.closed) return;
      if (b.failed) break;
      handled += b.handled;
      if (b.buffers < receive_batch) {  // drained; the wait re-checks
        if (options_.busy_poll.count() > 0) {
          busy_poll(std::move(r), clock_type::now() + options_.busy_poll);
          return;
        }
        break;
      }
    }
    arm_read(std::move(r));  // re-arming re-reads readiness (EPOLL_CTL_MOD), so leftovers wake us at once
  }

  // Reads the drained socket without blocking until a batch arrives or `deadline` (`busy_poll`
  // after the last batch; transport_options::busy_poll) has passed, then goes back to the
  // event loop's wait. A batch is handed over and polling goes on from the executor's queue;
  // so does a poll that has found nothing for `busy_poll_slice`: the executor's other handlers
  // (and its reactor, which may have other sockets' data) run in between, never held up for
  // longer than that.
  void busy_poll(std::shared_ptr<receiver> r, clock_type::time_point deadline) {
    const clock_type::time_point slice_end = std::min(deadline, clock_type::now() + busy_poll_slice);
    for (;;) {
      const batch_read b = read_batch(*r);
      if (b.closed) return;
      if (b.failed) break;
      const clock_type::time_point now = clock_type::now();
      if (b.buffers > 0) {
        stats_.busy_poll_datagrams += b.datagrams;
        deadline = now + options_.busy_poll;
      } else if (now >= deadline) {
        break;
      } else if (now < slice_end) {
        continue;
      }
      asio::post(io_, [this, r = std::move(r), deadline]() mutable {
        if (!r->closed) busy_poll(std::move(r), deadline);  // checked before touching `this`, as in arm_read
      });
      return;
    }
    arm_read(std::move(r));
  }

  // Hands buffer i to the handler: once, or once per segment of a GRO-coalesced buffer.
  // Returns how many datagrams it handed over.
  std::size_t deliver(receiver& r, std::size_t i) {
    msghdr& h = r.msgs[i].msg_hdr;
    receive_info info;
    std::size_t segment = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        std::uint32_t total = 0;
        std::memcpy(&total, CMSG_DATA(c), sizeof total);
        stats_.kernel_drops += static_cast<std::uint32_t>(total - r.last_overflow);  // wraps
        r.last_overflow = total;
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi{};
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        info.interface_index = position_of(r, static_cast<unsigned>(pi.ipi_ifindex));
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi{};
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        info.interface_index = position_of(r, pi.ipi6_ifindex);
      } else if (c->cmsg_level == detail::udp_level && c->cmsg_type == detail::udp_gro_option) {
        int size = 0;
        std::memcpy(&size, CMSG_DATA(c), sizeof size);
        if (size > 0) segment = static_cast<std::size_t>(size);
      }
    }
    // Cut-off control data might have held the segment size: the buffer cannot be split.
    if ((h.msg_flags & MSG_TRUNC) != 0 || (r.gro && (h.msg_flags & MSG_CTRUNC) != 0)) {
      ++stats_.receive_errors;
      return 0;
    }
    const std::size_t len = r.msgs[i].msg_len;
    const std::byte* data = r.buffers.get() + i * receive_slot_size;
    if (segment == 0 || segment >= len) segment = len;  // one datagram (possibly empty)
    std::size_t delivered = 0;
    std::size_t offset = 0;
    do {
      const std::size_t part = std::min(segment, len - offset);
      ++stats_.datagrams_received;
      stats_.bytes_received += part;
      ++delivered;
      if (r.handler) r.handler(std::span<const std::byte>(data + offset, part), info);
      offset += part;
      // Closed (or the transport destroyed) from inside the handler: `this` may be gone.
    } while (offset < len && !r.closed);
    return delivered;
  }

  asio::io_context& io_;
  transport_options options_;
  error_handler on_error_;
  std::mutex error_mutex_;  // guards on_error_ only (set from any thread, read when reporting)
  family_state v4_;
  family_state v6_;
  std::map<receiver_id, std::shared_ptr<receiver>> receivers_;
  receiver_id next_id_ = 1;
  transport_stats stats_;
  std::string last_bad_interface_;
  std::shared_ptr<rescan_state> rescan_;
  // send_batch scratch (under mutex_): reused, so a batch allocates nothing in steady state.
  std::vector<std::size_t> batch_index_;
  std::vector<detail::socket_address> batch_addrs_;
  std::vector<iovec> batch_iov_;
  send_layout plain_;  // one entry per datagram
  send_layout runs_;   // one entry per run chunk or single datagram
  // Guards the selection (v4_, v6_), receivers_ and their memberships against the rescan
  // timer and callers on other threads. Recursive: open_receiver opens the family, and the
  // error handler, called under it from send/open_receiver, may call back in.
  mutable std::recursive_mutex mutex_;
};

// udp_transport claims every optional capability: a member whose signature drifts fails here.
static_assert(transport<udp_transport>, "udp_transport must model racket::transport");
static_assert(batch_sending_transport<udp_transport>, "udp_transport::send_batch(std::span<outgoing_datagram>)");
static_assert(segmenting_transport<udp_transport>, "udp_transport::segmentation_offload() const -> bool");
static_assert(kind_filtering_transport<udp_transport>, "udp_transport::open_receiver(ep, handler, ec, kind)");
static_assert(error_reporting_transport<udp_transport>, "udp_transport::set_error_handler(transport_error_handler)");
static_assert(thread_safe_transport<udp_transport>, "udp_transport::thread_safe");

}  // namespace racket
