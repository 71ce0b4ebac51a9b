// SPDX-License-Identifier: MIT
#pragma once

// The publisher's orchestrator, shared by the threads that publish and by its executor. It
// alone knows threads, the executor and the clock: it holds the locks (the publish queue's,
// and the transport's where the transport is not thread safe), posts flushes, reads the
// clock, drives the three timers, and owns the streams and the rooms, which it runs: publish →
// queue → flush → process (cache, resend schedule, packer) → send; resend timer → schedule →
// packing; answer timer → tail probes and snapshot answers; announce timer → announcements
// of the streams (detail/announce/); close → shutdown. The rooms know
// none of that. See docs/architecture.md ("Threading", "Publisher: choices", "Snapshots and
// gap repair").
//
// Threads. The transport's executor (`transport_.get_executor()`) is the publisher's strand:
// `udp_transport`'s is a strand of its own, so every socket and timer completion of the
// transport, and everything below marked "executor only", runs serialised with the rest of
// it however many threads run the io_context; `running_in_this_thread()` tells a caller on
// it. State and who touches it:
//   - executor only, no lock: the rooms (packer, resend schedule, tail probes, answers), the
//     cache slab, the flushing queue, the rng after the id, the wall stamper, the gate's busy
//     flag, `listeners_`, each stream's sequence numbers, cache and open datagram;
//   - under `mutex_`, from any thread: `streams_` (streams are added, never removed, so a
//     stream found stays valid without it), the pending queue and its byte count, `flush_posted_`,
//     `closed_`, `shut_down_` (written on the executor, so read there without the lock);
//   - atomics, read by any thread: the per-stream counters (written by the executor, but
//     `would_block`, written under `mutex_` by the publishing thread it refused);
//   - immutable after construction: options, id.
// No user code runs under `mutex_` or inside a call made on the user's thread: the error
// handler and every completion are posted (detail/completion.hpp). Work posted to the
// executor holds the orchestrator strongly, timers weakly (earliest_timer), so it lives as
// long as anything queued still needs it, whichever thread drops the last handle.

#include "racket/codec.hpp"
#include "racket/detail/announce/identity.hpp"
#include "racket/detail/clock.hpp"
#include "racket/detail/completion.hpp"
#include "racket/detail/earliest_timer.hpp"
#include "racket/detail/hash.hpp"
#include "racket/detail/publisher/cache.hpp"
#include "racket/detail/publisher/counters.hpp"
#include "racket/detail/publisher/fragment_outbox.hpp"
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
#include "racket/detail/slab.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/publisher_options.hpp"
#include "racket/subject.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <asio/associated_executor.hpp>
#include <asio/dispatch.hpp>
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

// The bytes the publish queue held when the calling thread's last publish was refused with
// `would_block` (for the throwing overload's message).
inline std::size_t& last_queued_bytes() {
  thread_local std::size_t bytes = 0;
  return bytes;
}

// Subject and payload bytes one turn of a flush sends before the strand is let go (see
// publisher_impl::flush_turn): the default send buffer's size. 256 KiB turns cost the
// one-thread 8000 B throughput row a third of its rate and lost 30 % at the subscriber
// (docs/performance.md); 1 MiB and 4 MiB did as well as one turn for the whole queue.
inline constexpr std::size_t flush_turn_bytes = std::size_t{1} << 20;

template <class Transport, class Clock>
class publisher_impl : public std::enable_shared_from_this<publisher_impl<Transport, Clock>> {
 public:
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;
  using stream_state = publisher_stream<Clock>;
  using executor_type = typename Transport::executor_type;

  // `ctx`: whatever the transport is made from (an io_context or an executor for UDP, a node
  // in simulation).
  template <class ContextOrExecutor>
    requires std::constructible_from<Transport, ContextOrExecutor&&, const transport_options&>
  publisher_impl(ContextOrExecutor&& ctx, const publisher_options& opts)
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
        announce_timer_(transport_.make_timer()),
        announced_(id_, opts_.announce_period, make_identity(opts_.host_name, opts_.process_id, opts_.program_name),
                   opts_.max_datagram_size) {}

  std::uint64_t id() const noexcept { return id_; }
  Transport& transport() noexcept { return transport_; }
  const publisher_options& options() const noexcept { return opts_; }

