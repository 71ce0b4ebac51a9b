// SPDX-License-Identifier: MIT
#pragma once

// Tail probes of large messages: once the last fragment of a stream's newest message has gone,
// that fragment is sent again on the records' probe schedule (probe_schedule.hpp: the probe
// delay, then 3 and 9 times as long), so that a subscriber that lost the end of the message,
// or all of it, learns its sequence and size and asks for the rest (docs/architecture.md,
// "Large messages"). Which (stream, sequence) is due, and when; time comes in as a parameter,
// the caller sends. Knows nothing of fragments, the outbox, the caches, timers or sockets.

#include "racket/detail/publisher/probe_schedule.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace racket::detail {

// `Stream`: the publisher's stream; this room reads its `next_sequence`.
template <class Stream, class TimePoint>
class large_probes {
 public:
  // `delay`: from the last fragment to the first probe; 0 turns probes off.
  explicit large_probes(std::chrono::milliseconds delay) : delay_(delay) {}

  // The last fragment of message `sequence` of `s` went at `now`: its probes start, in place
  // of the stream's earlier ones, unless probes are off or the stream has published anything
  // newer. True when they did (the caller wakes by next_due()).
  bool start(Stream& s, std::uint64_t sequence, TimePoint now) {
    if (delay_.count() <= 0 || s.next_sequence != sequence + 1) return false;
    for (entry& p : entries_) {
      if (p.stream != &s) continue;
      p.sequence = sequence;
      p.schedule.start(now, delay_);
      return true;
    }
    entries_.push_back({&s, sequence, {}});
    entries_.back().schedule.start(now, delay_);
    return true;
  }

  // Calls probe(Stream&, std::uint64_t sequence) for each probe due at `now`: it sends the
  // message's last fragment again and returns false when the message is held no more, which
  // ends its probes. The probes of a stream that published anything newer end unsent.
  template <class Probe>
  void fire(TimePoint now, Probe&& probe) {
    std::erase_if(entries_, [&](entry& p) {
      if (p.schedule.due > now) return false;
      if (p.stream->next_sequence != p.sequence + 1) return true;  // something newer went out since
      return !probe(*p.stream, p.sequence) || !p.schedule.advance(now);
    });
  }

  // When the next probe is due (TimePoint::max(): none is).
  TimePoint next_due() const noexcept {
    TimePoint next = TimePoint::max();
    for (const entry& p : entries_) next = std::min(next, p.schedule.due);
    return next;
  }

  bool empty() const noexcept { return entries_.empty(); }
  void clear() noexcept { entries_.clear(); }

 private:
  struct entry {
    Stream* stream;
    std::uint64_t sequence;  // the stream's newest message, large
    probe_schedule<TimePoint> schedule;
  };

  std::chrono::milliseconds delay_;
  std::vector<entry> entries_;  // at most one per stream
};

}  // namespace racket::detail
