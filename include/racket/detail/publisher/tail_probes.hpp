// SPDX-License-Identifier: MIT
#pragma once

// Tail probes: when a stream falls quiet, its newest record is sent again (flag `resend`, its
// own sequence) the probe delay after the last send, then 3 and 9 times as long after that
// (probe_schedule.hpp), so that subscribers detect a lost tail (docs/architecture.md, "Tail
// probes"). Which record, and when; time comes in as a parameter. Knows nothing of
// datagrams, sockets or locks.

#include "racket/detail/config.hpp"
#include "racket/detail/publisher/counters.hpp"
#include "racket/detail/publisher/probe_schedule.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace racket::detail {

// The tail probe of one stream: its newest live record sent, and its probes still to come.
template <class TimePoint>
struct tail_probe {
  // Subject and payload are views: into the caller's bytes until `tail_probes::restart`
  // copies them into `data`.
  wire::record record;
  std::vector<std::byte> data;
  probe_schedule<TimePoint> schedule;
  bool dirty = false;   // `record` changed since the last restart
  bool listed = false;  // in tail_probes' list

  // The record a probe sends: the newest one again, flagged resend.
  wire::record resend_record() const noexcept {
    wire::record r = record;
    r.flags = static_cast<std::uint8_t>((r.flags & wire::flags::tombstone) | wire::flags::resend);
    r.subject = {reinterpret_cast<const char*>(data.data()), r.subject.size()};
    r.payload = {data.data() + r.subject.size(), r.payload.size()};
    return r;
  }
};

// `Stream`: the publisher's stream; this room uses its `probe` (a tail_probe), its
// `next_sequence` and `counters.tail_probes`.
template <class Stream, class Clock>
class tail_probes {
 public:
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;

  // `delay`: from the last send to the first probe; 0 turns probes off.
  explicit tail_probes(std::chrono::milliseconds delay) : delay_(delay) {}

  std::chrono::milliseconds delay() const noexcept { return delay_; }

  // `r` goes out on `s`: unless it is a resend, it is the stream's newest record. Only the
  // views are kept: `restart` copies the stream's last one, while they are still valid. A
  // new message's record is built in s.probe.record already (the publisher's process).
  void note(Stream& s, const wire::record& r) noexcept {
    if (!r.resend() && delay_.count() > 0) {
      if (&r != &s.probe.record) s.probe.record = r;
      s.probe.dirty = true;
    }
  }

  // After the datagrams of `s` went out at `now`: if it sent a new record, copies it (its
  // views are about to go) and starts the stream's probes over. True when it did. Forced
  // inline: it is part of every flush, idle publishes included (it was written inside the
  // publisher's send_open_writers before it moved here, and clang then made it a call).
  RACKET_HOT_INLINE bool restart(Stream& s, time_point now) {
    tail_probe<time_point>& p = s.probe;
    if (!p.dirty) return false;
    p.dirty = false;
    wire::record& r = p.record;
    p.data.resize(r.subject.size() + r.payload.size());
    std::memcpy(p.data.data(), r.subject.data(), r.subject.size());
    if (!r.payload.empty()) std::memcpy(p.data.data() + r.subject.size(), r.payload.data(), r.payload.size());
    r.subject = {reinterpret_cast<const char*>(p.data.data()), r.subject.size()};
    r.payload = {p.data.data() + r.subject.size(), r.payload.size()};
    p.schedule.start(now, delay_);
    if (!p.listed) {
      p.listed = true;
      streams_.push_back(&s);
    }
    return true;
  }

  // Sends the probes due at `now`, through `send(stream, record)`: a stream's newest record,
  // unless newer ones went out since; schedules each stream's next probe. Returns when the
  // next probe is due (time_point::max(): none is).
  template <class Send>
  time_point fire(time_point now, Send&& send) {
    time_point next = time_point::max();
    for (std::size_t i = 0; i < streams_.size();) {
      Stream& s = *streams_[i];
      tail_probe<time_point>& p = s.probe;
      if (p.schedule.due_by(now)) {
        if (p.record.sequence + 1 == s.next_sequence) {
          send(s, p.resend_record());
          bump(s.counters.tail_probes);
        }
        p.schedule.advance(now);
      }
      if (p.schedule.left <= 0) {
        p.listed = false;
        streams_[i] = streams_.back();
        streams_.pop_back();
        continue;
      }
      next = std::min(next, p.schedule.due);
      ++i;
    }
    return next;
  }

  void clear() noexcept { streams_.clear(); }

 private:
  std::chrono::milliseconds delay_;
  std::vector<Stream*> streams_;  // streams with probes to send
};

}  // namespace racket::detail
