// SPDX-License-Identifier: MIT
#pragma once

// What a subscriber is configured with (`subscriber_options`) and what it counts per stream
// (`subscriber_stream_stats`): plain structs. Knows nothing of how either is used.

#include "racket/security/key_ring.hpp"
#include "racket/wire.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace racket {

/// Options of a subscriber, filled with designated initialisers:
/// `racket::subscriber_options{.interfaces = {"lo"}, .expiry_factor = 3}`.
struct subscriber_options {
  /// Interfaces to join on; empty: every interface that is up and can carry multicast.
  std::vector<std::string> interfaces{};
  /// IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS of the snapshot and repair requests this
  /// subscriber sends (`transport_options::ttl`): 1 keeps them on the local link; raise it
  /// (to the publishers' `ttl`) when publishers are routers away.
  int ttl = 1;
  /// SO_RCVBUF requested per (group, port) socket: what the kernel holds for the subscriber
  /// while it is busy. The kernel caps the request at `net.core.rmem_max` (208 KiB on a stock
  /// Debian, often raised for multicast receivers); a process with CAP_NET_ADMIN gets the
  /// whole request (SO_RCVBUFFORCE). Default 32 MiB: a large message (the default 16 MiB
  /// maximum) arrives as a burst of thousands of datagrams, and with 4 MiB a 16 MiB one lost
  /// datagrams to the buffer on every run on loopback (docs/performance.md, "Large
  /// messages"). Memory is taken only by what waits in it.
  int receive_buffer_size = 32 << 20;
  /// How often the interface selection is re-run, so groups are joined on interfaces that
  /// appear (or come up) and dropped from ones that vanish; 0 disables.
  std::chrono::milliseconds rescan_interval{5000};
  /// A subject not refreshed within `expiry_factor` × its interval expires.
  unsigned expiry_factor = 3;
  /// Most subjects tracked per stream; past it a subject picked at random is evicted (counted
  /// `evicted`; a new subject that finds no room is refused, counted `no_room`).
  std::size_t max_subjects_per_stream = 1'000'000;
  /// Most bytes of subjects and payloads held per stream (large values included): a value that
  /// would pass it evicts other subjects at random (counted `evicted`); one larger than the
  /// whole cap is refused (counted `no_room`), never held. Default 256 MiB.
  std::size_t max_bytes_per_stream = std::size_t{256} << 20;
  /// Most publishers whose sequence is tracked per stream (for gap counting); past it the one
  /// seen longest ago is forgotten.
  std::size_t max_publishers_per_stream = 4096;
  /// A timestamp is held as at most this far ahead of this host's clock: a value stamped in
  /// the future (a forgery, or a publisher whose clock is ahead) wins over other publishers'
  /// values of its subject for at most this long after it arrived (docs/security.md,
  /// "Unkeyed streams").
  std::chrono::milliseconds max_clock_skew{10000};
  /// How long a one-shot event's (publisher, sequence) is remembered to suppress the copies
  /// that arrive over several interfaces.
  std::chrono::milliseconds event_window{1000};
  /// Largest datagram accepted; larger ones are dropped as malformed.
  std::size_t max_datagram_size = wire::max_datagram_size_limit;
  /// Largest message reassembled from fragments (docs/wire-format.md, "Fragmented
  /// messages"); a fragment claiming a larger one is dropped as malformed. Default 16 MiB; at
  /// most 64 MiB (`wire::max_message_size_limit`; more is taken as 64 MiB).
  std::size_t max_message_size = std::size_t{16} << 20;
  /// Reassembly memory, in bytes, of the messages of one publisher in progress at once (over
  /// all its streams); a message that would pass it makes room by giving up the publisher's
  /// oldest one (reported lost). Default 34 MiB: two 16 MiB messages and change.
  std::size_t reassembly_bytes_per_publisher = std::size_t{34} << 20;
  /// Reassembly memory, in bytes, of one stream's messages in progress (over all publishers).
  std::size_t reassembly_bytes_per_stream = std::size_t{64} << 20;
  /// A message in progress with no new fragment for this long is given up and reported to the
  /// loss handler (its sequence number as a one-number loss).
  std::chrono::milliseconds reassembly_timeout{2000};
  /// A message in progress with no new fragment for this long has its missing fragments
  /// asked for from its publisher (the request's fragment ranges), again after 2, 4, ...
  /// times as long while it stays stalled, at most 6 times; 0: never (a lost fragment of a
  /// cached value then waits for its next resend). Needs `request_snapshots`.
  std::chrono::milliseconds fragment_repair_delay{20};
  /// Send a snapshot request when a subscription starts, and a repair request (the missing
  /// sequence ranges) when a publisher's sequence shows a gap, so that the current values
  /// arrive in about a round trip instead of a resend interval
  /// (docs/architecture.md, "Snapshots and gap repair").
  bool request_snapshots = true;
  /// How long gaps of one publisher are collected before one repair request goes out.
  std::chrono::milliseconds repair_holdoff{5};
  /// Repair requests per (stream, publisher) per second, at most (token bucket; 0: unlimited),
  /// and the bucket's size. Keep them below the publishers' `snapshot_requests_per_second`
  /// and `snapshot_request_burst` (20 and 10 by default): a request over the publisher's limit
  /// is dropped there, and what it asked for then waits for the periodic resends. Gaps seen
  /// while no token is left wait and merge into the next request.
  double repair_requests_per_second = 16;
  unsigned repair_request_burst = 8;
  /// Seed of the requester id this subscriber puts in its requests; 0 draws one from
  /// `std::random_device`.
  std::uint64_t seed = 0;
  /// Ask the kernel for UDP GRO where it has it (Linux 5.0+): datagrams it coalesced arrive
  /// in one read and are split again here, one handler call each. `false`: one per read.
  bool segmentation_offload = true;
  /// `async_fetch` completes once no answer arrived for this long (after the first one), or at
  /// its timeout, whichever comes first.
  std::chrono::milliseconds fetch_quiet_period{50};
  /// Busy polling for the lowest latency, at the price of a busy core: after its sockets are
  /// found empty the subscriber keeps reading them, without blocking, for up to this long
  /// before it waits on the event loop again (`transport_options::busy_poll`). Zero (the
  /// default): never poll. Best on an `io_context` (and a core) of the subscriber's own.
  std::chrono::microseconds busy_poll{0};

