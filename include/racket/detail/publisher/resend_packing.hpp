// SPDX-License-Identifier: MIT
#pragma once

// How the resends one timer pass took go into datagrams: stream by stream, each stream's
// largest first and every datagram topped up with the largest that still fit (first-fit
// decreasing, one datagram at a time). Reads the cache's slots, writes through the packer;
// knows nothing of timers, sockets or locks.

#include "racket/detail/config.hpp"
#include "racket/detail/publisher/cache.hpp"
#include "racket/wire.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace racket::detail {

inline constexpr std::size_t pack_block = 64;  // resends of one stream packed together at most

// `due`: the pass's resends (each a `stream` pointer and a `slot` of its cache), grouped by
// stream, each stream's largest first (resend_schedule::due()).
//
// In the order the wheel fired them, the last record that did not fit ended each datagram,
// 4.04 resends per 1452-byte datagram at the bench's 128-384 B payloads; packed this way, 4.25
// (docs/performance.md). A stream with more than `pack_block` resends in the pass is packed
// in blocks of that many, each taking every k-th of them (so spanning all sizes): linear in
// a big backlog, and as full.
template <class Packer, class Resend>
void pack_resends(Packer& packer, std::span<const Resend> due) {
  if (due.empty()) return;
  const std::size_t n = due.size();
  std::array<std::uint32_t, pack_block> left{};
  for (std::size_t g = 0; g < n;) {
    auto& s = *due[g].stream;
    std::size_t end = g + 1;
    while (end < n && due[end].stream == &s) ++end;
    // Block j takes every blocks-th resend from g + j on: each block spans all the sizes.
    const std::size_t blocks = (end - g + pack_block - 1) / pack_block;
    for (std::size_t j = 0; j < blocks; ++j) {
      std::size_t count = 0;
      for (std::size_t i = g + j; i < end; i += blocks) {
        const auto& sl = s.cache[due[i].slot];
        prefetch_bytes(sl.data, std::size_t{sl.subject_len} + sl.payload_len);
        left[count++] = static_cast<std::uint32_t>(i);
      }
      while (count > 0) {
        std::size_t kept = 0;
        for (std::size_t k = 0; k < count; ++k)
          if (!packer.try_append(s, cached_record(s.cache[due[left[k]].slot], wire::flags::resend))) left[kept++] = left[k];
        if (kept == count) {  // nothing fitted the stream's open datagram: a fresh one takes the largest
          if (packer.open_empty(s)) break;  // cannot be: enqueue checked each record against an empty one
          packer.next_datagram(s);
        }
        count = kept;
      }
    }
    g = end;
  }
}

}  // namespace racket::detail