  // Any thread. The transport keeps a copyable std::function: the handler (move-only ones
  // too) sits in a shared_ptr it copies, and each report is posted to the handler's
  // associated executor (default: the strand), never run inside the transport's call.
  template <class Handler>
  void set_error_handler(Handler&& h) {
    if constexpr (error_reporting_transport<Transport>) {
      auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
      transport_.set_error_handler(
          [shared, ex = transport_.get_executor()](const std::error_code& ec, std::string_view interface_name) {
            const auto target = asio::get_associated_executor(*shared, ex);
            asio::post(target, [shared, ec, name = std::string(interface_name)] { (*shared)(ec, std::string_view(name)); });
          });
    } else {
      (void)h;  // nothing to report failures: the handler is never called
    }
  }

  // Any thread; `handler`: void(std::error_code), completed through detail/completion.hpp.
  // With records queued, it waits for the flush that takes them (already posted) and
  // completes with what became of that flush's datagrams (transport_gate::take_losses).
  // With none queued, everything published before went out already, by the last flush
  // (or direct publish), which may still be running: a hop through the executor waits for
  // it and completes with its result. `not_open` if closed already.
  template <class Handler>
  void async_flush(Handler&& handler) {
    using pending = pending_completion<std::decay_t<Handler>, executor_type>;
    auto done = std::make_shared<pending>(std::forward<Handler>(handler), transport_.get_executor());
    // Made before the lock (it allocates); copyable for the waiters' std::function.
    std::function<void(std::error_code)> waiter = [done](std::error_code ec) { done->complete(ec); };
    bool closed = false;
    bool queued = false;
    {
      std::lock_guard lock(mutex_);
      closed = closed_;
      // A flush under way (flushing_bytes_) takes the waiters when it has sent its last turn.
      if (!closed && (!pending_.empty() || flushing_bytes_ != 0)) {
        flush_waiters_.push_back(std::move(waiter));
        queued = true;
      }
    }
    if (closed) {
      done->complete(make_error_code(errc::not_open));
    } else if (!queued) {
      asio::post(transport_.get_executor(),
                 [self = this->shared_from_this(), done] { done->complete(self->last_flush_losses_); });
    }
  }

  // Any thread: `close`, then completes `handler` (void(std::error_code), always success)
  // once the shutdown has run on the executor.
  template <class Handler>
  void async_close(Handler&& handler) {
    pending_completion<std::decay_t<Handler>, executor_type> done(std::forward<Handler>(handler),
                                                                  transport_.get_executor());
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    asio::post(transport_.get_executor(), [self = this->shared_from_this(), done = std::move(done)]() mutable {
      self->shutdown();  // at most once: a close() posted before ran it already
      done.complete(std::error_code{});
    });
  }

