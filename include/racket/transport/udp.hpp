// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// `udp_transport`: the real-network `racket::transport`, IP multicast over Asio UDP sockets
/// (Linux). The class holds the selection of each family, the receivers, the rescan timer and
/// the one mutex, and forwards the work to its pieces in `transport/detail/udp/`: `send_path`
/// (sendto, sendmmsg, GSO runs, the backlog), `receive_loop` (recvmmsg, GRO, busy polling),
/// `receiver` (a receive socket and its memberships), `rescan_family`. It makes no system call
/// of its own.

#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/udp/core.hpp"
#include "racket/transport/detail/udp/receive_loop.hpp"
#include "racket/transport/detail/udp/receiver.hpp"
#include "racket/transport/detail/udp/rescan.hpp"
#include "racket/transport/detail/udp/selection.hpp"
#include "racket/transport/detail/udp/send_path.hpp"
#include "racket/transport/detail/udp/send_port.hpp"
#include "racket/transport/detail/udp/unicast.hpp"
#include "racket/transport/interfaces.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace racket {

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
/// Threads: the transport runs on a strand of its own (`get_executor()`), made over the
/// executor it was given, so its io_context may be run by any number of threads. Every socket
/// completion (reads, the backlog's flush), timer made by `make_timer`, rescan and report runs
/// on that strand, one at a time. `open`, `open_receiver`, `close_receiver`, `close`,
/// `rescan`, `is_open`, `describe`, `segmentation_offload` and `stats` may be called from any
/// thread (an internal mutex serialises them with each other and with the strand's rescans);
/// `send` and `send_batch` on the strand (the publisher sends from there; a send port's
/// backlog is the strand's); `interfaces()` returns state the strand updates: call it on the
/// strand, or with the io_context not running. Handlers (the receivers', the error handler)
/// run on the strand, never under the internal mutex; the error handler is posted there, never
/// called inside the call that hit the failure, and may call back into the transport.
/// `close_receiver` from the strand (a receive handler included) means the handler is not
/// called again; from another thread, a call already running on the strand may finish, and
/// none starts after it. Pending operations hold what they touch, so destroying the transport
/// while the io_context still has its handlers queued is safe, even from inside a receive
/// handler; destroy it on its strand or while no thread runs its io_context (publisher and
/// subscriber do so: their last reference is dropped on the strand). The io_context must
/// outlive the transport.
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
  /// Kept for code written against the single-context constructor; any execution context or
  /// executor is accepted.
  using context_type = asio::io_context;
  /// The transport's own strand, over the executor it was made with.
  using executor_type = detail::udp::strand_type;
  using clock_type = std::chrono::steady_clock;
  using timer_type = asio::steady_timer;
  /// Called with the error and the interface's name ("" when not tied to one interface).
  using error_handler = transport_error_handler;

  /// Bytes a send socket may hold back when the kernel says EAGAIN; beyond it, datagrams are
  /// dropped and counted as `would_block`.
  static constexpr std::size_t send_backlog_bytes = detail::udp::send_backlog_bytes;
  /// Datagrams read per `recvmmsg` call.
  static constexpr std::size_t receive_batch = detail::udp::receive_batch;
  /// Datagrams a receiver handles per wakeup before it yields to other handlers.
  static constexpr std::size_t max_datagrams_per_wakeup = detail::udp::max_datagrams_per_wakeup;
  /// Longest a busy poll (transport_options::busy_poll) reads an empty socket before it lets
  /// the executor's other handlers run.
  static constexpr std::chrono::microseconds busy_poll_slice = detail::udp::busy_poll_slice;
  /// Size of each receive slot: the largest UDP payload fits.
  static constexpr std::size_t receive_slot_size = detail::udp::receive_slot_size;

  /// Creates a closed transport on a new strand of `ex` (any executor: an io_context's or a
  /// thread pool's). Nothing is selected or opened before `open`.
  template <class Executor>
    requires std::is_constructible_v<asio::any_io_executor, const Executor&>
  udp_transport(const Executor& ex, const transport_options& options)
      : core_(executor_type(ex), options) {}

  /// Creates a closed transport on the application's strand `s` itself (an
  /// `asio::make_strand(io)`, any `asio::strand`), not on a strand inside it: its work is
  /// serialised with everything else on `s`, and a publisher and a subscriber made on one
  /// strand share it, so a publish made from the subscriber's handler goes out at once,
  /// without a hand-off between strands (the lowest latency).
  template <class Executor>
    requires std::is_constructible_v<asio::any_io_executor, const Executor&>
  udp_transport(const asio::strand<Executor>& s, const transport_options& options)
      : core_(executor_type(s), options) {}

  /// Creates a closed transport on another transport's strand (a publisher's or subscriber's
  /// `get_executor()`): the same strand, as above.
  udp_transport(const executor_type& s, const transport_options& options) : core_(s, options) {}

  /// Creates a closed transport on a new strand of `ctx`'s executor (an `asio::io_context`, a
  /// thread pool).
  template <class ExecutionContext>
    requires std::derived_from<ExecutionContext, asio::execution_context>
  udp_transport(ExecutionContext& ctx, const transport_options& options)
      : udp_transport(ctx.get_executor(), options) {}

  udp_transport(const udp_transport&) = delete;
  udp_transport& operator=(const udp_transport&) = delete;

  /// Closes everything (`close()`).
  ~udp_transport() { close(); }

  /// The transport's strand: every handler and timer completion runs on it.
  executor_type get_executor() const noexcept { return core_.strand; }

  /// A one-shot timer whose completions run on the transport's strand.
  timer_type make_timer() { return timer_type(core_.strand); }

  /// Installs the handler told about per-interface failures (joins, sends, reads). Each report
  /// is posted to the strand: it runs there after the call that hit the failure (`send`,
  /// `open_receiver`, a read) has returned, never under the transport's mutex. Any thread.
  void set_error_handler(error_handler handler) { core_.set_error_handler(std::move(handler)); }

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
    auto selected = detail::select_interfaces(core_.options.interfaces, family, ec, bad);
    if (ec) {
      last_bad_interface_ = bad;
      return;
    }
    fs.open_on(core_, family, std::move(selected), ec);
    if (ec) return;
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
    if (!core_.options.segmentation_offload) return false;
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
  /// Must be called on the strand.
  send_result send(const endpoint& ep, std::span<const std::byte> bytes) {
    std::lock_guard lock(mutex_);
    return send_.send(state(detail::udp::family_of(ep)), ep, bytes);
  }

  /// Sends every datagram of `batch` like `send` does (each to its own `to`, on every selected
  /// interface of its family; per-interface backlog on EAGAIN, counting, error reports), but
  /// with one `sendmmsg` per interface for the whole batch instead of one `sendto` per datagram
  /// and interface: the kernel is entered once per interface, whatever the batch size. Sets
  /// each datagram's `result`. Must be called on the strand.
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
    if (batch.size() == 1 && batch[0].run_length <= 1 && !batch[0].gathered()) {
      // The idle publisher's case (the latency path): one sendto per port, without building
      // the batch's index, address and iovec tables.
      batch[0].result = send_.send(state(detail::udp::family_of(batch[0].to)), batch[0].to, batch[0].bytes);
      return;
    }
    for (const address_family family : {address_family::v4, address_family::v6})
      send_.send_batch(batch, family, state(family));
  }

  /// Bytes held back in the send backlogs (datagrams the kernel could not take yet, see
  /// `send`), over every interface. Must be called on the strand.
  std::size_t send_backlog() const noexcept { return core_.backlog->bytes(); }

  /// Posts `f` to the strand once every send backlog is empty: at once when none holds
  /// anything. A sender that produces faster than the kernel takes (the publisher's flush of a
  /// long queue) waits here instead of overrunning the backlogs, whose excess is dropped.
  /// Closing the transport empties the backlogs, so `f` always runs while the strand does.
  /// Must be called on the strand.
  void async_wait_send_backlog(std::function<void()> f) { core_.backlog->wait(std::move(f)); }

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
    return open_receiver_with(ep, std::move(handler), {}, ec, only_kind);
  }

  /// Opens a receiver as above that also offers each buffer UDP GRO coalesced from several
  /// datagrams to `segments` first (see `segments_handler`): it may take runs of them at once,
  /// and what it does not take goes to `handler` one by one. Counted as datagrams either way.
  [[nodiscard]] receiver_id open_receiver(const endpoint& ep, datagram_handler handler, segments_handler segments,
                                          std::error_code& ec) {
    return open_receiver_with(ep, std::move(handler), std::move(segments), ec, -1);
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
  /// already) are ignored. Any thread. On the strand (from inside that receiver's own handler
  /// too) the handler is not called again, and the buffer it is reading stays valid until it
  /// returns; from another thread a call already running may finish and no other starts. The
  /// socket is closed on the strand (at once when called there).
  void close_receiver(receiver_id id) {
    std::lock_guard lock(mutex_);
    const auto it = receivers_.find(id);
    if (it == receivers_.end()) return;
    auto r = std::move(it->second);
    receivers_.erase(it);
    shut(std::move(r));
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
    for (auto& [id, r] : receivers) shut(std::move(r));
    for (auto& u : unicast_)
      if (u) shut(std::move(u));
    unicast_[0].reset();
    unicast_[1].reset();
    v4_.close(core_.strand);
    v6_.close(core_.strand);
  }

  /// Opens the unicast socket of `family` (unicast peers, for networks without multicast; see
  /// `unicast_transport`): bound to `port` on every address (0: the kernel picks one), with
  /// `handler` called on the strand for each datagram sent to it, `receive_info::source` set
  /// to its sender. One socket per family, whatever the interfaces: unicast follows the
  /// routing table. Opened already: its port is returned and `handler` is dropped.
  /// \returns the port bound, or 0 with `ec` set (e.g. the port is in use). Any thread.
  std::uint16_t open_unicast(address_family family, std::uint16_t port, datagram_handler handler,
                             std::error_code& ec) {
    std::lock_guard lock(mutex_);
    ec.clear();
    auto& slot = unicast_[family == address_family::v4 ? 0 : 1];
    if (slot) return slot->ep.port;
    auto r = std::make_shared<detail::udp::receiver>(core_.strand);
    r->family = family;
    r->handler = std::move(handler);
    if (!detail::udp::open_unicast_socket(*r, core_.options, port, ec)) return 0;
    r->allocate();
    slot = r;
    receive_.arm_read(std::move(r));
    return slot->ep.port;
  }

  /// Throwing overload of `open_unicast`.
  /// \throws std::system_error naming the port.
  std::uint16_t open_unicast(address_family family, std::uint16_t port, datagram_handler handler) {
    std::error_code ec;
    const auto bound = open_unicast(family, port, std::move(handler), ec);
    detail::throw_if(ec, "unicast port " + std::to_string(port));
    return bound;
  }

  /// The port of `family`'s unicast socket (0: none open). Any thread.
  std::uint16_t unicast_port(address_family family) const {
    std::lock_guard lock(mutex_);
    const auto& slot = unicast_[family == address_family::v4 ? 0 : 1];
    return slot ? slot->ep.port : 0;
  }

  /// Sends one datagram from the unicast socket of `to`'s family to the unicast endpoint `to`:
  /// `{.ok = 1}` when the kernel took it, `{.would_block = 1}` when its buffer was full
  /// (dropped; no backlog is kept for peers), `{.failed = 1}` on any other error (no route,
  /// and so on) or when the family has no unicast socket. Counted in `stats()` like `send`;
  /// the error handler is NOT called (the caller names the peer). Never blocks; any thread.
  send_result send_unicast(const endpoint& to, std::span<const std::byte> bytes) {
    std::lock_guard lock(mutex_);
    const auto& slot = unicast_[to.group.is_v4() ? 0 : 1];
    if (!slot) {
      ++core_.stats.send_errors;
      return {.failed = 1};
    }
    return detail::udp::send_unicast_datagram(core_, *slot, to, bytes);
  }

  /// Closes the unicast socket of `family` (nothing when none is open). Any thread.
  void close_unicast(address_family family) {
    std::lock_guard lock(mutex_);
    auto& slot = unicast_[family == address_family::v4 ? 0 : 1];
    if (slot) shut(std::move(slot));
    slot.reset();
  }

  /// Every member locks the transport's own mutex where it needs to (see `thread_safe_transport`).
  static constexpr bool thread_safe = true;
  /// `send_batch` sends a datagram in pieces (`outgoing_datagram::rest`) with one iovec per
  /// piece (see `gathering_transport`).
  static constexpr bool gathers = true;

  /// Counters since construction (a copy, each counter read once). Any thread.
  transport_stats stats() const noexcept { return core_.stats.load(); }

  /// Re-runs the interface selection of every open family now (what the rescan timer does
  /// every `rescan_interval`): starts using interfaces that appeared, drops the ones that
  /// vanished. See the class comment. Errors go to the error handler (posted to the strand).
  void rescan() {
    detail::udp::deferred_reports reports;
    {
      std::lock_guard lock(mutex_);
      for (const auto f : {address_family::v4, address_family::v6})
        if (state(f).open) detail::udp::rescan_family(core_, state(f), f, receivers_, reports);
    }
    for (const auto& [ec, name] : reports) core_.report(ec, name);
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
  using family_state = detail::udp::family_state;

  struct rescan_state {
    explicit rescan_state(const executor_type& strand) : timer(strand) {}
    asio::steady_timer timer;
    std::atomic<bool> closed{false};
  };

  family_state& state(address_family f) noexcept { return f == address_family::v4 ? v4_ : v6_; }
  const family_state& state(address_family f) const noexcept { return f == address_family::v4 ? v4_ : v6_; }

  receiver_id open_receiver_with(const endpoint& ep, datagram_handler handler, segments_handler segments,
                                 std::error_code& ec, int only_kind) {
    std::lock_guard lock(mutex_);
    ec.clear();
    const address_family family = detail::udp::family_of(ep);
    open(family, ec);
    if (ec) return 0;
    family_state& fs = state(family);

    auto r = std::make_shared<detail::udp::receiver>(core_.strand);
    r->ep = ep;
    r->handler = std::move(handler);
    r->segments = std::move(segments);
    r->family = family;
    if (!detail::udp::open_receive_socket(*r, core_.options, only_kind, ec)) return 0;

    std::error_code last_join_error;
    for (const auto& itf : fs.interfaces) {
      std::error_code je;
      if (!r->join(itf.index, je)) {
        ++core_.stats.join_errors;
        last_join_error = je;
        core_.report(je, itf.name);
      }
    }
    if (r->joined.empty()) {
      r->abandon(last_join_error, ec);
      return 0;
    }

    r->set_positions(fs.interfaces);
    r->allocate();
    r->id = next_id_++;
    receivers_.emplace(r->id, r);
    receive_.arm_read(r);
    return r->id;
  }

  // Under mutex_: marks the receiver closed and leaves its groups; its socket is closed on the
  // strand, where its reads run.
  void shut(std::shared_ptr<detail::udp::receiver> r) {
    if (!r->shut()) return;
    asio::dispatch(core_.strand, [r = std::move(r)] { r->close_socket(); });
  }

  // Under mutex_.
  void start_rescan() {
    if (rescan_ || core_.options.rescan_interval <= std::chrono::milliseconds::zero()) return;
    rescan_ = std::make_shared<rescan_state>(core_.strand);
    arm_rescan(rescan_);
  }

  // Under mutex_.
  void arm_rescan(const std::shared_ptr<rescan_state>& t) {
    t->timer.expires_after(core_.options.rescan_interval);
    t->timer.async_wait([this, t](const std::error_code& ec) {
      // `closed` is set by close(), which the destructor runs: checked before touching `this`.
      if (t->closed || ec) return;
      rescan();
      std::lock_guard lock(mutex_);
      if (!t->closed) arm_rescan(t);
    });
  }

  // The strand, options, counters and error handler every piece shares.
  detail::udp::core core_;
  family_state v4_;
  family_state v6_;
  detail::udp::receiver_map receivers_;
  std::shared_ptr<detail::udp::receiver> unicast_[2];  // the unicast sockets, v4 and v6
  receiver_id next_id_ = 1;
  std::string last_bad_interface_;
  std::shared_ptr<rescan_state> rescan_;
  // Guards the selection (v4_, v6_), receivers_ and their memberships against the rescan
  // timer and callers on other threads. Recursive: open_receiver opens the family, and the
  // error handler, called under it from send/open_receiver, may call back in. The pieces take
  // no lock of their own, save the receive loop, which takes this one only to look up a
  // datagram's interface when its receiver has several.
  mutable std::recursive_mutex mutex_;
  detail::udp::send_path send_{core_};
  detail::udp::receive_loop receive_{core_, mutex_};
};

// udp_transport claims every optional capability: a member whose signature drifts fails here.
static_assert(transport<udp_transport>, "udp_transport must model racket::transport");
static_assert(batch_sending_transport<udp_transport>, "udp_transport::send_batch(std::span<outgoing_datagram>)");
static_assert(segmenting_transport<udp_transport>, "udp_transport::segmentation_offload() const -> bool");
static_assert(kind_filtering_transport<udp_transport>, "udp_transport::open_receiver(ep, handler, ec, kind)");
static_assert(error_reporting_transport<udp_transport>, "udp_transport::set_error_handler(transport_error_handler)");
static_assert(thread_safe_transport<udp_transport>, "udp_transport::thread_safe");
static_assert(gathering_transport<udp_transport>, "udp_transport::gathers");
static_assert(segment_receiving_transport<udp_transport>, "udp_transport::open_receiver(ep, handler, segments, ec)");
static_assert(unicast_transport<udp_transport>,
              "udp_transport::open_unicast(family, port, handler, ec) -> std::uint16_t, send_unicast, close_unicast");
static_assert(backlog_reporting_transport<udp_transport>,
              "udp_transport::send_backlog() const -> std::size_t, async_wait_send_backlog(std::function<void()>)");

}  // namespace racket
