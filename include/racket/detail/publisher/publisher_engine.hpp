// SPDX-License-Identifier: MIT
#pragma once

// The publisher's executor side: what happens to a record once it is taken for sending, and
// everything the publisher does on its own. It runs the rooms: process (cache, resend
// schedule, packer) → send; resend timer → schedule → packing; answer timer → tail probes and
// snapshot answers; announce timer → announcements of the streams (detail/announce/); large
// messages, once numbered, and requests' fragment ranges → the large sender (large_sender.hpp:
// their cache, paced fragment turns, resends, tail probes and repair); and at the end, the
// withdrawals and the transport's close. It owns the transport, the streams and the one
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
#include "racket/detail/publisher/large_sender.hpp"
#include "racket/detail/publisher/large_values.hpp"
#include "racket/detail/publisher/packer.hpp"
#include "racket/detail/publisher/publication_announcements.hpp"
#include "racket/detail/publisher/publish_queue.hpp"
#include "racket/detail/publisher/publisher_stream.hpp"
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
  using large_sender_type = large_sender<Transport, Clock, stream_state>;

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
        large_(transport_, gate_, id_, opts_),
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
  stream_state* find_or_add_stream(const stream_ref& st, std::error_code& ec) {
    if (sealer_ != nullptr && sealer_->mute(st.name)) [[unlikely]] {
      ec = make_error_code(errc::no_sending_key);
      return nullptr;
    }
    return streams_.find_or_add(
        st.key, st.name, st.ep, ec,
        [this](address_family family, std::error_code& e) {
          if (!opts_.multicast) return;  // peers only: no multicast interface is needed
          auto tlock = gate_.lock();
          transport_.open(family, e);
        },
        [&st](stream_state& s) { s.announce_ep = st.announce_ep; });
  }

  // --- executor only from here on ---

  // One large message: a sequence number and a timestamp, the subject's small value dropped,
  // and the rest to the large sender (large_sender.hpp: the cache of large values, the
  // fragments' paced turns).
  void publish_large(stream_state& s, const std::string& subject, shared_bytes bytes, std::uint64_t hash,
                     std::uint32_t interval_ms) {
    const time_point now = Clock::now();
    if (!s.listener_checked) {
      ensure_listener(s);
      start_announcing(s, now);
    }
    const std::uint64_t sequence = s.next_sequence++;
    const std::uint64_t stamp = stamp_(now);
    bump(s.counters.published);
    const auto found = s.cache.find(subject);
    if (found.found()) uncache(s, found);
    large().publish(s, subject, std::move(bytes), hash, sequence, stamp, interval_ms, now);
  }

  // What async_flush waits for after its records: every large message published so far
  // handed to the transport (large_sender::when_sent).
  void when_large_sent(std::function<void(std::error_code)> done) { large_.when_sent(std::move(done)); }

  // Any thread: the payload bytes of large messages queued in the large sender's outbox and
  // not all sent yet (large_sender::queued_bytes).
  std::size_t large_queued_bytes() const noexcept { return large_.queued_bytes(); }

  // The large sender, bound on first use: its timer and fragment turns hold it through this
  // engine (an aliasing pointer), which owns the transport and the gate it sends with.
  large_sender_type& large() {
    if (!large_.bound()) large_.bind(std::shared_ptr<large_sender_type>(this->shared_from_this(), &large_));
    return large_;
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
    const std::uint32_t large_interval = s.large.empty() ? 0 : large_.drop(s, subject);
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
    // A large value an answer selects: its fragments, in the large sender's paced turns.
    bool large_queued = false;
    const auto send_large = [this, &large_queued](stream_state& s, std::string_view subject,
                                                  const large_value<time_point>& v) {
      large_.answer(s, subject, v);
      large_queued = true;
    };
    const time_point probes_next = probes_.fire(now, send);
    const time_point next = std::min(probes_next, answers_.run(now, send, send_large));
    send_open_writers(now);
    if (large_queued) large().pump();
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
      if (answers_.admit(*s, req, now)) large().answer_fragments(*s, req);
      return;
    }
    const time_point at = answers_.request(*s, req, now, rng_);
    if (at != time_point::max()) arm_answer_timer(at);
    if (req.fragment_range_count() != 0) large().answer_fragments(*s, req);
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
    large_.close();
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

  // Large messages (executor only): after the transport and the gate, which it uses.
  large_sender_type large_;

  // Discovery (executor only).
  earliest_timer<typename Transport::timer_type> announce_timer_;
  publication_announcements<stream_state, time_point> announced_;

};

}  // namespace racket::detail
