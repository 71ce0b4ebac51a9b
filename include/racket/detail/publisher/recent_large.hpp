// SPDX-License-Identifier: MIT
#pragma once

// The large messages a publisher sent lately, kept so that a subscriber that lost some of
// their fragments can ask for them (docs/architecture.md, "Fragment repair"): one-shot
// messages (interval 0), which the cache never holds, and values replaced since. The newest
// ones, up to a byte budget and an age; the payloads are the ones the sends and the cache
// share (no copy). Knows nothing of sending, requests, timers or the cache.

#include "racket/detail/publisher/large_values.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace racket::detail {

template <class Stream, class TimePoint>
class recent_large {
 public:
  struct entry {
    Stream* stream = nullptr;
    std::string subject;
    shared_bytes payload;
    std::uint64_t sequence = 0;
    std::uint64_t timestamp_ns = 0;
    std::uint64_t content_hash = 0;
    std::uint32_t interval_ms = 0;
    TimePoint sent{};
  };

  // Keeps at most `max_bytes` of payload (0: nothing), each for at most `keep`.
  recent_large(std::size_t max_bytes, std::chrono::milliseconds keep) : max_bytes_(max_bytes), keep_(keep) {}

  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t bytes() const noexcept { return bytes_; }

  // Keeps a message just sent, dropping the oldest ones past the budget. A payload larger
  // than the whole budget is not kept.
  void add(entry e) {
    const std::size_t n = e.payload->size();
    if (n > max_bytes_ || keep_.count() <= 0) return;
    while (bytes_ + n > max_bytes_) pop();
    bytes_ += n;
    entries_.push_back(std::move(e));  // references to the others stay valid (a deque)
    const entry& kept = entries_.back();
    by_key_.insert_or_assign(std::pair{static_cast<const Stream*>(kept.stream), kept.sequence}, &kept);
  }

  // Drops what is older than the age limit.
  void prune(TimePoint now) {
    while (!entries_.empty() && now - entries_.front().sent >= keep_) pop();
  }

  // When the oldest one kept goes (max when none).
  TimePoint next_expiry() const noexcept {
    return entries_.empty() ? TimePoint::max() : entries_.front().sent + keep_;
  }

  // The message of `stream` with `sequence`, or null.
  const entry* find(const Stream* stream, std::uint64_t sequence) const noexcept {
    const auto it = by_key_.find(std::pair{stream, sequence});
    return it != by_key_.end() ? it->second : nullptr;
  }

  void clear() noexcept {
    entries_.clear();
    by_key_.clear();
    bytes_ = 0;
  }

 private:
  void pop() noexcept {
    const entry& e = entries_.front();
    const auto it = by_key_.find(std::pair{static_cast<const Stream*>(e.stream), e.sequence});
    if (it != by_key_.end() && it->second == &e) by_key_.erase(it);
    bytes_ -= e.payload->size();
    entries_.pop_front();
  }

  std::size_t max_bytes_;
  std::chrono::milliseconds keep_;
  std::deque<entry> entries_;  // oldest first
  std::map<std::pair<const Stream*, std::uint64_t>, const entry*> by_key_;  // (stream, sequence)
  std::size_t bytes_ = 0;
};

}  // namespace racket::detail
