// SPDX-License-Identifier: MIT
#pragma once

// What a fragment datagram is (docs/wire-format.md, "Fragmented messages") and how one is
// read: the `fragment` flag, the limits, `fragment` (one decoded fragment record), the size
// functions, `is_fragment_datagram` (routing), `decode_fragment`, and `fragment_reference`
// (the next fragments of a GRO buffer checked against one decoded in full). Knows nothing of
// writing fragments (fragmenter.hpp), of requests, nor of reassembling messages.
//
//   fragment datagram = header (record_count 1), fragment record, padding, trailer (XXH3-64
//                       of everything before it; with flag 0x40, of everything before the
//                       payload bytes)
//   fragment record   = u8 flags (0x08 set), u8 L, varint P, [varint interval_ms],
//                       [varint zigzag(sequence)], varint zigzag(timestamp), u32 total_size T,
//                       u32 fragment_index K, u16 fragment_size F, u64 content_hash,
//                       L bytes subject, P bytes = payload bytes [K*F, K*F + P)

#include "racket/detail/hash.hpp"
#include "racket/detail/wire_bytes.hpp"
#include "racket/error.hpp"
#include "racket/wire/format.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <system_error>

namespace racket::wire {

namespace flags {
/// A fragment record: one slice of a message too large for one record. Travels alone in its
/// datagram; `decode` rejects it (`bad_record`), `decode_fragment` reads it.
inline constexpr std::uint8_t fragment = 0x08;
/// On a fragment record only: the datagram's checksum covers its bytes up to the end of the
/// subject (header and record fields), not the payload slice, which the message's content
/// hash covers once reassembled (docs/wire-format.md, "Header-checksummed fragments").
inline constexpr std::uint8_t header_checksum = 0x40;
}  // namespace flags

/// The largest message (total payload) the format can carry: 64 MiB.
inline constexpr std::size_t max_message_size_limit = std::size_t{64} << 20;
/// The smallest fragment size F: at most 2^20 fragments a message.
inline constexpr std::size_t min_fragment_size = 64;
/// The largest fragment size F (its field is a u16).
inline constexpr std::size_t max_fragment_size = 0xFFFF;
/// Bytes of T, K, F and the content hash in a fragment record.
inline constexpr std::size_t fragment_fields_size = 18;

/// One decoded fragment record. `subject` and `bytes` point into the datagram.
struct fragment {
  std::uint8_t flags = 0;           ///< `flags::resend` or `flags::snapshot` (or none); not `fragment`
  std::uint32_t interval_ms = 0;    ///< the message's resend interval
  std::uint64_t sequence = 0;       ///< the message's sequence (all its fragments share it)
  std::uint64_t timestamp_ns = 0;   ///< the message's timestamp
  std::uint32_t total_size = 0;     ///< T: the whole payload's length
  std::uint32_t index = 0;          ///< K: this fragment's index, `< fragment_count()`
  std::uint16_t fragment_size = 0;  ///< F: the size of every fragment but the last
  std::uint64_t content_hash = 0;   ///< content hash of the whole message (stream, subject, payload)
  std::string_view subject;
  std::span<const std::byte> bytes;  ///< payload bytes [offset(), offset() + bytes.size())

