// Racket: broker-less publish/subscribe over IP multicast.
// SPDX-License-Identifier: MIT
#pragma once

// Wire format v3 (normative description: docs/wire-format.md).
//
//   datagram = header, record * record_count, padding, trailer
//   header   = "RKTM" u8 version=3 u8 kind u16 record_count u64 publisher_id u8 S, S bytes stream
//   record   = u8 flags, u8 L, varint P, [varint interval_ms], [varint zigzag(sequence delta)],
//              varint zigzag(timestamp delta), L bytes subject, P bytes payload
//   padding  = zero or more bytes 0x00
//   trailer  = u64 XXH3-64(seed 0) of every byte before it (padding included)
//
// Fixed-width integers are little-endian; varints are canonical unsigned LEB128. A record's
// sequence and timestamp are deltas from the previous record of the same datagram (the first
// record's from 0); flag `sequence_next` stands for a sequence delta of +1 and `same_interval`
// for the previous record's interval, and the writer always uses them when they apply, so every
// record list has exactly one encoding. The content hash is not carried: receivers compute
// `content_hash` from the stream, subject and payload they already have. Padding lets a publisher
// make every datagram of a UDP GSO run (UDP_SEGMENT) the same size; one that sends without
// segmentation offload never pads.

#include "racket/detail/hash.hpp"
#include "racket/error.hpp"
#include "racket/stream_name.hpp"
#include "racket/subject.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

namespace racket::detail {

// A published subject: 1..255 bytes of dot-separated non-empty tokens, no `*`, no NUL
// (subject.hpp's rules, checked eight bytes at a time: this runs on every received record).
RACKET_HOT_INLINE bool is_valid_wire_subject(std::string_view s) noexcept { return is_valid_subject(s); }

// Little-endian fixed-width integers: one memcpy on little-endian hosts, byte by byte elsewhere.
template <class T>
inline T load_le(const std::byte* p) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  } else {
    T v = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(std::to_integer<T>(p[i]) << (8 * i));
    return v;
  }
}

template <class T>
inline void store_le(std::byte* p, T v) noexcept {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, sizeof v);
  } else {
    for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
  }
}

inline std::uint16_t load_u16(const std::byte* p) noexcept { return load_le<std::uint16_t>(p); }
inline std::uint32_t load_u32(const std::byte* p) noexcept { return load_le<std::uint32_t>(p); }
inline std::uint64_t load_u64(const std::byte* p) noexcept { return load_le<std::uint64_t>(p); }
inline void store_u16(std::byte* p, std::uint16_t v) noexcept { store_le(p, v); }
inline void store_u32(std::byte* p, std::uint32_t v) noexcept { store_le(p, v); }
inline void store_u64(std::byte* p, std::uint64_t v) noexcept { store_le(p, v); }

// Bytes of the canonical unsigned LEB128 encoding of `v` (1..10).
constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  return 1 + static_cast<std::size_t>(std::bit_width(v | 1) - 1) / 7;
}

// Writes the canonical varint of `v` at `p` and returns the byte after it.
inline std::byte* store_varint(std::byte* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<std::byte>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<std::byte>(v);
  return p;
}

// Whether the n bytes at p are all 0x00 (the padding check): ORed a word at a time with no
// data-dependent branch, which compilers vectorise. Padding is usually short, and a long one
// costs less here than in the checksum that already ran over it.
inline bool all_zero(const std::byte* p, std::size_t n) noexcept {
  std::uint64_t acc = 0;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    acc |= w;
  }
  for (; n != 0; ++p, --n) acc |= std::to_integer<std::uint64_t>(*p);
  return acc == 0;
}

// Eight bytes holding 7 bits each (high bits clear, little-endian) packed into 56 bits.
constexpr std::uint64_t pack7(std::uint64_t x) noexcept {
  x = (x & 0x007F007F007F007Full) | ((x & 0x7F007F007F007F00ull) >> 1);
  x = (x & 0x00003FFF00003FFFull) | ((x & 0x3FFF00003FFF0000ull) >> 2);
  return (x & 0x000000000FFFFFFFull) | ((x & 0x0FFFFFFF00000000ull) >> 4);
}

