// SPDX-License-Identifier: MIT
#pragma once

// The subjects of one stream a subscriber holds, and the rules that decide what each record
// does to them: delivered (new or changed), a duplicate (same content), stale (older than what
// is held), a tombstone applied and remembered, an event remembered for its window; a subject
// not refreshed in time expires, and at the cap one is evicted. Plain and single-threaded: no
// I/O, no locks, no handlers, no subscriptions. Time comes in as a parameter; what it decides
// goes back as a verdict, and the held values it drops go, while still held, to the caller's
// `removed` callable (so it can tell the subscriptions).

#include "racket/detail/chunked_vector.hpp"
#include "racket/detail/clock.hpp"
#include "racket/detail/config.hpp"
#include "racket/detail/flat_index.hpp"
#include "racket/detail/hash.hpp"
#include "racket/message.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace racket::detail {

// The options the rules read.
struct subject_limits {
  unsigned expiry_factor = 3;  // at least 1
  std::chrono::milliseconds event_window{1000};
  std::size_t max_subjects = 1'000'000;
  // A held timestamp counts as at most this far ahead of this host's clock when it came
  // (docs/security.md, "Unkeyed streams"): a value stamped in the future shadows newer ones
  // for at most this long.
  std::chrono::milliseconds max_clock_skew{10000};
  // Bytes of subjects and payloads held, at most (docs/security.md, "Memory").
  std::size_t max_bytes = std::size_t{256} << 20;
};

// A record of a publisher that is older in sequence than the value held from it, but newer
// by more than this on the publisher's own clock, is not stale: a publisher's counter and
// clock go forward together, so the held value was not that publisher's (a forgery).
inline constexpr std::uint64_t sequence_clock_slack_ns = 1'000'000'000;

enum class subject_kind : std::uint8_t { value, event, tombstone };

// Per (stream, subject) state. Slots live in a chunked vector (stable addresses), so the index's
// string_view keys can point at `subject`; a freed slot bumps its generation, which makes
// every expiry deadline still naming it stale.
template <class TimePoint>
struct subject_state {
  std::string subject;
  std::vector<std::byte> payload;
  std::uint64_t publisher_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint32_t interval_ms = 0;
  std::uint32_t generation = 0;
  std::uint64_t content_hash = 0;  // of a value reassembled from fragments (0: not known)
  TimePoint expires_at{};
  TimePoint heap_due{};
  bool in_heap = false;
  bool live = false;
  subject_kind kind = subject_kind::value;
};

template <class TimePoint>
class subject_table {
 public:
  using time_point = TimePoint;
  using duration = typename TimePoint::duration;
  using state = subject_state<TimePoint>;

  // An expiry deadline the caller must add to its heap (when `add`): the table keeps one
  // entry per subject in the heap at most, and re-checks the subject when it comes due
  // (`on_due`).
  struct deadline {
    bool add = false;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    time_point due{};
  };

  enum class outcome : std::uint8_t {
    deliver,    // a new or changed value, or an event: hand it to the subscriptions
    duplicate,  // same content (a value), same (publisher, sequence) (an event, a tombstone)
    stale,      // older than what is held
    tombstone,  // a tombstone applied (a held value withdrawn) or remembered
    no_room,    // a new subject, and no slot could be had at the cap
  };

  struct verdict {
    outcome what;
    bool is_new = false;  // deliver: the first value of the subject, or the first since it went away
    deadline expiry{};
  };

  struct counters {
    std::uint64_t duplicates = 0;
    std::uint64_t stale = 0;
    std::uint64_t withdrawn = 0;
    std::uint64_t expired = 0;
    std::uint64_t evicted = 0;
    std::uint64_t no_room = 0;  // records refused: no room under max_subjects or max_bytes
  };

  // `tracked_total` counts the live subjects of every table of the subscriber (it bounds the
  // expiry heap they share); each table adds and subtracts its own.
  subject_table(const subject_limits& limits, std::size_t& tracked_total) noexcept
      : limits_(limits), tracked_total_(&tracked_total) {}

  subject_table(const subject_table&) = delete;
  subject_table& operator=(const subject_table&) = delete;

  std::size_t size() const noexcept { return subjects_.size(); }
  // Bytes of subjects and payloads held now.
  std::size_t bytes() const noexcept { return bytes_; }
  const counters& counts() const noexcept { return counts_; }

