// SPDX-License-Identifier: MIT
#pragma once

// One transport timer kept armed for the earliest deadline asked of it: how the publisher
// (resends, answers and tail probes) and the subscriber (expiry, repairs) each drive any
// number of deadlines with one timer. Knows nothing of what the deadlines are for.

#include <cstdint>
#include <memory>
#include <system_error>
#include <utility>

namespace racket::detail {

template <class Timer>
class earliest_timer {
 public:
  using time_point = typename Timer::time_point;

  explicit earliest_timer(Timer timer) : timer_(std::move(timer)) {}

  earliest_timer(const earliest_timer&) = delete;
  earliest_timer& operator=(const earliest_timer&) = delete;

  bool armed() const noexcept { return armed_; }
  // The deadline it is armed for (meaningful while armed).
  time_point due() const noexcept { return due_; }
  // Whether `arm(t, ...)` would change anything: not armed, or armed for later than `t`.
  bool would_move(time_point t) const noexcept { return !armed_ || t < due_; }

  // Arms the timer for `t`, unless it is armed for `t` or sooner already. When it fires,
  // and `owner` is still alive, it calls `fire(*owner)` (disarmed first, so `fire` may arm it
  // again). The owner is held weakly: this timer is one of its members, and a simulated timer
  // keeps its handler inside itself, so a strong reference would keep the owner alive through
  // its own member forever.
  template <class Owner, class Fire>
  void arm(time_point t, const std::weak_ptr<Owner>& owner, Fire fire) {
    if (!would_move(t)) return;
    armed_ = true;
    due_ = t;
    const std::uint64_t wait = ++wait_id_;
    timer_.cancel();
    timer_.expires_at(t);
    timer_.async_wait([this, owner, wait, fire = std::move(fire)](const std::error_code& ec) mutable {
      const auto self = owner.lock();
      if (ec || !self || wait != wait_id_) return;  // `this` lives while its owner does
      armed_ = false;
      fire(*self);
    });
  }

  // Disarms: a wait already completing does not call its `fire`.
  void cancel() {
    ++wait_id_;
    armed_ = false;
    timer_.cancel();
  }

 private:
  Timer timer_;
  time_point due_{};
  std::uint64_t wait_id_ = 0;
  bool armed_ = false;
};

}  // namespace racket::detail
