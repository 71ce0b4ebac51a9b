// SPDX-License-Identifier: MIT
#pragma once

// `chunked_vector`: a growable array whose elements never move (the cache's and subject
// table's slots). Knows nothing of what it holds.

#include <cstddef>
#include <new>
#include <memory>
#include <vector>

namespace racket::detail {

// A growable array whose elements never move: fixed-size chunks of 2^ChunkBits elements, so
// `operator[]` is a shift, a mask and two loads (std::deque's is a signed division by its
// small node size, and a 48-byte element gets nodes of ten). Growing adds one chunk, with no
// doubling slack beyond it. Holds the publisher's and the subscriber's per-subject slots,
// which are looked up on every message.
template <class T, unsigned ChunkBits = 6>
class chunked_vector {
  static constexpr std::size_t chunk_size = std::size_t{1} << ChunkBits;
  static constexpr std::size_t mask = chunk_size - 1;

 public:
  chunked_vector() = default;
  chunked_vector(const chunked_vector&) = delete;
  chunked_vector& operator=(const chunked_vector&) = delete;
  ~chunked_vector() { clear(); }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  T& operator[](std::size_t i) noexcept { return chunks_[i >> ChunkBits][i & mask]; }
  const T& operator[](std::size_t i) const noexcept { return chunks_[i >> ChunkBits][i & mask]; }

  T& emplace_back() {
    if ((size_ & mask) == 0 && (size_ >> ChunkBits) == chunks_.size()) {
      chunks_.push_back(std::allocator<T>{}.allocate(chunk_size));
    }
    T* at = chunks_[size_ >> ChunkBits] + (size_ & mask);
    ::new (static_cast<void*>(at)) T();
    ++size_;
    return *at;
  }

  void clear() noexcept {
    for (std::size_t i = 0; i < size_; ++i) (*this)[i].~T();
    for (T* c : chunks_) std::allocator<T>{}.deallocate(c, chunk_size);
    chunks_.clear();
    size_ = 0;
  }

  template <class V, class Owner>
  class basic_iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    basic_iterator() = default;
    basic_iterator(Owner* v, std::size_t i) noexcept : v_(v), i_(i) {}
    V& operator*() const noexcept { return (*v_)[i_]; }
    V* operator->() const noexcept { return &(*v_)[i_]; }
    basic_iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    basic_iterator operator++(int) noexcept {
      auto old = *this;
      ++i_;
      return old;
    }
    bool operator==(const basic_iterator& o) const noexcept { return i_ == o.i_; }

   private:
    Owner* v_ = nullptr;
    std::size_t i_ = 0;
  };
  using iterator = basic_iterator<T, chunked_vector>;
  using const_iterator = basic_iterator<const T, const chunked_vector>;

  iterator begin() noexcept { return {this, 0}; }
  iterator end() noexcept { return {this, size_}; }
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, size_}; }

 private:
  std::vector<T*> chunks_;
  std::size_t size_ = 0;
};

}  // namespace racket::detail
