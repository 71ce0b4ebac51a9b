// SPDX-License-Identifier: MIT
#pragma once

// The publish queue: records published on any thread, waiting for the executor's next flush
// (their stream, lengths, interval and kind, with their subject and payload bytes in one
// buffer). A plain container: whoever shares it locks around it. Knows nothing of datagrams,
// the cache or time.

#include "racket/codec.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace racket::detail {

// Bytes appended without being zero-filled first (std::vector::resize would write every byte
// twice); grows by doubling and keeps its capacity, so steady state allocates nothing.
class byte_queue {
 public:
  std::size_t size() const noexcept { return size_; }
  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  void clear() noexcept { size_ = 0; }
  // Room for `n` more bytes at the end; returns where they go.
  std::byte* extend(std::size_t n) {
    if (capacity_ - size_ < n) {
      const std::size_t cap = std::max({std::size_t{4096}, capacity_ * 2, size_ + n});
      auto grown = std::make_unique_for_overwrite<std::byte[]>(cap);
      if (size_ != 0) std::memcpy(grown.get(), data_.get(), size_);
      data_ = std::move(grown);
      capacity_ = cap;
    }
    std::byte* at = data_.get() + size_;
    size_ += n;
    return at;
  }
  void swap(byte_queue& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// `Stream`: the publisher's stream type; the queue only keeps pointers to it.
template <class Stream>
class publish_queue {
 public:
  bool empty() const noexcept { return ops_.empty(); }
  std::size_t size() const noexcept { return ops_.size(); }

  // What one record costs the queue besides its subject and payload bytes.
  static constexpr std::size_t record_overhead = 32;
  // What a record of these sizes adds to `bytes()`.
  static constexpr std::size_t cost(std::size_t subject_size, std::size_t payload_size) noexcept {
    return subject_size + payload_size + record_overhead;
  }
  // The bytes the queued records hold: their subjects and payloads plus `record_overhead`
  // each (what the publisher bounds with `max_queued_bytes`). No counter of its own to keep:
  // two sizes the queue has anyway.
  std::size_t bytes() const noexcept { return bytes_.size() + ops_.size() * record_overhead; }

  // The record joins the queue (`subject` and `payload` are copied).
  void push(Stream* s, std::string_view subject, byte_view payload, std::uint32_t interval_ms, bool withdraw) {
    const std::size_t offset = bytes_.size();
    std::byte* dst = bytes_.extend(subject.size() + payload.size());
    std::memcpy(dst, subject.data(), subject.size());
    if (!payload.empty()) std::memcpy(dst + subject.size(), payload.data(), payload.size());
    // Written in place: an op built on the stack and copied in stalled on its narrow stores.
    op& o = ops_.emplace_back();
    o.stream = s;
    o.offset = offset;
    o.subject_len = static_cast<std::uint8_t>(subject.size());
    o.payload_len = static_cast<std::uint16_t>(payload.size());
    o.interval_ms = interval_ms;
    o.withdraw = withdraw;
  }

  // Calls `f(stream, subject, payload, interval_ms, withdraw)` for each record, in the order
  // they were pushed; the views are valid until the queue is cleared.
  template <class F>
  void for_each(F&& f) const {
    for (const op& o : ops_) {
      const std::byte* base = bytes_.data() + o.offset;
      f(*o.stream, std::string_view(reinterpret_cast<const char*>(base), o.subject_len),
        byte_view(base + o.subject_len, o.payload_len), o.interval_ms, o.withdraw);
    }
  }

  // As for_each, from record `first` on, until the records passed hold `budget` bytes of
  // subject and payload (at least one record is passed). Returns the index of the next
  // record (size() when none is left).
  template <class F>
  std::size_t for_each_from(std::size_t first, std::size_t budget, F&& f) const {
    std::size_t spent = 0;
    std::size_t i = first;
    for (; i < ops_.size() && spent < budget; ++i) {
      const op& o = ops_[i];
      const std::byte* base = bytes_.data() + o.offset;
      f(*o.stream, std::string_view(reinterpret_cast<const char*>(base), o.subject_len),
        byte_view(base + o.subject_len, o.payload_len), o.interval_ms, o.withdraw);
      spent += std::size_t{o.subject_len} + o.payload_len;
    }
    return i;
  }

  // What `bytes()` counts of the records from index `first` on.
  std::size_t bytes_from(std::size_t first) const noexcept {
    if (first >= ops_.size()) return 0;
    return bytes_.size() - ops_[first].offset + (ops_.size() - first) * record_overhead;
  }

  void swap(publish_queue& other) noexcept {
    ops_.swap(other.ops_);
    bytes_.swap(other.bytes_);
  }

  void clear() noexcept {
    ops_.clear();
    bytes_.clear();
  }

 private:
  struct op {
    Stream* stream = nullptr;
    std::size_t offset = 0;
    std::uint8_t subject_len = 0;
    std::uint16_t payload_len = 0;
    std::uint32_t interval_ms = 0;
    bool withdraw = false;
  };

  static_assert(sizeof(op) <= record_overhead, "record_overhead counts an op");

  std::vector<op> ops_;
  byte_queue bytes_;
};

}  // namespace racket::detail
