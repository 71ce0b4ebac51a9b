// SPDX-License-Identifier: MIT
#pragma once

// The publisher's executor side: what happens to a record once it is taken for sending, and
// everything the publisher does on its own. It runs the rooms: process (cache, resend
// schedule, packer) → send; resend timer → schedule → packing; answer timer → tail probes and
// snapshot answers; announce timer → announcements of the streams (detail/announce/); large
// messages (fragment outbox, their cache, paced turns, their resend timer); and at the end,
// the withdrawals and the transport's close. It owns the transport, the streams and the one
// mutex. It knows nothing of the publish queue, the threads that publish or flushes: the
// thread front (publisher_impl.hpp) derives from it and calls `process` for each record it
// takes. See docs/architecture.md ("Threading", "Publisher: choices", "Snapshots and gap
// repair", "Large messages").
//
// Threads. The transport's executor (`transport_.get_executor()`) is the publisher's strand:
// `udp_transport`'s is a strand of its own, so every socket and timer completion of the
// transport, and everything below marked "executor only", runs serialised with the rest of
// it however many threads run the io_context; `running_in_this_thread()` tells a caller on
// it. State and who touches it:
//   - executor only, no lock: the rooms (packer, resend schedule, tail probes, answers), the
//     cache slab, the rng after the id, the wall stamper, the gate's busy flag, `listeners_`,
//     each stream's sequence numbers, cache and open datagram, the large messages' state;
//   - under `mutex_`, from any thread: `streams_` (streams are added, never removed, so a
//     stream found stays valid without it), `shut_down_` (written on the executor, so read
//     there without the lock), and the thread front's queue state;
//   - atomics, read by any thread: the per-stream counters (written by the executor, but
//     `would_block`, written under `mutex_` by the publishing thread it refused);
//   - immutable after construction: options, id.
// No user code runs under `mutex_`. Timers hold the publisher weakly (earliest_timer).


#include "racket/codec.hpp"
#include "racket/detail/announce/identity.hpp"
#include "racket/detail/clock.hpp"
#include "racket/detail/completion.hpp"
#include "racket/detail/earliest_timer.hpp"
#include "racket/detail/hash.hpp"
#include "racket/detail/publisher/cache.hpp"
#include "racket/detail/publisher/counters.hpp"
#include "racket/detail/publisher/fragment_outbox.hpp"
#include "racket/detail/publisher/large_probes.hpp"
#include "racket/detail/publisher/large_values.hpp"
#include "racket/detail/publisher/packer.hpp"
#include "racket/detail/publisher/publication_announcements.hpp"
#include "racket/detail/publisher/publish_queue.hpp"
#include "racket/detail/publisher/publisher_stream.hpp"
#include "racket/detail/publisher/recent_large.hpp"
#include "racket/detail/publisher/request_listeners.hpp"
#include "racket/detail/publisher/resend_packing.hpp"
#include "racket/detail/publisher/resend_schedule.hpp"
#include "racket/detail/publisher/snapshot_responder.hpp"
#include "racket/detail/publisher/stream_registry.hpp"
#include "racket/detail/publisher/tail_probes.hpp"
#include "racket/detail/publisher/transport_gate.hpp"
#include "racket/detail/security/seals.hpp"
#include "racket/detail/slab.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/publisher_options.hpp"
#include "racket/subject.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <asio/associated_executor.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <deque>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <stdexcept>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace racket::detail {

template <class Transport, class Clock>
class publisher_engine : public std::enable_shared_from_this<publisher_engine<Transport, Clock>> {
 public:
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;
  using stream_state = publisher_stream<Clock>;
  using executor_type = typename Transport::executor_type;

