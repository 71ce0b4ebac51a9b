// SPDX-License-Identifier: MIT
#pragma once

// What wire format v3's bytes are (normative description: docs/wire-format.md): version,
// magic, datagram kinds, record flags, sizes and limits, the `record` a data datagram carries,
// the size functions, `content_hash`, and the checks of the header both kinds of datagram start
// with (`peek_kind` routes on them). Knows nothing of how datagrams are written or walked, nor
// of a request's fields.
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
#include "racket/detail/wire_bytes.hpp"
#include "racket/error.hpp"
#include "racket/subject.hpp"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace racket::detail {

// A published subject: 1..255 bytes of dot-separated non-empty tokens, no `*`, no NUL
// (subject.hpp's rules, checked eight bytes at a time: this runs on every received record).
RACKET_HOT_INLINE bool is_valid_wire_subject(std::string_view s) noexcept { return is_valid_subject(s); }

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
  sealed = 4,            ///< a keyed stream's datagram, sealed whole (security/sealer.hpp)
};

/// A sealed datagram (kind 4, docs/wire-format.md): its clear header, the tag after the
/// inner datagram, and what sealing adds to a datagram. A keyed publisher fills
/// `max_datagram_size - seal_overhead` bytes of inner datagram.
inline constexpr std::size_t sealed_header_size = 36;
inline constexpr std::size_t seal_tag_size = 16;
inline constexpr std::size_t seal_overhead = sealed_header_size + seal_tag_size;

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
  constexpr std::size_t small = 512;
  const std::size_t names = 2 + stream.size() + subject.size();
  // total <= small, written so that it cannot wrap: g++ -O3 otherwise followed a wrapped sum
  // into the branch with a 20,000-byte payload and warned of a write past `buf`
  // (-Wstringop-overflow, tests/wire/test_fragment.cpp built alone).
  if (payload.size() <= small && names <= small - payload.size()) {
    const std::size_t total = names + payload.size();
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
  // Longer: the names in a small buffer, the payload where it is (detail::xxh3_prefixed).
  unsigned char head[2 + 2 * max_name_length];
  unsigned char* p = head;
  *p++ = s_len;
  std::memcpy(p, stream.data(), stream.size());
  p += stream.size();
  *p++ = l_len;
  std::memcpy(p, subject.data(), subject.size());
  p += subject.size();
  return detail::xxh3_prefixed(head, static_cast<std::size_t>(p - head), payload.data(), payload.size());
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

}  // namespace racket::wire
