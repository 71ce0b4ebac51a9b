// SPDX-License-Identifier: MIT
#pragma once

// The repair requests waiting to go out, at most one per (stream, publisher), over all of a
// subscriber's streams: each due `holdoff` after the gap that queued it (so that further gaps,
// and reordered numbers, are collected first), or later if its pacing said so. Knows nothing
// of gaps, requests or timers: an item names an owner (a stream) and a publisher id.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace racket::detail {

template <class TimePoint, class Owner>
class repair_queue {
 public:
  using duration = typename TimePoint::duration;

  struct item {
    TimePoint due;
    Owner* owner;
    std::uint64_t publisher_id;
  };

  explicit repair_queue(std::chrono::milliseconds holdoff) noexcept
      : holdoff_(std::chrono::duration_cast<duration>(holdoff)) {}

  bool empty() const noexcept { return items_.empty(); }
  std::size_t size() const noexcept { return items_.size(); }

  // Queues a repair for (owner, publisher_id), seen at `now`; returns when it is due.
  TimePoint add(Owner* owner, std::uint64_t publisher_id, TimePoint now) {
    const TimePoint due = now + holdoff_;
    items_.push_back(item{due, owner, publisher_id});
    return due;
  }

  // The earliest due time (not empty).
  TimePoint earliest() const noexcept {
    TimePoint next = items_.front().due;
    for (const auto& r : items_) next = std::min(next, r.due);
    return next;
  }

  // Calls `take(item&)` for each item due at `now`. It returns true when the item is done (it
  // leaves the queue: the last item takes its place, and is looked at next), false to keep it
  // (with the `due` it may have moved later).
  template <class Take>
  void take_due(TimePoint now, Take&& take) {
    for (std::size_t i = 0; i < items_.size();) {
      item& it = items_[i];
      if (it.due > now || !take(it)) {
        ++i;
        continue;
      }
      items_[i] = items_.back();
      items_.pop_back();
    }
  }

  // Drops every item of `owner` (before it is destroyed).
  void erase(const Owner* owner) {
    std::erase_if(items_, [&](const item& r) { return r.owner == owner; });
  }

 private:
  duration holdoff_;
  std::vector<item> items_;
};

}  // namespace racket::detail
