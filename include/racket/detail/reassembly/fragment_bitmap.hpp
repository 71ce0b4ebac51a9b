// SPDX-License-Identifier: MIT
#pragma once

// Which fragments of one message have arrived: one bit per fragment index, the count of set
// bits, and the runs of missing indexes (for repair requests). Knows nothing of the bytes the
// fragments carry, of keys, nor of time.

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace racket::detail {

class fragment_bitmap {
 public:
  fragment_bitmap() = default;
  // `count` bits, all clear. Allocates count / 8 bytes (rounded up to 8).
  explicit fragment_bitmap(std::uint32_t count)
      : words_(std::make_unique<std::uint64_t[]>(word_count(count))), count_(count) {}

  static constexpr std::size_t word_count(std::uint32_t count) noexcept { return (std::size_t{count} + 63) / 64; }
  // Bytes the bitmap of `count` fragments allocates.
  static constexpr std::size_t bytes_for(std::uint32_t count) noexcept { return word_count(count) * 8; }

  std::uint32_t size() const noexcept { return count_; }
  std::uint32_t received() const noexcept { return received_; }
  bool complete() const noexcept { return received_ == count_; }

  bool test(std::uint32_t i) const noexcept {
    assert(i < count_);
    return (words_[i / 64] >> (i % 64) & 1) != 0;
  }
  // Sets bit `i`; returns false if it was set already.
  bool set(std::uint32_t i) noexcept {
    assert(i < count_);
    std::uint64_t& w = words_[i / 64];
    const std::uint64_t bit = std::uint64_t{1} << (i % 64);
    if ((w & bit) != 0) return false;
    w |= bit;
    ++received_;
    return true;
  }

  // Calls f(first, last) for each run of missing indexes, lowest first, at most `max_runs`
  // times; returns how many runs it reported. Skips whole words of received fragments.
  template <class F>
  std::size_t for_each_missing(std::size_t max_runs, F&& f) const {
    std::size_t runs = 0;
    std::uint32_t i = 0;
    while (i < count_ && runs < max_runs) {
      const std::uint32_t start = next(i, false);
      if (start >= count_) break;
      const std::uint32_t stop = next(start, true);  // first received after the run, or count_
      f(start, stop - 1);
      ++runs;
      i = stop;
    }
    return runs;
  }

 private:
  // The first index >= i whose bit equals `value`, or count_.
  std::uint32_t next(std::uint32_t i, bool value) const noexcept {
    while (i < count_) {
      std::uint64_t w = words_[i / 64];
      if (!value) w = ~w;
      w >>= i % 64;
      if (w != 0) {
        const std::uint64_t at = std::uint64_t{i} + static_cast<std::uint64_t>(std::countr_zero(w));
        return at < count_ ? static_cast<std::uint32_t>(at) : count_;
      }
      i = (i / 64 + 1) * 64;
    }
    return count_;
  }

  std::unique_ptr<std::uint64_t[]> words_;
  std::uint32_t count_ = 0;
  std::uint32_t received_ = 0;
};

}  // namespace racket::detail
