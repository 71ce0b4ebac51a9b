// SPDX-License-Identifier: MIT
#pragma once

// The counters of one stream of a publisher, how they are written (by one thread) and how
// they are read (by any). Knows nothing of what is counted or when.

#include "racket/publisher_options.hpp"

#include <atomic>
#include <cstdint>

namespace racket::detail {

// Counters are written by the executor (the publisher's strand) only, but for `would_block`,
// which publishing threads write under the queue's lock: a plain load and store, not a locked
// read-modify-write, so counting costs the hot path nothing; readers on other threads see
// a value at most one update old.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) noexcept {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct publisher_stream_counters {
  std::atomic<std::uint64_t> published{0}, resent{0}, withdrawn{0}, datagrams_sent{0}, bytes_sent{0},
      send_errors{0}, cached_subjects{0}, snapshot_requests{0}, snapshot_requests_limited{0},
      snapshot_answers{0}, snapshot_records{0}, tail_probes{0}, would_block{0}, fragments_sent{0},
      fragment_requests_answered{0}, requests_rejected{0};

  // Any thread.
  publisher_stream_stats load() const noexcept {
    publisher_stream_stats out;
    out.published = published.load(std::memory_order_relaxed);
    out.resent = resent.load(std::memory_order_relaxed);
    out.withdrawn = withdrawn.load(std::memory_order_relaxed);
    out.datagrams_sent = datagrams_sent.load(std::memory_order_relaxed);
    out.bytes_sent = bytes_sent.load(std::memory_order_relaxed);
    out.send_errors = send_errors.load(std::memory_order_relaxed);
    out.cached_subjects = cached_subjects.load(std::memory_order_relaxed);
    out.snapshot_requests = snapshot_requests.load(std::memory_order_relaxed);
    out.snapshot_requests_limited = snapshot_requests_limited.load(std::memory_order_relaxed);
    out.snapshot_answers = snapshot_answers.load(std::memory_order_relaxed);
    out.snapshot_records = snapshot_records.load(std::memory_order_relaxed);
    out.tail_probes = tail_probes.load(std::memory_order_relaxed);
    out.would_block = would_block.load(std::memory_order_relaxed);
    out.fragments_sent = fragments_sent.load(std::memory_order_relaxed);
    out.fragment_requests_answered = fragment_requests_answered.load(std::memory_order_relaxed);
    out.requests_rejected = requests_rejected.load(std::memory_order_relaxed);
    return out;
  }
};

}  // namespace racket::detail