// A varint of 3 to 10 bytes at p, at least 10 bytes readable there, read a word at a time
// (the first record of a datagram carries its absolute timestamp: 9 bytes). Sets `len` to
// its length. No canonical checks: callers check what they must.
inline std::uint64_t load_varint_wide(const std::byte* p, std::size_t& len) noexcept {
  const std::uint64_t w = load_u64(p);
  const std::uint64_t stops = ~w & 0x8080808080808080ull;  // bytes without the continuation bit
  if (stops != 0) {
    len = static_cast<std::size_t>(std::countr_zero(stops) >> 3) + 1;  // 1..8
    const std::uint64_t bits = len == 8 ? ~0ull : (std::uint64_t{1} << (8 * len)) - 1;
    return pack7(w & bits & 0x7F7F7F7F7F7F7F7Full);
  }
  std::uint64_t v = pack7(w & 0x7F7F7F7F7F7F7F7Full);
  const auto b8 = std::to_integer<std::uint64_t>(p[8]);
  v |= (b8 & 0x7F) << 56;
  if (b8 < 0x80) {
    len = 9;
    return v;
  }
  len = 10;
  return v | std::to_integer<std::uint64_t>(p[9]) << 63;
}

// Reads a varint that `wire::decode` has validated (no bounds or canonical checks). Only
// for records of a decoded datagram: the 8-byte trailer after them keeps a word read in
// bounds.
RACKET_HOT_INLINE std::uint64_t load_varint(const std::byte*& p) noexcept {
  std::uint64_t b = std::to_integer<std::uint64_t>(*p);
  if (b < 0x80) {
    ++p;
    return b;
  }
  const auto b1 = std::to_integer<std::uint64_t>(p[1]);
  if (b1 < 0x80) {
    p += 2;
    return (b & 0x7F) | b1 << 7;
  }
  std::size_t len = 0;
  const std::uint64_t v = load_varint_wide(p, len);
  p += len;
  return v;
}

// Reads a varint from untrusted bytes [p, end): errc{} and `v` set, `p` moved past it;
// `bad_length` when it runs past `end`; `bad_record` when it is not canonical (more than 10
// bytes, a 10th byte other than 1, or a multi-byte varint whose last byte is 0).
inline errc read_varint_long(const std::byte*& p, const std::byte* end, std::uint64_t& v) noexcept {
  if (end - p >= 10) {
    std::size_t len = 0;
    const std::uint64_t x = load_varint_wide(p, len);
    const auto last = std::to_integer<unsigned>(p[len - 1]);
    if (len == 10 ? last != 1 : (len > 1 && last == 0)) return errc::bad_record;
    v = x;
    p += len;
    return errc{};
  }
  std::uint64_t r = 0;
  for (unsigned shift = 0;; shift += 7) {
    if (p == end) return errc::bad_length;
    const auto b = std::to_integer<std::uint64_t>(*p++);
    if (shift == 63) {  // the 10th byte holds bit 63 only
      if (b != 1) return errc::bad_record;
      v = r | b << 63;
      return errc{};
    }
    r |= (b & 0x7F) << shift;
    if (b < 0x80) {
      if (b == 0 && shift != 0) return errc::bad_record;
      v = r;
      return errc{};
    }
  }
}

// The one- and two-byte cases inline (lengths, intervals, deltas of live records); the rest
// in the loop above.
RACKET_HOT_INLINE errc read_varint(const std::byte*& p, const std::byte* end, std::uint64_t& v) noexcept {
  const std::ptrdiff_t left = end - p;
  if (left >= 2) {
    const auto b0 = std::to_integer<std::uint64_t>(p[0]);
    if (b0 < 0x80) {
      v = b0;
      p += 1;
      return errc{};
    }
    const auto b1 = std::to_integer<std::uint64_t>(p[1]);
    if (b1 < 0x80) {
      if (b1 == 0) return errc::bad_record;
      v = (b0 & 0x7F) | b1 << 7;
      p += 2;
      return errc{};
    }
  }
  return read_varint_long(p, end, v);
}

