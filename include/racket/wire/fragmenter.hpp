// SPDX-License-Identifier: MIT
#pragma once

// Writes fragment datagrams (docs/wire-format.md, "Fragmented messages"): `fragmenter` cuts
// one message into fragments of the size that fills a datagram and writes any of them on
// demand (in order for a send, one by one for a repair answer). Reuses writer.hpp's header
// and `seal`. Knows nothing of decoding, of requests, nor of when fragments are sent.

#include "racket/detail/wire_bytes.hpp"
#include "racket/stream_name.hpp"
#include "racket/wire/format.hpp"
#include "racket/wire/fragment.hpp"
#include "racket/wire/writer.hpp"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace racket::wire {

/// A message to cut into fragments. `payload` and `subject` must outlive the `fragmenter`.
struct large_message {
  std::uint8_t flags = 0;  ///< `flags::resend` or `flags::snapshot` (or none)
  std::uint32_t interval_ms = 0;
  std::uint64_t sequence = 0;  ///< not 0
  std::uint64_t timestamp_ns = 0;
  std::string_view subject;             ///< a valid published subject
  std::span<const std::byte> payload;   ///< 1..`max_message_size_limit` bytes
};

/// Cuts one message into fragment datagrams for a maximum datagram size. Allocates nothing,
/// never throws; `encode` writes into a caller-owned buffer.
///
/// ```
/// racket::wire::fragmenter f{publisher_id, "files", msg, 1452, racket::wire::content_hash("files", msg.subject, msg.payload)};
/// if (!f.valid()) { /* names too long for this datagram size, or payload empty or > 64 MiB */ }
/// for (std::uint32_t k = 0; k < f.fragment_count(); ++k) transport.send(ep, f.encode(k, buf));
/// ```
class fragmenter {
 public:
  /// Works out the fragment size for `max_datagram_size` (at most 65507). `content_hash` is
  /// the message's (`wire::content_hash(stream, m.subject, m.payload)`), passed in because a
  /// publisher usually has it already. Preconditions: `stream` is a valid stream name,
  /// `m.subject` a valid published subject, `m.sequence != 0`, `m.flags` only resend or
  /// snapshot, not both.
  fragmenter(std::uint64_t publisher_id, std::string_view stream, const large_message& m,
             std::size_t max_datagram_size, std::uint64_t content_hash) noexcept
      : publisher_id_(publisher_id), stream_(stream), m_(m), hash_(content_hash) {
    assert(detail::is_valid_stream_name(stream));
    assert(detail::is_valid_wire_subject(m.subject) && m.sequence != 0);
    assert((m.flags & ~(flags::resend | flags::snapshot)) == 0);
    assert((m.flags & (flags::resend | flags::snapshot)) != (flags::resend | flags::snapshot));
    if (m.payload.empty() || m.payload.size() > max_message_size_limit || max_datagram_size > max_datagram_size_limit)
      return;
    size_ = fragment_size_for(max_datagram_size, stream.size(), m.subject.size(), m.interval_ms, m.sequence,
                              m.timestamp_ns);
    if (size_ != 0) count_ = wire::fragment_count(m.payload.size(), size_);
  }

  /// False when the message cannot be fragmented: empty payload, payload over 64 MiB, or a
  /// datagram size too small for a fragment of `min_fragment_size` bytes with these names.
  bool valid() const noexcept { return count_ != 0; }
  /// n: how many fragments (0 when not valid).
  std::uint32_t fragment_count() const noexcept { return count_; }
  /// F: the payload bytes of every fragment but the last (0 when not valid).
  std::size_t fragment_size() const noexcept { return size_; }
  /// The size of fragment `index`'s datagram: the maximum datagram size for all but the
  /// last (when the overhead fills it exactly), at most that for the last.
  std::size_t datagram_size(std::uint32_t index) const noexcept {
    const std::size_t p = fragment_bytes(m_.payload.size(), size_, index);
    return fragment_overhead(stream_.size(), m_.subject.size(), m_.interval_ms, m_.sequence, m_.timestamp_ns) +
           detail::varint_size(p) + p;
  }

