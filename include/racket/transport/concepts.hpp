// SPDX-License-Identifier: MIT
#pragma once

// The Transport contract: what the publisher and subscriber need of a network (real UDP,
// the simulation, or one of yours), its required members and each optional capability as a
// named concept, and the plain types that cross it. Knows nothing of sockets or of the
// protocol above it.

#include "racket/endpoint.hpp"

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace racket {

/// Options every transport understands (a transport ignores what it cannot apply).
struct transport_options {
  /// Interface names to use; empty means every interface that is up and can carry
  /// multicast for the pool's address family, loopback included.
  std::vector<std::string> interfaces{};  // `{}`: lets `{.loopback = false}` compile under -Wextra
  /// IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS.
  int ttl = 1;
  /// IP_MULTICAST_LOOP: deliver to receivers on the sending host too.
  bool loopback = true;
  /// SO_RCVBUF requested for each receive socket (the kernel caps it at rmem_max).
  int receive_buffer_size = 4 << 20;
  /// SO_SNDBUF requested for each send socket.
  int send_buffer_size = 1 << 20;
  /// How often the interface selection is re-run while the transport is open, so interfaces
  /// that appear (or come up, or gain an address) are used and ones that vanish are dropped;
  /// zero disables it. A transport without interfaces that come and go ignores it.
  std::chrono::milliseconds rescan_interval{5000};
  /// UDP GSO for runs of equal-size datagrams and UDP GRO on receive, where the kernel has them
  /// (Linux 4.18+ / 5.0+); false: one datagram per send and per receive. Either way every
  /// datagram reaches the application on its own: this changes how many system calls and
  /// trips through the network stack carry them, never what is delivered.
  bool segmentation_offload = true;
  /// Busy polling: after a receiver finds its socket empty it keeps reading it, without
  /// blocking, for up to this long before it waits on the event loop again. A datagram that
  /// arrives meanwhile is read at once: no sleeping thread to wake, and no second system call
  /// after the event loop's wait (together several microseconds per message on a VM; see
  /// docs/performance.md). The price is a core kept busy while polling. After each batch,
  /// and after every 50 µs of finding nothing (`udp_transport::busy_poll_slice`), the receiver
  /// goes back through the executor's queue, so the executor's other handlers run in between.
  /// Zero (the default): never poll. A transport without sockets ignores it.
  std::chrono::microseconds busy_poll{0};
};

/// Address family a transport is opened for.
enum class address_family { v4, v6 };

/// What one `send` did: how many interfaces took the datagram, refused it, or were full.
struct send_result {
  std::uint32_t ok = 0;
  std::uint32_t failed = 0;
  std::uint32_t would_block = 0;
};

/// One datagram of a batch handed to a transport's optional `send_batch` (`udp_transport` has
/// it: one `sendmmsg` per interface for the whole batch). `result` is filled in per datagram,
/// as `send` would return it, also for the datagrams of a run.
struct outgoing_datagram {
  endpoint to;
  std::span<const std::byte> bytes;
  /// When > 1 on a datagram of a batch: it and the run_length - 1 datagrams after it go to the
  /// same `to`, all but the last have exactly this datagram's size, and the last is no larger.
  /// A transport may hand such a run to the kernel as one segmented send (UDP GSO); a transport
  /// that cannot sends them one by one, which is always correct. 0 or 1: on its own.
  std::uint16_t run_length = 0;
  send_result result{};
  /// Bytes that follow `bytes` in the same datagram, in order (empty: none): the datagram is
  /// `bytes`, then `rest[0]`, then `rest[1]`, sent without joining them first (a fragment of a
  /// large message: its head, then its payload slice where the message lies, then its
  /// trailer). Only a `gathering_transport` is handed such a datagram; the publisher joins the
  /// pieces for any other.
  std::span<const std::byte> rest[2] = {};

  /// The datagram's size: every piece.
  std::size_t size() const noexcept { return bytes.size() + rest[0].size() + rest[1].size(); }
  /// Whether it is in more than one piece.
  bool gathered() const noexcept { return !rest[0].empty() || !rest[1].empty(); }
  /// Writes the datagram in one piece at `out` (room for `size()` bytes); returns its end.
  std::byte* copy_to(std::byte* out) const noexcept {
    for (const auto piece : {bytes, rest[0], rest[1]}) {
      if (!piece.empty()) std::memcpy(out, piece.data(), piece.size());
      out += piece.size();
    }
    return out;
  }
};

/// Where a datagram came from.
struct receive_info {
  /// Index of the receiving interface in the transport's selection (0 when unknown).
  std::uint32_t interface_index = 0;
  /// The sender's address and port, for a datagram a unicast socket (`open_unicast`) received;
  /// valid only during the handler's call. Null for the multicast receivers (`open_receiver`):
  /// their hot path never decodes the sender's address.
  const endpoint* source = nullptr;
};

/// Identifies one open receiver of a transport.
using receiver_id = std::uint64_t;

/// Called for each datagram a receiver gets; the span is valid only during the call.
using datagram_handler = std::function<void(std::span<const std::byte>, const receive_info&)>;

/// Called with a buffer that holds several datagrams a receiver got at once (UDP GRO: datagrams
/// of one sender, each `segment_size` bytes but the last, which may be shorter; in practice
/// consecutive fragments of one large message), so the receiver can take a run of them as one
/// unit. Returns how many of the leading datagrams it took (at most all of them): 0 means
/// none, and the transport hands every datagram of the buffer to the receiver's
/// `datagram_handler`, one by one, as it would without this handler; otherwise, unless the
/// receiver was closed meanwhile, the rest is offered again the same way (a lone datagram left
/// goes to the `datagram_handler`). The buffer is valid only during the call.
using segments_handler =
    std::function<std::size_t(std::span<const std::byte> buffer, std::size_t segment_size, const receive_info&)>;

/// Per-transport counters (plain struct, copied out).
struct transport_stats {
  std::uint64_t datagrams_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t send_would_block = 0;
  std::uint64_t datagrams_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t receive_errors = 0;
  std::uint64_t join_errors = 0;
  std::uint64_t kernel_drops = 0;  ///< SO_RXQ_OVFL, where the kernel reports it (a GRO buffer counts once)
  std::uint64_t interfaces_added = 0;    ///< interfaces a rescan started using
  std::uint64_t interfaces_removed = 0;  ///< interfaces a rescan dropped (vanished, went down)
  /// Segmented sends (UDP GSO) the kernel took: one per run chunk and interface; the datagrams
  /// they carried are counted one by one in `datagrams_sent` and `bytes_sent`.
  std::uint64_t segmented_sends = 0;
  /// Segmented sends the kernel or device refused (or whose segments exceeded the path MTU),
  /// whose datagrams were then sent one by one instead: nothing is lost.
  std::uint64_t segmentation_fallbacks = 0;
  /// Datagrams read by busy polling (`transport_options::busy_poll`): ones that arrived after
  /// the receiver had found its socket empty, read without waiting on the event loop.
  std::uint64_t busy_poll_datagrams = 0;
};

/// Calls `f(std::string_view name, std::uint64_t value)` for every counter of `s`, in the
/// order of the struct, named as its members: a program prints, or serves, all of them
/// without naming each one.
/// ```cpp
/// racket::for_each_counter(sub.transport_statistics(), [](std::string_view name, std::uint64_t v) { ... });
/// ```
template <class F>
constexpr void for_each_counter(const transport_stats& s, F&& f) {
  // Every member is a std::uint64_t counter: a member added to the struct and not here stops the build.
  static_assert(sizeof(transport_stats) == 14 * sizeof(std::uint64_t),
                "for_each_counter(transport_stats) must list every member");
  f(std::string_view("datagrams_sent"), s.datagrams_sent);
  f(std::string_view("bytes_sent"), s.bytes_sent);
  f(std::string_view("send_errors"), s.send_errors);
  f(std::string_view("send_would_block"), s.send_would_block);
  f(std::string_view("datagrams_received"), s.datagrams_received);
  f(std::string_view("bytes_received"), s.bytes_received);
  f(std::string_view("receive_errors"), s.receive_errors);
  f(std::string_view("join_errors"), s.join_errors);
  f(std::string_view("kernel_drops"), s.kernel_drops);
  f(std::string_view("interfaces_added"), s.interfaces_added);
  f(std::string_view("interfaces_removed"), s.interfaces_removed);
  f(std::string_view("segmented_sends"), s.segmented_sends);
  f(std::string_view("segmentation_fallbacks"), s.segmentation_fallbacks);
  f(std::string_view("busy_poll_datagrams"), s.busy_poll_datagrams);
}

/// Called with a transport's failure on one interface and the interface's name ("" when the
/// failure is not tied to one interface).
using transport_error_handler = std::function<void(const std::error_code&, std::string_view interface_name)>;

// ---------------------------------------------------------------------------------------------
// The contract. docs/architecture.md ("The Transport contract") has the same table in words.
//
// Required: `transport_timer` for its timers and `transport` for the rest. Each optional
// capability is a named concept below; the publisher and subscriber test for it with
// `if constexpr (capability<Transport>)` and nothing else, and a transport claims it with a
// `static_assert(capability<its type>)` next to its definition, so that a member whose
// signature drifts stops the build there instead of silently turning the capability off.

/// A one-shot timer as Asio's `basic_waitable_timer` has it: `expires_at`, `async_wait` with a
/// `void(std::error_code)` completion (`asio::error::operation_aborted` when cancelled) run on
/// the transport's executor, and `cancel`.
template <class T>
concept transport_timer = requires(T& t, typename T::time_point at, void (*handler)(std::error_code)) {
  typename T::time_point;
  { t.expires_at(at) };
  { t.async_wait(handler) };
  { t.cancel() };
};

/// The contract `basic_publisher` and `basic_subscriber` need of a transport: see
/// docs/architecture.md. Implemented by `udp_transport` and `sim::transport`.
template <class T>
concept transport = requires(T& t, const T& ct, const endpoint& ep, std::span<const std::byte> bytes,
                             address_family family, receiver_id id, datagram_handler handler,
                             std::error_code& ec) {
  typename T::context_type;
  typename T::executor_type;
  typename T::clock_type;
  typename T::timer_type;
  requires transport_timer<typename T::timer_type>;
  requires std::same_as<typename T::timer_type::time_point, typename T::clock_type::time_point>;
  { t.get_executor() } -> std::same_as<typename T::executor_type>;
  { t.make_timer() } -> std::same_as<typename T::timer_type>;
  { t.open(family, ec) };
  { t.send(ep, bytes) } -> std::same_as<send_result>;
  { t.open_receiver(ep, std::move(handler), ec) } -> std::same_as<receiver_id>;
  { t.close_receiver(id) };
  { ct.stats() } -> std::same_as<transport_stats>;
  { t.close() };
};

/// Optional: `send_batch(std::span<outgoing_datagram>)` sends a batch as `send` would, filling
/// each datagram's `result` (`udp_transport`: one `sendmmsg` per interface for the batch).
/// Without it the publisher calls `send` once per datagram.
template <class T>
concept batch_sending_transport = transport<T> && requires(T& t, std::span<outgoing_datagram> batch) {
  { t.send_batch(batch) } -> std::same_as<void>;
};

/// Optional: `send_batch` can hand a run (`outgoing_datagram::run_length`) to the kernel as one
/// segmented send, and `segmentation_offload()` says whether it will now; the publisher pads a
/// run's datagrams to one size only while it does.
template <class T>
concept segmenting_transport = batch_sending_transport<T> && requires(const T& ct) {
  { ct.segmentation_offload() } -> std::same_as<bool>;
};

/// Optional: `open_receiver(ep, handler, ec, kind)` opens a receiver that hears only datagrams
/// whose kind byte (wire format: byte 5) is `kind`, and sealed datagrams (kind 4) whose inner
/// kind (byte 7) is `kind`, filtered before they wake the process (a socket filter). The publisher's snapshot-request listener uses it so that the data on its
/// request group (its own, looped back) never reaches it.
template <class T>
concept kind_filtering_transport =
    transport<T> && requires(T& t, const endpoint& ep, datagram_handler handler, std::error_code& ec, int kind) {
      { t.open_receiver(ep, std::move(handler), ec, kind) } -> std::same_as<receiver_id>;
    };

/// Optional: `set_error_handler(transport_error_handler)` installs a handler told about each
/// per-interface failure (a join, a send, a read). The publisher's and subscriber's
/// `set_error_handler` forward to it.
template <class T>
concept error_reporting_transport = transport<T> && requires(T& t, transport_error_handler handler) {
  { t.set_error_handler(std::move(handler)) };
};

/// Optional: `open_receiver(ep, handler, segments, ec)` opens a receiver as `open_receiver(ep,
/// handler, ec)` does, which also offers a buffer of several datagrams received at once to
/// `segments` (see `segments_handler`) before it hands them to `handler` one by one. What is
/// delivered is the same either way; the subscriber uses it to take the fragments of a large
/// message a run at a time. Without it every datagram goes to `handler` on its own.
template <class T>
concept segment_receiving_transport =
    transport<T> && requires(T& t, const endpoint& ep, datagram_handler handler, segments_handler segments,
                             std::error_code& ec) {
      { t.open_receiver(ep, std::move(handler), std::move(segments), ec) } -> std::same_as<receiver_id>;
    };

/// Optional: `static constexpr bool gathers = true` says `send_batch` sends a datagram in pieces
/// (`outgoing_datagram::rest`) as one datagram, scatter-gather, without joining them first.
template <class T>
concept gathering_transport = batch_sending_transport<T> && requires {
  requires T::gathers;
};

/// Optional: `static constexpr bool thread_safe = true` says every member may be called from
/// several threads at once (the transport locks inside, as `udp_transport` does); the
/// publisher then does not serialise its own calls into it (one lock less per send).
template <class T>
concept thread_safe_transport = transport<T> && requires {
  requires T::thread_safe;
};

/// Optional: a transport that holds back what the kernel cannot take yet says how much
/// (`send_backlog()`, bytes) and calls back when it has all gone (`async_wait_send_backlog(f)`,
/// `f` posted to its executor). The publisher then sends a long queue in turns, each one after
/// the backlog of the last has drained, instead of overrunning it. On the executor only.
template <class T>
concept backlog_reporting_transport = transport<T> && requires(T& t, const T& ct, std::function<void()> f) {
  { ct.send_backlog() } -> std::same_as<std::size_t>;
  { t.async_wait_send_backlog(std::move(f)) };
};

/// Optional: one unicast socket per address family, for networks without multicast (unicast
/// peers). `open_unicast(family, port, handler, ec)` binds it to `port` on every address (0:
/// a port the kernel picks) and returns the port bound (0 on failure, `ec` set); `handler` is
/// called for each datagram sent to it, with `receive_info::source` set. A family opened
/// again keeps its socket and returns its port (the handler is not replaced).
/// `send_unicast(to, bytes)` sends one datagram from that socket to the unicast endpoint `to`
/// (`endpoint::group` then holds a unicast address): once, whichever interface the routing
/// table picks, as `{.ok = 1}`, `{.would_block = 1}` or `{.failed = 1}` (also when the family
/// has no unicast socket). It counts in `stats()` but does not call the error handler: the
/// caller knows which peer it was and reports that. `close_unicast(family)` closes the socket.
template <class T>
concept unicast_transport = transport<T> && requires(T& t, address_family family, std::uint16_t port,
                                                     datagram_handler handler, const endpoint& to,
                                                     std::span<const std::byte> bytes, std::error_code& ec) {
  { t.open_unicast(family, port, std::move(handler), ec) } -> std::same_as<std::uint16_t>;
  { t.send_unicast(to, bytes) } -> std::same_as<send_result>;
  { t.close_unicast(family) };
};

}  // namespace racket
