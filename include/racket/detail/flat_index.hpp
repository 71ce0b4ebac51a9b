// SPDX-License-Identifier: MIT
#pragma once

// `flat_index`: an open-addressing hash index from keys stored elsewhere to slot numbers.
// Knows nothing of the keys but their hashes and a compare given by the caller.

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace racket::detail {

// A hash index from keys the caller stores elsewhere to 32-bit values (slot numbers): open
// addressing with linear probing, 8 bytes per bucket (the low 32 bits of the key's hash, and
// value + 1; 0 = empty), at most 80 % full, backward-shift deletion (no tombstones). About
// 10-20 bytes per key, against ~56 for a std::unordered_map node and its bucket.
//
// The caller hashes its key and supplies `eq(value)`, which says whether the key stored under
// `value` is the one looked for; it runs only on buckets whose 32 hash bits match.
class flat_index {
 public:
  static constexpr std::uint32_t npos = 0xFFFFFFFF;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t bucket_count() const noexcept { return capacity_; }

  template <class Eq>
  std::uint32_t find(std::uint64_t hash, Eq&& eq) const {
    if (size_ == 0) return npos;
    const auto h = static_cast<std::uint32_t>(hash);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const bucket& b = buckets_[i];
      if (b.value == 0) return npos;
      if (b.hash == h && eq(b.value - 1)) return b.value - 1;
    }
  }

  // `value` must not be in the index yet, and is below npos.
  void insert(std::uint64_t hash, std::uint32_t value) {
    assert(value < npos);
    if ((size_ + 1) * 5 > capacity_ * 4) grow();
    place(static_cast<std::uint32_t>(hash), value + 1);
    ++size_;
  }

  // Removes the entry holding `value` (found through `hash`); false when there is none.
  bool erase(std::uint64_t hash, std::uint32_t value) noexcept {
    if (size_ == 0) return false;
    const auto h = static_cast<std::uint32_t>(hash);
    std::size_t i = h & mask_;
    for (;; i = (i + 1) & mask_) {
      const bucket& b = buckets_[i];
      if (b.value == 0) return false;
      if (b.value == value + 1) break;
    }
    // Backward shift: pull later entries of the probe run into the hole when their home
    // position allows it, so that lookups never meet a false "empty".
    for (std::size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
      bucket& b = buckets_[j];
      if (b.value == 0) break;
      const std::size_t home = b.hash & mask_;
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        buckets_[i] = b;
        i = j;
      }
    }
    buckets_[i] = bucket{};
    --size_;
    return true;
  }

  void clear() noexcept {
    buckets_.reset();
    capacity_ = 0;
    mask_ = 0;
    size_ = 0;
  }

 private:
  struct bucket {
    std::uint32_t hash = 0;
    std::uint32_t value = 0;  // value + 1; 0 = empty
  };

  void place(std::uint32_t h, std::uint32_t stored) noexcept {
    std::size_t i = h & mask_;
    while (buckets_[i].value != 0) i = (i + 1) & mask_;
    buckets_[i] = bucket{h, stored};
  }

  void grow() {
    const std::size_t old_capacity = capacity_;
    std::unique_ptr<bucket[]> old = std::move(buckets_);
    capacity_ = old_capacity == 0 ? 16 : old_capacity * 2;
    mask_ = capacity_ - 1;
    buckets_ = std::make_unique<bucket[]>(capacity_);
    for (std::size_t i = 0; i < old_capacity; ++i)
      if (old[i].value != 0) place(old[i].hash, old[i].value);
  }

  std::unique_ptr<bucket[]> buckets_;
  std::size_t capacity_ = 0;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace racket::detail
