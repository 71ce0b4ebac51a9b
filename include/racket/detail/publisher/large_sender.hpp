// SPDX-License-Identifier: MIT
#pragma once

// The publisher's large messages once their stream has numbered them (docs/architecture.md,
// "Large messages", "Fragment repair"): each into the stream's cache of large values (with an
// interval) and the store of recent ones, its fragments into the outbox, sent a paced turn at
// a time; the timer of their periodic resends, of their tail probes (large_probes.hpp) and of
// the recent store's expiry; the answers to fragment ranges and the snapshot answers' large
// values, queued in the same outbox; and the async_flush waits for the fragment turns. It
// sends through the publisher's gate and reads the transport's send backlog. Executor only.
// Knows nothing of records, the small-value cache, the publish queue, requests' decoding,
// listeners, announcements or locks.

#include "racket/detail/earliest_timer.hpp"
#include "racket/detail/publisher/counters.hpp"
#include "racket/detail/publisher/fragment_outbox.hpp"
#include "racket/detail/publisher/large_probes.hpp"
#include "racket/detail/publisher/large_values.hpp"
#include "racket/detail/publisher/recent_large.hpp"
#include "racket/detail/publisher/transport_gate.hpp"
#include "racket/error.hpp"
#include "racket/publisher_options.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/wire.hpp"

#include <asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail {

// `Stream`: the publisher's stream; this room uses its `name`, `ep`, `next_sequence`, `large`
// (a large_value_cache), `has_large` and `counters`.
template <class Transport, class Clock, class Stream>
class large_sender {
 public:
  using time_point = typename Clock::time_point;
  using executor_type = typename Transport::executor_type;

  // `opts`: the publisher's, max_datagram_size clamped. `transport` and `gate` outlive it.
  large_sender(Transport& transport, transport_gate<Transport>& gate, std::uint64_t publisher_id,
               const publisher_options& opts)
      : transport_(transport),
        gate_(gate),
        strand_(transport.get_executor()),
        timer_(transport.make_timer()),
        outbox_(publisher_id, opts.max_datagram_size),
        recent_(opts.large_repair_bytes, opts.large_repair_window),
        probes_(opts.tail_probe_delay) {}

  large_sender(const large_sender&) = delete;
  large_sender& operator=(const large_sender&) = delete;

  // Whether bind was called. `self`: this room as its timer and fragment turns hold it, an
  // aliasing pointer into the publisher that owns it (and the transport and gate it uses).
  bool bound() const noexcept { return !self_.expired(); }
  void bind(std::weak_ptr<large_sender> self) noexcept { self_ = std::move(self); }

  // One large message of `s`, numbered and stamped by the caller, `hash` its content hash
  // (wire::content_hash of the stream's name, `subject` and `bytes`, computed by the caller:
  // the publisher does it on the publishing thread): cached as the subject's large value
  // (interval 0: the subject's large value dropped), kept a while for repair, its fragments
  // queued in the outbox and sent a turn at a time. The caller drops the subject's small
  // value.
  void publish(Stream& s, const std::string& subject, shared_bytes bytes, std::uint64_t hash, std::uint64_t sequence,
               std::uint64_t stamp, std::uint32_t interval_ms, time_point now) {
    if (interval_ms == 0) {
      drop(s, subject);
    } else if (s.large.store(subject, {bytes, sequence, stamp, hash, interval_ms, {}}, now)) {
      bump(s.counters.cached_subjects);
      if (!s.has_large) {
        s.has_large = true;
        streams_.push_back(&s);
      }
    }
    // Kept a while for repair, cached or not (recent_large.hpp): a one-shot message, or a
    // value replaced before every subscriber had all of it, can still be completed.
    recent_.prune(now);
    recent_.add({&s, subject, bytes, sequence, stamp, hash, interval_ms, now});
    outbox_.add(s, subject, std::move(bytes), interval_ms, sequence, stamp, hash, false);
    note_queued();
    pump();
    arm_timer();
  }

  // Any thread: the payload bytes of the messages published (not resends or answers) whose
  // fragments are not all handed to the transport yet. A publish counts them against its
  // bound (publisher_impl::enqueue_large), so a publisher faster than its network is told
  // would_block instead of queueing without end. Written by the executor after each change.
  std::size_t queued_bytes() const noexcept { return queued_bytes_.load(std::memory_order_acquire); }