  // Any thread. `payload` is already encoded.
  // `key`: the stream object's `key()` (0: none), which stands for `stream_name` and `ep`.
  // `announce_ep`: the stream's announce channel, read only when the stream is new.
  void enqueue(std::uint64_t key, const std::string& stream_name, const endpoint& ep, const endpoint& announce_ep,
               std::string_view subject, byte_view payload, std::uint32_t interval_ms, bool withdraw,
               std::error_code& ec) {
    // Cleared first: the calls below report through `ec` and are read back from it, so one
    // left over from the caller's last call (a would_block) must not be taken for theirs.
    ec.clear();
    if (auto e = validate_subject(subject)) {
      ec = e;
      return;
    }
    if (payload.size() > wire::max_payload(opts_.max_datagram_size, stream_name.size(), subject.size()))
        [[unlikely]] {
      enqueue_large(key, stream_name, ep, announce_ep, subject, payload, interval_ms, ec);
      return;
    }
    bool post = false;
    // On the executor with nothing queued (an idle publisher, or one publishing from its own
    // handlers), the record goes straight into its datagram and out: no copy into the queue,
    // no second lock, no hop through the executor. Anything queued by another thread first
    // keeps its place: then this record queues behind it. (The strand is asked through the
    // copy kept here: a copy per call would cost two atomic reference count changes.)
    const bool on_executor = strand_.running_in_this_thread();
    stream_state* direct = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        ec = make_error_code(errc::not_open);
        return;
      }
      stream_state* s = find_or_add_stream(key, stream_name, ep, announce_ep, ec);
      if (ec) return;
      if (on_executor && !gate_.busy() && !flush_posted_ && pending_.empty() && flushing_bytes_ == 0 &&
          !shut_down_) {
        direct = s;
      } else {
        // Bounded (max_queued_bytes; clamped() made 0 the largest size): the queue and what a
        // flush under way has not sent yet, together. Past it: refused, counted, nothing
        // queued. `held` never exceeds the bound, so the subtraction cannot wrap.
        const std::size_t held = pending_.bytes() + flushing_bytes_;
        if (publish_queue<stream_state>::cost(subject.size(), payload.size()) > opts_.max_queued_bytes - held)
            [[unlikely]] {
          s->counters.would_block.fetch_add(1, std::memory_order_relaxed);
          last_queued_bytes() = held;
          ec = make_error_code(errc::would_block);
          return;
        }
        pending_.push(s, subject, payload, interval_ms, withdraw);
        if (!flush_posted_) {
          flush_posted_ = true;
          post = true;
        }
      }
    }
    ec.clear();
    if (direct != nullptr) {
      const time_point now = Clock::now();
      gate_.take_losses();  // a resend pass's are not this publish's
      process(*direct, subject, payload, interval_ms, stamp_(now), withdraw, now);
      send_open_writers(now);
      last_flush_losses_ = gate_.take_losses();  // this publish is the last "flush"
      arm_timer();
    } else if (post) {
      if (on_executor && !gate_.busy()) {
        flush();  // on the executor: send now, no hop through the queue
      } else if (!on_executor) {
        // A thread running the io_context (a subscriber's handler answering, say) takes the
        // strand at once when it is free and flushes here, without a trip through the
        // scheduler; any other thread, or a busy strand, queues the flush behind it.
        asio::dispatch(strand_, [self = this->shared_from_this()] { self->flush(); });
      } else {
        asio::post(strand_, [self = this->shared_from_this()] { self->flush(); });  // from inside a send
      }
    }
  }

  publisher_stream_stats stats(std::string_view stream_name) const {
    std::lock_guard lock(mutex_);
    const stream_state* s = streams_.find(stream_name);
    return s != nullptr ? s->counters.load() : publisher_stream_stats{};
  }

  // Any thread: refuses further publishes and posts the shutdown to the executor.
  void close() {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
    }
    asio::post(transport_.get_executor(), [self = this->shared_from_this()] { self->shutdown(); });
  }

 private:
  static publisher_options clamped(publisher_options o) {
    if (o.max_message_size > wire::max_message_size_limit)
      throw std::system_error(make_error_code(errc::invalid_option),
                              "publisher_options::max_message_size of " + std::to_string(o.max_message_size) +
                                  " bytes is over the limit of " + std::to_string(wire::max_message_size_limit) +
                                  " bytes (64 MiB)");
    o.max_datagram_size = std::clamp<std::size_t>(o.max_datagram_size, 64, wire::max_datagram_size_limit);
    if (o.max_queued_bytes == 0) o.max_queued_bytes = std::numeric_limits<std::size_t>::max();
    return o;
  }

  static std::uint64_t draw_id(splitmix64& rng) noexcept {
    const std::uint64_t id = rng.next();
    return id != 0 ? id : 1;
  }

  // Under mutex_: the stream, made (its family opened on the transport) on first use.
  stream_state* find_or_add_stream(std::uint64_t key, const std::string& name, const endpoint& ep,
                                   const endpoint& announce_ep, std::error_code& ec) {
    return streams_.find_or_add(
        key, name, ep, ec,
        [this](address_family family, std::error_code& e) {
          auto tlock = gate_.lock();
          transport_.open(family, e);
        },
        [&announce_ep](stream_state& s) { s.announce_ep = announce_ep; });
  }

  // Any thread: a payload over one record (docs/architecture.md, "Large messages"). Copied
  // once, before the lock, into the buffer the cache and the fragment sends share; then
  // processed on the executor (at once when called there and idle). Bounded: the large
  // payloads posted and not yet sent may total max(max_queued_bytes, max_message_size),
  // past which a publish is `would_block` (one message alone always passes).
  void enqueue_large(std::uint64_t key, const std::string& stream_name, const endpoint& ep,
                     const endpoint& announce_ep, std::string_view subject, byte_view payload,
                     std::uint32_t interval_ms, std::error_code& ec) {
    // The largest overhead a fragment of this message can have (any sequence and timestamp).
    const bool fits = wire::fragment_size_for(opts_.max_datagram_size, stream_name.size(), subject.size(), interval_ms,
                                              ~std::uint64_t{0}, ~std::uint64_t{0}) != 0;
    if (payload.size() > opts_.max_message_size || !fits) {
      ec = make_error_code(errc::payload_too_large);
      return;
    }
    auto bytes = std::make_shared<const std::vector<std::byte>>(payload.begin(), payload.end());
    const bool on_executor = strand_.running_in_this_thread();
    stream_state* s = nullptr;
    bool direct = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_) {
        ec = make_error_code(errc::not_open);
        return;
      }
      s = find_or_add_stream(key, stream_name, ep, announce_ep, ec);
      if (ec) return;
      const std::size_t bound = std::max(opts_.max_queued_bytes, opts_.max_message_size);
      if (large_posted_bytes_ != 0 && payload.size() > bound - std::min(bound, large_posted_bytes_)) {
        s->counters.would_block.fetch_add(1, std::memory_order_relaxed);
        last_queued_bytes() = large_posted_bytes_;
        ec = make_error_code(errc::would_block);
        return;
      }
      large_posted_bytes_ += payload.size();
      direct = on_executor && !gate_.busy() && !flush_posted_ && pending_.empty() && flushing_bytes_ == 0 &&
               !shut_down_;
    }
    ec.clear();
    if (direct) {
      process_large(*s, std::string(subject), std::move(bytes), interval_ms);
    } else {
      asio::post(strand_, [self = this->shared_from_this(), s, subj = std::string(subject), b = std::move(bytes),
                           interval_ms]() mutable { self->process_large(*s, subj, std::move(b), interval_ms); });
    }
  }

  // --- executor only from here on ---

  // One large message: a sequence number, the cache (a small value of the subject goes), and
  // its fragments into the outbox, which sends them a turn at a time.
  void process_large(stream_state& s, const std::string& subject, shared_bytes bytes, std::uint32_t interval_ms) {
    {
      std::lock_guard lock(mutex_);
      large_posted_bytes_ -= bytes->size();
      if (shut_down_) return;
    }
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

  // Starts sending the outbox's fragments unless a turn is under way or waiting.
  void pump_fragments() {
    if (pumping_ || outbox_.empty()) return;
    pumping_ = true;
    fragment_turn();
  }

  // One turn of the outbox (fragment_outbox.hpp), then the next one behind the strand's other
  // work, or once the transport's send backlog has drained where it keeps one.
  void fragment_turn() {
    if (shut_down_ || !outbox_.pump(gate_)) {
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

  void arm_large_timer() {
    if (shut_down_) return;
    time_point next = time_point::max();
    for (stream_state* st : large_streams_) next = std::min(next, st->large.next_due());
    if (next == time_point::max()) return;
    large_timer_.arm(next, this->weak_from_this(), [](publisher_impl& self) { self.on_large_timer(); });
  }

  // Periodic resends of large values: each due one's fragments queued (flag resend, its own
  // sequence) unless its resend is still queued, sent by the outbox's turns.
  void on_large_timer() {
    if (shut_down_) return;
    const time_point now = Clock::now();
    for (stream_state* st : large_streams_) {
      st->large.take_due(now, [&](std::string_view subject, const large_value<time_point>& v) {
        outbox_.add(*st, subject, v.payload, v.interval_ms, v.sequence, v.timestamp_ns, v.content_hash, true);
        bump(st->counters.resent);
      });
    }
    pump_fragments();
    arm_large_timer();
  }


  // Starts a flush, unless one is under way: that one takes the queue when it has sent its
  // own records.
  void flush() {
    if (!flushing_.empty()) {
      deferred_flush_ = true;
      return;
    }
    start_flush();
  }

  // Takes the queue, and the async_flush calls waiting for it, and sends the first turn.
  void start_flush() {
    bool shut = false;
    {
      std::lock_guard lock(mutex_);
      flushing_.swap(pending_);
      flush_waiters_.swap(waiters_);
      flush_posted_ = false;
      shut = shut_down_;
      flushing_bytes_ = shut ? 0 : flushing_.bytes();
    }
    if (shut) {  // nothing is queued after the shutdown's own flush; defensive
      flushing_.clear();
      complete_waiters(make_error_code(errc::not_open));
      return;
    }
    flush_losses_.clear();
    gate_.take_losses();  // a resend pass's are not this flush's
    flush_turn();
  }

  // One turn of the flush under way: up to `flush_turn_bytes` of its records (all of them
  // while shutting down) processed and sent. Then the next turn is posted, or, where the
  // transport holds a backlog the kernel has not taken yet, waits for it to drain: a queue
  // handed to the transport at once (16 MiB) overran its backlogs and lost datagrams. The
  // last turn completes the flush's waiters and posts the next flush if one came meanwhile
  // and found this one under way.
  void flush_turn() {
    const time_point now = Clock::now();
    // One stamp for the turn: the time the publisher takes the messages for sending. A clock
    // read per message cost ~35 ns on the project's VM, a sixth of a 64 B message's whole
    // path; and stamps taken here never go backwards along the sequence numbers given here
    // (stamps taken by several publishing threads could).
    const std::uint64_t stamp = stamp_(now);
    const std::size_t budget = finishing_ ? std::numeric_limits<std::size_t>::max() : flush_turn_bytes;
    flush_next_ = flushing_.for_each_from(
        flush_next_, budget,
        [&](stream_state& s, std::string_view subject, byte_view payload, std::uint32_t interval_ms, bool withdraw) {
          process(s, subject, payload, interval_ms, stamp, withdraw, now);
        });
    send_open_writers(now);  // before the bytes go: a tail probe copies its record from them
    if (const std::error_code lost = gate_.take_losses(); lost && flush_losses_ != std::errc::io_error)
      flush_losses_ = lost;  // io_error (refused) outranks no_buffer_space (dropped)
    arm_timer();
    if (flush_next_ < flushing_.size()) {
      {
        std::lock_guard lock(mutex_);
        flushing_bytes_ = flushing_.bytes_from(flush_next_);
      }
      next_flush_turn();
      return;
    }
    flushing_.clear();
    flush_next_ = 0;
    bool again = false;
    std::vector<std::function<void(std::error_code)>> late;  // async_flush calls made during it, nothing queued
    {
      std::lock_guard lock(mutex_);
      flushing_bytes_ = 0;
      again = flush_posted_;  // records were queued meanwhile
      if (!again) late.swap(flush_waiters_);
    }
    last_flush_losses_ = flush_losses_;
    complete_waiters(last_flush_losses_);
    for (auto& w : late) w(last_flush_losses_);
    if (finishing_) {
      if (again) start_flush();  // the shutdown's: nothing more can be queued (closed)
    } else if (deferred_flush_) {
      // A flush posted meanwhile found this one under way and gave up: posted again, behind
      // the strand's other work (started here, a thread that publishes without pause would
      // keep this call, and its stack, going for ever). Otherwise the posted one still comes.
      deferred_flush_ = false;
      asio::post(strand_, [self = this->shared_from_this()] { self->flush(); });
    }
  }

  // The next turn, behind whatever else the strand has queued; behind the transport's
  // backlog where it has one. Held weakly while waiting on the transport (which the
  // orchestrator owns); a shutdown in between sends the rest itself.
  void next_flush_turn() {
    if constexpr (backlog_reporting_transport<Transport>) {
      if (transport_.send_backlog() != 0) {
        transport_.async_wait_send_backlog([weak = this->weak_from_this()] {
          if (auto self = weak.lock(); self && !self->flushing_.empty()) self->flush_turn();
        });
        return;
      }
    }
    asio::post(strand_, [self = this->shared_from_this()] {
      if (!self->flushing_.empty()) self->flush_turn();
    });
  }

  // The async_flush calls the running flush took: each posts its handler.
  void complete_waiters(std::error_code ec) {
    if (waiters_.empty()) return;
    for (auto& w : waiters_) w(ec);
    waiters_.clear();
  }

  // Opens the stream's listener for snapshot requests, once, when its first message goes out:
  // a request sent before the publisher ever sent on the stream is not heard (what it asks
  // for is in flight anyway). Best effort: without a listener the stream is not answered.
  void ensure_listener(stream_state& s) {
    s.listener_checked = true;
    const endpoint at = request_endpoint(s.ep);
    if (!opts_.answer_snapshots || listeners_.contains(at)) return;
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
    timer_.arm(top, this->weak_from_this(), [](publisher_impl& self) { self.on_timer(); });
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
    answer_timer_.arm(t, this->weak_from_this(), [](publisher_impl& self) { self.on_answer_timer(); });
  }

  // Runs due tail probes, then answer passes as far as the pacing allows; re-arms itself.
  void on_answer_timer() {
    if (shut_down_) return;
    const time_point now = Clock::now();
    const auto send = [this](stream_state& s, const wire::record& r) { append(s, r); };
    const time_point probes_next = probes_.fire(now, send);
    const time_point next = std::min(probes_next, answers_.run(now, send));
    send_open_writers(now);
    if (next != time_point::max()) arm_answer_timer(next);
  }

  // Everything a stream's listener hears on the request group: data of streams that map
  // there is dropped after a look at six bytes (or in the kernel); requests are decoded and
  // handed to the responder.
  void on_listener_datagram(std::span<const std::byte> bytes) {
    wire::request_view req;
    if (!request_listeners::accept(bytes, id_, req)) return;
    stream_state* s = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (shut_down_) return;
      s = streams_.find(req.stream());
      if (s == nullptr) return;
    }
    const time_point at = answers_.request(*s, req, Clock::now(), rng_);
    if (at != time_point::max()) arm_answer_timer(at);
  }

  // --- discovery (executor only) ---

  void start_announcing(stream_state& s, time_point now) {
    const time_point next = announced_.started(s, now);
    if (next != time_point::max()) arm_announce_timer(next);
  }

  void arm_announce_timer(time_point t) {
    if (shut_down_) return;
    announce_timer_.arm(t, this->weak_from_this(), [](publisher_impl& self) { self.on_announce_timer(); });
  }

  // Announces every stream published on (publication_announcements.hpp).
  void on_announce_timer() {
    if (shut_down_ || announced_.empty()) return;
    const auto send = [this](const endpoint& to, std::span<const std::byte> d) { (void)gate_.send(to, d); };
    arm_announce_timer(announced_.announce(Clock::now(), send));
  }

  // At most once (close and async_close may both have posted it).
  void shutdown() {
    if (shut_down_) return;
    // Whatever was published before close() still goes out, all of it now: the turn under
    // way (if any) and the queue behind it.
    finishing_ = true;
    if (!flushing_.empty()) {
      flush_turn();
    } else {
      start_flush();
    }
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
    probes_.clear();
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

  // Executor only (the gate locks the transport where it must).
  transport_gate<Transport> gate_;
  packer<transport_gate<Transport>, stream_state> packer_;
  resend_schedule<stream_state, Clock> resends_;
  tail_probes<stream_state, Clock> probes_;
  snapshot_responder<stream_state, Clock> answers_;
  request_listeners listeners_;  // snapshot requests, per (group, port)

  mutable std::mutex mutex_;  // guards streams_, pending_, flush_waiters_, flush_posted_, flushing_bytes_, closed_, shut_down_
  // The bytes of every stream's cached values (executor only), in one slab so that a large
  // cache grows in huge-page chunks however it spreads over streams; declared before the
  // streams, which free their large blocks when they go.
  slab values_;
  stream_registry<stream_state> streams_;
  publish_queue<stream_state> pending_;
  bool flush_posted_ = false;
  bool closed_ = false;
  bool shut_down_ = false;
  std::vector<std::function<void(std::error_code)>> flush_waiters_;  // async_flush calls waiting for pending_
  std::size_t flushing_bytes_ = 0;  // what the flush under way has not sent yet (its queue's bytes())
  publish_queue<stream_state> flushing_;  // executor only: what the flush under way sends
  std::size_t flush_next_ = 0;           // executor only: its next record
  std::error_code flush_losses_;         // executor only: what became of its datagrams so far
  bool finishing_ = false;               // executor only: shutting down, flushes send in one turn
  bool deferred_flush_ = false;          // executor only: a flush came while one was under way
  std::vector<std::function<void(std::error_code)>> waiters_;  // executor only: flush_waiters_ the running flush took
  std::error_code last_flush_losses_;  // executor only: what became of the last flush's datagrams

  // Large messages (executor only, but large_posted_bytes_, under mutex_).
  earliest_timer<typename Transport::timer_type> large_timer_;  // the earliest due resend of a large value
  fragment_outbox<stream_state> outbox_;
  std::vector<stream_state*> large_streams_;  // streams that ever held a large value
  bool pumping_ = false;                      // a fragment turn is under way or waiting
  std::size_t large_posted_bytes_ = 0;        // large payloads posted to the executor, not yet processed

  // Discovery (executor only).
  earliest_timer<typename Transport::timer_type> announce_timer_;
  publication_announcements<stream_state, time_point> announced_;
};

}  // namespace racket::detail