  // `ctx`: whatever the transport is made from (an io_context or an executor for UDP, a node
  // in simulation).
  template <class ContextOrExecutor>
    requires std::constructible_from<Transport, ContextOrExecutor&&, const transport_options&>
  publisher_engine(ContextOrExecutor&& ctx, const publisher_options& opts)
      : opts_(clamped(opts)),
        transport_(std::forward<ContextOrExecutor>(ctx), transport_options{.interfaces = opts.interfaces,
                                          .ttl = opts.ttl,
                                          .loopback = opts.loopback,
                                          .send_buffer_size = opts.send_buffer_size,
                                          .rescan_interval = opts.rescan_interval,
                                          .segmentation_offload = opts.segmentation_offload}),
        timer_(transport_.make_timer()),
        answer_timer_(transport_.make_timer()),
        rng_(opts.seed != 0 ? opts.seed : random_seed()),
        id_(draw_id(rng_)),
        strand_(transport_.get_executor()),
        gate_(transport_),
        packer_(gate_, id_, opts_.max_datagram_size),
        resends_(opts_.resend_coalesce, opts_.resend_jitter),
        probes_(opts_.tail_probe_delay),
        answers_(opts_),
        large_timer_(transport_.make_timer()),
        outbox_(id_, opts_.max_datagram_size),
        recent_large_(opts_.large_repair_bytes, opts_.large_repair_window),
        large_probes_(opts_.tail_probe_delay),
        announce_timer_(transport_.make_timer()),
        announced_(id_, opts_.announce_period, make_identity(opts_.host_name, opts_.process_id, opts_.program_name),
                   opts_.max_datagram_size) {
    if (!opts_.keys.empty()) {  // keyed streams (docs/security.md): sealed at the gate, requests opened here
      sealer_ = std::make_unique<datagram_sealer>(opts_.keys, id_, opts_.protection);
      opener_ = std::make_unique<datagram_opener>(
          opts_.keys, static_cast<std::uint64_t>(std::chrono::nanoseconds(opts_.freshness_window).count()),
          opts_.max_keyed_senders);
      open_buf_.resize(wire::max_datagram_size_limit);
      gate_.seal_with(sealer_.get(), opts_.max_datagram_size + wire::seal_overhead);
    }
    start_peers();
  }

  std::uint64_t id() const noexcept { return id_; }
  Transport& transport() noexcept { return transport_; }

  // Whether it was made with keys: only then can its key ring change (its writers leave room
  // for the seal).
  bool keyed_from_start() const noexcept { return sealer_ != nullptr; }

  // Executor only, when keyed_from_start(): seals, and opens requests, with `ring` from now on.
  void rekey(const key_ring& ring) {
    std::lock_guard lock(mutex_);  // enqueue asks the sealer whether a stream is mute
    sealer_->rekey(ring);
    opener_->rekey(ring);
  }

  // Any thread.
  publisher_peer_stats peer_stats() const noexcept {
    publisher_peer_stats out;
    if constexpr (unicast_transport<Transport>) {
      if (peers_) {
        out.peer_send_errors = peers_->send_errors();
        out.peer_resolve_errors = peers_->resolve_errors();
      }
    }
    return out;
  }
  const publisher_options& options() const noexcept { return opts_; }

  // Any thread. The transport keeps a copyable std::function: the handler (move-only ones
  // too) sits in a shared_ptr it copies, and each report is posted to the handler's
  // associated executor (default: the strand), never run inside the transport's call.
  template <class Handler>
  void set_error_handler(Handler&& h) {
    if constexpr (error_reporting_transport<Transport>) {
      auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
      const transport_error_handler posting =
          [shared, ex = transport_.get_executor()](const std::error_code& ec, std::string_view interface_name) {
            const auto target = asio::get_associated_executor(*shared, ex);
            asio::post(target, [shared, ec, name = std::string(interface_name)] { (*shared)(ec, std::string_view(name)); });
          };
      transport_.set_error_handler(posting);
      if constexpr (unicast_transport<Transport>) {
        if (peers_) peers_->set_reporter(posting);  // a peer's failures, named by its entry
      }
    } else {
      (void)h;  // nothing to report failures: the handler is never called
    }
  }

  publisher_stream_stats stats(std::string_view stream_name) const {
    std::lock_guard lock(mutex_);
    const stream_state* s = streams_.find(stream_name);
    return s != nullptr ? s->counters.load() : publisher_stream_stats{};
  }

