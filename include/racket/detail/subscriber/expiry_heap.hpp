// SPDX-License-Identifier: MIT
#pragma once

// The expiry deadlines of every subject a subscriber holds, one min-heap for its one timer.
// Lazy: an entry names (owner, slot, generation) and is only checked when it comes due, so a
// subject refreshed, replaced or freed meanwhile leaves a stale entry behind; those are swept
// when they outnumber the live subjects. Knows nothing of subjects, rules or timers.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace racket::detail {

template <class TimePoint, class Owner>
class expiry_heap {
 public:
  struct entry {
    TimePoint due;
    Owner* owner;
    std::uint32_t slot;
    std::uint32_t generation;
    bool operator>(const entry& o) const noexcept { return due > o.due; }
  };

  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  // The earliest deadline (not empty).
  TimePoint earliest() const noexcept { return heap_.front().due; }

  void push(const entry& e) {
    heap_.push_back(e);
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>{});
  }

  // Pushes `e`, then, when the entries outnumber twice the `live` subjects (plus a margin),
  // drops every entry for which `current(const entry&)` is false: entries of evicted or
  // replaced subjects stay until their (possibly far) due time, and this keeps the heap
  // O(live subjects), at amortised O(1) per push. A flood of unique subjects found this.
  template <class Current>
  void push_and_sweep(const entry& e, std::size_t live, Current&& current) {
    push(e);
    if (heap_.size() > 2 * live + 64) {
      std::erase_if(heap_, [&](const entry& h) { return !current(h); });
      std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
    }
  }

  // Takes the earliest entry into `out` if it is due at `now`.
  bool pop_due(TimePoint now, entry& out) {
    if (heap_.empty() || heap_.front().due > now) return false;
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>{});
    out = heap_.back();
    heap_.pop_back();
    return true;
  }

  // Drops every entry of `owner` (before it is destroyed).
  void erase(const Owner* owner) {
    std::erase_if(heap_, [&](const entry& h) { return h.owner == owner; });
    std::make_heap(heap_.begin(), heap_.end(), std::greater<>{});
  }

 private:
  std::vector<entry> heap_;
};

}  // namespace racket::detail
