// SPDX-License-Identifier: MIT
#pragma once

// How a new interface selection differs from the current one, for a rescan: which current
// interfaces are gone, which of the new ones were there before (and where), and which of those
// became able to carry multicast meanwhile. Compares lists only: no sockets, no getifaddrs.

#include "racket/transport/concepts.hpp"
#include "racket/transport/interfaces.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace racket::detail {

// The same interface: the same kernel index under the same name (an index reused by another
// device, or a name given to a new device, is another interface).
inline bool same_interface(const interface_info& a, const interface_info& b) noexcept {
  return a.index == b.index && a.name == b.name;
}

// A kept interface that could not carry `family`'s multicast before (down, no address) and now
// can: its groups are joined now.
inline bool became_usable(const interface_info& before, const interface_info& now, address_family family) noexcept {
  return !can_carry_multicast(before, family) && can_carry_multicast(now, family);
}

struct interface_diff {
  static constexpr std::size_t none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> removed;   // positions in the current selection that the new one lacks, in order
  std::vector<std::size_t> previous;  // per position in the new selection: its current position, or `none`
};

inline interface_diff diff_interfaces(const std::vector<interface_info>& current,
                                      const std::vector<interface_info>& next) {
  interface_diff d;
  for (std::size_t i = 0; i < current.size(); ++i) {
    const auto same = [&](const interface_info& n) { return same_interface(n, current[i]); };
    if (std::none_of(next.begin(), next.end(), same)) d.removed.push_back(i);
  }
  d.previous.reserve(next.size());
  for (const auto& n : next) {
    const auto same = [&](const interface_info& c) { return same_interface(n, c); };
    const auto it = std::find_if(current.begin(), current.end(), same);
    d.previous.push_back(it == current.end() ? interface_diff::none
                                             : static_cast<std::size_t>(it - current.begin()));
  }
  return d;
}

}  // namespace racket::detail
