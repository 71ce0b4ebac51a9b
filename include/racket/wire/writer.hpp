// SPDX-License-Identifier: MIT
#pragma once

// Writes data datagrams (kind 1): `write_data_header` writes the header, `datagram_writer`
// appends records with their deltas from the previous one, `seal` pads a datagram and writes
// its checksum. Knows nothing of decoding, nor of requests.

#include "racket/detail/hash.hpp"
#include "racket/detail/wire_bytes.hpp"
#include "racket/stream_name.hpp"
#include "racket/wire/format.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace racket::wire {

/// Completes a data datagram whose first `body_size` bytes of `buffer` are its header and
/// records (record count patched: `datagram_writer::finish_unsealed`): writes
/// `total_size - trailer_size - body_size` padding bytes 0x00 after them, then the checksum
/// (XXH3-64 of bytes [0, total_size - 8)) at `total_size - 8`, and returns the datagram,
/// `{buffer.data(), total_size}`. Allocates nothing, never throws.
///
/// Padding makes datagrams of different contents the same size, which a UDP GSO send
/// (UDP_SEGMENT) needs of every datagram of a run but the last. `total_size == body_size +
/// trailer_size` pads nothing (what `datagram_writer::finish` does).
/// Preconditions: `body_size + trailer_size <= total_size <= min(buffer.size(), 65507)`.
///
/// ```
/// const std::size_t body = w.finish_unsealed();
/// transport.send(ep, racket::wire::seal(buf, body, segment_size));  // padded to segment_size
/// ```
inline std::span<const std::byte> seal(std::span<std::byte> buffer, std::size_t body_size,
                                       std::size_t total_size) noexcept {
  assert(total_size >= trailer_size && body_size <= total_size - trailer_size);
  assert(total_size <= buffer.size());
  assert(total_size <= max_datagram_size_limit);
  std::byte* const d = buffer.data();
  const std::size_t trailer_off = total_size - trailer_size;
  if (trailer_off != body_size) std::memset(d + body_size, 0, trailer_off - body_size);
  detail::store_u64(d + trailer_off, detail::xxh3(d, trailer_off));
  return {d, total_size};
}

/// Writes a data datagram's header (kind 1) at the start of `buffer` with `record_count` and
/// returns its size, `header_size(stream.size())`. Allocates nothing, never throws.
/// Preconditions: `stream` is a valid stream name and the header fits `buffer`.
inline std::size_t write_data_header(std::span<std::byte> buffer, std::uint64_t publisher_id, std::string_view stream,
                                     std::uint16_t record_count) noexcept {
  assert(detail::is_valid_stream_name(stream));
  assert(header_size(stream.size()) <= buffer.size());
  std::byte* const d = buffer.data();
  std::memcpy(d, magic, sizeof magic);
  d[4] = std::byte{version};
  d[5] = static_cast<std::byte>(kind::data);
  detail::store_u16(d + 6, record_count);
  detail::store_u64(d + 8, publisher_id);
  d[16] = static_cast<std::byte>(stream.size());
  std::memcpy(d + header_fixed_size, stream.data(), stream.size());
  return header_size(stream.size());
}

/// Writes one datagram at a time into a caller-owned buffer. Allocates nothing, never throws.
///
/// The buffer's size is the maximum datagram size (anything above 65507 is not used).
/// `begin` starts a datagram for one stream, `append` adds records while they fit, `finish`
/// patches the record count, appends the checksum and returns the datagram. To pad it (for a
/// UDP GSO run), call `finish_unsealed` and then `seal` instead of `finish`. Not thread safe.
///
/// ```
/// std::array<std::byte, racket::wire::default_max_datagram_size> buf;
/// racket::wire::datagram_writer w{buf};
/// w.begin(publisher_id, "sensors");
/// if (!w.append({.interval_ms = 1000, .sequence = 1, .timestamp_ns = now,
///                .subject = "plant.temp", .payload = bytes})) { /* full: finish, send, begin */ }
/// transport.send(ep, w.finish());
/// ```
class datagram_writer {
  // No datagram within the size limit can hold more records than the u16 count field allows.
  static_assert((max_datagram_size_limit - header_size(1) - trailer_size) / (record_min_overhead + 1) <= 0xFFFF);

 public:
  /// `buffer` must outlive the writer and every span `finish` returns.
  explicit datagram_writer(std::span<std::byte> buffer) noexcept
      : buf_(buffer.data()), capacity_(std::min(buffer.size(), max_datagram_size_limit)) {}

  /// Starts a new datagram, discarding any unfinished one.
  /// Preconditions: `stream` is a valid stream name (1..255 bytes, no NUL) and
  /// `header_size(stream.size()) + trailer_size` fits the buffer.
  void begin(std::uint64_t publisher_id, std::string_view stream) noexcept {
    assert(header_size(stream.size()) + trailer_size <= capacity_);
    pos_ = write_data_header({buf_, capacity_}, publisher_id, stream, 0);
    count_ = 0;
    prev_sequence_ = 0;
    prev_timestamp_ = 0;
    prev_interval_ = 0;
  }