// Zigzag maps a delta taken modulo 2^64 and read as int64 to an unsigned number that is small
// when the delta's magnitude is: 0, -1, 1, -2, 2 ... -> 0, 1, 2, 3, 4 ...
constexpr std::uint64_t zigzag(std::uint64_t delta) noexcept { return (delta << 1) ^ (0 - (delta >> 63)); }
constexpr std::uint64_t unzigzag(std::uint64_t z) noexcept { return (z >> 1) ^ (0 - (z & 1)); }

}  // namespace racket::detail

namespace racket::wire {

/// The wire version this build writes and the only one it decodes.
inline constexpr std::uint8_t version = 3;
/// The four magic bytes every datagram starts with: "RKTM".
inline constexpr std::byte magic[4] = {std::byte{0x52}, std::byte{0x4B}, std::byte{0x54},
                                       std::byte{0x4D}};

inline constexpr std::size_t header_fixed_size = 17;  ///< header without the stream name
inline constexpr std::size_t trailer_size = 8;        ///< the checksum
/// Fewest bytes a record takes besides its subject and payload: flags, L, a one-byte P and a
/// one-byte timestamp delta (interval and sequence implied by the flags).
inline constexpr std::size_t record_min_overhead = 4;
/// Most bytes a record can take besides its subject and payload: flags, L, a 3-byte P, a
/// 5-byte interval and two 10-byte deltas.
inline constexpr std::size_t record_max_overhead = 30;

/// Fits one 1500-byte Ethernet MTU over IPv6 and IPv4 without fragmentation (1500 - 40 - 8).
inline constexpr std::size_t default_max_datagram_size = 1452;
/// The largest UDP payload over IPv4 (65535 - 20 - 8); nothing larger is written or accepted.
inline constexpr std::size_t max_datagram_size_limit = 65507;
/// The longest stream name and subject (their length fields are one byte).
inline constexpr std::size_t max_name_length = 255;
/// The largest payload length (P <= 65535); the datagram size limits it further.
inline constexpr std::size_t max_payload_length = 65535;
/// The largest interval_ms (it is a u32 value, carried as a varint).
inline constexpr std::uint64_t max_interval_ms = 0xFFFFFFFF;
/// The smallest datagram that decodes: one-byte stream, one record with a one-byte subject,
/// empty payload, sequence 1 and interval 0 implied by the flags, timestamp delta in one byte.
inline constexpr std::size_t min_datagram_size = header_fixed_size + 1 + record_min_overhead + 1 + trailer_size;  // 31

/// What a datagram carries (byte 5). `peek_kind` returns `kind{0}` for bytes that are not a
/// version-3 Racket datagram; any other unknown value is passed through as it is.
enum class kind : std::uint8_t {
  data = 1,              ///< message records of one stream (`decode`)
  snapshot_request = 2,  ///< a subscriber asks publishers to re-send cached subjects (`decode_request`)
};

/// Bits of a record's flags byte. `record::flags` holds only the `known` bits (what the record
/// means); `sequence_next` and `same_interval` are encoding bits the writer sets and `decode`
/// consumes. Bits 0x08, 0x40 and 0x80 must be zero.
namespace flags {
inline constexpr std::uint8_t tombstone = 0x01;  ///< the subject is withdrawn; payload is empty
inline constexpr std::uint8_t resend = 0x02;     ///< a periodic resend of an earlier message
/// A re-send of a cached value in answer to a snapshot request: it carries a NEW sequence
/// number (so its loss shows as a gap) and the original timestamp. Never together with `resend`.
inline constexpr std::uint8_t snapshot = 0x04;
/// Every flag bit a `record` carries.
inline constexpr std::uint8_t known = tombstone | resend | snapshot;
/// Encoding: sequence = previous record's sequence + 1 (the sequence delta is left out).
inline constexpr std::uint8_t sequence_next = 0x10;
/// Encoding: interval_ms = previous record's interval_ms (the interval is left out).
inline constexpr std::uint8_t same_interval = 0x20;
/// Every bit the flags byte may have set on the wire.
inline constexpr std::uint8_t valid = known | sequence_next | same_interval;
}  // namespace flags

/// One message record. When it comes from `decode`, `subject` and `payload` point into the
/// datagram's bytes and are valid as long as they are.
struct record {
  std::uint8_t flags = 0;          ///< `wire::flags` bits (`flags::known` only)
  std::uint32_t interval_ms = 0;   ///< resend interval; 0 = one-shot event
  std::uint64_t sequence = 0;      ///< per (publisher, stream), starts at 1; 0 is invalid
  std::uint64_t timestamp_ns = 0;  ///< publisher's wall clock, ns since the Unix epoch
  std::string_view subject;        ///< a valid published subject (1..255 bytes)
  std::span<const std::byte> payload;

