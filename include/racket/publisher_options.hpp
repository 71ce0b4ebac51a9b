// SPDX-License-Identifier: MIT
#pragma once

// What an application gives a publisher and reads back from it: its options and the counters
// of one stream. Plain structs; they know nothing of how a publisher works.

#include "racket/security/key_ring.hpp"
#include "racket/wire.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace racket {

/// What became of a publisher's sends to its unicast peers (`publisher_options::unicast_peers`).
struct publisher_peer_stats {
  std::uint64_t peer_send_errors = 0;     ///< sends to a peer that failed (no route, refused...)
  std::uint64_t peer_resolve_errors = 0;  ///< resolutions of a peer's name that failed
};

/// Options of a publisher, filled with designated initialisers:
/// `racket::publisher_options{.interfaces = {"lo"}, .ttl = 2}`.
struct publisher_options {
  /// Interfaces to send on; empty: every interface that is up and can carry multicast.
  std::vector<std::string> interfaces{};
  /// Multicast TTL (IPv4) or hop limit (IPv6).
  int ttl = 1;
  /// Deliver to receivers on this host too.
  bool loopback = true;
  /// Socket send buffer requested per interface.
  int send_buffer_size = 1 << 20;
  /// How often the interface selection is re-run, so interfaces that appear (or come up) are
  /// used and ones that vanish are dropped; 0 disables.
  std::chrono::milliseconds rescan_interval{5000};
  /// Largest datagram sent, in bytes (header, records and checksum); at most 65507.
  std::size_t max_datagram_size = wire::default_max_datagram_size;
  /// Largest payload `publish` takes, in bytes; a larger one fails with
  /// `errc::payload_too_large` (the exception names both sizes). A payload that does not fit
  /// one record of a `max_datagram_size` datagram travels as fragments (docs/wire-format.md,
  /// "Fragmented messages"), each a full datagram, sent a turn of 256 at a time; its cached
  /// value is re-sent the same way. Default 16 MiB; at most 64 MiB
  /// (`wire::max_message_size_limit`): more makes the publisher's constructor throw
  /// `std::system_error` with `errc::invalid_option`.
  std::size_t max_message_size = std::size_t{16} << 20;
  /// Large messages (sent as fragments) stay at hand this long after they were published, so
  /// that a subscriber missing some of their fragments can ask for them again and complete
  /// the message: one-shot messages (interval 0), which are never cached, and values replaced
  /// since. (A subject's cached large value is always repaired from the cache.) Default 2 s,
  /// the subscribers' default `reassembly_timeout`, past which none still waits for one; 0
  /// keeps none, so a one-shot large message that loses a fragment is lost; negative makes
  /// the constructor throw `std::system_error` with `errc::invalid_option`.
  std::chrono::milliseconds large_repair_window{2000};
  /// ... and the most payload bytes kept that way: the newest messages first; the payloads
  /// are the ones the sends already hold (no copy), but they stay allocated while kept.
  /// Default 64 MiB: four messages of the default `max_message_size`, and at a sustained
  /// 1 GB/s some 60 ms of history, room for a subscriber's first request (20 ms after its
  /// message stalled) to find it; a message pushed out before its request came is not
  /// repaired (the subscriber reports it lost). 0 keeps none.
  std::size_t large_repair_bytes = std::size_t{64} << 20;
  /// Each resend fires up to this fraction of the interval late, spread at random, so that
  /// subjects published together drift apart instead of resending in one burst forever.
  double resend_jitter = 0.05;
  /// Resends due within this window are sent together, packed, up to this much early (and
  /// never more than half their interval early). Wider windows mean fuller datagrams and fewer
  /// system calls.
  std::chrono::milliseconds resend_coalesce{20};
  /// Send a tombstone for every cached subject when the publisher closes (default: no;
  /// subscribers then expire the subjects after `expiry_factor` intervals).
  bool withdraw_on_close = false;
  /// Seed for the publisher id and the jitter; 0 draws one from `std::random_device`.
  std::uint64_t seed = 0;

  // Snapshots and gap repair (docs/architecture.md, "Snapshots and gap repair").

