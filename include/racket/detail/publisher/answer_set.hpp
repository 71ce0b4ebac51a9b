// SPDX-License-Identifier: MIT
#pragma once

// What one snapshot answer pass re-sends: the union of the requests merged into it (filters
// and sequence ranges), and whether it selects a cached subject. Plain values; they know
// nothing of the cache, time or sending.

#include "racket/subject.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>
#include <vector>

namespace racket::detail {

// The union of the filters of merged requests; past `max_filters` distinct ones, everything.
struct filter_union {
  static constexpr std::size_t max_filters = 16;
  bool all = false;
  std::vector<subject_filter> filters;

  bool empty() const noexcept { return !all && filters.empty(); }
  void clear() noexcept {
    all = false;
    filters.clear();
  }
  void add(std::string_view f) {  // f: empty (every subject) or a valid filter
    if (all) return;
    if (f.empty() || filters.size() >= max_filters) {
      all = true;
      filters.clear();
      return;
    }
    for (const auto& g : filters)
      if (g.str() == f) return;
    std::error_code ec;
    auto parsed = subject_filter::parse(f, ec);
    if (!ec) filters.push_back(std::move(parsed));
  }
  bool matches(std::string_view subject) const noexcept {
    if (all) return true;
    for (const auto& g : filters)
      if (g.matches(subject)) return true;
    return false;
  }
};

// Cached subjects matching a full request's filter, and cached subjects whose current
// sequence lies in a requested range (and matching the filter of a range request). Merging
// over-approximates, never under-approximates.
struct answer_set {
  static constexpr std::size_t max_ranges = 1024;
  static constexpr std::size_t max_requesters = 64;  // charged for the pass (more: not charged)
  filter_union full;
  filter_union repair;
  range_set ranges{max_ranges};
  std::vector<std::uint64_t> requesters;  // whose requests merged into it

  bool empty() const noexcept { return full.empty() && ranges.empty(); }
  void clear() noexcept {
    full.clear();
    repair.clear();
    ranges.clear();
    requesters.clear();
  }
  void add_requester(std::uint64_t id) {
    if (requesters.size() < max_requesters && std::find(requesters.begin(), requesters.end(), id) == requesters.end())
      requesters.push_back(id);
  }
  // Whether the cached subject `subject`, whose record now has `sequence`, is re-sent.
  bool selects(std::string_view subject, std::uint64_t sequence) const noexcept {
    return (!full.empty() && full.matches(subject)) ||
           (!ranges.empty() && ranges.contains(sequence) && repair.matches(subject));
  }
};

}  // namespace racket::detail
