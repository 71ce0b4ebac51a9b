// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace racket::detail {

// Byte blocks for cached values, in size classes of 8 bytes, cut from 64 KiB chunks: no
// per-block header and less rounding than malloc (a 77-byte subject + payload takes 80 bytes
// here, 96 from glibc). Freed blocks go to their class's free list and are reused by the next
// block of that class; chunks go back to the system only when the slab is destroyed, so a
// cache's memory is bounded by its largest size. Blocks above `max_small` come from the
// system allocator and are NOT freed with the slab: the owner deallocates every large block it
// still holds before the slab goes. Not thread safe.
class slab {
 public:
  static constexpr std::size_t granule = 8;
  static constexpr std::size_t max_small = 2048;
  static constexpr std::size_t chunk_size = std::size_t{64} << 10;

  slab() = default;
  slab(const slab&) = delete;
  slab& operator=(const slab&) = delete;
  ~slab() = default;

  // The capacity a request for `n` bytes gets (what `allocate` returns room for).
  static std::size_t capacity_for(std::size_t n) noexcept {
    return n <= max_small ? (n + granule - 1) / granule * granule : n;
  }

  // Room for `n` bytes (n > 0); release it with `deallocate(p, capacity_for(n))`.
  std::byte* allocate(std::size_t n) {
    const std::size_t cap = capacity_for(n);
    if (cap > max_small) return static_cast<std::byte*>(::operator new(cap));
    const std::size_t c = cap / granule;
    if (free_[c] != nullptr) {
      std::byte* p = free_[c];
      std::memcpy(&free_[c], p, sizeof(std::byte*));
      return p;
    }
    if (chunk_left_ < cap) {
      chunks_.push_back(std::make_unique_for_overwrite<std::byte[]>(chunk_size));
      chunk_pos_ = chunks_.back().get();
      chunk_left_ = chunk_size;
    }
    std::byte* p = chunk_pos_;
    chunk_pos_ += cap;
    chunk_left_ -= cap;
    return p;
  }

  // Frees `p` if it is a large block (what the owner must do before the slab goes).
  static void deallocate_large(std::byte* p, std::size_t capacity) noexcept {
    if (p != nullptr && capacity > max_small) ::operator delete(p);
  }

  void deallocate(std::byte* p, std::size_t capacity) noexcept {
    if (p == nullptr) return;
    if (capacity > max_small) {
      ::operator delete(p);
      return;
    }
    const std::size_t c = capacity / granule;
    std::memcpy(p, &free_[c], sizeof(std::byte*));
    free_[c] = p;
  }

 private:
  std::byte* free_[max_small / granule + 1] = {};
  std::vector<std::unique_ptr<std::byte[]>> chunks_;
  std::byte* chunk_pos_ = nullptr;
  std::size_t chunk_left_ = 0;
};

}  // namespace racket::detail