  bool tombstone() const noexcept { return (flags & wire::flags::tombstone) != 0; }
  bool resend() const noexcept { return (flags & wire::flags::resend) != 0; }
  bool snapshot() const noexcept { return (flags & wire::flags::snapshot) != 0; }
};

/// XXH3-64 (seed 0) over: u8 stream length, stream, u8 subject length, subject, payload.
/// Not carried on the wire (since version 2): subscribers compute it from a record to suppress
/// duplicates. Precondition: stream and subject are at most 255 bytes. Allocates nothing.
inline std::uint64_t content_hash(std::string_view stream, std::string_view subject,
                                  std::span<const std::byte> payload) noexcept {
  assert(stream.size() <= max_name_length && subject.size() <= max_name_length);
  const auto s_len = static_cast<unsigned char>(stream.size());
  const auto l_len = static_cast<unsigned char>(subject.size());
  const std::size_t total = 2 + stream.size() + subject.size() + payload.size();
  constexpr std::size_t small = 512;
  if (total <= small) {
    // One-shot XXH3 is several times faster than streaming for short inputs.
    unsigned char buf[small];
    unsigned char* p = buf;
    *p++ = s_len;
    std::memcpy(p, stream.data(), stream.size());
    p += stream.size();
    *p++ = l_len;
    std::memcpy(p, subject.data(), subject.size());
    p += subject.size();
    if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
    return detail::xxh3(buf, total);
  }
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, &s_len, 1);
  XXH3_64bits_update(&state, stream.data(), stream.size());
  XXH3_64bits_update(&state, &l_len, 1);
  XXH3_64bits_update(&state, subject.data(), subject.size());
  XXH3_64bits_update(&state, payload.data(), payload.size());
  return XXH3_64bits_digest(&state);
}

/// Bytes of a datagram header for a stream name of `stream_len` bytes (17 + S).
constexpr std::size_t header_size(std::size_t stream_len) noexcept {
  return header_fixed_size + stream_len;
}

/// The most bytes one record with these subject and payload lengths can take, whatever its
/// sequence, timestamp and interval and whatever record precedes it:
/// 27 + varint_size(P) + L + P (flags, L, P, a 5-byte interval, two 10-byte deltas). The exact
/// size depends on the previous record; `datagram_writer::encoded_size` computes it.
constexpr std::size_t record_size(std::size_t subject_len, std::size_t payload_len) noexcept {
  return record_max_overhead - 3 + detail::varint_size(payload_len) + subject_len + payload_len;
}

