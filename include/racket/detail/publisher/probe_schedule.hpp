// SPDX-License-Identifier: MIT
#pragma once

// When tail probes go (docs/architecture.md, "Tail probes"): the first the probe delay after
// the last send, then 3 and 9 times as long after the one before, three in all. The one
// schedule of the records' probes (tail_probes.hpp) and the large messages' (large_probes.hpp).
// Only the times: knows nothing of streams, records, fragments or what a probe sends.

#include <chrono>

namespace racket::detail {

template <class TimePoint>
struct probe_schedule {
  using duration = typename TimePoint::duration;

  static constexpr int probe_count = 3;
  static constexpr int growth = 3;  // each wait this many times the one before

  TimePoint due{};  // the next probe
  duration step{};  // the wait before it
  int left = 0;     // probes still to send

  // Starts over after a send at `now`: the first probe `delay` later.
  void start(TimePoint now, std::chrono::milliseconds delay) noexcept {
    left = probe_count;
    step = std::chrono::duration_cast<duration>(delay);
    due = now + step;
  }

  bool due_by(TimePoint now) const noexcept { return left > 0 && due <= now; }

  // The probe due went (or was passed over) at `now`: the next one `growth` times the last
  // wait later. False when it was the last.
  bool advance(TimePoint now) noexcept {
    --left;
    step *= growth;
    due = now + step;
    return left > 0;
  }
};

}  // namespace racket::detail