  /// The exact bytes `r` would take if appended next (it depends on the previous record), or
  /// 0 if a length exceeds its limit (subject 255, payload 65535).
  std::size_t encoded_size(const record& r) const noexcept {
    if (r.subject.size() > max_name_length || r.payload.size() > max_payload_length) return 0;
    const std::uint64_t seq_delta = r.sequence - prev_sequence_;
    return 2 + detail::varint_size(r.payload.size()) +
           (r.interval_ms == prev_interval_ ? 0 : detail::varint_size(r.interval_ms)) +
           (seq_delta == 1 ? 0 : detail::varint_size(detail::zigzag(seq_delta))) +
           detail::varint_size(detail::zigzag(r.timestamp_ns - prev_timestamp_)) + r.subject.size() +
           r.payload.size();
  }

  /// Whether `append(r)` would succeed now.
  bool fits(const record& r) const noexcept {
    const std::size_t n = encoded_size(r);
    return n != 0 && n <= capacity_ - trailer_size - pos_;
  }

  /// Appends `r` and returns true, or returns false and writes nothing if it does not fit.
  /// A record with `record_size(L, P)` bytes or fewer to spare always fits.
  /// Preconditions: `begin` was called; `r.subject` is a valid published subject;
  /// `r.sequence != 0`; a tombstone has an empty payload; only `flags::known` bits are set,
  /// and not `resend` together with `snapshot`.
  bool append(const record& r) noexcept {
    assert(detail::is_valid_wire_subject(r.subject));
    assert(r.sequence != 0 && (r.flags & ~flags::known) == 0);
    assert(!r.resend() || !r.snapshot());
    assert(!r.tombstone() || r.payload.empty());
    const std::size_t l = r.subject.size();
    const std::size_t n = r.payload.size();
    if (l > max_name_length || n > max_payload_length) return false;
    const std::uint64_t seq_delta = r.sequence - prev_sequence_;
    const std::uint64_t zs = detail::zigzag(seq_delta);
    const std::uint64_t zt = detail::zigzag(r.timestamp_ns - prev_timestamp_);
    const bool seq_next = seq_delta == 1;
    const bool same_interval = r.interval_ms == prev_interval_;
    const std::size_t room = capacity_ - trailer_size - pos_;
    // With room for the longest header, write it in one pass and measure it afterwards;
    // only near the end of a datagram is the exact size worked out first.
    if (room < record_max_overhead + l + n) {
      const std::size_t size = 2 + detail::varint_size(n) + (same_interval ? 0 : detail::varint_size(r.interval_ms)) +
                               (seq_next ? 0 : detail::varint_size(zs)) + detail::varint_size(zt) + l + n;
      if (size > room) return false;
    }
    std::byte* const start = buf_ + pos_;
    std::byte* p = start;
    p[0] = static_cast<std::byte>((r.flags & flags::known) | (seq_next ? flags::sequence_next : 0) |
                                  (same_interval ? flags::same_interval : 0));
    p[1] = static_cast<std::byte>(l);
    p = detail::store_varint(p + 2, n);
    if (!same_interval) p = detail::store_varint(p, r.interval_ms);
    if (!seq_next) p = detail::store_varint(p, zs);
    p = detail::store_varint(p, zt);
    // Subject and payload are usually neighbours already (the publisher keeps them so): one copy.
    if (n == 0 || reinterpret_cast<const std::byte*>(r.subject.data()) + l == r.payload.data()) {
      std::memcpy(p, r.subject.data(), l + n);
    } else {
      std::memcpy(p, r.subject.data(), l);
      std::memcpy(p + l, r.payload.data(), n);
    }
    pos_ += static_cast<std::size_t>(p - start) + l + n;
    ++count_;
    prev_sequence_ = r.sequence;
    prev_timestamp_ = r.timestamp_ns;
    prev_interval_ = r.interval_ms;
    return true;
  }

  /// Records appended since `begin`.
  std::size_t record_count() const noexcept { return count_; }
  /// True when no record was appended since `begin` (such a datagram must not be sent).
  bool empty() const noexcept { return count_ == 0; }
  /// Bytes the finished datagram has, trailer included.
  std::size_t size() const noexcept { return pos_ + trailer_size; }
  /// The maximum datagram size this writer fills up to.
  std::size_t capacity() const noexcept { return capacity_; }

  /// Patches the record count and returns the body size: header and records, without
  /// padding and trailer (`size() - trailer_size`). Writes no checksum: `seal` completes the
  /// datagram, padded or not. Precondition: at least one record was appended.
  std::size_t finish_unsealed() noexcept {
    assert(count_ > 0);
    detail::store_u16(buf_ + 6, static_cast<std::uint16_t>(count_));
    return pos_;
  }

  /// Patches the record count, appends the checksum (no padding) and returns the datagram (a
  /// view of the buffer, valid until the next `begin`): `seal(buffer, finish_unsealed(),
  /// size())`. Precondition: at least one record was appended.
  std::span<const std::byte> finish() noexcept {
    return seal({buf_, capacity_}, finish_unsealed(), size());
  }

 private:
  std::byte* buf_;
  std::size_t capacity_;
  std::size_t pos_ = 0;
  std::size_t count_ = 0;
  std::uint64_t prev_sequence_ = 0;
  std::uint64_t prev_timestamp_ = 0;
  std::uint32_t prev_interval_ = 0;
};

}  // namespace racket::wire