  bool resend() const noexcept { return (flags & wire::flags::resend) != 0; }
  bool snapshot() const noexcept { return (flags & wire::flags::snapshot) != 0; }
  /// n = ceil(T / F).
  std::uint32_t fragment_count() const noexcept {
    return static_cast<std::uint32_t>((std::uint64_t{total_size} + fragment_size - 1) / fragment_size);
  }
  std::size_t offset() const noexcept { return std::size_t{index} * fragment_size; }
};

/// n = ceil(T / F) for `F >= 1`.
constexpr std::uint32_t fragment_count(std::size_t total_size, std::size_t fragment_size) noexcept {
  return static_cast<std::uint32_t>((total_size + fragment_size - 1) / fragment_size);
}

/// The bytes fragment `index` of a message of `total_size` bytes cut in `fragment_size` slices
/// carries: F for all but the last, the rest for the last, 0 for an index past the last.
constexpr std::size_t fragment_bytes(std::size_t total_size, std::size_t fragment_size, std::size_t index) noexcept {
  const std::size_t offset = index * fragment_size;
  if (offset >= total_size) return 0;
  return total_size - offset < fragment_size ? total_size - offset : fragment_size;
}

/// Bytes of a fragment datagram besides its P payload bytes and P's varint: header, flags, L,
/// the interval, sequence and timestamp varints as the writer spells them, T K F and the
/// content hash, the subject and the trailer (no padding).
constexpr std::size_t fragment_overhead(std::size_t stream_len, std::size_t subject_len, std::uint32_t interval_ms,
                                        std::uint64_t sequence, std::uint64_t timestamp_ns) noexcept {
  return header_size(stream_len) + 2 + (interval_ms == 0 ? 0 : detail::varint_size(interval_ms)) +
         (sequence == 1 ? 0 : detail::varint_size(detail::zigzag(sequence))) +
         detail::varint_size(detail::zigzag(timestamp_ns)) + fragment_fields_size + subject_len + trailer_size;
}

/// The fragment size F a writer uses: the largest P for which a fragment datagram with these
/// fields is at most `max_datagram_size` bytes, capped at 65535; 0 when that is below
/// `min_fragment_size` (such a message cannot be fragmented at this datagram size).
constexpr std::size_t fragment_size_for(std::size_t max_datagram_size, std::size_t stream_len,
                                        std::size_t subject_len, std::uint32_t interval_ms, std::uint64_t sequence,
                                        std::uint64_t timestamp_ns) noexcept {
  const std::size_t fixed = fragment_overhead(stream_len, subject_len, interval_ms, sequence, timestamp_ns);
  if (max_datagram_size <= fixed) return 0;
  const std::size_t avail = max_datagram_size - fixed;  // for P and its varint
  std::size_t f = 0;
  if (avail >= (std::size_t{1} << 14) + 3)
    f = avail - 3 < max_fragment_size ? avail - 3 : max_fragment_size;
  else if (avail >= (std::size_t{1} << 7) + 2)
    f = avail - 2 < (std::size_t{1} << 14) - 1 ? avail - 2 : (std::size_t{1} << 14) - 1;
  else
    f = avail - 1 < 127 ? avail - 1 : 127;
  return f < min_fragment_size ? 0 : f;
}

/// True when `bytes` look like a fragment datagram: a version-3 kind-1 header whose first
/// record's flags byte (offset 17 + S) has `flags::fragment`. Checks nothing else: for routing
/// between `decode` and `decode_fragment` before either runs. Reads no byte past the end.
inline bool is_fragment_datagram(std::span<const std::byte> bytes) noexcept {
  if (peek_kind(bytes) != kind::data || bytes.size() < header_fixed_size) return false;
  const std::size_t flags_off = header_size(std::to_integer<std::size_t>(bytes[16]));
  return bytes.size() > flags_off && (std::to_integer<std::uint8_t>(bytes[flags_off]) & flags::fragment) != 0;
}

/// A decoded fragment datagram: its header fields and its one fragment.
struct fragment_datagram {
  std::uint64_t publisher_id = 0;
  std::string_view stream;
  fragment frag;
};

/// Validates a fragment datagram in one pass (docs/wire-format.md, "Decoding a fragment
/// datagram": checks 1-13 of "Decoding", then F1-F6) and returns its fields, which point into
/// `bytes`. Treats the bytes as hostile: never reads out of bounds, never throws, never
/// allocates. On failure `ec` is set and an empty result returned; on success `ec` is cleared.
/// `max_message_size` (at most `max_message_size_limit`) is the largest T accepted; a larger
/// one is `bad_record`.
inline fragment_datagram decode_fragment(std::span<const std::byte> bytes, std::error_code& ec,
                                         std::size_t max_size = max_datagram_size_limit,
                                         std::size_t max_message_size = max_message_size_limit) noexcept {
  const auto fail = [&ec](errc e) noexcept {
    ec = make_error_code(e);
    return fragment_datagram{};
  };
  const std::byte* const d = bytes.data();
  const std::size_t n = bytes.size();
  if (const errc e = check_common_header(bytes, max_size, kind::data); e != errc{}) return fail(e);
  const std::size_t s_len = std::to_integer<std::size_t>(d[16]);
  const std::size_t records_off = header_size(s_len);
  if (n < records_off + trailer_size) return fail(errc::truncated);
  const std::size_t trailer_off = n - trailer_size;
  // A header-checksummed fragment (flags byte 0x40, with 0x08) is checked once its record's
  // fields are read, over the bytes before its payload (check FC); any other, here.
  constexpr std::uint8_t header_only = flags::fragment | flags::header_checksum;
  const bool header_checked =
      records_off < trailer_off && (std::to_integer<std::uint8_t>(d[records_off]) & header_only) == header_only;
  if (!header_checked && detail::xxh3(d, trailer_off) != detail::load_u64(d + trailer_off))
    return fail(errc::bad_checksum);
  const std::string_view stream{reinterpret_cast<const char*>(d + header_fixed_size), s_len};
  if (detail::load_u16(d + 6) == 0 || std::memchr(stream.data(), 0, s_len) != nullptr) return fail(errc::bad_record);
  if (detail::load_u16(d + 6) != 1) return fail(errc::bad_record);  // F1

  const std::byte* const end = d + trailer_off;
  const std::byte* p = d + records_off;
  if (end - p < 2) return fail(errc::bad_length);
  const auto f = std::to_integer<std::uint8_t>(p[0]);
  const std::size_t l = std::to_integer<std::size_t>(p[1]);
  p += 2;
  std::uint64_t payload_len = 0;
  std::uint64_t interval = 0;
  std::uint64_t sequence = 1;
  std::uint64_t v = 0;
  if (const errc e = detail::read_varint(p, end, payload_len); e != errc{}) return fail(e);
  if (payload_len > max_payload_length) return fail(errc::bad_record);
  if ((f & flags::same_interval) == 0) {
    if (const errc e = detail::read_varint(p, end, interval); e != errc{}) return fail(e);
    if (interval > max_interval_ms) return fail(errc::bad_record);
  }
  if ((f & flags::sequence_next) == 0) {
    if (const errc e = detail::read_varint(p, end, v); e != errc{}) return fail(e);
    sequence = detail::unzigzag(v);
  }
  if (const errc e = detail::read_varint(p, end, v); e != errc{}) return fail(e);
  const std::uint64_t timestamp = detail::unzigzag(v);
  if (static_cast<std::size_t>(end - p) < fragment_fields_size) return fail(errc::bad_length);  // F3
  const std::uint32_t total = detail::load_u32(p);
  const std::uint32_t index = detail::load_u32(p + 4);
  const std::uint16_t frag_size = detail::load_u16(p + 8);
  const std::uint64_t hash = detail::load_u64(p + 10);
  p += fragment_fields_size;
  const auto avail = static_cast<std::size_t>(end - p);
  if (payload_len > avail || l > avail - payload_len) return fail(errc::bad_length);  // F4
  if (header_checked && detail::xxh3(d, static_cast<std::size_t>(p + l - d)) != detail::load_u64(d + trailer_off))
    return fail(errc::bad_checksum);  // FC
  const std::string_view subject{reinterpret_cast<const char*>(p), l};
  constexpr std::uint8_t allowed = flags::fragment | flags::resend | flags::snapshot | flags::sequence_next |
                                   flags::same_interval | flags::header_checksum;
  constexpr std::uint8_t resend_and_snapshot = flags::resend | flags::snapshot;
  if ((f & flags::fragment) == 0 || (f & ~allowed) != 0 || (f & resend_and_snapshot) == resend_and_snapshot ||
      sequence == 0 || !detail::is_valid_wire_subject(subject) || payload_len == 0 || total == 0 ||
      total > max_message_size || total > max_message_size_limit || frag_size < min_fragment_size)
    return fail(errc::bad_record);  // F5
  const std::uint32_t count = fragment_count(total, frag_size);
  if (index >= count || payload_len != fragment_bytes(total, frag_size, index)) return fail(errc::bad_record);
  p += l + payload_len;
  if (!detail::all_zero(p, static_cast<std::size_t>(end - p))) return fail(errc::bad_length);  // F6

  fragment_datagram out;
  out.publisher_id = detail::load_u64(d + 8);
  out.stream = stream;
  out.frag.flags = static_cast<std::uint8_t>(f & (flags::resend | flags::snapshot));
  out.frag.interval_ms = static_cast<std::uint32_t>(interval);
  out.frag.sequence = sequence;
  out.frag.timestamp_ns = timestamp;
  out.frag.total_size = total;
  out.frag.index = index;
  out.frag.fragment_size = frag_size;
  out.frag.content_hash = hash;
  out.frag.subject = subject;
  out.frag.bytes = {reinterpret_cast<const std::byte*>(subject.data()) + l, static_cast<std::size_t>(payload_len)};
  ec.clear();
  return out;
}

/// A fragment datagram `decode_fragment` accepted, against which the datagrams after it in one
/// buffer (UDP GRO: in practice the next fragments of the same message) are checked cheaply.
/// `next` accepts exactly the datagrams that `decode_fragment` would accept with the same
/// fields but the index K and the payload bytes: the same size, every byte before the payload
/// equal to the reference's except K's four, and then, as `decode_fragment` checks them, K
/// within the message, the payload length right for K, the padding all zero and the checksum
/// (over the bytes before the payload with flag `header_checksum`, else over everything before
/// the trailer). Anything else is left to `decode_fragment`. Holds views into the reference's
/// bytes, which must outlive it. Never reads out of bounds, never allocates.
class fragment_reference {
 public:
  fragment_reference() = default;
  /// `bytes`, which `decode_fragment` decoded into `fd` without error.
  fragment_reference(std::span<const std::byte> bytes, const fragment_datagram& fd) noexcept
      : ref_(bytes.data()), size_(bytes.size()), fields_(fd) {
    subject_off_ = static_cast<std::size_t>(reinterpret_cast<const std::byte*>(fd.frag.subject.data()) - ref_);
    index_off_ = subject_off_ - fragment_fields_size + 4;
    payload_off_ = subject_off_ + fd.frag.subject.size();
    pad_off_ = payload_off_ + fd.frag.bytes.size();
    const std::size_t records_off = header_size(fd.stream.size());
    constexpr std::uint8_t header_only = flags::fragment | flags::header_checksum;
    covered_ = (std::to_integer<std::uint8_t>(ref_[records_off]) & header_only) == header_only
                   ? payload_off_
                   : size_ - trailer_size;
    count_ = fd.frag.fragment_count();
  }