  /// Listen on each stream's group and port for snapshot requests and answer them by
  /// re-sending the matching cached subjects (flag `snapshot`, new sequence numbers).
  bool answer_snapshots = true;
  /// Pace of snapshot answers over all streams, in bytes per second (0: unpaced).
  std::size_t snapshot_rate_bytes = std::size_t{64} << 20;
  /// A full request is answered after a random delay in [0, this], so that the requests of
  /// many subscribers starting together merge into one answer.
  std::chrono::milliseconds snapshot_delay_max{10};
  /// A range (repair) request is answered after a random delay in [0, this].
  std::chrono::milliseconds repair_delay_max{2};
  /// Least time between the starts of two answer passes on one stream: a per-stream rate
  /// limit (requests that arrive meanwhile wait and merge; none is dropped).
  std::chrono::milliseconds snapshot_answer_spacing{10};
  /// Requests accepted per requester id and stream per second (token bucket; 0: unlimited) ...
  double snapshot_requests_per_second = 20;
  /// ... and the bucket's size: the burst one requester may send at once.
  unsigned snapshot_request_burst = 10;
  /// Most requester ids tracked per stream for rate limiting; when full (and none idle) new
  /// requesters are refused (counted as limited).
  std::size_t max_snapshot_requesters = 4096;
  /// Answer bytes per requester id and stream per second (0: unlimited): every answer pass a
  /// requester's request joined is charged to it in full, and while it owes bytes its requests
  /// are refused (counted as limited). One request is answered with at most the stream's
  /// cache; a requester then waits until the pass is paid back (docs/security.md, "Requests").
  std::size_t snapshot_bytes_per_requester = std::size_t{16} << 20;
  /// When a stream falls quiet, its newest record is sent again (flag `resend`) this long
  /// after, then 3 and 9 times as long after that, so that subscribers detect the loss of
  /// the last datagrams of a burst or of an answer (a lost tail) and repair it. 0: off.
  std::chrono::milliseconds tail_probe_delay{10};
  /// Hand runs of a stream's datagrams to the kernel as one UDP GSO send where it has it
  /// (Linux 4.18+), padding them to one size (wire format, "Padding"); the kernel cuts them
  /// into the same datagrams on the wire. Refused by an interface, it falls back to one send
  /// per datagram by itself. `false`: never segment, never pad.
  bool segmentation_offload = true;
  /// Most bytes the publish queue may hold: the records published from threads other than
  /// the publisher's strand (or while it was busy) that wait for its next flush, counted as
  /// subject + payload + 32 bytes of bookkeeping each. A publish or withdraw that would go past
  /// it is refused, not queued: the `error_code` overload fails with `errc::would_block` (and
  /// counts it in `publisher_stream_stats::would_block`), the throwing one throws; nothing is
  /// dropped silently. A publish on the strand with nothing queued goes straight out and is
  /// never refused. On `would_block`, wait for `async_flush` and publish again, publish less
  /// often (coalesce: only the latest value of a subject matters to a subscriber), or raise
  /// the limit. 0: no limit.
  ///
  /// Default 16 MiB: about 115,000 records of 64-byte payloads and 50-byte subjects, or some
  /// 130 ms of a saturated 1 Gbit/s link. A publisher keeping up empties the queue at every
  /// flush (a few hundred records at a time; the benchmarks never queue 1 MiB), so only a
  /// publisher that the network, or a starved io_context, cannot keep up with ever reaches
  /// it. The bound covers the queue and what the flush under way has not sent yet together:
  /// a long queue goes out in turns of 1 MiB, each after the transport's send backlog of the
  /// last has drained, so the memory a publisher holds for sending stays under it.
  std::size_t max_queued_bytes = std::size_t{16} << 20;

  // Unicast peers, for networks without multicast (README, "Without multicast: unicast peers").

  /// Every datagram the publisher sends (data, resends, fragments, snapshot answers,
  /// announcements; a keyed stream's sealed as usual) also goes to each of these, once per
  /// peer, by unicast from one socket per family (the routing table picks the interface). Each
  /// entry is "host:port": an IPv4 literal, a bracketed IPv6 literal (`"[::1]:9000"`) or a
  /// name, resolved at start and again every `peer_resolve_interval`. An entry that is not
  /// "host:port" (or has port 0) makes the constructor throw `std::system_error` with
  /// `errc::invalid_option`, naming it. A peer that cannot be reached never stops the sends to
  /// the others: each failed send is counted (`publisher::peer_send_errors()`), and reported
  /// to the error handler with the entry as its second argument, once until a send to it
  /// succeeds again. Subscribers' snapshot and repair requests come back to the socket the
  /// datagrams left from, and are answered as multicast ones are.
  std::vector<std::string> unicast_peers{};
  /// Send to the multicast groups (and hear requests there). `false`: unicast peers only: no
  /// multicast send, no group joined; announcements then go to the peers alone.
  bool multicast = true;
  /// How often peers given by name are resolved again (on the executor, never blocking a
  /// send); a failed resolution keeps the last good addresses, is counted
  /// (`publisher::peer_resolve_errors()`) and reported. 0: resolved once, at start.
  std::chrono::milliseconds peer_resolve_interval{30000};

  // Discovery (docs/wire-format.md, "Announcement (kind 3)"; docs/architecture.md, "Discovery").