  // Decides record `r` of publisher `publisher_id` at `now`. `rng` picks the subject evicted
  // at the cap. `removed(const std::string& subject, std::uint64_t publisher_id,
  // removal_reason)` hears of each held value dropped (withdrawn, evicted).
  template <class Removed>
  RACKET_HOT_INLINE verdict apply(const wire::record& r, std::uint64_t publisher_id, time_point now, splitmix64& rng,
                                  Removed&& removed) {
    const std::uint64_t h = table_hash(r.subject);
    std::uint32_t slot = subjects_.find(h, [&](std::uint32_t i) { return same_bytes(slots_[i].subject, r.subject); });
    const bool exists = slot != flat_index::npos;
    if (exists) {
      state& st = slots_[slot];
      const bool same_publisher = st.publisher_id == publisher_id;
      if (stale(st, publisher_id, r.sequence, r.timestamp_ns, r.resend())) {
        ++counts_.stale;
        return {outcome::stale, false, {}};
      }
      bool duplicate = false;
      switch (st.kind) {
        case subject_kind::event: duplicate = same_publisher && r.sequence == st.sequence; break;
        case subject_kind::value:
          // Same content: the subject (the key) and stream are the same, so the content hash
          // (over stream, subject and payload) is the same exactly when the payloads are; the
          // held payload is compared directly, which costs less than hashing the record and
          // does not trust the hash a sender stamped.
          duplicate = !r.tombstone() && r.interval_ms != 0 && std::ranges::equal(r.payload, st.payload);
          break;
        case subject_kind::tombstone: duplicate = r.tombstone() && same_publisher && r.sequence == st.sequence; break;
      }
      if (duplicate) {
        ++counts_.duplicates;
        st.sequence = same_publisher ? std::max(st.sequence, r.sequence) : r.sequence;
        st.publisher_id = publisher_id;
        if (r.timestamp_ns > st.timestamp_ns) st.timestamp_ns = bounded_stamp(r.timestamp_ns, now);
        if (st.kind == subject_kind::value) return {outcome::duplicate, false, refresh(slot, r.interval_ms, now)};
        return {outcome::duplicate, false, {}};
      }
      if (same_publisher && r.sequence == st.sequence) {  // same sequence, other content: hostile or buggy
        ++counts_.stale;
        return {outcome::stale, false, {}};
      }
    }

    if (r.tombstone()) {
      if (exists && slots_[slot].kind == subject_kind::value) {
        ++counts_.withdrawn;
        removed(slots_[slot].subject, publisher_id, removal_reason::withdrawn);
      }
      if (!exists && !insert(r.subject, h, slot, rng, removed)) return refuse();
      state& st = slots_[slot];
      st.kind = subject_kind::tombstone;
      bytes_ -= st.payload.size();
      st.payload.clear();
      st.payload.shrink_to_fit();
      assign(st, publisher_id, r, now);
      // Remember the tombstone as long as old resends may still be in flight.
      const auto keep = std::chrono::milliseconds(std::uint64_t{std::max<std::uint32_t>(r.interval_ms, 1000)} *
                                                  limits_.expiry_factor);
      return {outcome::tombstone, false, schedule(slot, now + std::chrono::duration_cast<duration>(keep))};
    }

    bool is_new = !exists || slots_[slot].kind != subject_kind::value;
    if (!exists && !insert(r.subject, h, slot, rng, removed)) return refuse();
    if (r.interval_ms != 0 && !make_room(slot, r.payload.size(), rng, removed)) {
      if (!exists) free(slot);
      return refuse();
    }
    state& st = slots_[slot];
    assign(st, publisher_id, r, now);
    deadline expiry;
    bytes_ -= st.payload.size();
    if (r.interval_ms == 0) {
      st.payload.clear();  // an event replaces a held value: the value is gone, the event is delivered
      st.kind = subject_kind::event;
      expiry = schedule(slot, now + std::chrono::duration_cast<duration>(limits_.event_window));
      is_new = true;
    } else {
      st.kind = subject_kind::value;
      st.payload.assign(r.payload.begin(), r.payload.end());
      bytes_ += st.payload.size();
      expiry = refresh(slot, r.interval_ms, now);
    }
    return {outcome::deliver, is_new, expiry};
  }

