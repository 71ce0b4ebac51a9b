// SPDX-License-Identifier: MIT
#pragma once

// One large message being reassembled: the fields its first fragment set (the reference every
// later fragment must match), its payload buffer of the claimed size, which fragments arrived,
// and the completed message it turns into. Knows nothing of keys, caps, eviction nor time.

#include "racket/detail/config.hpp"
#include "racket/detail/reassembly/fragment_bitmap.hpp"
#include "racket/wire/format.hpp"
#include "racket/wire/fragment.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace racket::detail {

// A reassembled message, handed out once, whole. Owns its payload.
struct assembled_message {
  std::uint64_t publisher_id = 0;
  std::uint64_t sequence = 0;
  std::uint64_t timestamp_ns = 0;
  std::uint64_t content_hash = 0;  // verified: the hash of stream, subject and payload
  std::uint32_t interval_ms = 0;
  // wire::flags::snapshot when it came from a snapshot answer; wire::flags::resend when every
  // fragment that made it was a re-send (flag resend); 0 for a live message.
  std::uint8_t flags = 0;
  std::string subject;
  std::unique_ptr<std::byte[]> data;
  std::size_t size = 0;
  std::size_t capacity = 0;  // bytes `data` holds (at least `size`: a reused buffer may hold more)

  std::span<const std::byte> payload() const noexcept { return {data.get(), size}; }
};

class partial_message {
 public:
  enum class added : std::uint8_t {
    fresh,         // a fragment not held before: copied in
    duplicate,     // held already, same bytes
    conflicting,   // held already, different bytes: dropped
    inconsistent,  // its message fields differ from the first fragment's: dropped
  };

  // Bytes a message of this first fragment is charged: its payload, its bitmap, its subject
  // and a fixed overhead for the entry itself.
  static std::size_t charge_for(const wire::fragment& f) noexcept {
    return std::size_t{f.total_size} + fragment_bitmap::bytes_for(f.fragment_count()) + f.subject.size() +
           entry_overhead;
  }
  static constexpr std::size_t entry_overhead = 256;

  // Starts a message from its first fragment to arrive (which `add` must then be given).
  // The payload buffer is `reuse` when given (a buffer of `reuse_capacity` bytes, at least
  // T), else allocated uninitialised: pages no fragment touched cost no memory.
  // Throws only std::bad_alloc.
  partial_message(std::uint64_t publisher_id, const wire::fragment& f, std::unique_ptr<std::byte[]> reuse = nullptr,
                  std::size_t reuse_capacity = 0)
      : publisher_id_(publisher_id),
        sequence_(f.sequence),
        timestamp_ns_(f.timestamp_ns),
        content_hash_(f.content_hash),
        total_(f.total_size),
        interval_ms_(f.interval_ms),
        fragment_size_(f.fragment_size),
        subject_(f.subject),
        bitmap_(f.fragment_count()),
        charge_(charge_for(f)) {
    if (reuse != nullptr && reuse_capacity >= total_) {
      data_ = std::move(reuse);
      capacity_ = reuse_capacity;
    } else {
      data_.reset(new std::byte[total_]);
      capacity_ = total_;
    }
  }

  std::uint64_t publisher_id() const noexcept { return publisher_id_; }
  std::uint64_t sequence() const noexcept { return sequence_; }
  std::string_view subject() const noexcept { return subject_; }
  std::uint32_t total_size() const noexcept { return total_; }
  std::size_t charge() const noexcept { return charge_; }
  const fragment_bitmap& fragments() const noexcept { return bitmap_; }
  bool complete() const noexcept { return bitmap_.complete(); }
  // Payload bytes received so far.
  std::size_t received_bytes() const noexcept {
    if (bitmap_.received() == 0) return 0;
    const std::uint32_t last = bitmap_.size() - 1;
    const bool has_last = bitmap_.test(last);
    return std::size_t{bitmap_.received() - (has_last ? 1u : 0u)} * fragment_size_ +
           (has_last ? wire::fragment_bytes(total_, fragment_size_, last) : 0);
  }

  // Takes one fragment of this message (same publisher and sequence; the caller matched them).
  added add(const wire::fragment& f) noexcept {
    if (f.total_size != total_ || f.fragment_size != fragment_size_ || f.interval_ms != interval_ms_ ||
        f.timestamp_ns != timestamp_ns_ || f.content_hash != content_hash_ || !same_bytes(f.subject, subject_))
      return added::inconsistent;
    // A live fragment and a snapshot fragment never share a sequence.
    if (!f.resend()) {
      if (original_seen_ && f.snapshot() != snapshot_) return added::inconsistent;
      original_seen_ = true;
      snapshot_ = f.snapshot();
    }
    std::byte* const at = data_.get() + f.offset();
    if (bitmap_.test(f.index))
      return std::memcmp(at, f.bytes.data(), f.bytes.size()) == 0 ? added::duplicate : added::conflicting;
    std::memcpy(at, f.bytes.data(), f.bytes.size());
    bitmap_.set(f.index);
    return added::fresh;
  }

  // Whether the completed payload hashes to the carried content hash.
  bool verify(std::string_view stream) const noexcept {
    return wire::content_hash(stream, subject_, {data_.get(), total_}) == content_hash_;
  }

  // The completed message; leaves this one empty. Precondition: complete().
  assembled_message take() noexcept {
    assembled_message m;
    m.publisher_id = publisher_id_;
    m.sequence = sequence_;
    m.timestamp_ns = timestamp_ns_;
    m.content_hash = content_hash_;
    m.interval_ms = interval_ms_;
    m.flags = snapshot_ ? wire::flags::snapshot : original_seen_ ? std::uint8_t{0} : wire::flags::resend;
    m.subject = std::move(subject_);
    m.data = std::move(data_);
    m.size = total_;
    m.capacity = capacity_;
    return m;
  }

 private:
  std::uint64_t publisher_id_;
  std::uint64_t sequence_;
  std::uint64_t timestamp_ns_;
  std::uint64_t content_hash_;
  std::uint32_t total_;
  std::uint32_t interval_ms_;
  std::uint16_t fragment_size_;
  bool original_seen_ = false;  // a fragment without `resend` arrived
  bool snapshot_ = false;       // ... and it had `snapshot`
  std::string subject_;
  fragment_bitmap bitmap_;
  std::size_t charge_;
  std::unique_ptr<std::byte[]> data_;
  std::size_t capacity_ = 0;  // bytes data_ holds
};

}  // namespace racket::detail