 protected:
  static publisher_options clamped(publisher_options o) {
    if (o.max_message_size > wire::max_message_size_limit)
      throw std::system_error(make_error_code(errc::invalid_option),
                              "publisher_options::max_message_size of " + std::to_string(o.max_message_size) +
                                  " bytes is over the limit of " + std::to_string(wire::max_message_size_limit) +
                                  " bytes (64 MiB)");
    if (o.large_repair_window.count() < 0)
      throw std::system_error(make_error_code(errc::invalid_option),
                              "publisher_options::large_repair_window is negative (" +
                                  std::to_string(o.large_repair_window.count()) + " ms)");
    o.max_datagram_size = std::clamp<std::size_t>(o.max_datagram_size, 64, wire::max_datagram_size_limit);
    // With keys, every datagram leaves sealed: the writers fill what is left after the seal.
    if (!o.keys.empty()) o.max_datagram_size = std::max<std::size_t>(o.max_datagram_size, 64 + wire::seal_overhead) - wire::seal_overhead;
    if (o.max_queued_bytes == 0) o.max_queued_bytes = std::numeric_limits<std::size_t>::max();
    return o;
  }

  static std::uint64_t draw_id(splitmix64& rng) noexcept {
    const std::uint64_t id = rng.next();
    return id != 0 ? id : 1;
  }

  // Unicast peers (publisher_options::unicast_peers): every datagram of the gate goes to them
  // too, and what their socket hears (subscribers' requests) is handled as the request
  // groups' is. Throws errc::invalid_option for a bad entry, for peers on a transport without
  // the capability, and for multicast off without peers (nothing would ever leave).
  void start_peers() {
    if (opts_.unicast_peers.empty()) {
      if (!opts_.multicast)
        throw std::system_error(make_error_code(errc::invalid_option),
                                "publisher_options::multicast = false needs publisher_options::unicast_peers");
      return;
    }
    if constexpr (unicast_transport<Transport>) {
      peers_ = std::make_shared<peer_fanout<Transport>>(transport_, opts_.unicast_peers, opts_.peer_resolve_interval);
      gate_.send_to(peers_.get(), opts_.multicast);
      peers_->start([this](std::span<const std::byte> d, const receive_info&) {
        if (opts_.answer_snapshots) on_listener_datagram(d);
      });
    } else {
      throw std::system_error(make_error_code(errc::invalid_option),
                              "publisher_options::unicast_peers: this transport cannot send by unicast");
    }
  }

  // Under mutex_: the stream, made (its family opened on the transport) on first use.
  stream_state* find_or_add_stream(std::uint64_t key, const std::string& name, const endpoint& ep,
                                   const endpoint& announce_ep, std::error_code& ec) {
    if (sealer_ != nullptr && sealer_->mute(name)) [[unlikely]] {
      ec = make_error_code(errc::no_sending_key);
      return nullptr;
    }
    return streams_.find_or_add(
        key, name, ep, ec,
        [this](address_family family, std::error_code& e) {
          if (!opts_.multicast) return;  // peers only: no multicast interface is needed
          auto tlock = gate_.lock();
          transport_.open(family, e);
        },
        [&announce_ep](stream_state& s) { s.announce_ep = announce_ep; });
  }

  // --- executor only from here on ---

  // One large message: a sequence number, the cache (a small value of the subject goes), and
  // its fragments into the outbox, which sends them a turn at a time.
  void publish_large(stream_state& s, const std::string& subject, shared_bytes bytes, std::uint32_t interval_ms) {
    const time_point now = Clock::now();
    if (!s.listener_checked) {
      ensure_listener(s);
      start_announcing(s, now);
    }
    const std::uint64_t sequence = s.next_sequence++;
    const std::uint64_t stamp = stamp_(now);
    bump(s.counters.published);
    const std::uint64_t hash = wire::content_hash(s.name, subject, std::span<const std::byte>(*bytes));
    const auto found = s.cache.find(subject);
    if (found.found()) uncache(s, found);
    if (interval_ms == 0) {
      drop_large(s, subject);
    } else if (s.large.store(subject, {bytes, sequence, stamp, hash, interval_ms, {}}, now)) {
      bump(s.counters.cached_subjects);
      if (!s.has_large) {
        s.has_large = true;
        large_streams_.push_back(&s);
      }
    }
    // Kept a while for repair, cached or not (recent_large.hpp): a one-shot message, or a
    // value replaced before every subscriber had all of it, can still be completed.
    recent_large_.prune(now);
    recent_large_.add({&s, subject, bytes, sequence, stamp, hash, interval_ms, now});
    outbox_.add(s, subject, std::move(bytes), interval_ms, sequence, stamp, hash, false);
    pump_fragments();
    arm_large_timer();
  }

