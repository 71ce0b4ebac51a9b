// SPDX-License-Identifier: MIT
#pragma once

// One node's announcer (a publisher's or a subscriber's): who it is (the header every
// announcement carries), when it announces next (announce_schedule.hpp) and the buffer its
// datagrams are written in (announce_packing.hpp). The orchestrator hands it the time, the
// entries and a way to send. Knows nothing of timers, locks, transports or streams.

#include "racket/detail/announce/announce_packing.hpp"
#include "racket/detail/announce/announce_schedule.hpp"
#include "racket/detail/announce/identity.hpp"
#include "racket/detail/clock.hpp"
#include "racket/wire/announce.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace racket::detail {

// A channel and an entry to announce on it (`wire::announced_publication` or `announced_subscription`).
template <class Entry>
struct announce_item {
  endpoint channel;
  Entry entry;
};

// Sorts items by channel (stable: the entries of a channel keep their order), as
// `pack_announcements` wants them.
template <class Entry>
void sort_by_channel(std::vector<announce_item<Entry>>& items) {
  std::stable_sort(items.begin(), items.end(), [](const announce_item<Entry>& a, const announce_item<Entry>& b) {
    if (a.channel.group != b.channel.group) return a.channel.group < b.channel.group;
    return a.channel.port < b.channel.port;
  });
}

template <class TimePoint>
class announcer {
 public:
  using time_point = TimePoint;

  announcer(wire::announce_role role, std::uint64_t sender_id, std::chrono::milliseconds period,
            node_identity identity, std::size_t max_datagram_size)
      : role_(role), id_(sender_id), schedule_(period), identity_(std::move(identity)),
        max_datagram_size_(max_datagram_size) {}

  bool enabled() const noexcept { return schedule_.enabled(); }

  // Something new to announce appeared at `now`: when the next announcement is due.
  time_point started(time_point now, splitmix64& rng) noexcept { return schedule_.started(now, rng); }

  // Sends `items` (sorted by channel) in as few datagrams as fit them, through
  // `send(const endpoint&, std::span<const std::byte>)`; returns when the next is due.
  template <class Entry, class Send>
  time_point announce(time_point now, splitmix64& rng, std::span<const announce_item<Entry>> items, Send&& send) {
    buffer_.resize(max_datagram_size_);
    const wire::announce_header header{.role = role_,
                                       .sender_id = id_,
                                       .host = identity_.host,
                                       .pid = identity_.pid,
                                       .period_ms = schedule_.period_ms(),
                                       .program = identity_.program};
    sent_ += pack_announcements(std::span<std::byte>(buffer_), header, items, send);
    return schedule_.sent(now, rng);
  }

  std::uint64_t datagrams_sent() const noexcept { return sent_; }

 private:
  wire::announce_role role_;
  std::uint64_t id_;
  announce_schedule<time_point> schedule_;
  node_identity identity_;
  std::size_t max_datagram_size_;
  std::vector<std::byte> buffer_;
  std::uint64_t sent_ = 0;
};

}  // namespace racket::detail
