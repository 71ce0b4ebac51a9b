// SPDX-License-Identifier: MIT
#pragma once

// The partitions in force: cuts between two sets of node ids, and whether two nodes are
// separated by one. Knows nothing of nodes beyond their ids, of datagrams or of time.

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace racket::sim::detail {

class partition_set {
 public:
  // Every path between a node of `a` and a node of `b` is cut, in both directions.
  struct cut {
    std::vector<std::size_t> a;  // sorted
    std::vector<std::size_t> b;  // sorted

    static cut between(std::vector<std::size_t> a, std::vector<std::size_t> b) {
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      return cut{std::move(a), std::move(b)};
    }
  };

  // Cuts add up.
  void add(cut c) { cuts_.push_back(std::move(c)); }
  void clear() noexcept { cuts_.clear(); }

  // True if some cut has `x` on one side and `y` on the other.
  bool separated(std::size_t x, std::size_t y) const noexcept {
    const auto in = [](const std::vector<std::size_t>& side, std::size_t id) {
      return std::binary_search(side.begin(), side.end(), id);
    };
    for (const auto& c : cuts_) {
      if ((in(c.a, x) && in(c.b, y)) || (in(c.a, y) && in(c.b, x))) return true;
    }
    return false;
  }

 private:
  std::vector<cut> cuts_;
};

}  // namespace racket::sim::detail
