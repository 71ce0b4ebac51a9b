// SPDX-License-Identifier: MIT
#pragma once

// The publisher's slab: one allocator for the bytes of every cached value (size classes cut
// from chunks, huge pages past the first 2 MiB on Linux). Knows nothing of what it stores.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace racket::detail {

// Byte blocks for cached values, in size classes of 8 bytes, cut from chunks: no per-block
// header and less rounding than malloc (a 77-byte subject + payload takes 80 bytes here, 96
// from glibc). Freed blocks go to their class's free list and are reused by the next block of
// that class; chunks go back to the system only when the slab is destroyed, so a cache's
// memory is bounded by its largest size. Blocks above `max_small` come from the system
// allocator and are NOT freed with the slab: the owner deallocates every large block it still
// holds before the slab goes. Not thread safe.
//
// The first `huge_chunk_size` bytes come in 64 KiB chunks (a small cache stays small); after
// that each chunk is 2 MiB, aligned to 2 MiB and, on Linux, marked MADV_HUGEPAGE: a resend
// reads a value picked from anywhere in a cache of hundreds of megabytes, and with 4 KiB pages
// nearly every one of those reads also missed the TLB (docs/performance.md, "Resend scale").
class slab {
 public:
  static constexpr std::size_t granule = 8;
  static constexpr std::size_t max_small = 2048;
  static constexpr std::size_t chunk_size = std::size_t{64} << 10;
  static constexpr std::size_t huge_chunk_size = std::size_t{2} << 20;

  slab() = default;
  slab(const slab&) = delete;
  slab& operator=(const slab&) = delete;
  ~slab() {
    for (const chunk& c : chunks_) release(c);
  }

  // Bytes of chunks held (what the slab took from the system for small blocks).
  std::size_t chunk_bytes() const noexcept { return chunk_bytes_; }

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
      chunks_.reserve(chunks_.size() + 1);  // the push below cannot throw and leak the chunk
      const chunk c = take(chunk_bytes_ < huge_chunk_size ? chunk_size : huge_chunk_size);
      chunks_.push_back(c);
      chunk_bytes_ += c.size;
      chunk_pos_ = c.data;
      chunk_left_ = c.size;
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
  struct chunk {
    std::byte* data;
    std::size_t size;
  };

  static chunk take(std::size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size == huge_chunk_size) {
      // Twice the size, then the unaligned ends given back: an aligned 2 MiB range that the
      // kernel may back with one huge page (best effort: madvise may be refused, or the
      // kernel may have none free; 4 KiB pages then, as before).
      void* p = ::mmap(nullptr, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      auto* const base = static_cast<std::byte*>(p);
      const std::size_t head = (size - reinterpret_cast<std::uintptr_t>(base) % size) % size;
      std::byte* const aligned = base + head;
      if (head > 0) ::munmap(base, head);
      if (head < size) ::munmap(aligned + size, size - head);
      ::madvise(aligned, size, MADV_HUGEPAGE);
      return {aligned, size};
    }
#endif
    return {static_cast<std::byte*>(::operator new(size)), size};
  }

  static void release(const chunk& c) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (c.size == huge_chunk_size) {
      ::munmap(c.data, c.size);
      return;
    }
#endif
    ::operator delete(c.data);
  }

  std::byte* free_[max_small / granule + 1] = {};
  std::vector<chunk> chunks_;
  std::size_t chunk_bytes_ = 0;
  std::byte* chunk_pos_ = nullptr;
  std::size_t chunk_left_ = 0;
};

}  // namespace racket::detail
