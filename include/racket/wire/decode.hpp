// SPDX-License-Identifier: MIT
#pragma once

// Reads data datagrams (kind 1): `decode` validates one in a single pass, `datagram_view`
// walks the records it validated. Knows nothing of writing them, nor of requests.

#include "racket/detail/hash.hpp"
#include "racket/detail/wire_bytes.hpp"
#include "racket/error.hpp"
#include "racket/wire/format.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

namespace racket::wire {

class datagram_view;

// Internals of this header that need the wire namespace (racket::detail holds the rest).
namespace impl {
template <class Sink>
datagram_view decode_data(std::span<const std::byte> bytes, std::error_code& ec, std::size_t max_size, Sink&& sink);
}  // namespace impl

/// A decoded datagram: header fields and a forward range of `record`s. It points into the
/// bytes given to `decode` and is valid as long as they are. Only `decode` makes a non-empty
/// view, and it has validated every record, so iterating performs no checks.
///
/// ```
/// std::error_code ec;
/// auto dg = racket::wire::decode(bytes, ec);
/// if (ec) { ++stats.malformed_dropped; return; }
/// for (const racket::wire::record& r : dg) deliver(dg.publisher_id(), dg.stream(), r);
/// ```
class datagram_view {
 public:
  /// Forward iterator over the records. Each record is parsed once, when the iterator reaches
  /// it (its sequence, interval and timestamp follow from the previous record's, which the
  /// iterator holds). `*it` returns a copy of the parsed record (its views point into the
  /// datagram), so `const record& r = *it;` is safe; `it->` reads the held one.
  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;  // C++17: reference is not a reference
    using value_type = record;
    using difference_type = std::ptrdiff_t;
    using reference = record;

    iterator() noexcept = default;

    record operator*() const noexcept { return rec_; }
    const record* operator->() const noexcept { return &rec_; }
    iterator& operator++() noexcept {
      pos_ = next_;
      if (pos_ != end_) parse();
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.pos_ == b.pos_; }

   private:
    friend class datagram_view;
    iterator(const std::byte* pos, const std::byte* end) noexcept : pos_(pos), end_(end) {
      if (pos_ != end_) parse();
    }

    // Parses the record at pos_; rec_ holds the previous record (zeros before the first).
    RACKET_HOT_INLINE void parse() noexcept {
      const std::byte* p = pos_;
      const auto f = std::to_integer<std::uint8_t>(p[0]);
      const std::size_t l = std::to_integer<std::size_t>(p[1]);
      p += 2;
      const std::size_t n = static_cast<std::size_t>(detail::load_varint(p));
      if ((f & flags::same_interval) == 0) rec_.interval_ms = static_cast<std::uint32_t>(detail::load_varint(p));
      rec_.sequence += (f & flags::sequence_next) != 0 ? 1 : detail::unzigzag(detail::load_varint(p));
      rec_.timestamp_ns += detail::unzigzag(detail::load_varint(p));
      rec_.flags = f & flags::known;
      rec_.subject = {reinterpret_cast<const char*>(p), l};
      rec_.payload = {p + l, n};
      next_ = p + l + n;
    }

    const std::byte* pos_ = nullptr;   // this record's first byte (end_ at the end)
    const std::byte* next_ = nullptr;  // the next record's first byte
    const std::byte* end_ = nullptr;   // the end of the last record (padding or trailer)
    record rec_;
  };

  /// An empty view (what `decode` returns on error): no records, all fields zero.
  datagram_view() noexcept = default;

  std::uint8_t version() const noexcept { return version_; }
  kind datagram_kind() const noexcept { return kind_; }
  std::uint16_t record_count() const noexcept { return record_count_; }
  std::uint64_t publisher_id() const noexcept { return publisher_id_; }
  std::string_view stream() const noexcept { return stream_; }
  /// The whole datagram, padding and trailer included.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  /// Bytes of padding (all 0x00) between the last record and the trailer.
  std::size_t padding_size() const noexcept {
    return bytes_.empty() ? 0 : static_cast<std::size_t>(bytes_.data() + bytes_.size() - trailer_size - records_end_);
  }