  // A small record (or a tombstone) of a subject replaces its large value: returns the
  // interval it had (0: none held).
  std::uint32_t drop(Stream& s, std::string_view subject) {
    const std::uint32_t interval = s.large.remove(subject);
    if (interval != 0) {
      auto& cached = s.counters.cached_subjects;
      cached.store(cached.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    }
    return interval;
  }

  // A large value an answer pass selects: its fragments, flag resend, under its cached
  // sequence (skipped when a resend of it is still queued). Sent from the next `pump`.
  void answer(Stream& s, std::string_view subject, const large_value<time_point>& v) {
    outbox_.add(s, subject, v.payload, v.interval_ms, v.sequence, v.timestamp_ns, v.content_hash, true);
  }

  // A request's fragment ranges (docs/wire-format.md, "Fragment ranges in a repair request"):
  // those of a message still cached as a subject's large value, or sent lately (one-shot or
  // replaced since: recent_large.hpp), are queued in the outbox (flag resend, its sequence)
  // ahead of the other sends, paced by its turns; others are ignored (the receiver times out).
  void answer_fragments(Stream& s, const wire::request_view& req) {
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
    if (recent_.size() != 0) {
      recent_.prune(Clock::now());
      for (std::size_t i = 0; i < req.fragment_range_count(); ++i) {
        const std::uint64_t sequence = req.fragment_range_at(i).sequence;
        if (std::find(done.begin(), done.end(), sequence) != done.end()) continue;
        if (const auto* e = recent_.find(&s, sequence))
          answer(e->subject, e->payload, e->interval_ms, e->sequence, e->timestamp_ns, e->content_hash);
        else
          done.push_back(sequence);  // not held: not looked for again in this request
      }
    }
    if (!answered) return;
    bump(s.counters.fragment_requests_answered);
    pump();
  }

  // Calls `done` (void(std::error_code)) once every large message published so far has had
  // all its fragments handed to the transport: at once when none is under way, else after
  // the fragment turn that sends the last of them; `not_open` once closed, or if it closes
  // first (its unsent fragments are dropped). What async_flush waits for after its records.
  void when_sent(std::function<void(std::error_code)> done) {
    if (closed_) {
      done(make_error_code(errc::not_open));
    } else if (outbox_.live_finished() >= outbox_.live_queued()) {
      done(std::error_code{});
    } else {
      waiters_.push_back({outbox_.live_queued(), std::move(done)});
    }
  }

  // Starts sending the outbox's fragments unless a turn is under way or waiting.
  void pump() {
    if (pumping_ || outbox_.empty()) return;
    pumping_ = true;
    fragment_turn();
  }

  // The publisher's shutdown: the timer stopped, the unsent fragments and the recent messages
  // dropped, the waiters told `not_open`.
  void close() {
    closed_ = true;
    timer_.cancel();
    outbox_.clear();
    note_queued();
    recent_.clear();
    probes_.clear();
    for (auto& w : waiters_) w.done(make_error_code(errc::not_open));
    waiters_.clear();
  }

 private:
  void note_queued() noexcept { queued_bytes_.store(outbox_.live_bytes(), std::memory_order_release); }

  // One turn of the outbox (fragment_outbox.hpp), then the next one behind the strand's other
  // work, or once the transport's send backlog has drained where it keeps one.
  void fragment_turn() {
    const bool more = !closed_ && outbox_.pump(gate_);
    note_queued();
    outbox_.take_finished([this](Stream& s, std::uint64_t sequence) {
      if (probes_.start(s, sequence, Clock::now())) arm_timer();
    });
    while (!waiters_.empty() && waiters_.front().target <= outbox_.live_finished()) {
      auto done = std::move(waiters_.front().done);
      waiters_.pop_front();
      done(std::error_code{});
    }
    if (!more) {
      pumping_ = false;
      return;
    }
    if constexpr (backlog_reporting_transport<Transport>) {
      if (transport_.send_backlog() != 0) {
        transport_.async_wait_send_backlog([weak = self_] {
          if (auto self = weak.lock()) self->fragment_turn();
        });
        return;
      }
    }
    asio::post(strand_, [self = self_.lock()] { self->fragment_turn(); });
  }

  // The tail probes due (large_probes.hpp): each the last fragment of its stream's newest
  // message, flag resend, ahead of the other sends, while the message is cached or among the
  // recent ones (else its probes end).
  void fire_probes(time_point now) {
    bool sent = false;
    probes_.fire(now, [&](Stream& s, std::uint64_t sequence) {
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
        if (const auto* e = recent_.find(&s, sequence))
          probe(e->subject, e->payload, e->interval_ms, e->timestamp_ns, e->content_hash);
      }
      return held;
    });
    if (sent) pump();
  }

  void arm_timer() {
    if (closed_) return;
    time_point next = time_point::max();
    for (Stream* st : streams_) next = std::min(next, st->large.next_due());
    next = std::min(next, recent_.next_expiry());  // the store lets go of its payloads in time
    next = std::min(next, probes_.next_due());
    if (next == time_point::max()) return;
    timer_.arm(next, self_, [](large_sender& self) { self.on_timer(); });
  }

  // Periodic resends of large values: each due one's fragments queued (flag resend, its own
  // sequence) unless its resend is still queued, sent by the outbox's turns.
  void on_timer() {
    if (closed_) return;
    const time_point now = Clock::now();
    recent_.prune(now);
    fire_probes(now);
    for (Stream* st : streams_) {
      st->large.take_due(now, [&](std::string_view subject, const large_value<time_point>& v) {
        outbox_.add(*st, subject, v.payload, v.interval_ms, v.sequence, v.timestamp_ns, v.content_hash, true);
        bump(st->counters.resent);
      });
    }
    pump();
    arm_timer();
  }

  Transport& transport_;
  transport_gate<Transport>& gate_;
  const executor_type strand_;  // transport_.get_executor(), kept
  std::weak_ptr<large_sender> self_;
  earliest_timer<typename Transport::timer_type> timer_;  // resends, probes, the recent store's expiry
  fragment_outbox<Stream> outbox_;
  std::atomic<std::size_t> queued_bytes_{0};  // outbox_.live_bytes(), for any thread (queued_bytes)
  std::vector<Stream*> streams_;  // streams that ever held a large value
  bool pumping_ = false;          // a fragment turn is under way or waiting
  bool closed_ = false;
  recent_large<Stream, time_point> recent_;  // large messages sent lately, for repair
  large_probes<Stream, time_point> probes_;       // tail probes of large messages
  std::vector<std::pair<std::uint32_t, std::uint32_t>> fragment_ranges_;  // scratch of answer_fragments
  std::vector<std::uint64_t> fragment_sequences_;                          // scratch of answer_fragments
  struct waiter {
    std::uint64_t target;  // outbox_.live_finished() it waits for
    std::function<void(std::error_code)> done;
  };
  std::deque<waiter> waiters_;  // when_sent calls waiting for fragment turns
};

}  // namespace racket::detail