/// The largest payload one record with this stream and subject is guaranteed to fit in an
/// empty datagram of `max_datagram_size` bytes, whatever its other fields: the largest P with
/// `header_size(S) + record_size(L, P) + trailer_size <= max_datagram_size`, capped at 65535.
/// Returns 0 also when not even an empty payload fits; check
/// `header_size(S) + record_size(L, 0) + trailer_size`.
constexpr std::size_t max_payload(std::size_t max_datagram_size, std::size_t stream_len,
                                  std::size_t subject_len) noexcept {
  // Everything but the payload and its length's varint.
  const std::size_t fixed = header_size(stream_len) + record_max_overhead - 3 + subject_len + trailer_size;
  if (max_datagram_size <= fixed) return 0;
  const std::size_t avail = max_datagram_size - fixed;  // for P + varint_size(P)
  if (avail >= (std::size_t{1} << 14) + 3) return std::min(avail - 3, max_payload_length);
  if (avail >= (std::size_t{1} << 7) + 2) return std::min<std::size_t>(avail - 2, (1u << 14) - 1);
  return std::min<std::size_t>(avail - 1, (1u << 7) - 1);
}

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
    assert(detail::is_valid_stream_name(stream));
    assert(header_size(stream.size()) + trailer_size <= capacity_);
    std::memcpy(buf_, magic, sizeof magic);
    buf_[4] = std::byte{version};
    buf_[5] = static_cast<std::byte>(kind::data);
    detail::store_u16(buf_ + 6, 0);
    detail::store_u64(buf_ + 8, publisher_id);
    buf_[16] = static_cast<std::byte>(stream.size());
    std::memcpy(buf_ + header_fixed_size, stream.data(), stream.size());
    pos_ = header_size(stream.size());
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

// Internal: the checks both datagram kinds start with, in the documented order: size, magic,
// version, kind, fixed header, non-empty stream name. errc{} when they pass.
inline errc check_common_header(std::span<const std::byte> bytes, std::size_t max_size, kind expected) noexcept {
  const std::byte* const d = bytes.data();
  const std::size_t n = bytes.size();
  if (n > max_size) return errc::oversize;
  if (n < 4) return errc::truncated;
  if (std::memcmp(d, magic, sizeof magic) != 0) return errc::bad_magic;
  if (n < 5) return errc::truncated;
  if (std::to_integer<std::uint8_t>(d[4]) != version) return errc::bad_version;
  if (n < 6) return errc::truncated;
  if (std::to_integer<std::uint8_t>(d[5]) != static_cast<std::uint8_t>(expected)) return errc::bad_kind;
  if (n < header_fixed_size) return errc::truncated;
  if (std::to_integer<std::size_t>(d[16]) == 0) return errc::bad_length;
  return errc{};
}

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

// ---------------------------------------------------------------------------------------------
// Snapshot requests (kind 2)
//
//   request = "RKTM" u8 version u8 kind=2 u16 range_count R u64 requester_id
//             u8 S, S bytes stream, u8 F, F bytes filter, u64 target_publisher,
//             R * (u64 first_sequence u64 last_sequence), u64 XXH3-64 of every byte before it

/// The kind of a datagram, from its first six bytes only (magic, version, kind), without
/// checking anything else: for routing before a full decode. Returns `kind{0}` when the bytes
/// are shorter than 6 or do not start with "RKTM" and version 3; otherwise byte 5 as it is
/// (which may be a kind this build does not know: `decode` then reports `bad_kind`).
inline kind peek_kind(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() < 6 || std::memcmp(bytes.data(), magic, sizeof magic) != 0 ||
      std::to_integer<std::uint8_t>(bytes[4]) != version)
    return kind{0};
  return static_cast<kind>(std::to_integer<std::uint8_t>(bytes[5]));
}

/// An inclusive range of sequence numbers, `1 <= first <= last`.
struct sequence_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  friend bool operator==(const sequence_range&, const sequence_range&) = default;
};

/// Most ranges one snapshot request may carry.
inline constexpr std::size_t max_request_ranges = 64;
/// Bytes of a snapshot request without stream name, filter and ranges:
/// 17 (header) + 1 (F) + 8 (target_publisher) + 8 (trailer).
inline constexpr std::size_t request_fixed_size = 34;
/// Bytes of one range in a snapshot request.
inline constexpr std::size_t request_range_size = 16;

