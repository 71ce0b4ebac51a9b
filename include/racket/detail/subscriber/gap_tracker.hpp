// SPDX-License-Identifier: MIT
#pragma once

// Which sequence numbers of each publisher of one stream a subscriber has missed, and what a
// repair request for them asks: per publisher the highest number seen, the missing ranges,
// the "head" of an answer (numbers below the first record heard, when that was a snapshot
// record), and the token bucket that paces its repair requests. Plain and single-threaded: no
// I/O, no locks, no timers; time comes in as a parameter. Knows nothing of subjects, of
// requests on the wire or of when they are sent (repair_queue.hpp).

#include "racket/detail/hash.hpp"
#include "racket/detail/config.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace racket::detail {

template <class TimePoint>
struct publisher_gaps {
  using duration = typename TimePoint::duration;

  static constexpr std::size_t max_missing_ranges = 128;  // between two repair requests

  std::uint64_t highest_live = 0;  // highest sequence seen of a live or snapshot record
  TimePoint last_seen{};
  range_set missing{max_missing_ranges};  // gaps seen since the last repair request
  range_set head{4};  // before the first record seen, when that was an answer (not a loss)
  bool repair_queued = false;
  double tokens = -1;  // repair request pacing; < 0: not started (a full bucket)
  TimePoint tokens_at{};

  // Whether a repair would ask for nothing.
  bool nothing_to_ask() const noexcept { return missing.empty() && head.empty(); }

  // Token bucket of `rate` requests per second and `burst` tokens: true, and a token taken,
  // when a request may go at `now`; else false and `retry_at` is when a token will be there
  // (at least 100 us away; further gaps merge meanwhile).
  bool take_token(TimePoint now, double rate, double burst, TimePoint& retry_at) {
    tokens = tokens < 0 ? burst : std::min(burst, tokens + rate * std::chrono::duration<double>(now - tokens_at).count());
    tokens_at = now;
    if (tokens < 1 - 1e-9) {
      const auto wait = std::chrono::ceil<duration>(std::chrono::duration<double>((1 - tokens) / rate));
      retry_at = now + std::max(wait, std::chrono::duration_cast<duration>(std::chrono::microseconds{100}));
      return false;
    }
    tokens = std::max(0.0, tokens - 1);
    return true;
  }

  // The ranges one request asks for: the head and the missing ranges, at most `fit` (past
  // that neighbouring ranges merge: the publisher then re-sends a little more than was lost,
  // never less). Both are cleared.
  range_set take_ranges(std::size_t fit) {
    range_set ranges{fit};
    for (const auto& g : head.ranges()) ranges.add(g);
    for (const auto& g : missing.ranges()) ranges.add(g);
    missing.clear();
    head.clear();
    return ranges;
  }
};

template <class TimePoint>
class gap_tracker {
 public:
  using publisher = publisher_gaps<TimePoint>;

  // `max_publishers`: past it the publisher seen longest ago is forgotten. `ask_for_head`:
  // whether snapshot requests are made at all (the head of an answer is asked for only then).
  gap_tracker(std::size_t max_publishers, bool ask_for_head) noexcept
      : max_publishers_(max_publishers), ask_for_head_(ask_for_head) {}

  // A publisher's sequence moving by more than this (up, or down on a new record) restarts
  // its count instead of counting gaps (docs/security.md, "Unkeyed streams").
  static constexpr std::uint64_t max_jump = std::uint64_t{1} << 20;

  // Sequence numbers missed, less those that arrived late.
  std::uint64_t gaps() const noexcept { return gaps_; }
  // Jumps over max_jump: restarts of a publisher's count.
  std::uint64_t jumps() const noexcept { return jumps_; }

  publisher* find(std::uint64_t publisher_id) {
    auto it = publishers_.find(publisher_id);
    return it == publishers_.end() ? nullptr : &it->second;
  }

  // Notes record `r` of `publisher_id` at `now`. `pub` caches the publisher's state over the
  // records of one datagram (null at first; it stays valid: only adding a publisher forgets
  // one, and that happens at most once per datagram). True when the publisher now needs a
  // repair request and had none queued: the caller queues one (and it is marked queued).
  RACKET_HOT_INLINE bool note(std::uint64_t publisher_id, publisher*& pub, const wire::record& r, TimePoint now) {
    if (pub == nullptr) pub = &find_or_add(publisher_id, now);
    publisher& p = *pub;
    const std::uint64_t seq = r.sequence;
    if (p.highest_live == 0) {
      // Live and snapshot records take new sequence numbers; a resend carries an old one and
      // says nothing about what was sent since, so it cannot start the count.
      if (r.resend()) return false;
      p.highest_live = seq;
      if (r.snapshot() && seq > 1 && ask_for_head_) {
        // The first record heard is part of an answer: its first datagrams may have been lost
        // unnoticed. Ask for whatever is still numbered below it (only the cached subjects
        // not re-sent since); not a gap.
        p.head.add(1, seq - 1);
        return claim_repair(p);
      }
      return false;
    }
    if (seq > p.highest_live + max_jump || (!r.resend() && seq + max_jump < p.highest_live)) [[unlikely]] {
      // A jump no publisher makes between two datagrams a subscriber hears: a forgery (one
      // datagram with a real publisher's id), a publisher's counter contradicting one, or a
      // subscriber that stalled for over a million messages. Counting it as gaps would let one
      // datagram claim 10^12 of them and a repair of that range: the count starts again here.
      ++jumps_;
      p.highest_live = seq;
      p.missing.clear();
      return false;
    }
    if (seq > p.highest_live) {
      // Everything between was missed. A resend above the highest seen means its original
      // was missed too (a lost tail: publishers re-send their newest record when they fall
      // quiet); it is delivered below, so it is not part of the gap.
      const bool gap = seq > p.highest_live + 1;
      if (gap) {
        gaps_ += seq - 1 - p.highest_live;
        p.missing.add(p.highest_live + 1, seq - 1);
      }
      p.highest_live = seq;
      return gap && claim_repair(p);
    } else if (!p.missing.empty() && p.missing.contains(seq)) {
      p.missing.remove(seq);  // arrived late (reordered), or a resend of a lost record
      if (gaps_ > 0) --gaps_;
    } else if (!p.head.empty()) {
      p.head.remove(seq);
    }
    return false;
  }

  void clear() { publishers_.clear(); }

 private:
  publisher& find_or_add(std::uint64_t publisher_id, TimePoint now) {
    auto it = publishers_.find(publisher_id);
    if (it == publishers_.end()) {
      if (publishers_.size() >= max_publishers_) {
        // Rare (only past the cap): forget the publisher seen longest ago.
        auto oldest = std::min_element(publishers_.begin(), publishers_.end(), [](const auto& a, const auto& b) {
          return a.second.last_seen < b.second.last_seen;
        });
        publishers_.erase(oldest);
      }
      it = publishers_.emplace(publisher_id, publisher{}).first;
    }
    it->second.last_seen = now;
    return it->second;
  }

  // One repair (and loss report) per publisher at a time.
  static bool claim_repair(publisher& p) noexcept {
    if (p.repair_queued) return false;
    p.repair_queued = true;
    return true;
  }

  std::unordered_map<std::uint64_t, publisher, id_hash> publishers_;
  std::uint64_t gaps_ = 0;
  std::uint64_t jumps_ = 0;
  std::size_t max_publishers_;
  bool ask_for_head_;
};

}  // namespace racket::detail