  // Before a fragment of a message (publisher, sequence, timestamp, carried content hash) of
  // `subject` is reassembled: `stale` as `apply` would find the message, `duplicate` when the
  // value held has that content hash (its expiry refreshed, as for a duplicate record),
  // else `deliver` (reassemble it). Changes nothing else.
  verdict check_fragment(std::string_view subject, std::uint64_t publisher_id, std::uint64_t sequence,
                         std::uint64_t timestamp_ns, std::uint64_t content_hash, std::uint32_t interval_ms,
                         time_point now) {
    const std::uint32_t slot =
        subjects_.find(table_hash(subject), [&](std::uint32_t i) { return same_bytes(slots_[i].subject, subject); });
    if (slot == flat_index::npos) return {outcome::deliver, false, {}};
    state& st = slots_[slot];
    const bool same_publisher = st.publisher_id == publisher_id;
    if (stale(st, publisher_id, sequence, timestamp_ns, false)) {
      ++counts_.stale;
      return {outcome::stale, false, {}};
    }
    if (st.kind == subject_kind::value && st.content_hash != 0 && st.content_hash == content_hash && interval_ms != 0) {
      ++counts_.duplicates;
      st.sequence = same_publisher ? std::max(st.sequence, sequence) : sequence;
      st.publisher_id = publisher_id;
      if (timestamp_ns > st.timestamp_ns) st.timestamp_ns = bounded_stamp(timestamp_ns, now);
      return {outcome::duplicate, false, refresh(slot, interval_ms, now)};
    }
    return {outcome::deliver, false, {}};
  }

  // Records the content hash of the value of `subject` just applied from fragments.
  void set_content_hash(std::string_view subject, std::uint64_t content_hash) {
    const std::uint32_t slot =
        subjects_.find(table_hash(subject), [&](std::uint32_t i) { return same_bytes(slots_[i].subject, subject); });
    if (slot != flat_index::npos) slots_[slot].content_hash = content_hash;
  }

  // Whether a deadline (slot, generation) still names a live subject.
  bool current(std::uint32_t slot, std::uint32_t generation) const noexcept {
    const state& st = slots_[slot];
    return st.live && st.generation == generation;
  }

  // A deadline (slot, generation) came due at `now`: nothing if it no longer names a live
  // subject; the subject's new deadline if it was refreshed since; else the subject goes
  // (a held value expires, and `removed` hears of it; an event or tombstone is forgotten).
  template <class Removed>
  deadline on_due(std::uint32_t slot, std::uint32_t generation, time_point now, Removed&& removed) {
    state& st = slots_[slot];
    if (!st.live || st.generation != generation) return {};
    if (st.expires_at > now) {  // refreshed since: move the entry
      st.heap_due = st.expires_at;
      return {true, slot, st.generation, st.expires_at};
    }
    if (st.kind == subject_kind::value) {
      ++counts_.expired;
      removed(st.subject, st.publisher_id, removal_reason::expired);
    }
    free(slot);  // the removal took its copy of the subject
    return {};
  }

  // Calls f(const state&) for every value held (not events or tombstones).
  template <class F>
  void for_each_value(F&& f) const {
    for (const state& st : slots_) {
      if (st.live && st.kind == subject_kind::value) f(st);
    }
  }

  // Forgets every subject (their deadlines in the caller's heap must go too). Called before
  // the table is destroyed, so that `tracked_total` stays right.
  void clear() {
    bytes_ = 0;
    *tracked_total_ -= subjects_.size();
    subjects_.clear();
    slots_.clear();
    free_slots_.clear();
  }

 private:
  // Whether a record (publisher, sequence, timestamp; `resend`: it repeats an old message)
  // is older than the state held: from the same publisher, an older sequence (unless the
  // publisher's own clock says the held one cannot be its: sequence_clock_slack_ns); from
  // another, an older stamp, or an equal one and a lower publisher id.
  static bool stale(const state& st, std::uint64_t publisher_id, std::uint64_t sequence, std::uint64_t timestamp_ns,
                    bool resend) noexcept {
    if (st.publisher_id == publisher_id) {
      return sequence < st.sequence &&
             (resend || timestamp_ns <= st.timestamp_ns || timestamp_ns - st.timestamp_ns <= sequence_clock_slack_ns);
    }
    return timestamp_ns < st.timestamp_ns || (timestamp_ns == st.timestamp_ns && publisher_id < st.publisher_id);
  }