/// Bytes of a snapshot request (34 + S + F + 16 R).
constexpr std::size_t request_size(std::size_t stream_len, std::size_t filter_len, std::size_t ranges) noexcept {
  return request_fixed_size + stream_len + filter_len + request_range_size * ranges;
}

/// The fields of a snapshot request, for `encode_request`.
///
/// - `filter` empty: every subject; otherwise a valid subject filter (`validate_filter`).
/// - `target_publisher` 0: every publisher of the stream answers, and `ranges` must be empty
///   (a full request). Non-zero: only that publisher answers; with `ranges` empty it re-sends
///   every cached subject that matches (a targeted full request), with ranges only the cached
///   subjects whose current sequence lies in one of them (a repair).
struct snapshot_request {
  std::uint64_t requester_id = 0;
  std::string_view stream{};
  std::string_view filter{};
  std::uint64_t target_publisher = 0;
  std::span<const sequence_range> ranges{};
};

/// Encodes `r` into `buffer` and returns the datagram (a view of `buffer`), or an empty span
/// when `r` is not a valid request (stream name, filter, more than `max_request_ranges`
/// ranges, ranges without a target, a range with `first == 0` or `first > last`) or does not
/// fit in `buffer`. Never allocates, never throws.
///
/// ```
/// std::array<std::byte, 512> buf;
/// auto dg = racket::wire::encode_request(buf, {.requester_id = id, .stream = "sensors", .filter = "plant.*"});
/// if (!dg.empty()) transport.send(ep, dg);
/// ```
inline std::span<const std::byte> encode_request(std::span<std::byte> buffer, const snapshot_request& r) noexcept {
  if (!detail::is_valid_stream_name(r.stream) || r.filter.size() > max_name_length ||
      (!r.filter.empty() && validate_filter(r.filter)) || r.ranges.size() > max_request_ranges ||
      (r.target_publisher == 0 && !r.ranges.empty()))
    return {};
  for (const sequence_range& g : r.ranges)
    if (g.first == 0 || g.first > g.last) return {};
  const std::size_t n = request_size(r.stream.size(), r.filter.size(), r.ranges.size());
  if (n > buffer.size() || n > max_datagram_size_limit) return {};
  std::byte* const d = buffer.data();
  std::memcpy(d, magic, sizeof magic);
  d[4] = std::byte{version};
  d[5] = static_cast<std::byte>(kind::snapshot_request);
  detail::store_u16(d + 6, static_cast<std::uint16_t>(r.ranges.size()));
  detail::store_u64(d + 8, r.requester_id);
  std::byte* p = d + header_fixed_size - 1;
  *p++ = static_cast<std::byte>(r.stream.size());
  std::memcpy(p, r.stream.data(), r.stream.size());
  p += r.stream.size();
  *p++ = static_cast<std::byte>(r.filter.size());
  if (!r.filter.empty()) std::memcpy(p, r.filter.data(), r.filter.size());
  p += r.filter.size();
  detail::store_u64(p, r.target_publisher);
  p += 8;
  for (const sequence_range& g : r.ranges) {
    detail::store_u64(p, g.first);
    detail::store_u64(p + 8, g.last);
    p += request_range_size;
  }
  detail::store_u64(p, detail::xxh3(d, n - trailer_size));
  return {d, n};
}

/// A decoded snapshot request. It points into the bytes given to `decode_request` and is valid
/// as long as they are. Only `decode_request` makes a non-empty one.
class request_view {
 public:
  /// An empty view (what `decode_request` returns on error).
  request_view() noexcept = default;

  std::uint64_t requester_id() const noexcept { return requester_id_; }
  std::string_view stream() const noexcept { return stream_; }
  /// The subject filter; empty means every subject. Valid (`validate_filter`) when not empty.
  std::string_view filter() const noexcept { return filter_; }
  /// 0: every publisher of the stream is asked; otherwise only the one with that id.
  std::uint64_t target_publisher() const noexcept { return target_publisher_; }
  /// 0 for a full request; at most `max_request_ranges`.
  std::size_t range_count() const noexcept { return range_count_; }
  /// Range `i` (`i < range_count()`): `1 <= first <= last`.
  sequence_range range(std::size_t i) const noexcept {
    assert(i < range_count_);
    const std::byte* p = ranges_ + i * request_range_size;
    return {detail::load_u64(p), detail::load_u64(p + 8)};
  }
  /// True for a request without ranges (every matching cached subject).
  bool full() const noexcept { return range_count_ == 0; }
  /// The whole datagram, trailer included.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  friend request_view decode_request(std::span<const std::byte>, std::error_code&, std::size_t) noexcept;

