// SPDX-License-Identifier: MIT
#pragma once

// The last-value cache of one stream for values too large for one record (sent as
// fragments): per subject the whole payload (shared with the fragment sends under way), its
// sequence, timestamp, interval and content hash, and when its next periodic resend is due.
// Few subjects hold such values, so the due ones are found by a walk. Knows nothing of
// sending, fragments, timers or the small-value cache (the publisher keeps a subject in one
// of the two at most).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace racket::detail {

// A large payload, held once and shared by the cache, the recent store and the sends that
// read it: a pointer to its bytes whose control block keeps them alive. Those are either the
// publisher's own copy (`copy_bytes`, what `publish` of a value makes) or a value the caller
// gave up (`share_bytes`, `publish` of a shared_ptr: no copy). Never written through.
using shared_bytes = std::shared_ptr<const std::span<const std::byte>>;

// The publisher's own copy of `bytes`.
inline shared_bytes copy_bytes(std::span<const std::byte> bytes) {
  struct held {
    std::vector<std::byte> copy;
    std::span<const std::byte> view;
  };
  auto h = std::make_shared<held>();
  h->copy.assign(bytes.begin(), bytes.end());
  h->view = h->copy;
  return {h, &h->view};
}

// `bytes`, kept alive by `owner` (which must hold them unchanged for as long as the result or
// a copy of it lives).
inline shared_bytes share_bytes(std::shared_ptr<const void> owner, std::span<const std::byte> bytes) {
  struct held {
    std::shared_ptr<const void> owner;
    std::span<const std::byte> view;
  };
  auto h = std::make_shared<const held>(held{std::move(owner), bytes});
  return {h, &h->view};
}

template <class TimePoint>
struct large_value {
  shared_bytes payload;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint64_t content_hash = 0;
  std::uint32_t interval_ms = 0;
  TimePoint due{};  // the next periodic resend
};

template <class TimePoint>
class large_value_cache {
 public:
  using value = large_value<TimePoint>;

  std::size_t size() const noexcept { return values_.size(); }
  bool empty() const noexcept { return values_.empty(); }
  bool contains(std::string_view subject) const { return values_.find(subject) != values_.end(); }

  // Stores (or replaces) the subject's value; its first resend is due an interval after `now`.
  // True when the subject was not held before.
  bool store(std::string_view subject, value v, TimePoint now) {
    v.due = now + std::chrono::milliseconds{v.interval_ms};
    const auto it = values_.find(subject);
    if (it != values_.end()) {
      it->second = std::move(v);
      return false;
    }
    values_.emplace(std::string(subject), std::move(v));
    return true;
  }

  // Drops the subject's value: returns its interval (never 0 for a held value), 0 when none
  // was held.
  std::uint32_t remove(std::string_view subject) {
    const auto it = values_.find(subject);
    if (it == values_.end()) return 0;
    const std::uint32_t interval = it->second.interval_ms;
    values_.erase(it);
    return interval;
  }

  // Calls f(std::string_view subject, const value&) for every value due by `now` and moves
  // its next resend an interval on (from `now` when it fell behind by more than one).
  template <class F>
  void take_due(TimePoint now, F&& f) {
    for (auto& [subject, v] : values_) {
      if (v.due > now) continue;
      f(std::string_view(subject), static_cast<const value&>(v));
      v.due += std::chrono::milliseconds{v.interval_ms};
      if (v.due <= now) v.due = now + std::chrono::milliseconds{v.interval_ms};
    }
  }

  // The earliest due resend (max when none).
  TimePoint next_due() const noexcept {
    TimePoint t = TimePoint::max();
    for (const auto& [subject, v] : values_) t = v.due < t ? v.due : t;
    return t;
  }

  template <class F>
  void for_each(F&& f) const {
    for (const auto& [subject, v] : values_) f(std::string_view(subject), v);
  }

  void clear() noexcept { values_.clear(); }

 private:
  std::map<std::string, value, std::less<>> values_;
};

}  // namespace racket::detail
