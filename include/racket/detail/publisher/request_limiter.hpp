// SPDX-License-Identifier: MIT
#pragma once

// The rate limit on the snapshot requests of one stream: per requester id a token bucket of
// requests and one of answer bytes (the answers its requests joined are charged to it, and
// while its byte balance is negative its requests are refused), in a table of bounded size
// whose idle entries are forgotten when it is full. Time comes in as a parameter. Knows
// nothing of what a request asks for, of sockets or of locks.

#include "racket/detail/hash.hpp"
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace racket::detail {

struct request_limits {
  double per_second = 0;  // requests accepted per requester and second; <= 0: unlimited
  unsigned burst = 0;     // the bucket's size (at least 1)
  std::size_t max_requesters = 0;  // ids tracked (at least 1)
  double bytes_per_second = 0;     // answer bytes per requester and second (and the bucket's size); <= 0: unlimited
};

template <class TimePoint>
class request_limiter {
 public:
  using time_point = TimePoint;
  using duration = typename TimePoint::duration;

  // Requester ids tracked.
  std::size_t size() const noexcept { return table_.size(); }

  // Whether a request of `requester` at `now` is within the limits (it then takes a token);
  // false: over the limit, or no room to track a new requester.
  bool admit(std::uint64_t requester, time_point now, const request_limits& limits) {
    auto& table = table_;
    const double rate = limits.per_second;
    if (!(rate > 0) && !(limits.bytes_per_second > 0)) return true;
    const double burst = std::max(1.0, static_cast<double>(limits.burst));
    auto it = table.find(requester);
    if (it == table.end()) {
      if (table.size() >= std::max<std::size_t>(limits.max_requesters, 1)) {
        // Forget requesters whose bucket is full again (idle); at most ten sweeps a second.
        if (now - last_sweep_ < std::chrono::duration_cast<duration>(std::chrono::milliseconds{100})) return false;
        last_sweep_ = now;
        std::erase_if(table, [&](const auto& kv) { return idle(kv.second, now, limits); });
        if (table.size() >= std::max<std::size_t>(limits.max_requesters, 1)) return false;
      }
      it = table.emplace(requester, bucket{burst, now, limits.bytes_per_second}).first;
    }
    bucket& b = it->second;
    refill(b, now, limits);
    if (limits.bytes_per_second > 0 && b.bytes <= 0) return false;  // its answers used its bytes
    if (!(rate > 0)) return true;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  // Charges `bytes` of an answer pass that `requester`'s request joined (the balance may go
  // below zero: its next requests wait until it is paid back).
  void charge(std::uint64_t requester, double bytes, time_point now, const request_limits& limits) {
    if (!(limits.bytes_per_second > 0)) return;
    const auto it = table_.find(requester);
    if (it == table_.end()) return;  // forgotten since: idle, so it had its bytes anyway
    refill(it->second, now, limits);
    it->second.bytes -= bytes;
  }

  static double seconds_between(time_point a, time_point b) noexcept {
    return b <= a ? 0.0 : std::chrono::duration<double>(b - a).count();
  }

 private:
  struct bucket {
    double tokens;
    time_point at;
    double bytes;  // answer bytes left (negative: owed)
  };

  static void refill(bucket& b, time_point now, const request_limits& limits) noexcept {
    const double dt = seconds_between(b.at, now);
    const double burst = std::max(1.0, static_cast<double>(limits.burst));
    if (limits.per_second > 0) b.tokens = std::min(burst, b.tokens + limits.per_second * dt);
    if (limits.bytes_per_second > 0) b.bytes = std::min(limits.bytes_per_second, b.bytes + limits.bytes_per_second * dt);
    b.at = now;
  }

  // Both buckets full again: nothing to remember.
  static bool idle(const bucket& b, time_point now, const request_limits& limits) noexcept {
    const double dt = seconds_between(b.at, now);
    const double burst = std::max(1.0, static_cast<double>(limits.burst));
    const bool requests = !(limits.per_second > 0) || b.tokens + limits.per_second * dt >= burst;
    const bool bytes = !(limits.bytes_per_second > 0) || b.bytes + limits.bytes_per_second * dt >= limits.bytes_per_second;
    return requests && bytes;
  }

  std::unordered_map<std::uint64_t, bucket, id_hash> table_;
  time_point last_sweep_{};
};

}  // namespace racket::detail