  bool empty() const noexcept { return ref_ == nullptr; }

  /// True when `bytes` is a valid fragment datagram of the reference's message with the same
  /// fields but K (see the class): then `out` holds its fields, viewing `bytes`. False, and
  /// `out` untouched, for anything else, valid or not.
  bool next(std::span<const std::byte> bytes, fragment_datagram& out) const noexcept {
    if (ref_ == nullptr || bytes.size() != size_) return false;
    const std::byte* const d = bytes.data();
    if (!same(d, ref_, index_off_) || !same(d + index_off_ + 4, ref_ + index_off_ + 4, payload_off_ - index_off_ - 4))
      return false;
    const std::uint32_t index = detail::load_u32(d + index_off_);
    const std::size_t payload_len = pad_off_ - payload_off_;
    if (index >= count_ ||
        fragment_bytes(fields_.frag.total_size, fields_.frag.fragment_size, index) != payload_len)
      return false;
    const std::size_t trailer_off = size_ - trailer_size;
    if (!detail::all_zero(d + pad_off_, trailer_off - pad_off_) ||
        detail::xxh3(d, covered_) != detail::load_u64(d + trailer_off))
      return false;
    out = fields_;
    out.stream = {reinterpret_cast<const char*>(d + header_fixed_size), fields_.stream.size()};
    out.frag.index = index;
    out.frag.subject = {reinterpret_cast<const char*>(d + subject_off_), fields_.frag.subject.size()};
    out.frag.bytes = {d + payload_off_, payload_len};
    return true;
  }

 private:
  // Whether the n >= 8 bytes at a and b are the same: a word at a time, the last word
  // overlapping, inline (the two heads compared per datagram are some 20 to 300 bytes; a call
  // into memcmp for each cost more than the rest of the check).
  static bool same(const std::byte* a, const std::byte* b, std::size_t n) noexcept {
    std::uint64_t diff = detail::load_u64(a + n - 8) ^ detail::load_u64(b + n - 8);
    for (std::size_t i = 0; i + 8 <= n; i += 8) diff |= detail::load_u64(a + i) ^ detail::load_u64(b + i);
    return diff == 0;
  }

  const std::byte* ref_ = nullptr;
  std::size_t size_ = 0;
  fragment_datagram fields_;
  std::size_t subject_off_ = 0;
  std::size_t index_off_ = 0;    // K's four bytes
  std::size_t payload_off_ = 0;  // the end of the subject
  std::size_t pad_off_ = 0;      // the end of the payload
  std::size_t covered_ = 0;      // bytes the checksum covers
  std::uint32_t count_ = 0;      // the message's fragments
};

}  // namespace racket::wire