  // Discovery (docs/wire-format.md, "Announcement (kind 3)"; docs/architecture.md, "Discovery").

  /// The streams subscribed to are announced, with their filters, on their pool's announce
  /// channel (`multicast_pool::announce_endpoint`) this often (±20 % at random), the first
  /// time within 100-200 ms of the first subscription; a directory lists them. 0: never
  /// (opt out). `async_fetch` never announces. At most a day.
  std::chrono::milliseconds announce_period{5000};
  /// The host name announcements give; empty: `gethostname`. At most 255 bytes are used.
  std::string host_name{};
  /// The process id announcements give; 0: `getpid`.
  std::uint32_t process_id = 0;
  /// The program name announcements give; empty: /proc/self/comm (the executable's name).
  std::string program_name{};

  // Keyed streams (docs/security.md).

  /// The keyed streams and their keys (`racket::key_ring`): every datagram of a keyed stream,
  /// data and requests alike, travels sealed (AES-256-GCM or XChaCha20-Poly1305, libsodium),
  /// and one that is not sealed with one of its keys is refused and counted. Keyed streams
  /// are never announced (their names stay private). Empty (the default): nothing is keyed.
  /// Needs libsodium (the CMake target defines RACKET_HAS_SODIUM when it links it): without
  /// it a non-empty ring makes the constructor throw `std::system_error` with
  /// `errc::cipher_unavailable`, never falls back to clear text.
  key_ring keys{};
  /// A sealed datagram whose timestamp is further than this from this host's clock, either
  /// way, is refused (with each sender's replay window of 1,024 datagrams, that refuses
  /// replays even from a sender not heard before). Hosts' clocks must agree to well within it
  /// (NTP).
  std::chrono::milliseconds freshness_window{30000};
  /// Senders of keyed streams (publishers, requesters) whose replay windows are kept, about
  /// 700 bytes each; past it the one heard longest ago is forgotten. Only a datagram that
  /// proved authentic makes an entry.
  std::size_t max_keyed_senders = 4096;

  // Unicast peers, for networks without multicast (README, "Without multicast: unicast peers").

  /// Also listen on this UDP port (every address, one socket per family of the streams
  /// subscribed) for datagrams publishers send to it as a unicast peer: they go to their
  /// stream's subscriptions exactly as multicast ones do, and a value that arrives both ways
  /// is delivered once. Snapshot and repair requests for a stream go back by unicast to the
  /// addresses its datagrams came from (besides the request group while `multicast` is on).
  /// 0: no unicast port.
  std::uint16_t unicast_port = 0;
  /// Join the streams' multicast groups. `false`: join none and hear only `unicast_port`
  /// (requests then go only by unicast, to the publishers heard there).
  bool multicast = true;
};

