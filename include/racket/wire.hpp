// Racket: broker-less publish/subscribe over IP multicast.
// SPDX-License-Identifier: MIT
#pragma once

// Wire format v1 (normative description: docs/wire-format.md).
//
//   datagram = header, record * record_count, trailer
//   header   = "RKTM" u8 version u8 kind u16 record_count u64 publisher_id u8 S, S bytes stream
//   record   = u8 flags u8 L u16 P u32 interval_ms u64 sequence u64 timestamp_ns
//              u64 content_hash, L bytes subject, P bytes payload
//   trailer  = u64 XXH3-64(seed 0) of every byte before it
//
// All integers are little-endian. Encoding and decoding assemble integers byte by byte,
// so the code is correct on any host byte order (compilers turn it into single loads).

#include "racket/detail/hash.hpp"
#include "racket/error.hpp"
#include "racket/subject.hpp"

#include <algorithm>
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

// TODO(lead): use validate_subject from subject.hpp
// A published subject: 1..255 bytes of dot-separated non-empty tokens, no `*`, no NUL.
inline bool is_valid_wire_subject(std::string_view s) noexcept {
  if (s.empty() || s.size() > 255) return false;
  char prev = '.';
  for (const char c : s) {
    if (c == '\0' || c == '*' || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return prev != '.';
}

// TODO(lead): use validate_stream_name from pool.hpp
// A stream name: 1..255 bytes, no NUL.
inline bool is_valid_wire_stream_name(std::string_view s) noexcept {
  return !s.empty() && s.size() <= 255 && std::memchr(s.data(), 0, s.size()) == nullptr;
}

inline std::uint16_t load_u16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) |
                                    std::to_integer<unsigned>(p[1]) << 8);
}

inline std::uint32_t load_u32(const std::byte* p) noexcept {
  return std::to_integer<std::uint32_t>(p[0]) | std::to_integer<std::uint32_t>(p[1]) << 8 |
         std::to_integer<std::uint32_t>(p[2]) << 16 | std::to_integer<std::uint32_t>(p[3]) << 24;
}

inline std::uint64_t load_u64(const std::byte* p) noexcept {
  return std::uint64_t{load_u32(p)} | std::uint64_t{load_u32(p + 4)} << 32;
}

inline void store_u16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v);
  p[1] = static_cast<std::byte>(v >> 8);
}

