// SPDX-License-Identifier: MIT
#pragma once

// How one node's entries become announcement datagrams: grouped by channel, as many entries
// per datagram as fit (`announcement_writer` decides), each full datagram handed to `send`.
// Also the message rate an announcement carries. Knows nothing of transports, clocks or
// where the entries come from.

#include "racket/endpoint.hpp"
#include "racket/wire/announce.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace racket::detail {

// Messages per second times 1000 (the wire's rate_milli), from a count over an elapsed time;
// 0 when no time passed.
inline std::uint64_t rate_milli(std::uint64_t messages, std::chrono::nanoseconds elapsed) noexcept {
  if (elapsed.count() <= 0) return 0;
  const long double r = static_cast<long double>(messages) * 1e12L / static_cast<long double>(elapsed.count());
  return r >= 1.8e19L ? ~std::uint64_t{0} : static_cast<std::uint64_t>(r);
}

// `Entry` has `channel` (endpoint) and `entry` (an announced_publication or
// announced_subscription). Entries of one channel go out together, in the order given (the
// caller groups them, e.g. sorted by channel); an entry the writer refuses even in an empty
// datagram (too large for `buffer`) is skipped. `send(const endpoint&, std::span<const std::byte>)`.
// Returns the datagrams handed to `send`.
template <class Entry, class Send>
std::size_t pack_announcements(std::span<std::byte> buffer, const wire::announce_header& header,
                               std::span<const Entry> entries, Send&& send) {
  std::size_t sent = 0;
  std::size_t i = 0;
  while (i < entries.size()) {
    const endpoint channel = entries[i].channel;
    wire::announcement_writer w(buffer, header);
    if (!w.ok()) return sent;
    while (i < entries.size() && entries[i].channel == channel) {
      if (w.add(entries[i].entry)) {
        ++i;
        continue;
      }
      if (w.empty()) {
        ++i;  // does not fit even alone
        continue;
      }
      break;  // full: send it, the rest goes in the next
    }
    if (const auto d = w.finish(); !d.empty()) {
      send(channel, d);
      ++sent;
    }
  }
  return sent;
}

}  // namespace racket::detail
