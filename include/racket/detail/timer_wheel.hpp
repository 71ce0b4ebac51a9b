// SPDX-License-Identifier: MIT
#pragma once

// A hashed timing wheel of entries filed under integer ticks: the publisher's resend
// deadlines. Knows nothing of time units, timers or what an entry is.

#include "racket/detail/config.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace racket::detail {

// A hashed timing wheel: `Entry`s filed under integer ticks (the caller picks the tick
// length), in `bucket_count` buckets (a power of two) indexed by tick modulo the count; an
// entry more than one revolution ahead waits in its bucket until its revolution comes.
//
// Filing and firing are O(1) and walk memory in order, where a binary heap of a few hundred
// thousand resend deadlines spent most of the publisher's user time in cache misses
// (docs/performance.md). Entries filed while `advance` runs (a fired entry's next deadline)
// are held aside and filed when it returns, so one `advance` fires an entry at most once.
template <class Entry>
class timer_wheel {
 public:
  static constexpr std::uint64_t none = std::numeric_limits<std::uint64_t>::max();

  explicit timer_wheel(std::size_t bucket_count = 8192) : buckets_(bucket_count), mask_(bucket_count - 1) {
    assert(bucket_count > 0 && (bucket_count & mask_) == 0);
  }

  std::size_t size() const noexcept { return size_ + aside_.size(); }
  bool empty() const noexcept { return size() == 0; }
  // The next tick `advance` looks at; ticks before it are done.
  std::uint64_t cursor() const noexcept { return cursor_; }

  // Files `e` under `tick`. Outside `advance`, a tick before the cursor moves the cursor back
  // to it, so that `next_tick` reports it; an empty wheel's cursor simply moves to `tick`.
  // Inside `advance`, the entry is filed when it returns, under the cursor at the earliest.
  void add(std::uint64_t tick, const Entry& e) {
    if (advancing_) {
      aside_.push_back(item{tick, e});
      return;
    }
    if (size_ == 0) {
      cursor_ = tick;
    } else if (tick < cursor_) {
      cursor_ = tick;
    }
    file(tick, e);
  }

  // Fires, in tick order, every entry filed under a tick <= `target` (each entry is removed
  // before `fire(entry)` runs), at most `budget` of them (decremented). Returns true when all
  // were fired (the cursor is then target + 1), false when the budget ran out first (the
  // cursor stays on the unfinished tick).
  template <class Fire>
  bool advance(std::uint64_t target, std::size_t& budget, Fire&& fire) {
    return advance(target, budget, fire, [](const Entry&, int) noexcept {});
  }

  // As above; `look_ahead(entry, 0)` is called for the entry `look_far` places ahead of each
  // one fired in its bucket, and `look_ahead(entry, 1)` for the one `look_near` ahead, so that
  // the caller can prefetch, in two dependent steps, the memory firing them will touch (the
  // publisher's resends read cached values scattered over hundreds of megabytes).
  static constexpr std::size_t look_far = 8, look_near = 4;
  template <class Fire, class LookAhead>
  bool advance(std::uint64_t target, std::size_t& budget, Fire&& fire, LookAhead&& look_ahead) {
    if (target < cursor_) return true;
    advancing_ = true;
    bool complete = true;
    // Empty buckets are skipped a revolution at a time: past `size_ == 0` nothing is due.
    while (cursor_ <= target) {
      if (size_ == 0) {
        cursor_ = target + 1;
        break;
      }
      std::vector<item>& b = buckets_[cursor_ & mask_];
      if (b.empty() && target - cursor_ >= buckets_.size()) {
        // A long way to go: jump to the first tick anything is filed under (exact: the
        // invariant is that no entry's tick is before the cursor).
        const std::uint64_t first = next_tick();
        if (first > cursor_) {
          cursor_ = std::min(first, target + 1);
          continue;
        }
      }
      std::size_t keep = 0;
      std::size_t i = 0;
      for (; i < b.size(); ++i) {
        if (b[i].tick > cursor_) {  // a later revolution
          b[keep++] = b[i];
          continue;
        }
        if (budget == 0) break;
        if (i + look_far < b.size()) look_ahead(b[i + look_far].entry, 0);
        if (i + look_near < b.size()) look_ahead(b[i + look_near].entry, 1);
        --budget;
        --size_;
        const Entry e = b[i].entry;
        fire(e);
      }
      if (i < b.size()) {  // out of budget: keep the rest of this tick
        for (; i < b.size(); ++i) b[keep++] = b[i];
        b.resize(keep);
        complete = false;
        break;
      }
      b.resize(keep);
      ++cursor_;
    }
    advancing_ = false;
    // Filing writes to the far end of buckets spread a revolution wide: fetch each ahead.
    for (std::size_t k = 0; k < aside_.size(); ++k) {
      if (k + look_far < aside_.size()) {
        const std::vector<item>& ahead = buckets_[std::max(aside_[k + look_far].tick, cursor_) & mask_];
        prefetch(ahead.data() + ahead.size());
      }
      file(aside_[k].tick, aside_[k].entry);
    }
    aside_.clear();
    return complete;
  }

  // The first tick >= cursor under which an entry is due, or `none` when the wheel is empty.
  // Looks at most one revolution ahead; past it, returns the smallest tick seen.
  std::uint64_t next_tick() const noexcept {
    if (size_ == 0) return none;
    std::uint64_t best = none;
    for (std::size_t k = 0; k < buckets_.size(); ++k) {
      const std::uint64_t t = cursor_ + k;
      for (const item& it : buckets_[t & mask_]) {
        if (it.tick <= t) return t;
        if (it.tick < best) best = it.tick;
      }
    }
    return best;
  }

  void clear() noexcept {
    for (auto& b : buckets_) b.clear();
    aside_.clear();
    size_ = 0;
  }

 private:
  struct item {
    std::uint64_t tick;
    Entry entry;
  };

  void file(std::uint64_t tick, const Entry& e) {
    if (tick < cursor_) tick = cursor_;
    buckets_[tick & mask_].push_back(item{tick, e});
    ++size_;
  }

  std::vector<std::vector<item>> buckets_;
  std::vector<item> aside_;
  std::size_t mask_;
  std::size_t size_ = 0;  // entries in buckets (not counting aside_)
  std::uint64_t cursor_ = 0;
  bool advancing_ = false;
};

}  // namespace racket::detail