inline void store_u32(std::byte* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

inline void store_u64(std::byte* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

}  // namespace racket::detail

namespace racket::wire {

/// The wire version this build writes and the only one it decodes.
inline constexpr std::uint8_t version = 1;
/// The four magic bytes every datagram starts with: "RKTM".
inline constexpr std::byte magic[4] = {std::byte{0x52}, std::byte{0x4B}, std::byte{0x54},
                                       std::byte{0x4D}};

inline constexpr std::size_t header_fixed_size = 17;   ///< header without the stream name
inline constexpr std::size_t record_header_size = 32;  ///< record without subject and payload
inline constexpr std::size_t trailer_size = 8;         ///< the checksum

/// Fits one 1500-byte Ethernet MTU over IPv6 and IPv4 without fragmentation (1500 - 40 - 8).
inline constexpr std::size_t default_max_datagram_size = 1452;
/// The largest UDP payload over IPv4 (65535 - 20 - 8); nothing larger is written or accepted.
inline constexpr std::size_t max_datagram_size_limit = 65507;
/// The longest stream name and subject (their length fields are one byte).
inline constexpr std::size_t max_name_length = 255;
/// The largest payload length field (u16); the datagram size limits it further.
inline constexpr std::size_t max_payload_length = 65535;
/// The smallest datagram that decodes: one-byte stream, one record with a one-byte subject.
inline constexpr std::size_t min_datagram_size = 59;

/// What a datagram carries (byte 5). `peek_kind` returns `kind{0}` for bytes that are not a
/// version-1 Racket datagram; any other unknown value is passed through as it is.
enum class kind : std::uint8_t {
  data = 1,              ///< message records of one stream (`decode`)
  snapshot_request = 2,  ///< a subscriber asks publishers to re-send cached subjects (`decode_request`)
};

/// Bits of `record::flags`. Every other bit must be zero.
namespace flags {
inline constexpr std::uint8_t tombstone = 0x01;  ///< the subject is withdrawn; payload is empty
inline constexpr std::uint8_t resend = 0x02;     ///< a periodic resend of an earlier message
/// A re-send of a cached value in answer to a snapshot request: it carries a NEW sequence
/// number (so its loss shows as a gap), the original timestamp and content hash. Never
/// together with `resend`.
inline constexpr std::uint8_t snapshot = 0x04;
/// Every flag bit version 1 defines.
inline constexpr std::uint8_t known = tombstone | resend | snapshot;
}  // namespace flags

/// One message record. When it comes from `decode`, `subject` and `payload` point into the
/// datagram's bytes and are valid as long as they are.
struct record {
  std::uint8_t flags = 0;          ///< `wire::flags` bits
  std::uint32_t interval_ms = 0;   ///< resend interval; 0 = one-shot event
  std::uint64_t sequence = 0;      ///< per (publisher, stream), starts at 1; 0 is invalid
  std::uint64_t timestamp_ns = 0;  ///< publisher's wall clock, ns since the Unix epoch
  std::uint64_t content_hash = 0;  ///< `wire::content_hash(stream, subject, payload)`
  std::string_view subject;        ///< a valid published subject (1..255 bytes)
  std::span<const std::byte> payload;

  bool tombstone() const noexcept { return (flags & wire::flags::tombstone) != 0; }
  bool resend() const noexcept { return (flags & wire::flags::resend) != 0; }
  bool snapshot() const noexcept { return (flags & wire::flags::snapshot) != 0; }
};

/// XXH3-64 (seed 0) over: u8 stream length, stream, u8 subject length, subject, payload.
/// The publisher stamps it on every record; subscribers use it to suppress duplicates.
/// Precondition: stream and subject are at most 255 bytes. Allocates nothing.
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

/// Bytes of one record (32 + L + P).
constexpr std::size_t record_size(std::size_t subject_len, std::size_t payload_len) noexcept {
  return record_header_size + subject_len + payload_len;
}

/// The largest payload one record with this stream and subject can carry in a datagram of
/// `max_datagram_size` bytes (capped at 65535, the payload length field). Returns 0 also when
/// not even an empty payload fits; check `header_size(S) + record_size(L, 0) + trailer_size`.
constexpr std::size_t max_payload(std::size_t max_datagram_size, std::size_t stream_len,
                                  std::size_t subject_len) noexcept {
  const std::size_t overhead = header_size(stream_len) + record_size(subject_len, 0) + trailer_size;
  if (max_datagram_size <= overhead) return 0;
  return std::min(max_datagram_size - overhead, max_payload_length);
}

/// Writes one datagram at a time into a caller-owned buffer. Allocates nothing, never throws.
///
/// The buffer's size is the maximum datagram size (anything above 65507 is not used).
/// `begin` starts a datagram for one stream, `append` adds records while they fit, `finish`
/// patches the record count, appends the checksum and returns the datagram. Not thread safe.
///
/// ```
/// std::array<std::byte, racket::wire::default_max_datagram_size> buf;
/// racket::wire::datagram_writer w{buf};
/// w.begin(publisher_id, "sensors");
/// if (!w.append({.interval_ms = 1000, .sequence = 1, .timestamp_ns = now,
///                .content_hash = racket::wire::content_hash("sensors", "plant.temp", bytes),
///                .subject = "plant.temp", .payload = bytes})) { /* full: finish, send, begin */ }
/// transport.send(ep, w.finish());
/// ```
class datagram_writer {
  // No datagram within the size limit can hold more records than the u16 count field allows.
  static_assert((max_datagram_size_limit - header_size(1) - trailer_size) / record_size(1, 0) <= 0xFFFF);

 public:
  /// `buffer` must outlive the writer and every span `finish` returns.
  explicit datagram_writer(std::span<std::byte> buffer) noexcept
      : buf_(buffer.data()), capacity_(std::min(buffer.size(), max_datagram_size_limit)) {}

  /// Starts a new datagram, discarding any unfinished one.
  /// Preconditions: `stream` is a valid stream name (1..255 bytes, no NUL) and
  /// `header_size(stream.size()) + trailer_size` fits the buffer.
  void begin(std::uint64_t publisher_id, std::string_view stream) noexcept {
    assert(detail::is_valid_wire_stream_name(stream));
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
  }

  /// Whether a record with these subject and payload lengths still fits (also false if a
  /// length exceeds its field: subject 255, payload 65535).
  bool fits(std::size_t subject_len, std::size_t payload_len) const noexcept {
    return subject_len <= max_name_length && payload_len <= max_payload_length &&
           record_size(subject_len, payload_len) <= capacity_ - trailer_size - pos_;
  }

  /// Appends `r` and returns true, or returns false and writes nothing if it does not fit.
  /// Preconditions: `begin` was called; `r.subject` is a valid published subject;
  /// `r.sequence != 0`; a tombstone has an empty payload; only known flag bits are set, and
  /// not `resend` together with `snapshot`.
  bool append(const record& r) noexcept {
    assert(detail::is_valid_wire_subject(r.subject));
    assert(r.sequence != 0 && (r.flags & ~flags::known) == 0);
    assert(!r.resend() || !r.snapshot());
    assert(!r.tombstone() || r.payload.empty());
    if (!fits(r.subject.size(), r.payload.size())) return false;
    std::byte* p = buf_ + pos_;
    p[0] = std::byte{r.flags};
    p[1] = static_cast<std::byte>(r.subject.size());
    detail::store_u16(p + 2, static_cast<std::uint16_t>(r.payload.size()));
    detail::store_u32(p + 4, r.interval_ms);
    detail::store_u64(p + 8, r.sequence);
    detail::store_u64(p + 16, r.timestamp_ns);
    detail::store_u64(p + 24, r.content_hash);
    std::memcpy(p + record_header_size, r.subject.data(), r.subject.size());
    if (!r.payload.empty())
      std::memcpy(p + record_header_size + r.subject.size(), r.payload.data(), r.payload.size());
    pos_ += record_size(r.subject.size(), r.payload.size());
    ++count_;
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

  /// Patches the record count, appends the checksum and returns the datagram (a view of the
  /// buffer, valid until the next `begin`). Precondition: at least one record was appended.
  std::span<const std::byte> finish() noexcept {
    assert(count_ > 0);
    detail::store_u16(buf_ + 6, static_cast<std::uint16_t>(count_));
    detail::store_u64(buf_ + pos_, detail::xxh3(buf_, pos_));
    return {buf_, pos_ + trailer_size};
  }

 private:
  std::byte* buf_;
  std::size_t capacity_;
  std::size_t pos_ = 0;
  std::size_t count_ = 0;
};

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
  /// Forward iterator over the records. `*it` returns the record by value (it is parsed from
  /// the datagram's bytes; its views point into them), so `const record& r = *it;` is safe.
  class iterator {
   public:
    using iterator_concept = std::forward_iterator_tag;
    using iterator_category = std::input_iterator_tag;  // C++17: reference is not a reference
    using value_type = record;
    using difference_type = std::ptrdiff_t;
    using reference = record;

    /// What `operator->` returns: holds the parsed record.
    struct arrow_proxy {
      record r;
      const record* operator->() const noexcept { return &r; }
    };

    iterator() noexcept = default;

    record operator*() const noexcept {
      const std::size_t l = std::to_integer<std::size_t>(pos_[1]);
      record r;
      r.flags = std::to_integer<std::uint8_t>(pos_[0]);
      r.interval_ms = detail::load_u32(pos_ + 4);
      r.sequence = detail::load_u64(pos_ + 8);
      r.timestamp_ns = detail::load_u64(pos_ + 16);
      r.content_hash = detail::load_u64(pos_ + 24);
      r.subject = {reinterpret_cast<const char*>(pos_ + record_header_size), l};
      r.payload = {pos_ + record_header_size + l, detail::load_u16(pos_ + 2)};
      return r;
    }
    arrow_proxy operator->() const noexcept { return {**this}; }
    iterator& operator++() noexcept {
      pos_ += record_size(std::to_integer<std::size_t>(pos_[1]), detail::load_u16(pos_ + 2));
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
    explicit iterator(const std::byte* pos) noexcept : pos_(pos) {}

    const std::byte* pos_ = nullptr;
  };

  /// An empty view (what `decode` returns on error): no records, all fields zero.
  datagram_view() noexcept = default;

  std::uint8_t version() const noexcept { return version_; }
  kind datagram_kind() const noexcept { return kind_; }
  std::uint16_t record_count() const noexcept { return record_count_; }
  std::uint64_t publisher_id() const noexcept { return publisher_id_; }
  std::string_view stream() const noexcept { return stream_; }
  /// The whole datagram, trailer included.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

  iterator begin() const noexcept { return iterator{records_begin_}; }
  iterator end() const noexcept { return iterator{records_end_}; }

 private:
  friend datagram_view decode(std::span<const std::byte>, std::error_code&, std::size_t) noexcept;

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
///  3. fewer than 5 bytes → `truncated`; version != 1          → `errc::bad_version`
///  4. fewer than 6 bytes → `truncated`; kind != 1             → `errc::bad_kind`
///  5. fewer than 17 bytes                                     → `errc::truncated`
///  6. stream name length S == 0                               → `errc::bad_length`
///  7. fewer than 17 + S + 8 bytes                             → `errc::truncated`
///  8. trailer != XXH3-64 of the bytes before it               → `errc::bad_checksum`
///  9. record_count == 0, or the stream name holds a NUL       → `errc::bad_record`
/// 10. per record, in order: its 32-byte header, or its subject and payload, extend past the
///     trailer → `errc::bad_length`; L == 0, an unknown flag bit, `resend` with `snapshot`,
///     sequence 0, a tombstone with a payload, or an invalid subject → `errc::bad_record`
/// 11. bytes left between the last record and the trailer      → `errc::bad_length`
inline datagram_view decode(std::span<const std::byte> bytes, std::error_code& ec,
                            std::size_t max_size = max_datagram_size_limit) noexcept {
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

  std::size_t off = records_off;
  for (std::uint16_t i = 0; i < count; ++i) {
    // off <= trailer_off holds throughout, so the subtractions cannot wrap.
    if (trailer_off - off < record_header_size) return fail(errc::bad_length);
    const std::byte* r = d + off;
    const std::size_t l = std::to_integer<std::size_t>(r[1]);
    const std::size_t p = detail::load_u16(r + 2);
    if (trailer_off - off - record_header_size < l + p) return fail(errc::bad_length);
    const auto f = std::to_integer<std::uint8_t>(r[0]);
    const std::string_view subject{reinterpret_cast<const char*>(r + record_header_size), l};
    constexpr std::uint8_t resend_and_snapshot = flags::resend | flags::snapshot;
    if ((f & ~flags::known) != 0 || (f & resend_and_snapshot) == resend_and_snapshot ||
        detail::load_u64(r + 8) == 0 ||
        ((f & flags::tombstone) != 0 && p != 0) || !detail::is_valid_wire_subject(subject))
      return fail(errc::bad_record);
    off += record_size(l, p);
  }
  if (off != trailer_off) return fail(errc::bad_length);

  datagram_view v;
  v.bytes_ = bytes;
  v.stream_ = stream;
  v.records_begin_ = d + records_off;
  v.records_end_ = d + trailer_off;
  v.publisher_id_ = detail::load_u64(d + 8);
  v.record_count_ = count;
  v.version_ = version;
  v.kind_ = kind::data;
  ec.clear();
  return v;
}

// ---------------------------------------------------------------------------------------------
// Snapshot requests (kind 2)
//
//   request = "RKTM" u8 version u8 kind=2 u16 range_count R u64 requester_id
//             u8 S, S bytes stream, u8 F, F bytes filter, u64 target_publisher,
//             R * (u64 first_sequence u64 last_sequence), u64 XXH3-64 of every byte before it

/// The kind of a datagram, from its first six bytes only (magic, version, kind), without
/// checking anything else: for routing before a full decode. Returns `kind{0}` when the bytes
/// are shorter than 6 or do not start with "RKTM" and version 1; otherwise byte 5 as it is
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
  if (!detail::is_valid_wire_stream_name(r.stream) || r.filter.size() > max_name_length ||
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
///  3. fewer than 5 bytes → `truncated`; version != 1          → `errc::bad_version`
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
