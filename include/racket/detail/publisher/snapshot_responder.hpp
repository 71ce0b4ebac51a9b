// SPDX-License-Identifier: MIT
#pragma once

// The snapshot responder: a stream's snapshot and repair requests, once admitted by the
// per-requester limit, merge into its pending answer, due after a random delay and never
// sooner than the spacing after the stream's last pass; a pass walks the stream's cache and
// re-sends what the answer selects, each record under a new sequence number, paced over all
// streams by one token bucket of bytes (docs/architecture.md, "Snapshots and gap repair").
// The stream's large values the answer selects are handed out at the pass's end, under their
// cached sequence (the caller re-sends their fragments, paced by its fragment turns).
// Time and randomness come in as parameters. Knows nothing of sockets, datagrams or locks.

#include "racket/detail/clock.hpp"
#include "racket/detail/publisher/answer_set.hpp"
#include "racket/detail/publisher/cache.hpp"
#include "racket/detail/publisher/counters.hpp"
#include "racket/detail/publisher/request_limiter.hpp"
#include "racket/publisher_options.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace racket::detail {

// The answers of one stream: requests merge into `pending`; a pass re-sends `active`,
// walking the slots with `cursor`; `pending` then becomes the one follow-up pass.
template <class TimePoint>
struct stream_answers {
  answer_set pending;
  answer_set active;
  TimePoint pending_due{};
  TimePoint last_pass{};  // when the last pass started
  request_limiter<TimePoint> requesters;
  request_limiter<TimePoint> fragment_requesters;  // requests naming only fragments: a budget of their own
  std::size_t cursor = 0;
  double pass_bytes = 0;  // re-sent by the active pass so far (charged to its requesters)
  bool answering = false;
  bool listed = false;  // in the responder's list
};

// `Stream`: the publisher's stream; the responder uses its `answers` (a stream_answers),
// `cache` (a last_value_cache), `large` (a large_value_cache), `next_sequence` and the
// `counters` of snapshots.
template <class Stream, class Clock>
class snapshot_responder {
 public:
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;

  static constexpr std::size_t answer_scan_budget = 65536;
  static constexpr unsigned fragment_request_factor = 8;  // slots looked at per stream per answer pass step

  explicit snapshot_responder(const publisher_options& opts)
      : rate_bytes_(opts.snapshot_rate_bytes),
        max_datagram_size_(opts.max_datagram_size),
        snapshot_delay_max_(opts.snapshot_delay_max),
        repair_delay_max_(opts.repair_delay_max),
        spacing_(opts.snapshot_answer_spacing),
        limits_{.per_second = opts.snapshot_requests_per_second,
                .burst = opts.snapshot_request_burst,
                .max_requesters = opts.max_snapshot_requesters,
                .bytes_per_second = static_cast<double>(opts.snapshot_bytes_per_requester)},
        fragment_limits_{.per_second = opts.snapshot_requests_per_second * fragment_request_factor,
                         .burst = opts.snapshot_request_burst * fragment_request_factor,
                         .max_requesters = opts.max_snapshot_requesters} {}

  // A valid request for `s`, heard at `now`: counted, admitted by its requester's limit and
  // merged into the stream's pending answer. Returns when the answer timer must fire for it
  // (time_point::max(): no need, the request was refused or joins a pass in progress).
  time_point request(Stream& s, const wire::request_view& req, time_point now, splitmix64& rng) {
    stream_answers<time_point>& a = s.answers;
    bump(s.counters.snapshot_requests);
    if (!a.requesters.admit(req.requester_id(), now, limits_)) {
      bump(s.counters.snapshot_requests_limited);
      return time_point::max();
    }
    a.pending.add_requester(req.requester_id());
    const bool was_empty = a.pending.empty();
    const time_point due = now + random_delay(req.full() ? snapshot_delay_max_ : repair_delay_max_, rng);
    if (req.full()) {
      a.pending.full.add(req.filter());
    } else {
      a.pending.repair.add(req.filter());
      for (std::size_t i = 0; i < req.range_count(); ++i) a.pending.ranges.add(req.range(i));
    }
    // Requests arriving while an answer is pending join it (a repair may bring it forward);
    // while a pass is in progress they make up the one follow-up pass.
    if (was_empty || (!req.full() && due < a.pending_due)) a.pending_due = due;
    if (!a.listed) {
      a.listed = true;
      streams_.push_back(&s);
    }
    return a.answering ? time_point::max() : pass_start(a);
  }

  // A valid request that names only fragments (answered at once by the caller, not by a
  // pass): counted, and admitted by its requester's fragment budget: `fragment_request_factor`
  // times the snapshot requests' rate and burst (a subscriber repairing a 16 MiB message at
  // 5 % loss sends some ten in a second). False: refused.
  bool admit(Stream& s, const wire::request_view& req, time_point now) {
    bump(s.counters.snapshot_requests);
    if (s.answers.fragment_requesters.admit(req.requester_id(), now, fragment_limits_)) return true;
    bump(s.counters.snapshot_requests_limited);
    return false;
  }