  /// Every stream published on is announced on its pool's announce channel
  /// (`multicast_pool::announce_endpoint`) with its subject count and message rate, this
  /// often (±20 % at random), the first time within 100-200 ms of its first publish. A
  /// directory forgets a publisher not heard for a few periods. 0: never announce. At most a
  /// day.
  std::chrono::milliseconds announce_period{5000};
  /// The host name announcements give; empty: `gethostname`. At most 255 bytes are used.
  std::string host_name{};
  /// The process id announcements give; 0: `getpid`.
  std::uint32_t process_id = 0;
  /// The program name announcements give; empty: /proc/self/comm (the executable's name).
  std::string program_name{};

  // Keyed streams (docs/security.md).

  /// The keyed streams and their keys (`racket::key_ring`): every datagram of a keyed stream,
  /// data and answers alike, leaves sealed (AES-256-GCM or XChaCha20-Poly1305, libsodium),
  /// and a request for it that is not sealed with one of its keys is ignored and counted
  /// (`requests_rejected`). With keys, each datagram's inner part is at most
  /// `max_datagram_size - 52` bytes (what sealing adds). Keyed streams
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
  /// How keyed streams are protected: `encrypt` (the default) or `authenticate_only`.
  racket::protection protection = racket::protection::encrypt;
};

/// Counters of one stream on one publisher (plain struct, copied out).
struct publisher_stream_stats {
  std::uint64_t published = 0;       ///< messages published (tombstones included)
  std::uint64_t resent = 0;          ///< periodic resends of cached subjects
  std::uint64_t withdrawn = 0;       ///< tombstones sent
  std::uint64_t datagrams_sent = 0;  ///< datagrams handed to the network, counted per interface
  std::uint64_t bytes_sent = 0;      ///< their bytes, per interface
  std::uint64_t send_errors = 0;     ///< interface sends that failed or found the socket full
  std::uint64_t cached_subjects = 0; ///< subjects whose last value is resent
  std::uint64_t snapshot_requests = 0;          ///< valid snapshot requests for this stream (for this publisher)
  std::uint64_t snapshot_requests_limited = 0;  ///< of them, dropped by the per-requester rate limit
  std::uint64_t snapshot_answers = 0;           ///< answer passes run (each one merges many requests)
  std::uint64_t snapshot_records = 0;           ///< records re-sent in answers
  std::uint64_t tail_probes = 0;                ///< newest records re-sent after the stream fell quiet
  std::uint64_t would_block = 0;  ///< publishes and withdraws refused because the queue was full (`max_queued_bytes`)
  std::uint64_t fragments_sent = 0;  ///< fragment datagrams handed to the transport (large messages, live and re-sent)
  std::uint64_t fragment_requests_answered = 0;  ///< requests naming fragments of a cached large value, answered (its fragments queued)
  std::uint64_t requests_rejected = 0;  ///< requests for this keyed stream ignored: in clear, not authentic, replayed or not fresh
};

/// Calls `f(std::string_view name, std::uint64_t value)` for every counter of `s`, in the
/// order of the struct, named as its members: a program prints, or serves, all of them
/// without naming each one (`cached_subjects` is a gauge, the others count up).
/// ```cpp
/// racket::for_each_counter(pub.stats("plant"), [](std::string_view name, std::uint64_t v) { ... });
/// ```
template <class F>
constexpr void for_each_counter(const publisher_stream_stats& s, F&& f) {
  // Every member is a std::uint64_t counter: a member added to the struct and not here stops the build.
  static_assert(sizeof(publisher_stream_stats) == 16 * sizeof(std::uint64_t),
                "for_each_counter(publisher_stream_stats) must list every member");
  f(std::string_view("published"), s.published);
  f(std::string_view("resent"), s.resent);
  f(std::string_view("withdrawn"), s.withdrawn);
  f(std::string_view("datagrams_sent"), s.datagrams_sent);
  f(std::string_view("bytes_sent"), s.bytes_sent);
  f(std::string_view("send_errors"), s.send_errors);
  f(std::string_view("cached_subjects"), s.cached_subjects);
  f(std::string_view("snapshot_requests"), s.snapshot_requests);
  f(std::string_view("snapshot_requests_limited"), s.snapshot_requests_limited);
  f(std::string_view("snapshot_answers"), s.snapshot_answers);
  f(std::string_view("snapshot_records"), s.snapshot_records);
  f(std::string_view("tail_probes"), s.tail_probes);
  f(std::string_view("would_block"), s.would_block);
  f(std::string_view("fragments_sent"), s.fragments_sent);
  f(std::string_view("fragment_requests_answered"), s.fragment_requests_answered);
  f(std::string_view("requests_rejected"), s.requests_rejected);
}

}  // namespace racket