  // A timestamp as it is held: at most max_clock_skew ahead of this host's clock now.
  std::uint64_t bounded_stamp(std::uint64_t timestamp_ns, time_point now) noexcept {
    const std::uint64_t limit =
        wall_(now) + static_cast<std::uint64_t>(std::chrono::nanoseconds(limits_.max_clock_skew).count());
    return std::min(timestamp_ns, limit);
  }

  void assign(state& st, std::uint64_t publisher_id, const wire::record& r, time_point now) noexcept {
    st.publisher_id = publisher_id;
    st.sequence = r.sequence;
    st.timestamp_ns = bounded_stamp(r.timestamp_ns, now);
    st.interval_ms = r.interval_ms;
    st.content_hash = 0;
  }

  // Makes a slot for a new subject, evicting one at the cap; false if none can be had.
  template <class Removed>
  bool insert(std::string_view subject, std::uint64_t h, std::uint32_t& slot, splitmix64& rng, Removed& removed) {
    if (subjects_.size() >= limits_.max_subjects && !evict_one(rng, removed)) return false;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    state& st = slots_[slot];
    st.subject.assign(subject);
    bytes_ += st.subject.size();
    ++*tracked_total_;
    st.live = true;
    st.in_heap = false;
    subjects_.insert(h, slot);
    return true;
  }

  void free(std::uint32_t slot) {
    state& st = slots_[slot];
    subjects_.erase(table_hash(st.subject), slot);
    --*tracked_total_;
    st.live = false;
    ++st.generation;  // every deadline naming this slot is now stale
    bytes_ -= st.subject.size() + st.payload.size();
    st.payload.clear();
    st.payload.shrink_to_fit();
    st.subject.clear();
    free_slots_.push_back(slot);
  }

  verdict refuse() noexcept {
    ++counts_.no_room;
    return {outcome::no_room, false, {}};
  }

  // Whether the value of `slot` may become `payload_size` bytes under max_bytes, evicting
  // other subjects at random to make room. A value that cannot fit alone is refused at once.
  template <class Removed>
  bool make_room(std::uint32_t slot, std::size_t payload_size, splitmix64& rng, Removed& removed) {
    const state& st = slots_[slot];
    const std::size_t own = st.subject.size() + payload_size;
    if (own > limits_.max_bytes) return false;
    while (bytes_ - st.payload.size() + payload_size > limits_.max_bytes)
      if (!evict_one(rng, removed, slot)) return false;
    return true;
  }

  // O(1): evicts a subject picked at random among the stream's slots (a flood of new subjects
  // then mostly evicts its own, and no scan is ever needed); never `keep`.
  template <class Removed>
  bool evict_one(splitmix64& rng, Removed& removed, std::uint32_t keep = flat_index::npos) {
    if (slots_.empty()) return false;
    for (int attempt = 0; attempt < 64; ++attempt) {
      const auto slot = static_cast<std::uint32_t>(rng.next() % slots_.size());
      state& st = slots_[slot];
      if (!st.live || slot == keep) continue;
      ++counts_.evicted;
      if (st.kind == subject_kind::value) removed(st.subject, st.publisher_id, removal_reason::evicted);
      free(slot);
      return true;
    }
    return false;
  }

  deadline refresh(std::uint32_t slot, std::uint32_t interval_ms, time_point now) {
    slots_[slot].interval_ms = interval_ms;
    const auto life = std::chrono::milliseconds(std::uint64_t{interval_ms} * limits_.expiry_factor);
    return schedule(slot, now + std::chrono::duration_cast<duration>(life));
  }

  deadline schedule(std::uint32_t slot, time_point expires_at) {
    state& st = slots_[slot];
    st.expires_at = expires_at;
    if (st.in_heap && st.heap_due <= expires_at) return {};  // the existing entry fires first and re-checks
    ++st.generation;
    st.in_heap = true;
    st.heap_due = expires_at;
    return {true, slot, st.generation, expires_at};
  }

  subject_limits limits_;
  wall_stamper<typename TimePoint::clock> wall_;  // this host's clock, for bounded_stamp
  std::size_t* tracked_total_;
  flat_index subjects_;  // subject -> index in slots_ (8-byte buckets; the key is the slot's subject)
  chunked_vector<state> slots_;
  std::vector<std::uint32_t> free_slots_;
  counters counts_;
  std::size_t bytes_ = 0;  // subjects and payloads of the live slots
};

}  // namespace racket::detail
