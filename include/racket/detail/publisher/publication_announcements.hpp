// SPDX-License-Identifier: MIT
#pragma once

// What a publisher announces (detail/announce/): the streams it has published on, in the
// order of their first record, and for each the count of messages and the time at its last
// announcement, from which an announcement's entries (cached subjects, rate) are made. The
// orchestrator owns the timer and calls `started` and `announce` on its executor. Knows
// nothing of timers, locks, sockets or the publish path.

#include "racket/detail/announce/announcer.hpp"
#include "racket/detail/announce/identity.hpp"
#include "racket/detail/clock.hpp"
#include "racket/endpoint.hpp"
#include "racket/wire/announce.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace racket::detail {

template <class Stream, class TimePoint>
class publication_announcements {
 public:
  publication_announcements(std::uint64_t publisher_id, std::chrono::milliseconds period, node_identity who,
                            std::size_t max_datagram_size)
      : announcer_(wire::announce_role::publisher, publisher_id, period, std::move(who), max_datagram_size),
        rng_(publisher_id) {}

  // The stream's first record went out at `now`: it is announced from now on, the first
  // time soon. Returns when the timer should fire next (max: not announced).
  TimePoint started(Stream& s, TimePoint now) {
    if (!announcer_.enabled() || s.announce_ep.port == 0) return TimePoint::max();
    s.announced_published = s.counters.published.load(std::memory_order_relaxed);
    s.announced_at = now;
    announced_.push_back(&s);
    return announcer_.started(now, rng_);
  }

  bool empty() const noexcept { return announced_.empty(); }

  // Announces every stream published on: its cached subjects and its rate since the last
  // time, grouped by announce channel, in as few datagrams as fit them, through
  // send(const endpoint&, std::span<const std::byte>). Returns the next time.
  template <class Send>
  TimePoint announce(TimePoint now, Send&& send) {
    std::vector<announce_item<wire::announced_publication>> items;
    items.reserve(announced_.size());
    for (Stream* s : announced_) {
      const std::uint64_t published = s->counters.published.load(std::memory_order_relaxed);
      const std::uint64_t cached = s->counters.cached_subjects.load(std::memory_order_relaxed);
      const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(now - s->announced_at);
      items.push_back({s->announce_ep,
                       {.stream = s->name,
                        .subject_count = static_cast<std::uint32_t>(std::min<std::uint64_t>(cached, 0xFFFFFFFFu)),
                        .rate_milli = rate_milli(published - s->announced_published, elapsed)}});
      s->announced_published = published;
      s->announced_at = now;
    }
    sort_by_channel(items);
    return announcer_.announce(now, rng_, std::span<const announce_item<wire::announced_publication>>(items), send);
  }

  void clear() noexcept { announced_.clear(); }

 private:
  announcer<TimePoint> announcer_;
  splitmix64 rng_;  // its own: the resend jitter and answer delays draw the same numbers as without discovery
  std::vector<Stream*> announced_;
};

}  // namespace racket::detail
