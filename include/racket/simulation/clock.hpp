// SPDX-License-Identifier: MIT
#pragma once

// The virtual clock: `sim::clock` and the per-thread record of which network's virtual time
// `now()` reads. Knows nothing of networks, events or timers: a network only registers the
// address of its time here.

#include <algorithm>
#include <chrono>
#include <vector>

namespace racket::sim {

/// The virtual clock of the simulated network.
///
/// Meets the C++ *Clock* requirements (`std::chrono::is_clock_v<sim::clock>`), so it can be
/// the `Clock` of `basic_publisher` / `basic_subscriber` and the clock of `sim::timer`.
/// `now()` reads the virtual time of the `sim::network` that is current on the calling
/// thread: the one whose `run_*` member is executing, otherwise the most recently
/// constructed network still alive on this thread. Virtual time only moves when a network
/// runs (`network::run_for` and friends); it never follows the wall clock.
///
/// With no network alive on the thread, `now()` returns the epoch (`time_point{}`).
/// The default network start is 2023-11-14T22:13:20Z (1'700'000'000 s after the epoch),
/// so timestamps look like Unix times.
///
/// ```cpp
/// racket::sim::network net{42};
/// auto t0 = racket::sim::clock::now();
/// net.run_for(std::chrono::seconds{5});
/// assert(racket::sim::clock::now() - t0 == std::chrono::seconds{5});
/// ```
struct clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<clock>;
  static constexpr bool is_steady = true;

  /// The current virtual time on this thread (see the class comment).
  static time_point now() noexcept;
};

namespace detail {

// Networks alive on this thread, in construction order (a network registers the address of
// its virtual time; destruction may happen in any order).
inline std::vector<const clock::time_point*>& alive_clocks() noexcept {
  thread_local std::vector<const clock::time_point*> clocks;
  return clocks;
}

// The network whose run loop executes on this thread, if any; it wins over alive_clocks().
inline const clock::time_point*& running_clock() noexcept {
  thread_local const clock::time_point* running = nullptr;
  return running;
}

inline void register_clock(const clock::time_point* t) { alive_clocks().push_back(t); }

inline void unregister_clock(const clock::time_point* t) noexcept {
  auto& clocks = alive_clocks();
  auto it = std::find(clocks.rbegin(), clocks.rend(), t);
  if (it != clocks.rend()) clocks.erase(std::next(it).base());
  if (running_clock() == t) running_clock() = nullptr;
}

// Makes `t` the time seen by clock::now() while it lives (the run loop holds one).
class running_clock_scope {
 public:
  explicit running_clock_scope(const clock::time_point* t) noexcept : previous_(running_clock()) {
    running_clock() = t;
  }
  ~running_clock_scope() { running_clock() = previous_; }
  running_clock_scope(const running_clock_scope&) = delete;
  running_clock_scope& operator=(const running_clock_scope&) = delete;

 private:
  const clock::time_point* previous_;
};

// `t + d`, or the latest time point where that would overflow (a timeout of "forever").
inline clock::time_point saturating_add(clock::time_point t, clock::duration d) noexcept {
  const auto max = clock::time_point::max();
  if (d.count() > 0 && t > max - d) return max;
  return t + d;
}

}  // namespace detail

inline clock::time_point clock::now() noexcept {
  if (const auto* running = detail::running_clock()) return *running;
  const auto& clocks = detail::alive_clocks();
  return clocks.empty() ? time_point{} : *clocks.back();
}

static_assert(std::chrono::is_clock_v<clock>);

}  // namespace racket::sim
