// SPDX-License-Identifier: MIT
#pragma once

// When a node announces (docs/wire-format.md, "Announcement (kind 3)"): the first time within
// 100-200 ms of its first stream, then every period, each time at a random point within ±20 %
// of it. A plain rule on time points handed in; knows nothing of clocks, timers or datagrams.

#include "racket/detail/clock.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace racket::detail {

template <class TimePoint>
class announce_schedule {
 public:
  using time_point = TimePoint;
  using duration = typename TimePoint::duration;

  // Clamped to the wire's 1 ms .. 1 day; 0 (or less): never announce.
  explicit announce_schedule(std::chrono::milliseconds period) noexcept
      : period_(period.count() <= 0 ? std::chrono::milliseconds{0}
                                    : std::min<std::chrono::milliseconds>(period, std::chrono::hours{24})) {}

  bool enabled() const noexcept { return period_.count() > 0; }
  std::chrono::milliseconds period() const noexcept { return period_; }
  std::uint32_t period_ms() const noexcept { return static_cast<std::uint32_t>(period_.count()); }

  // A stream (or subscription) to announce appeared at `now`: returns when the next
  // announcement is due, brought forward to 100-200 ms from now (never beyond the period)
  // unless one is due sooner already.
  time_point started(time_point now, splitmix64& rng) noexcept {
    const auto soon = std::min<std::chrono::milliseconds>(period_, std::chrono::milliseconds{100});
    const time_point first = now + jittered(soon, 1.0, 2.0, rng);
    if (!scheduled_ || first < next_) next_ = first;
    scheduled_ = true;
    return next_;
  }

  // An announcement went out at `now`: the next is due in period × [0.8, 1.2).
  time_point sent(time_point now, splitmix64& rng) noexcept {
    next_ = now + jittered(period_, 0.8, 1.2, rng);
    scheduled_ = true;
    return next_;
  }

  bool scheduled() const noexcept { return scheduled_; }
  time_point next() const noexcept { return next_; }

 private:
  static duration jittered(std::chrono::milliseconds base, double lo, double hi, splitmix64& rng) noexcept {
    const double f = lo + (hi - lo) * rng.unit();
    return std::chrono::duration_cast<duration>(std::chrono::duration<double, std::milli>(
        static_cast<double>(base.count()) * f));
  }

  std::chrono::milliseconds period_;
  time_point next_{};
  bool scheduled_ = false;
};

}  // namespace racket::detail