  iterator begin() const noexcept { return iterator{records_begin_, records_end_}; }
  iterator end() const noexcept { return iterator{records_end_, records_end_}; }

 private:
  template <class Sink>
  friend datagram_view impl::decode_data(std::span<const std::byte>, std::error_code&, std::size_t, Sink&&);

  std::span<const std::byte> bytes_;
  std::string_view stream_;
  const std::byte* records_begin_ = nullptr;
  const std::byte* records_end_ = nullptr;
  std::uint64_t publisher_id_ = 0;
  std::uint16_t record_count_ = 0;
  std::uint8_t version_ = 0;
  kind kind_{};
};

/// Validates a datagram in one pass and returns a view of it. Treats the bytes as hostile:
/// never reads out of bounds, never throws, never allocates.
///
/// On success `ec` is cleared; on failure `ec` is set and an empty view is returned. Checks run
/// in this order, the first failure deciding the error (docs/wire-format.md, "Decoding"):
///  1. size > `max_size`                                      → `errc::oversize`
///  2. fewer than 4 bytes → `truncated`; magic is not "RKTM"   → `errc::bad_magic`
///  3. fewer than 5 bytes → `truncated`; version != 3          → `errc::bad_version`
///  4. fewer than 6 bytes → `truncated`; kind != 1             → `errc::bad_kind`
///  5. fewer than 17 bytes                                     → `errc::truncated`
///  6. stream name length S == 0                               → `errc::bad_length`
///  7. fewer than 17 + S + 8 bytes                             → `errc::truncated`
///  8. trailer != XXH3-64 of the bytes before it               → `errc::bad_checksum`
///  9. record_count == 0, or the stream name holds a NUL       → `errc::bad_record`
/// 10. per record, in order:
///     a. flags and L do not fit before the trailer            → `errc::bad_length`
///     b. per varint present (P, interval, sequence delta, timestamp delta), in that order: it
///        runs into the trailer → `errc::bad_length`; it is not canonical (more than 10 bytes,
///        a 10th byte other than 1, a last byte 0) → `errc::bad_record`; P > 65535 or
///        interval > 0xFFFFFFFF                                → `errc::bad_record`
///     c. the L + P bytes of subject and payload run into the trailer → `errc::bad_length`
///     d. a flag bit 0x08, 0x40 or 0x80, `resend` with `snapshot`, sequence 0 (after the
///        delta), a tombstone with a payload, L == 0 or an invalid subject → `errc::bad_record`
/// 11. a byte other than 0x00 between the last record and the trailer (the padding)
///                                                             → `errc::bad_length`
inline datagram_view decode(std::span<const std::byte> bytes, std::error_code& ec,
                            std::size_t max_size = max_datagram_size_limit) noexcept {
  return impl::decode_data(bytes, ec, max_size, [](std::uint8_t, std::uint32_t, std::uint64_t, std::uint64_t,
                                                   std::string_view, std::span<const std::byte>) noexcept {});
}

/// As `decode`, and `records` (cleared first) receives the datagram's records, parsed in the
/// validating pass itself: for a caller that walks every record anyway, this saves the
/// iterator's second parse. On failure `records` is left empty. Throws only `std::bad_alloc`
/// (when `records` must grow).
inline datagram_view decode(std::span<const std::byte> bytes, std::error_code& ec, std::size_t max_size,
                            std::vector<record>& records) {
  records.clear();
  // Each record is written where it goes, field by field: a record built on the stack and
  // then copied was read back with 16-byte loads over its 1- and 4-byte stores, which the CPU
  // cannot forward (a third of decode's time at 64 B payloads went to that stall).
  datagram_view v = impl::decode_data(bytes, ec, max_size,
                                      [&records](std::uint8_t flags, std::uint32_t interval_ms, std::uint64_t sequence,
                                                 std::uint64_t timestamp_ns, std::string_view subject,
                                                 std::span<const std::byte> payload) {
                                        record& r = records.emplace_back();
                                        r.flags = flags;
                                        r.interval_ms = interval_ms;
                                        r.sequence = sequence;
                                        r.timestamp_ns = timestamp_ns;
                                        r.subject = subject;
                                        r.payload = payload;
                                      });
  if (ec) records.clear();
  return v;
}