/// Counters of one stream on one subscriber (plain struct, copied out). Datagram-level
/// counters (`datagrams_received`, `malformed`, `foreign`) are those of the stream's (group,
/// port): a malformed datagram cannot be attributed to a stream.
struct subscriber_stream_stats {
  std::uint64_t datagrams_received = 0;  ///< on the stream's group and port (snapshot requests apart)
  std::uint64_t malformed = 0;           ///< datagrams dropped by the decoder, on that group and port
  std::uint64_t foreign = 0;             ///< valid datagrams of other streams sharing the group and port
  std::uint64_t received = 0;            ///< records of this stream
  std::uint64_t delivered = 0;           ///< handler calls (for a handler bound to another executor: calls posted there)
  std::uint64_t filtered = 0;            ///< records no subscription matched
  std::uint64_t duplicates = 0;          ///< same content hash as the last delivered
  std::uint64_t stale = 0;               ///< older than what was delivered
  std::uint64_t gaps = 0;                ///< sequence numbers missed, per publisher
  std::uint64_t repairs_requested = 0;   ///< repair (range) requests sent for missed sequence numbers
  std::uint64_t snapshot_requests_sent = 0;  ///< full snapshot requests sent (one per subscription start)
  std::uint64_t requests_seen = 0;       ///< snapshot requests heard on this group and port (ignored; requests reach a data group only where it is the request group of another group, `request_endpoint`)
  std::uint64_t withdrawn = 0;           ///< tombstones applied
  std::uint64_t expired = 0;             ///< subjects expired
  std::uint64_t evicted = 0;             ///< subjects evicted by the cap
  std::uint64_t decode_errors = 0;       ///< payloads the codec refused
  std::uint64_t handler_errors = 0;      ///< exceptions thrown by handlers
  std::uint64_t tracked_subjects = 0;    ///< subjects held now
  std::uint64_t fragments_received = 0;  ///< fragment datagrams of this stream that decoded (large messages)
  std::uint64_t fragments_dropped = 0;   ///< of them, refused by the reassembler (inconsistent, conflicting, too large, no room)
  std::uint64_t messages_reassembled = 0;  ///< large messages completed (and their hash checked)
  std::uint64_t messages_lost = 0;       ///< large messages given up (timed out, evicted, wrong hash): reported to the loss handler
  std::uint64_t fragment_requests_sent = 0;  ///< requests sent for missing fragments of large messages in progress
  std::uint64_t reassembly_bytes = 0;    ///< memory held now by this stream's large messages in progress (a gauge)
  std::uint64_t no_room = 0;  ///< records refused: no room under max_subjects_per_stream or max_bytes_per_stream
  std::uint64_t held_bytes = 0;  ///< bytes of subjects and payloads held now (a gauge; max_bytes_per_stream)
  std::uint64_t sequence_jumps = 0;  ///< a publisher's sequence moving by over 2^20 at once (not counted as gaps: a forgery, or a long stall)
  std::uint64_t rejected = 0;  ///< sealed datagrams on this group and port refused: no key of ours, not authentic, or a key of another stream
  std::uint64_t replayed = 0;  ///< sealed datagrams on this group and port refused as replays or outside the freshness window
  std::uint64_t unsealed = 0;  ///< datagrams of this keyed stream that came in clear, refused
};

/// Calls `f(std::string_view name, std::uint64_t value)` for every counter of `s`, in the
/// order of the struct, named as its members: a program prints, or serves, all of them
/// without naming each one (`tracked_subjects` and `reassembly_bytes` are gauges, the others
/// count up).
/// ```cpp
/// racket::for_each_counter(sub.stats(prices), [](std::string_view name, std::uint64_t v) { ... });
/// ```
template <class F>
constexpr void for_each_counter(const subscriber_stream_stats& s, F&& f) {
  // Every member is a std::uint64_t counter: a member added to the struct and not here stops the build.
  static_assert(sizeof(subscriber_stream_stats) == 30 * sizeof(std::uint64_t),
                "for_each_counter(subscriber_stream_stats) must list every member");
  f(std::string_view("datagrams_received"), s.datagrams_received);
  f(std::string_view("malformed"), s.malformed);
  f(std::string_view("foreign"), s.foreign);
  f(std::string_view("received"), s.received);
  f(std::string_view("delivered"), s.delivered);
  f(std::string_view("filtered"), s.filtered);
  f(std::string_view("duplicates"), s.duplicates);
  f(std::string_view("stale"), s.stale);
  f(std::string_view("gaps"), s.gaps);
  f(std::string_view("repairs_requested"), s.repairs_requested);
  f(std::string_view("snapshot_requests_sent"), s.snapshot_requests_sent);
  f(std::string_view("requests_seen"), s.requests_seen);
  f(std::string_view("withdrawn"), s.withdrawn);
  f(std::string_view("expired"), s.expired);
  f(std::string_view("evicted"), s.evicted);
  f(std::string_view("decode_errors"), s.decode_errors);
  f(std::string_view("handler_errors"), s.handler_errors);
  f(std::string_view("tracked_subjects"), s.tracked_subjects);
  f(std::string_view("fragments_received"), s.fragments_received);
  f(std::string_view("fragments_dropped"), s.fragments_dropped);
  f(std::string_view("messages_reassembled"), s.messages_reassembled);
  f(std::string_view("messages_lost"), s.messages_lost);
  f(std::string_view("fragment_requests_sent"), s.fragment_requests_sent);
  f(std::string_view("reassembly_bytes"), s.reassembly_bytes);
  f(std::string_view("no_room"), s.no_room);
  f(std::string_view("held_bytes"), s.held_bytes);
  f(std::string_view("sequence_jumps"), s.sequence_jumps);
  f(std::string_view("rejected"), s.rejected);
  f(std::string_view("replayed"), s.replayed);
  f(std::string_view("unsealed"), s.unsealed);
}

}  // namespace racket