  std::span<const std::byte> bytes_;
  std::string_view stream_;
  std::string_view filter_;
  const std::byte* ranges_ = nullptr;
  std::uint64_t requester_id_ = 0;
  std::uint64_t target_publisher_ = 0;
  std::size_t range_count_ = 0;
};

/// Validates a snapshot request in one pass and returns a view of it. Treats the bytes as
/// hostile: never reads out of bounds, never throws, never allocates.
///
/// On success `ec` is cleared; on failure `ec` is set and an empty view is returned. Checks run
/// in this order, the first failure deciding the error (docs/wire-format.md, "Decoding a
/// snapshot request"):
///  1. size > `max_size`                                      → `errc::oversize`
///  2. fewer than 4 bytes → `truncated`; magic is not "RKTM"   → `errc::bad_magic`
///  3. fewer than 5 bytes → `truncated`; version != 3          → `errc::bad_version`
///  4. fewer than 6 bytes → `truncated`; kind != 2             → `errc::bad_kind`
///  5. fewer than 17 bytes                                     → `errc::truncated`
///  6. stream name length S == 0                               → `errc::bad_length`
///  7. fewer than 18 + S bytes (the filter length is missing)  → `errc::truncated`
///  8. fewer than 34 + S + F + 16 R bytes                      → `errc::truncated`
///  9. trailer != XXH3-64 of the bytes before it               → `errc::bad_checksum`
/// 10. more than 34 + S + F + 16 R bytes                       → `errc::bad_length`
/// 11. the stream name holds a NUL; the filter (F > 0) is not a valid filter; R > 64; R > 0
///     with target_publisher 0; a range with first == 0 or first > last → `errc::bad_record`
inline request_view decode_request(std::span<const std::byte> bytes, std::error_code& ec,
                                   std::size_t max_size = max_datagram_size_limit) noexcept {
  const auto fail = [&ec](errc e) noexcept {
    ec = make_error_code(e);
    return request_view{};
  };
  const std::byte* const d = bytes.data();
  const std::size_t n = bytes.size();
  if (const errc e = check_common_header(bytes, max_size, kind::snapshot_request); e != errc{}) return fail(e);
  const std::size_t s_len = std::to_integer<std::size_t>(d[16]);
  const std::size_t f_off = header_fixed_size + s_len;
  if (n < f_off + 1) return fail(errc::truncated);
  const std::size_t f_len = std::to_integer<std::size_t>(d[f_off]);
  const std::size_t r_count = detail::load_u16(d + 6);
  const std::size_t expected = request_size(s_len, f_len, r_count);
  if (n < expected) return fail(errc::truncated);
  const std::size_t trailer_off = n - trailer_size;
  if (detail::xxh3(d, trailer_off) != detail::load_u64(d + trailer_off)) return fail(errc::bad_checksum);
  if (n != expected) return fail(errc::bad_length);

  const std::string_view stream{reinterpret_cast<const char*>(d + header_fixed_size), s_len};
  const std::string_view filter{reinterpret_cast<const char*>(d + f_off + 1), f_len};
  const std::size_t target_off = f_off + 1 + f_len;
  const std::uint64_t target = detail::load_u64(d + target_off);
  const std::byte* const ranges = d + target_off + 8;
  if (std::memchr(stream.data(), 0, s_len) != nullptr || (f_len != 0 && validate_filter(filter)) ||
      r_count > max_request_ranges || (r_count != 0 && target == 0))
    return fail(errc::bad_record);
  for (std::size_t i = 0; i < r_count; ++i) {
    const std::uint64_t first = detail::load_u64(ranges + i * request_range_size);
    const std::uint64_t last = detail::load_u64(ranges + i * request_range_size + 8);
    if (first == 0 || first > last) return fail(errc::bad_record);
  }

  request_view v;
  v.bytes_ = bytes;
  v.stream_ = stream;
  v.filter_ = filter;
  v.ranges_ = ranges;
  v.requester_id_ = detail::load_u64(d + 8);
  v.target_publisher_ = target;
  v.range_count_ = r_count;
  ec.clear();
  return v;
}

}  // namespace racket::wire

