// SPDX-License-Identifier: MIT
#pragma once

// range_set: sequence numbers held as at most `cap` inclusive ranges, the publisher's and the
// subscriber's pending repairs. Knows nothing of the wire but the range type it holds
// (wire::sequence_range, what a repair request carries).

#include "racket/wire/request.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace racket::detail {

// A set of sequence numbers as sorted, disjoint, non-adjacent inclusive ranges, holding at most
// `cap` ranges: past it, the two ranges with the smallest hole between them are merged (the
// set then covers a few numbers that were not added: a superset, never a subset). Publisher
// and subscriber use it for pending repairs.
class range_set {
 public:
  explicit range_set(std::size_t cap = wire::max_request_ranges) noexcept : cap_(std::max<std::size_t>(cap, 1)) {}

  bool empty() const noexcept { return ranges_.empty(); }
  std::size_t size() const noexcept { return ranges_.size(); }
  const std::vector<wire::sequence_range>& ranges() const noexcept { return ranges_; }
  void clear() noexcept { ranges_.clear(); }

  // Adds [first, last] (first <= last).
  void add(std::uint64_t first, std::uint64_t last) {
    assert(first <= last);
    // The first range that ends at or after first - 1 (adjacent ranges merge).
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), first, [](const wire::sequence_range& r, std::uint64_t v) {
      return r.last != UINT64_MAX && r.last + 1 < v;
    });
    if (it == ranges_.end() || (last != UINT64_MAX && last + 1 < it->first)) {
      ranges_.insert(it, wire::sequence_range{first, last});
    } else {
      it->first = std::min(it->first, first);
      it->last = std::max(it->last, last);
      auto next = it + 1;
      while (next != ranges_.end() && (it->last == UINT64_MAX || next->first <= it->last + 1)) {
        it->last = std::max(it->last, next->last);
        next = ranges_.erase(next);
      }
    }
    while (ranges_.size() > cap_) merge_smallest_hole();
  }

  void add(const wire::sequence_range& r) { add(r.first, r.last); }

  // Removes one number (splitting its range if need be).
  void remove(std::uint64_t v) {
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), v,
                               [](const wire::sequence_range& r, std::uint64_t x) { return r.last < x; });
    if (it == ranges_.end() || it->first > v) return;
    if (it->first == it->last) {
      ranges_.erase(it);
    } else if (it->first == v) {
      ++it->first;
    } else if (it->last == v) {
      --it->last;
    } else {
      const wire::sequence_range upper{v + 1, it->last};
      it->last = v - 1;
      ranges_.insert(it + 1, upper);
    }
  }

  bool contains(std::uint64_t v) const noexcept {
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), v,
                               [](const wire::sequence_range& r, std::uint64_t x) { return r.last < x; });
    return it != ranges_.end() && it->first <= v;
  }

  // Total count of numbers covered (saturating).
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (const auto& r : ranges_) {
      const std::uint64_t k = r.last - r.first + 1;
      n = (k == 0 || n + k < n) ? UINT64_MAX : n + k;
    }
    return n;
  }

 private:
  void merge_smallest_hole() {
    // cap_ >= 1, so a set past its cap holds two ranges at least; said here for g++ 12, whose
    // -O3 -Wstringop-overflow otherwise sees an erase past the end.
    if (ranges_.size() < 2) return;
    std::size_t best = 0;
    std::uint64_t best_hole = UINT64_MAX;
    for (std::size_t i = 0; i + 1 < ranges_.size(); ++i) {
      const std::uint64_t hole = ranges_[i + 1].first - ranges_[i].last;
      if (hole < best_hole) {
        best_hole = hole;
        best = i;
      }
    }
    ranges_[best].last = ranges_[best + 1].last;
    ranges_.erase(ranges_.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }

  std::vector<wire::sequence_range> ranges_;
  std::size_t cap_;
};

}  // namespace racket::detail