namespace impl {

// decode's work; `sink(flags, interval_ms, sequence, timestamp_ns, subject, payload)` is
// called with each record's fields as it is validated (before the whole datagram is: a caller
// must drop what it got when `ec` ends up set).
template <class Sink>
datagram_view decode_data(std::span<const std::byte> bytes, std::error_code& ec, std::size_t max_size, Sink&& sink) {
  const auto fail = [&ec](errc e) noexcept {
    ec = make_error_code(e);
    return datagram_view{};
  };
  const std::byte* const d = bytes.data();
  const std::size_t n = bytes.size();
  if (const errc e = check_common_header(bytes, max_size, kind::data); e != errc{}) return fail(e);
  const std::size_t s_len = std::to_integer<std::size_t>(d[16]);
  const std::size_t records_off = header_size(s_len);
  if (n < records_off + trailer_size) return fail(errc::truncated);
  const std::size_t trailer_off = n - trailer_size;
  if (detail::xxh3(d, trailer_off) != detail::load_u64(d + trailer_off))
    return fail(errc::bad_checksum);

  const std::uint16_t count = detail::load_u16(d + 6);
  const std::string_view stream{reinterpret_cast<const char*>(d + header_fixed_size), s_len};
  if (count == 0 || std::memchr(stream.data(), 0, s_len) != nullptr) return fail(errc::bad_record);

  const std::byte* const end = d + trailer_off;
  const std::byte* p = d + records_off;
  std::uint64_t sequence = 0;
  std::uint64_t interval = 0;
  std::uint64_t timestamp = 0;
  constexpr std::uint8_t resend_and_snapshot = flags::resend | flags::snapshot;
  for (std::uint16_t i = 0; i < count; ++i) {
    // p <= end holds throughout, so the subtractions cannot wrap.
    if (end - p < 2) return fail(errc::bad_length);
    const auto f = std::to_integer<std::uint8_t>(p[0]);
    const std::size_t l = std::to_integer<std::size_t>(p[1]);
    p += 2;
    std::uint64_t payload_len = 0;
    std::uint64_t v = 0;
    if (const errc e = detail::read_varint(p, end, payload_len); e != errc{}) return fail(e);
    if (payload_len > max_payload_length) return fail(errc::bad_record);
    if ((f & flags::same_interval) == 0) {
      if (const errc e = detail::read_varint(p, end, interval); e != errc{}) return fail(e);
      if (interval > max_interval_ms) return fail(errc::bad_record);
    }
    if ((f & flags::sequence_next) == 0) {
      if (const errc e = detail::read_varint(p, end, v); e != errc{}) return fail(e);
      sequence += detail::unzigzag(v);
    } else {
      ++sequence;
    }
    // The timestamp delta: any value (timestamps are not checked).
    if (const errc e = detail::read_varint(p, end, v); e != errc{}) return fail(e);
    timestamp += detail::unzigzag(v);
    const auto avail = static_cast<std::size_t>(end - p);
    if (payload_len > avail || l > avail - payload_len) return fail(errc::bad_length);
    const std::string_view subject{reinterpret_cast<const char*>(p), l};
    if ((f & ~flags::valid) != 0 || (f & resend_and_snapshot) == resend_and_snapshot || sequence == 0 ||
        ((f & flags::tombstone) != 0 && payload_len != 0) || !detail::is_valid_wire_subject(subject))
      return fail(errc::bad_record);
    sink(static_cast<std::uint8_t>(f & flags::known), static_cast<std::uint32_t>(interval), sequence, timestamp, subject,
         std::span<const std::byte>(p + l, static_cast<std::size_t>(payload_len)));
    p += l + payload_len;
  }
  if (!detail::all_zero(p, static_cast<std::size_t>(end - p))) return fail(errc::bad_length);

  datagram_view v;
  v.bytes_ = bytes;
  v.stream_ = stream;
  v.records_begin_ = d + records_off;
  v.records_end_ = p;
  v.publisher_id_ = detail::load_u64(d + 8);
  v.record_count_ = count;
  v.version_ = version;
  v.kind_ = kind::data;
  ec.clear();
  return v;
}

}  // namespace impl

}  // namespace racket::wire