namespace racket::detail {

// A set of sequence numbers as sorted, disjoint, non-adjacent inclusive ranges, holding at most
// `cap` ranges: past it, the two ranges with the smallest hole between them are merged (the
// set then covers a few numbers that were not added: a superset, never a subset). Publisher
// and subscriber use it for pending repairs.
class range_set {
 public:
  explicit range_set(std::size_t cap = wire::max_request_ranges) noexcept : cap_(std::max<std::size_t>(cap, 1)) {}

  bool empty() const noexcept { return ranges_.empty(); }
  std::size_t size() const noexcept { return ranges_.size(); }
  const std::vector<wire::sequence_range>& ranges() const noexcept { return ranges_; }
  void clear() noexcept { ranges_.clear(); }

  // Adds [first, last] (first <= last).
  void add(std::uint64_t first, std::uint64_t last) {
    assert(first <= last);
    // The first range that ends at or after first - 1 (adjacent ranges merge).
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), first, [](const wire::sequence_range& r, std::uint64_t v) {
      return r.last != UINT64_MAX && r.last + 1 < v;
    });
    if (it == ranges_.end() || (last != UINT64_MAX && last + 1 < it->first)) {
      ranges_.insert(it, wire::sequence_range{first, last});
    } else {
      it->first = std::min(it->first, first);
      it->last = std::max(it->last, last);
      auto next = it + 1;
      while (next != ranges_.end() && (it->last == UINT64_MAX || next->first <= it->last + 1)) {
        it->last = std::max(it->last, next->last);
        next = ranges_.erase(next);
      }
    }
    while (ranges_.size() > cap_) merge_smallest_hole();
  }

  void add(const wire::sequence_range& r) { add(r.first, r.last); }

  // Removes one number (splitting its range if need be).
  void remove(std::uint64_t v) {
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), v,
                               [](const wire::sequence_range& r, std::uint64_t x) { return r.last < x; });
    if (it == ranges_.end() || it->first > v) return;
    if (it->first == it->last) {
      ranges_.erase(it);
    } else if (it->first == v) {
      ++it->first;
    } else if (it->last == v) {
      --it->last;
    } else {
      const wire::sequence_range upper{v + 1, it->last};
      it->last = v - 1;
      ranges_.insert(it + 1, upper);
    }
  }

  bool contains(std::uint64_t v) const noexcept {
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), v,
                               [](const wire::sequence_range& r, std::uint64_t x) { return r.last < x; });
    return it != ranges_.end() && it->first <= v;
  }

  // Total count of numbers covered (saturating).
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (const auto& r : ranges_) {
      const std::uint64_t k = r.last - r.first + 1;
      n = (k == 0 || n + k < n) ? UINT64_MAX : n + k;
    }
    return n;
  }

 private:
  void merge_smallest_hole() {
    std::size_t best = 0;
    std::uint64_t best_hole = UINT64_MAX;
    for (std::size_t i = 0; i + 1 < ranges_.size(); ++i) {
      const std::uint64_t hole = ranges_[i + 1].first - ranges_[i].last;
      if (hole < best_hole) {
        best_hole = hole;
        best = i;
      }
    }
    ranges_[best].last = ranges_[best + 1].last;
    ranges_.erase(ranges_.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }

  std::vector<wire::sequence_range> ranges_;
  std::size_t cap_;
};

}  // namespace racket::detail