  // A small record (or a tombstone) of a subject replaces its large value: returns the
  // interval it had (0: none held).
  std::uint32_t drop_large(stream_state& s, std::string_view subject) {
    const std::uint32_t interval = s.large.remove(subject);
    if (interval != 0) {
      auto& cached = s.counters.cached_subjects;
      cached.store(cached.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    }
    return interval;
  }

  // Calls `done` (void(std::error_code)) once every large message published so far has had
  // all its fragments handed to the transport: at once when none is under way, else after
  // the fragment turn that sends the last of them; `not_open` if the publisher shuts down
  // first (its unsent fragments are dropped). What async_flush waits for after its records.
  void when_large_sent(std::function<void(std::error_code)> done) {
    if (shut_down_) {
      done(make_error_code(errc::not_open));
    } else if (outbox_.live_finished() >= outbox_.live_queued()) {
      done(std::error_code{});
    } else {
      large_waiters_.push_back({outbox_.live_queued(), std::move(done)});
    }
  }

  // Starts sending the outbox's fragments unless a turn is under way or waiting.
  void pump_fragments() {
    if (pumping_ || outbox_.empty()) return;
    pumping_ = true;
    fragment_turn();
  }

  // One turn of the outbox (fragment_outbox.hpp), then the next one behind the strand's other
  // work, or once the transport's send backlog has drained where it keeps one.
  void fragment_turn() {
    const bool more = !shut_down_ && outbox_.pump(gate_);
    outbox_.take_finished([this](stream_state& s, std::uint64_t sequence) {
      if (large_probes_.start(s, sequence, Clock::now())) arm_large_timer();
    });
    while (!large_waiters_.empty() && large_waiters_.front().target <= outbox_.live_finished()) {
      auto done = std::move(large_waiters_.front().done);
      large_waiters_.pop_front();
      done(std::error_code{});
    }
    if (!more) {
      pumping_ = false;
      return;
    }
    if constexpr (backlog_reporting_transport<Transport>) {
      if (transport_.send_backlog() != 0) {
        transport_.async_wait_send_backlog([weak = this->weak_from_this()] {
          if (auto self = weak.lock()) self->fragment_turn();
        });
        return;
      }
    }
    asio::post(strand_, [self = this->shared_from_this()] { self->fragment_turn(); });
  }

  // The tail probes of large messages due (large_probes.hpp): each the last fragment of its
  // stream's newest message, flag resend, ahead of the other sends, while the message is
  // cached or among the recent ones (else its probes end).
  void fire_large_probes(time_point now) {
    bool sent = false;
    large_probes_.fire(now, [&](stream_state& s, std::uint64_t sequence) {
      static constexpr std::pair<std::uint32_t, std::uint32_t> tail[1] = {{last_fragment, last_fragment}};
      bool held = false;
      const auto probe = [&](std::string_view subject, const shared_bytes& payload, std::uint32_t interval_ms,
                             std::uint64_t timestamp_ns, std::uint64_t content_hash) {
        held = true;
        if (outbox_.add_ranges(s, subject, payload, interval_ms, sequence, timestamp_ns, content_hash, tail) != 0) {
          bump(s.counters.tail_probes);
          sent = true;
        }
      };
      s.large.for_each([&](std::string_view subject, const large_value<time_point>& v) {
        if (!held && v.sequence == sequence) probe(subject, v.payload, v.interval_ms, v.timestamp_ns, v.content_hash);
      });
      if (!held) {
        if (const auto* e = recent_large_.find(&s, sequence))
          probe(e->subject, e->payload, e->interval_ms, e->timestamp_ns, e->content_hash);
      }
      return held;
    });
    if (sent) pump_fragments();
  }

  void arm_large_timer() {
    if (shut_down_) return;
    time_point next = time_point::max();
    for (stream_state* st : large_streams_) next = std::min(next, st->large.next_due());
    next = std::min(next, recent_large_.next_expiry());  // the store lets go of its payloads in time
    next = std::min(next, large_probes_.next_due());
    if (next == time_point::max()) return;
    large_timer_.arm(next, this->weak_from_this(), [](publisher_engine& self) { self.on_large_timer(); });
  }

  // Periodic resends of large values: each due one's fragments queued (flag resend, its own
  // sequence) unless its resend is still queued, sent by the outbox's turns.
  void on_large_timer() {
    if (shut_down_) return;
    const time_point now = Clock::now();
    recent_large_.prune(now);
    fire_large_probes(now);
    for (stream_state* st : large_streams_) {
      st->large.take_due(now, [&](std::string_view subject, const large_value<time_point>& v) {
        outbox_.add(*st, subject, v.payload, v.interval_ms, v.sequence, v.timestamp_ns, v.content_hash, true);
        bump(st->counters.resent);
      });
    }
    pump_fragments();
    arm_large_timer();
  }

  // Opens the stream's listener for snapshot requests, once, when its first message goes out:
  // a request sent before the publisher ever sent on the stream is not heard (what it asks
  // for is in flight anyway). Best effort: without a listener the stream is not answered.
  void ensure_listener(stream_state& s) {
    s.listener_checked = true;
    const endpoint at = request_endpoint(s.ep);
    if (!opts_.answer_snapshots || !opts_.multicast || listeners_.contains(at)) return;
    auto tlock = gate_.lock();
    listeners_.open(transport_, at,
                    [this](std::span<const std::byte> d, const receive_info&) { on_listener_datagram(d); });
  }

  // One published record: into the stream's datagram, and into (or out of) the cache. The
  // views must stay valid until the next send_open_writers (a tail probe copies from them).
  void process(stream_state& s, std::string_view subject, byte_view payload, std::uint32_t interval_ms,
               std::uint64_t timestamp_ns, bool withdraw, time_point now) {
    if (!s.listener_checked) [[unlikely]] {  // the stream's first record: once per stream
      ensure_listener(s);
      start_announcing(s, now);
    }

    // Built where append keeps it anyway, the stream's tail probe: a record built on the
    // stack and then copied there was read back with 16-byte loads over its 1-, 4- and 8-byte
    // stores, a stall the CPU cannot forward around (four fifths of append's time at 64 B).
    wire::record& r = s.probe.record;
    r.flags = 0;
    r.sequence = s.next_sequence++;
    r.timestamp_ns = timestamp_ns;
    r.subject = subject;
    bump(s.counters.published);

    const auto found = s.cache.find(subject);
    // A subject's large value (fragments) goes with any record of it.
    const std::uint32_t large_interval = s.large.empty() ? 0 : drop_large(s, subject);
    if (withdraw) {
      r.flags = wire::flags::tombstone;
      r.interval_ms = found.found() ? s.cache[found.index].interval_ms : large_interval;
      r.payload = {};
      if (found.found()) uncache(s, found);
      bump(s.counters.withdrawn);
      append(s, r);
      return;
    }
    r.interval_ms = interval_ms;
    r.payload = payload;
    append(s, r);

    if (interval_ms == 0) {
      // A one-shot event replaces whatever value was cached: no further resends of it.
      if (found.found()) uncache(s, found);
      return;
    }
    const auto stored = s.cache.store(values_, found, subject, payload, interval_ms, r.sequence, r.timestamp_ns);
    if (stored.added) bump(s.counters.cached_subjects);
    resends_.stored(s, stored.index, *stored.sl, stored.added, now);
  }

  void uncache(stream_state& s, const typename last_value_cache<time_point>::lookup& at) {
    s.cache.remove(at);
    auto& cached = s.counters.cached_subjects;
    cached.store(cached.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  }

  // Every record goes out here: the stream's newest (for its tail probe), into its datagram.
  void append(stream_state& s, const wire::record& r) {
    probes_.note(s, r);
    packer_.append(s, r);
  }

  // `now`: the caller's reading of the clock (tail probes are timed from it). The datagrams
  // go first and the tail probes' copies are taken after: the copying is not on the path of
  // a message to the network. The views they copy from stay valid until the caller returns.
  void send_open_writers(time_point now) {
    packer_.send_open();
    bool probing = false;
    for (stream_state* s : packer_.opened()) probing |= probes_.restart(*s, now);
    packer_.clear_opened();
    if (probing) arm_answer_timer(now + std::chrono::duration_cast<duration>(probes_.delay()));
  }

  void arm_timer() {
    if (resends_.empty() || shut_down_) return;
    const time_point top = resends_.next_deadline();
    timer_.arm(top, this->weak_from_this(), [](publisher_engine& self) { self.on_timer(); });
  }

  void on_timer() {
    if (shut_down_) return;
    const time_point now = Clock::now();
    resends_.take_due(now, rng_);
    pack_resends(packer_, resends_.due());
    resends_.clear_due();
    send_open_writers(now);
    arm_timer();
  }

  void arm_answer_timer(time_point t) {
    if (shut_down_) return;
    answer_timer_.arm(t, this->weak_from_this(), [](publisher_engine& self) { self.on_answer_timer(); });
  }

  // Runs due tail probes, then answer passes as far as the pacing allows; re-arms itself.
  void on_answer_timer() {
    if (shut_down_) return;
    const time_point now = Clock::now();
    const auto send = [this](stream_state& s, const wire::record& r) { append(s, r); };
    // A large value an answer selects: its fragments, flag resend, under its cached sequence
    // (skipped when a resend of it is still queued), in the outbox's paced turns.
    bool large = false;
    const auto send_large = [this, &large](stream_state& s, std::string_view subject, const large_value<time_point>& v) {
      outbox_.add(s, subject, v.payload, v.interval_ms, v.sequence, v.timestamp_ns, v.content_hash, true);
      large = true;
    };
    const time_point probes_next = probes_.fire(now, send);
    const time_point next = std::min(probes_next, answers_.run(now, send, send_large));
    send_open_writers(now);
    if (large) pump_fragments();
    if (next != time_point::max()) arm_answer_timer(next);
  }

  // Everything a stream's listener hears on the request group: data of streams that map
  // there is dropped after a look at six bytes (or in the kernel); requests are decoded and
  // handed to the responder.
  void on_listener_datagram(std::span<const std::byte> bytes) {
    wire::request_view req;
    std::uint32_t key = 0;
    bool sealed = false;
    if (opener_ != nullptr && wire::peek_kind(bytes) == wire::kind::sealed) [[unlikely]] {
      if (!open_request(bytes, key)) return;
      bytes = {open_buf_.data(), open_len_};
      sealed = true;
    }
    if (!request_listeners::accept(bytes, id_, req)) return;
    stream_state* s = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (shut_down_) return;
      s = streams_.find(req.stream());
      if (s == nullptr) return;
    }
    if (opener_ != nullptr && opener_->keyed(s->name) && !(sealed && opener_->covers(key, s->name))) [[unlikely]] {
      bump(s->counters.requests_rejected);  // in clear, or sealed with another stream's key
      return;
    }
    const time_point now = Clock::now();
    if (req.fragment_range_count() != 0 && req.range_count() == 0) [[unlikely]] {
      if (answers_.admit(*s, req, now)) answer_fragments(*s, req);
      return;
    }
    const time_point at = answers_.request(*s, req, now, rng_);
    if (at != time_point::max()) arm_answer_timer(at);
    if (req.fragment_range_count() != 0) answer_fragments(*s, req);
  }

  // A request's fragment ranges (docs/wire-format.md, "Fragment ranges in a repair request"):
  // those of a message still cached as a subject's large value, or sent lately (one-shot or
  // replaced since: recent_large.hpp), are queued in the outbox (flag resend, its sequence)
  // ahead of the other sends, paced by its turns; others are ignored (the receiver times out).
  void answer_fragments(stream_state& s, const wire::request_view& req) {
    bool answered = false;
    std::vector<std::pair<std::uint32_t, std::uint32_t>>& ranges = fragment_ranges_;
    std::vector<std::uint64_t>& done = fragment_sequences_;
    done.clear();
    const auto answer = [&](std::string_view subject, const shared_bytes& payload, std::uint32_t interval_ms,
                            std::uint64_t sequence, std::uint64_t timestamp_ns, std::uint64_t content_hash) {
      ranges.clear();
      for (std::size_t i = 0; i < req.fragment_range_count(); ++i) {
        const wire::fragment_range g = req.fragment_range_at(i);
        if (g.sequence == sequence) ranges.emplace_back(g.first, g.last);
      }
      if (ranges.empty()) return;
      done.push_back(sequence);
      answered |= outbox_.add_ranges(s, subject, payload, interval_ms, sequence, timestamp_ns, content_hash, ranges) != 0;
    };
    s.large.for_each([&](std::string_view subject, const large_value<time_point>& v) {
      answer(subject, v.payload, v.interval_ms, v.sequence, v.timestamp_ns, v.content_hash);
    });
    if (recent_large_.size() != 0) {
      recent_large_.prune(Clock::now());
      for (std::size_t i = 0; i < req.fragment_range_count(); ++i) {
        const std::uint64_t sequence = req.fragment_range_at(i).sequence;
        if (std::find(done.begin(), done.end(), sequence) != done.end()) continue;
        if (const auto* e = recent_large_.find(&s, sequence))
          answer(e->subject, e->payload, e->interval_ms, e->sequence, e->timestamp_ns, e->content_hash);
        else
          done.push_back(sequence);  // not held: not looked for again in this request
      }
    }
    if (!answered) return;
    bump(s.counters.fragment_requests_answered);
    pump_fragments();
  }

  // A sealed datagram on a request group: true, with the request in open_buf_, when it is
  // a request that opens with one of the ring's keys (`key`: which). One that does not open
  // is counted on the streams of the key it names, if that is one of ours (requests_rejected).
  bool open_request(std::span<const std::byte> bytes, std::uint32_t& key) {
    // Byte 7 is the inner kind, in clear: the group's sealed data is dropped without opening.
    if (bytes.size() < 8 || std::to_integer<std::uint8_t>(bytes[7]) != static_cast<std::uint8_t>(wire::kind::snapshot_request))
      return false;
    const auto r = opener_->open(bytes, stamp_(Clock::now()), open_buf_);
    if (r.what == datagram_opener::verdict::opened) {
      key = r.key;
      open_len_ = r.inner.size();
      return true;
    }
    std::lock_guard lock(mutex_);
    opener_->for_each_stream_of(r.key_id, [&](std::string_view name) {
      if (stream_state* s = streams_.find(name)) bump(s->counters.requests_rejected);
    });
    return false;
  }

  // --- discovery (executor only) ---

  void start_announcing(stream_state& s, time_point now) {
    if (sealer_ != nullptr && sealer_->keyed(s.name)) return;  // a keyed stream's name stays private
    const time_point next = announced_.started(s, now);
    if (next != time_point::max()) arm_announce_timer(next);
  }

  void arm_announce_timer(time_point t) {
    if (shut_down_) return;
    announce_timer_.arm(t, this->weak_from_this(), [](publisher_engine& self) { self.on_announce_timer(); });
  }

  // Announces every stream published on (publication_announcements.hpp).
  void on_announce_timer() {
    if (shut_down_ || announced_.empty()) return;
    const auto send = [this](const endpoint& to, std::span<const std::byte> d) { (void)gate_.send(to, d); };
    arm_announce_timer(announced_.announce(Clock::now(), send));
  }

  // The end of the shutdown, once the last records went: every cached value withdrawn (with
  // withdraw_on_close), the timers stopped, the transport closed.
  void finish() {
    if (opts_.withdraw_on_close) {
      const std::uint64_t stamp = stamp_(Clock::now());
      std::vector<stream_state*> streams;
      {
        std::lock_guard lock(mutex_);
        streams_.for_each([&](stream_state& st) { streams.push_back(&st); });
      }
      for (stream_state* s : streams) {
        for (auto& sl : s->cache) {
          if (!sl.live) continue;
          wire::record r;
          r.flags = wire::flags::tombstone;
          r.interval_ms = sl.interval_ms;
          r.sequence = s->next_sequence++;
          r.timestamp_ns = stamp;
          r.subject = sl.subject();
          append(*s, r);
          bump(s->counters.withdrawn);
        }
        s->large.for_each([&](std::string_view subject, const large_value<time_point>& v) {
          wire::record r;
          r.flags = wire::flags::tombstone;
          r.interval_ms = v.interval_ms;
          r.sequence = s->next_sequence++;
          r.timestamp_ns = stamp;
          r.subject = subject;
          append(*s, r);
          bump(s->counters.withdrawn);
        });
      }
      send_open_writers(Clock::now());
    }
    {
      std::lock_guard lock(mutex_);
      shut_down_ = true;
    }
    timer_.cancel();
    resends_.clear();
    answer_timer_.cancel();
    answers_.clear();
    announce_timer_.cancel();
    announced_.clear();
    large_timer_.cancel();
    outbox_.clear();
    recent_large_.clear();
    large_probes_.clear();
    for (auto& w : large_waiters_) w.done(make_error_code(errc::not_open));
    large_waiters_.clear();
    probes_.clear();
    if constexpr (unicast_transport<Transport>) {
      if (peers_) peers_->stop();
    }
    auto tlock = gate_.lock();
    transport_.close();
  }

  publisher_options opts_;  // max_datagram_size clamped
  Transport transport_;
  earliest_timer<typename Transport::timer_type> timer_;         // resends (the wheel's next tick)
  earliest_timer<typename Transport::timer_type> answer_timer_;  // answer passes (delays, pacing) and tail probes
  splitmix64 rng_;             // executor only after the id: the jitter and the answer delays
  wall_stamper<Clock> stamp_;  // executor only: the records' timestamps, from the steady readings
  std::uint64_t id_;

  const executor_type strand_;  // transport_.get_executor(), kept
  // Keyed streams (none unless opts_.keys names some): the gate seals with sealer_; requests
  // are opened with opener_ into open_buf_ (executor only).
  std::unique_ptr<datagram_sealer> sealer_;
  std::unique_ptr<datagram_opener> opener_;
  std::vector<std::byte> open_buf_;
  std::size_t open_len_ = 0;  // declared before the gate, which points at sealer_ until it goes

  // Unicast peers (none unless opts_.unicast_peers names some); the gate points at them.
  std::shared_ptr<typename transport_gate<Transport>::fanout_type> peers_;
  // Executor only (the gate locks the transport where it must).
  transport_gate<Transport> gate_;
  packer<transport_gate<Transport>, stream_state> packer_;
  resend_schedule<stream_state, Clock> resends_;
  tail_probes<stream_state, Clock> probes_;
  snapshot_responder<stream_state, Clock> answers_;
  request_listeners listeners_;  // snapshot requests, per (group, port)

  // Guards streams_ and shut_down_, and the thread front's queue state (publisher_impl.hpp).
  mutable std::mutex mutex_;
  // The bytes of every stream's cached values (executor only), in one slab so that a large
  // cache grows in huge-page chunks however it spreads over streams; declared before the
  // streams, which free their large blocks when they go.
  slab values_;
  stream_registry<stream_state> streams_;
  bool shut_down_ = false;

  // Large messages (executor only).
  earliest_timer<typename Transport::timer_type> large_timer_;  // the earliest due resend of a large value
  fragment_outbox<stream_state> outbox_;
  std::vector<stream_state*> large_streams_;  // streams that ever held a large value
  bool pumping_ = false;                      // a fragment turn is under way or waiting
  recent_large<stream_state, time_point> recent_large_;  // large messages sent lately, for repair
  std::vector<std::pair<std::uint32_t, std::uint32_t>> fragment_ranges_;  // scratch of answer_fragments
  std::vector<std::uint64_t> fragment_sequences_;                          // scratch of answer_fragments
  struct large_waiter {
    std::uint64_t target;  // outbox_.live_finished() it waits for
    std::function<void(std::error_code)> done;
  };
  std::deque<large_waiter> large_waiters_;  // when_large_sent calls waiting for fragment turns
  large_probes<stream_state, Clock> large_probes_;  // tail probes of large messages

  // Discovery (executor only).
  earliest_timer<typename Transport::timer_type> announce_timer_;
  publication_announcements<stream_state, time_point> announced_;

};

}  // namespace racket::detail