  /// Writes fragment `index` as a whole datagram at the start of `buffer` and returns it.
  /// `extra_flags`: `flags::resend` writes it as a re-send (flags `resend` alone, whatever the
  /// message's: a repair answer, a periodic resend, a tail probe); `flags::header_checksum`
  /// makes its checksum cover the bytes before the payload only (the payload is still copied).
  /// Preconditions: `valid()`, `index < fragment_count()`, `buffer.size() >= datagram_size(index)`.
  std::span<const std::byte> encode(std::uint32_t index, std::span<std::byte> buffer,
                                    std::uint8_t extra_flags = 0) const noexcept {
    assert(valid() && index < count_ && buffer.size() >= datagram_size(index));
    assert((extra_flags & ~(flags::resend | flags::header_checksum)) == 0);
    const std::size_t head = write_head(index, buffer, extra_flags);
    const std::size_t p_len = fragment_bytes(m_.payload.size(), size_, index);
    std::memcpy(buffer.data() + head, m_.payload.data() + std::size_t{index} * size_, p_len);
    const std::size_t body = head + p_len;
    if ((extra_flags & flags::header_checksum) == 0) return seal(buffer, body, body + trailer_size);
    detail::store_u64(buffer.data() + body, detail::xxh3(buffer.data(), head));
    return buffer.first(body + trailer_size);
  }

  /// Fragment `index` as the three pieces its datagram is made of, without copying the payload:
  /// `head` (header, record fields and subject) and `trailer` (its checksum) written into
  /// `buffer`, `payload` the message's own slice. Always header-checksummed (the checksum cannot
  /// cover bytes it does not read). The datagram is head, payload, trailer back to back: hand them
  /// to a scatter-gather send. `extra_flags`: `flags::resend` or none.
  /// Preconditions: `valid()`, `index < fragment_count()`, `buffer.size() >= head_size() + 8`.
  struct parts {
    std::span<const std::byte> head;
    std::span<const std::byte> payload;
    std::span<const std::byte> trailer;
  };
  parts encode_parts(std::uint32_t index, std::span<std::byte> buffer, std::uint8_t extra_flags = 0) const noexcept {
    assert(valid() && index < count_ && buffer.size() >= head_size() + trailer_size);
    assert((extra_flags & ~flags::resend) == 0);
    const std::size_t head = write_head(index, buffer, extra_flags | flags::header_checksum);
    detail::store_u64(buffer.data() + head, detail::xxh3(buffer.data(), head));
    const std::size_t p_len = fragment_bytes(m_.payload.size(), size_, index);
    return {buffer.first(head), m_.payload.subspan(std::size_t{index} * size_, p_len),
            buffer.subspan(head, trailer_size)};
  }
  /// The most bytes of `parts::head` (the head of a fragment whose P takes the longest varint).
  std::size_t head_size() const noexcept {
    return fragment_overhead(stream_.size(), m_.subject.size(), m_.interval_ms, m_.sequence, m_.timestamp_ns) -
           trailer_size + detail::varint_size(size_);
  }

 private:
  // Header, record fields and subject of fragment `index`; returns their size.
  std::size_t write_head(std::uint32_t index, std::span<std::byte> buffer, std::uint8_t extra_flags) const noexcept {
    // A re-send is a repeat with the message's sequence: `resend`, never `snapshot` with it.
    const std::uint8_t meaning =
        (extra_flags & flags::resend) != 0 ? flags::resend : static_cast<std::uint8_t>(m_.flags);
    const std::size_t p_len = fragment_bytes(m_.payload.size(), size_, index);
    std::byte* p = buffer.data() + write_data_header(buffer, publisher_id_, stream_, 1);
    const bool seq_next = m_.sequence == 1;
    const bool same_interval = m_.interval_ms == 0;
    *p++ = static_cast<std::byte>(meaning | flags::fragment | (extra_flags & flags::header_checksum) |
                                  (seq_next ? flags::sequence_next : 0) | (same_interval ? flags::same_interval : 0));
    *p++ = static_cast<std::byte>(m_.subject.size());
    p = detail::store_varint(p, p_len);
    if (!same_interval) p = detail::store_varint(p, m_.interval_ms);
    if (!seq_next) p = detail::store_varint(p, detail::zigzag(m_.sequence));
    p = detail::store_varint(p, detail::zigzag(m_.timestamp_ns));
    detail::store_u32(p, static_cast<std::uint32_t>(m_.payload.size()));
    detail::store_u32(p + 4, index);
    detail::store_u16(p + 8, static_cast<std::uint16_t>(size_));
    detail::store_u64(p + 10, hash_);
    p += fragment_fields_size;
    std::memcpy(p, m_.subject.data(), m_.subject.size());
    p += m_.subject.size();
    return static_cast<std::size_t>(p - buffer.data());
  }

  std::uint64_t publisher_id_;
  std::string_view stream_;
  large_message m_;
  std::uint64_t hash_;
  std::size_t size_ = 0;
  std::uint32_t count_ = 0;
};

}  // namespace racket::wire
