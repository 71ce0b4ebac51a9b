// SPDX-License-Identifier: MIT
#pragma once

// The last-value cache of one stream: a slot per cached subject holding its last record (the
// subject and payload bytes in one block of the publisher's slab), found by subject through a
// hash index. It finds, stores (inserts or replaces), removes, and walks its slots. It knows
// nothing of sending, timers or other streams; the resend schedule keeps its bookkeeping in
// the slots (`due`, `generation`) so that a resend reads one cache line.

#include "racket/codec.hpp"
#include "racket/detail/chunked_vector.hpp"
#include "racket/detail/config.hpp"
#include "racket/detail/flat_index.hpp"
#include "racket/detail/hash.hpp"
#include "racket/detail/slab.hpp"
#include "racket/wire.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace racket::detail {

// A cached subject. One block of the publisher's slab holds the subject's bytes, then the
// payload; the slot keeps it (and its capacity) when freed, for the next subject.
template <class TimePoint>
struct cache_slot {
  std::byte* data = nullptr;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  TimePoint due{};  // when the next resend is due; its wheel entry is due no later
  std::uint32_t interval_ms = 0;
  // Changes whenever the slot's wheel entries must be forgotten: when the value is removed
  // (here), or when its next resend moves sooner (the resend schedule).
  std::uint32_t generation = 0;
  std::uint32_t capacity = 0;
  std::uint16_t payload_len = 0;
  std::uint8_t subject_len = 0;
  bool live = false;

  std::string_view subject() const noexcept { return {reinterpret_cast<const char*>(data), subject_len}; }
  byte_view payload() const noexcept { return {data + subject_len, payload_len}; }
};

// A cached subject's record, re-sent with `flags` (resend: its own sequence; snapshot: the
// caller gives it the next one).
template <class TimePoint>
wire::record cached_record(const cache_slot<TimePoint>& sl, std::uint8_t flags) noexcept {
  wire::record r;
  r.flags = flags;
  r.interval_ms = sl.interval_ms;
  r.sequence = sl.sequence;
  r.timestamp_ns = sl.timestamp_ns;
  r.subject = sl.subject();
  r.payload = sl.payload();
  return r;
}

template <class TimePoint>
class last_value_cache {
 public:
  using slot = cache_slot<TimePoint>;
  static constexpr std::uint32_t npos = flat_index::npos;

  // Where `find` found a subject (index npos: not cached), and the subject's hash, which
  // `store` and `remove` reuse (0 when the cache was empty: none was computed).
  struct lookup {
    std::uint64_t hash;
    std::uint32_t index;
    bool found() const noexcept { return index != npos; }
  };

  struct stored {
    slot* sl;
    std::uint32_t index;
    bool added;  // the subject was not cached before
  };

  last_value_cache() = default;
  last_value_cache(const last_value_cache&) = delete;
  last_value_cache& operator=(const last_value_cache&) = delete;
  // Small blocks go with the slab; the large ones are the cache's to free.
  ~last_value_cache() {
    for (slot& sl : slots_) slab::deallocate_large(sl.data, sl.capacity);
  }

  // Subjects cached.
  std::size_t size() const noexcept { return subjects_.size(); }
  bool empty() const noexcept { return subjects_.empty(); }
  // Slots, live or free: indices below this are valid.
  std::size_t slot_count() const noexcept { return slots_.size(); }
  slot& operator[](std::size_t i) noexcept { return slots_[i]; }
  const slot& operator[](std::size_t i) const noexcept { return slots_[i]; }
  // Every slot, live or free (check `live`).
  auto begin() noexcept { return slots_.begin(); }
  auto end() noexcept { return slots_.end(); }

  // A cache that holds nothing (a stream of events only) needs no hash. Forced inline, the
  // lookup itself not: an event's publish paid the whole lookup's prologue and epilogue for
  // the emptiness test (21 instructions a message, callgrind).
  RACKET_HOT_INLINE lookup find(std::string_view subject) const noexcept {
    if (subjects_.empty()) return {0, npos};
    return find_hashed(subject);
  }
  lookup find_hashed(std::string_view subject) const noexcept {
    const std::uint64_t h = xxh3(subject);
    return {h, subjects_.find(h, [&](std::uint32_t i) { return same_bytes(slots_[i].subject(), subject); })};
  }

  // Stores a record of `subject` as its last value: in its slot when `at` (what `find` said
  // for it, with the cache unchanged since) found one, else in a free or new slot, which
  // becomes live. Its bytes go into `bytes`, the publisher's slab. Forced inline: it is part
  // of every cached publish (the publisher's process), where it was written before it moved
  // here, and g++ then made it a call.
  RACKET_HOT_INLINE stored store(slab& bytes, const lookup& at, std::string_view subject, byte_view payload,
                                 std::uint32_t interval_ms, std::uint64_t sequence, std::uint64_t timestamp_ns) {
    const bool is_new = !at.found();
    const std::uint32_t index = is_new ? allocate_slot() : at.index;
    slot& sl = slots_[index];
    const std::size_t need = subject.size() + payload.size();
    if (sl.capacity < need) {
      std::byte* grown = bytes.allocate(need);
      std::memcpy(grown, subject.data(), subject.size());
      bytes.deallocate(sl.data, sl.capacity);
      sl.data = grown;
      sl.capacity = static_cast<std::uint32_t>(slab::capacity_for(need));
    } else if (is_new) {
      std::memcpy(sl.data, subject.data(), subject.size());
    }
    sl.subject_len = static_cast<std::uint8_t>(subject.size());
    if (is_new) subjects_.insert(subjects_.empty() ? xxh3(subject) : at.hash, index);
    if (!payload.empty()) std::memcpy(sl.data + sl.subject_len, payload.data(), payload.size());
    sl.payload_len = static_cast<std::uint16_t>(payload.size());
    sl.interval_ms = interval_ms;
    sl.sequence = sequence;
    sl.timestamp_ns = timestamp_ns;
    sl.live = true;
    return {&sl, index, is_new};
  }

  // Drops the subject `at` found (its slot, and its bytes' block, wait for the next one).
  void remove(const lookup& at) {
    subjects_.erase(at.hash, at.index);
    slot& sl = slots_[at.index];
    sl.live = false;
    ++sl.generation;
    free_slots_.push_back(at.index);
  }

 private:
  std::uint32_t allocate_slot() {
    if (!free_slots_.empty()) {
      auto i = free_slots_.back();
      free_slots_.pop_back();
      return i;
    }
    slots_.emplace_back();
    return static_cast<std::uint32_t>(slots_.size() - 1);
  }

  // The index maps a subject (by its XXH3) to its slot; slots live in a chunked vector
  // (stable, no doubling slack) and their bytes in the publisher's slab.
  flat_index subjects_;
  chunked_vector<slot> slots_;
  std::vector<std::uint32_t> free_slots_;
};

}  // namespace racket::detail
