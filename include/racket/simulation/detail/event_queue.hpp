// SPDX-License-Identifier: MIT
#pragma once

// The network's pending events (datagram arrivals, timer expiries, post_at calls), ordered by
// (virtual time, order of scheduling): events at equal times come out in the order they went
// in, which the simulation's determinism rests on. Knows nothing of what an event does, of the
// current time or of the run loop.

#include "racket/simulation/clock.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace racket::sim::detail {

class event_queue {
 public:
  struct event {
    clock::time_point at;
    std::uint64_t sequence;
    std::function<void()> run;
  };

  void push(clock::time_point at, std::function<void()> run) {
    events_.push_back(event{at, next_sequence_++, std::move(run)});
    std::push_heap(events_.begin(), events_.end(), later);
  }

  bool empty() const noexcept { return events_.empty(); }
  std::size_t size() const noexcept { return events_.size(); }

  // The time of the next event; the queue must not be empty.
  clock::time_point next_at() const noexcept { return events_.front().at; }

  // Removes the next event and returns it; the queue must not be empty.
  event pop() {
    std::pop_heap(events_.begin(), events_.end(), later);
    event e = std::move(events_.back());
    events_.pop_back();
    return e;
  }

  // Destroys every pending event unrun; the order of later pushes continues.
  void clear() noexcept { events_.clear(); }

 private:
  static bool later(const event& x, const event& y) noexcept {
    return x.at != y.at ? x.at > y.at : x.sequence > y.sequence;
  }

  std::vector<event> events_;  // a heap ordered by `later`
  std::uint64_t next_sequence_ = 0;
};

}  // namespace racket::sim::detail