  // Runs the answer passes due at `now` as far as the pacing allows: `emit(stream, record)`
  // for each record re-sent, `emit_large(stream, subject, large_value)` for each large value
  // selected (not charged to the token bucket: its fragments go out in the caller's paced
  // turns, one copy at most queued). Returns when to run again (time_point::max(): nothing
  // pending).
  template <class Emit, class EmitLarge>
  time_point run(time_point now, Emit&& emit, EmitLarge&& emit_large) {
    time_point next = time_point::max();
    const double rate = static_cast<double>(rate_bytes_);
    const double burst = answer_burst();
    if (rate > 0) {
      tokens_ = std::min(burst, tokens_ + rate * seconds_between(tokens_at_, now));
    } else {
      tokens_ = std::numeric_limits<double>::infinity();
    }
    tokens_at_ = now;
    for (std::size_t i = 0; i < streams_.size();) {
      Stream& s = *streams_[i];
      stream_answers<time_point>& a = s.answers;
      bool yielded = false;
      for (;;) {
        if (!a.answering) {
          if (a.pending.empty() || pass_start(a) > now) break;
          std::swap(a.active, a.pending);
          a.pending.clear();
          a.cursor = 0;
          a.pass_bytes = 0;
          a.answering = true;
          a.last_pass = now;
          bump(s.counters.snapshot_answers);
        }
        if (!step(s, emit, emit_large, now)) {
          yielded = true;
          break;
        }
      }
      if (yielded) {
        // Out of tokens: wait until half a burst has built up; out of scan budget: at once.
        const double wait = tokens_ > 0 ? 0.0 : (burst / 2 - tokens_) / rate;
        next = std::min(next, now + std::chrono::duration_cast<duration>(std::chrono::duration<double>(wait)));
      } else if (!a.pending.empty()) {
        next = std::min(next, pass_start(a));
      } else {
        a.listed = false;
        streams_[i] = streams_.back();
        streams_.pop_back();
        continue;
      }
      ++i;
    }
    return next;
  }

  void clear() noexcept { streams_.clear(); }

 private:
  // Continues the pass of `s`; true when it is complete, false when it yields (pacing, or
  // the scan budget of one timer pass).
  template <class Emit, class EmitLarge>
  bool step(Stream& s, Emit& emit, EmitLarge& emit_large, time_point now) {
    stream_answers<time_point>& a = s.answers;
    std::size_t scanned = 0;
    while (a.cursor < s.cache.slot_count()) {
      if (tokens_ <= 0 || scanned >= answer_scan_budget) return false;
      auto& sl = s.cache[a.cursor++];
      ++scanned;
      if (!sl.live || !a.active.selects(sl.subject(), sl.sequence)) continue;
      sl.sequence = s.next_sequence++;  // a later range request names the subject by this number
      const wire::record r = cached_record(sl, wire::flags::snapshot);
      emit(s, r);
      const auto bytes = static_cast<double>(wire::record_size(r.subject.size(), r.payload.size()));
      tokens_ -= bytes;
      a.pass_bytes += bytes;
      bump(s.counters.snapshot_records);
    }
    if (!s.large.empty()) [[unlikely]] {
      s.large.for_each([&](std::string_view subject, const auto& v) {
        if (!a.active.selects(subject, v.sequence)) return;
        emit_large(s, subject, v);
        a.pass_bytes += static_cast<double>(v.payload->size());  // paced by the fragment turns, charged here
        bump(s.counters.snapshot_records);
      });
    }
    // The pass is done: each requester whose request joined it pays for all of it (the answer
    // went to the group, and any one of them alone would have caused it).
    for (const std::uint64_t id : a.active.requesters) a.requesters.charge(id, a.pass_bytes, now, limits_);
    a.answering = false;
    a.active.clear();
    return true;
  }

  // When the pending answer may start: its due time, and not before the spacing.
  time_point pass_start(const stream_answers<time_point>& a) const {
    return std::max(a.pending_due, a.last_pass + std::chrono::duration_cast<duration>(spacing_));
  }

  static duration random_delay(std::chrono::milliseconds max, splitmix64& rng) {
    if (max.count() <= 0) return duration{0};
    const auto d = std::chrono::duration<double, std::milli>(rng.unit() * static_cast<double>(max.count()));
    return std::chrono::duration_cast<duration>(d);
  }

  // The pacing bucket's size: 2 ms worth, and at least four datagrams.
  double answer_burst() const noexcept {
    return std::max(static_cast<double>(rate_bytes_) * 0.002, 4.0 * static_cast<double>(max_datagram_size_));
  }

  static double seconds_between(time_point a, time_point b) noexcept {
    return request_limiter<time_point>::seconds_between(a, b);
  }

  std::size_t rate_bytes_;  // 0: unpaced
  std::size_t max_datagram_size_;
  std::chrono::milliseconds snapshot_delay_max_;
  std::chrono::milliseconds repair_delay_max_;
  std::chrono::milliseconds spacing_;
  request_limits limits_;
  request_limits fragment_limits_;
  std::vector<Stream*> streams_;  // streams with a pending or running answer
  double tokens_ = 0;             // pacing, bytes
  time_point tokens_at_{};
};

}  // namespace racket::detail
