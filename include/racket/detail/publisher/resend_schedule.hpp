// SPDX-License-Identifier: MIT
#pragma once

// The resend schedule of a publisher: when each cached subject of every stream is due again,
// on one timing wheel; which resends a timer pass takes (the due ones, and those due soon
// enough to coalesce with them), when each is due next (an interval on, plus jitter), and when
// the timer must fire. Time and randomness come in as parameters. Knows nothing of datagrams,
// sockets, the transport's timers or locks.

#include "racket/detail/clock.hpp"
#include "racket/detail/config.hpp"
#include "racket/detail/publisher/counters.hpp"
#include "racket/detail/timer_wheel.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace racket::detail {

// `Stream`: the publisher's stream; the schedule uses its `cache` (a last_value_cache: the
// slots' `due`, `generation`, `live`, `interval_ms` and sizes), its `ordinal` and
// `counters.resent`. Streams must outlive the schedule's entries for them.
template <class Stream, class Clock>
class resend_schedule {
 public:
  using time_point = typename Clock::time_point;
  using duration = typename Clock::duration;

  // A resend a timer pass has taken: packed into datagrams when the pass is over.
  struct due_resend {
    Stream* stream;
    std::uint64_t key;  // the stream's ordinal, then its subject and payload bytes, largest first
    std::uint32_t slot;
  };

  // `coalesce`: resends due within this window go together (at most half their interval
  // early); `jitter`: each is due up to this fraction of its interval late, at random.
  resend_schedule(std::chrono::milliseconds coalesce, double jitter) : coalesce_(coalesce), jitter_(jitter) {}

  bool empty() const noexcept { return wheel_.empty(); }

  // The value in slot `index` of `s` (`sl`) was stored at `now` (`added`: the subject was not
  // cached before): its next resend is one interval on.
  template <class Slot>
  void stored(Stream& s, std::uint32_t index, Slot& sl, bool added, time_point now) {
    const time_point old_due = sl.due;
    sl.due = now + std::chrono::duration_cast<duration>(std::chrono::milliseconds(sl.interval_ms));
    if (added) {
      add(s, index, sl.due);
    } else if (sl.due < old_due) {
      // Sooner than before (a shorter interval): the live wheel entry, due no sooner than the
      // old due time, may be too late; it goes stale and a new one is pushed.
      ++sl.generation;
      add(s, index, sl.due);
    }
  }

  // The timer's pass at `now`: takes the resends due (at most `resend_budget` of them, the
  // rest wait for the next pass), schedules each one's next, and leaves them in `due()` in
  // packing order.
  void take_due(time_point now, splitmix64& rng) {
    const time_point horizon = now + std::chrono::duration_cast<duration>(coalesce_);
    std::size_t budget = resend_budget;
    held_due_ = time_point::max();
    wheel_.advance(tick_of(horizon), budget, [&](const wheel_entry& item) {
      Stream& s = *item.stream;
      auto& sl = s.cache[item.slot];
      if (!sl.live || sl.generation != item.generation) return;
      if (sl.due > horizon) {  // republished since: its entry moves to the new due time
        add(s, item.slot, sl.due);
        return;
      }
      // A subject goes early by at most half its interval, so a short interval is never sent
      // twice in one pass; one not yet due within its own window waits for its due time.
      const auto own_window = std::min(std::chrono::duration_cast<duration>(coalesce_),
                                       std::chrono::duration_cast<duration>(std::chrono::milliseconds(sl.interval_ms)) / 2);
      if (sl.due > now + own_window) {
        held_due_ = std::min(held_due_, sl.due);
        add(s, item.slot, sl.due);
        return;
      }
      const std::uint32_t bytes = std::uint32_t{sl.subject_len} + sl.payload_len;
      due_.push_back(due_resend{&s, std::uint64_t{s.ordinal} << 32 | ~bytes, item.slot});
      bump(s.counters.resent);
      const auto interval = std::chrono::duration_cast<duration>(std::chrono::milliseconds(sl.interval_ms));
      time_point next = sl.due + interval + jitter(sl.interval_ms, rng);
      if (next <= now) next = now + jitter(sl.interval_ms, rng) + duration{1};  // we fell far behind: do not burst
      sl.due = next;
      // Filed within this pass's reach, the entry waits for the next pass: wake for it on time.
      if (next <= horizon) held_due_ = std::min(held_due_, next);
      add(s, item.slot, next);
    }, look_ahead{});
    // By a key that is the same every run (not the stream's address): the simulation replays.
    std::sort(due_.begin(), due_.end(), [](const due_resend& a, const due_resend& b) { return a.key < b.key; });
  }

  // The resends the last pass took: by stream (in creation order), each stream's largest first.
  std::span<const due_resend> due() const noexcept { return due_; }
  void clear_due() noexcept { due_.clear(); }

  // When the timer must fire next (the schedule not empty): the first tick with a deadline,
  // or sooner a short-interval resend that the last pass held back to its own due time.
  time_point next_deadline() const noexcept { return std::min(time_of_tick(wheel_.next_tick()), held_due_); }

  void clear() noexcept { wheel_.clear(); }

 private:
  // A resend deadline in the wheel: the slot's `due` is the exact time, the wheel's tick (1 ms)
  // only files it. An entry whose generation is not the slot's is stale and dropped.
  struct wheel_entry {
    Stream* stream;
    std::uint32_t slot;
    std::uint32_t generation;
  };

  // Cached values are cold (a few hundred thousand of them): the wheel hands over the entries
  // ahead of the one firing, and their slots are fetched before the pass reads them. Their
  // bytes are fetched when the pass is packed (resend_packing.hpp), where they are copied;
  // fetched here as well, they made no difference (three alternating resend-scale pairs).
  // Forced inline: g++ split a prefetch step out as a separate function, found it free of side
  // effects and dropped the call.
  struct look_ahead {
    RACKET_HOT_INLINE void operator()(const wheel_entry& item, int step) const noexcept {
      if (step == 0) prefetch(&item.stream->cache[item.slot]);
    }
  };

  static constexpr std::size_t resend_budget = 8192;  // per timer pass, then yield to other work

  void add(Stream& s, std::uint32_t index, time_point due) {
    wheel_.add(tick_of(due), wheel_entry{&s, index, s.cache[index].generation});
  }

  duration jitter(std::uint32_t interval_ms, splitmix64& rng) const {
    const double j = std::clamp(jitter_, 0.0, 1.0) * rng.unit() * interval_ms;
    return std::chrono::duration_cast<duration>(std::chrono::duration<double, std::milli>(j));
  }

  static std::uint64_t tick_of(time_point t) noexcept {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
  }
  static time_point time_of_tick(std::uint64_t tick) noexcept {
    return time_point{std::chrono::duration_cast<duration>(std::chrono::milliseconds(static_cast<std::int64_t>(tick)))};
  }

  // Resend deadlines of every cached subject (one timer for all): 4096 ticks of 1 ms.
  timer_wheel<wheel_entry> wheel_{4096};
  time_point held_due_ = time_point::max();  // earliest resend the last pass held back
  std::vector<due_resend> due_;              // the last pass's resends, to pack
  std::chrono::milliseconds coalesce_;
  double jitter_;
};

}  // namespace racket::detail
