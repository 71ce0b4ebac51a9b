// SPDX-License-Identifier: MIT
#pragma once

// Snapshot and repair requests (kind 2), which subscribers send to a stream's publishers:
// `snapshot_request` and `encode_request` write one, `decode_request` validates one and
// `request_view` reads it. Knows nothing of data records.
//
//   request = "RKTM" u8 version u8 kind=2 u16 range_count R u64 requester_id
//             u8 S, S bytes stream, u8 F, F bytes filter, u64 target_publisher,
//             R * (u64 first_sequence u64 last_sequence),
//             [u8 Q, Q * (u64 sequence, u32 first_fragment, u32 last_fragment)],
//             u64 XXH3-64 of every byte before it
//
// The fragment section (Q >= 1) names missing fragments of partly received large messages
// (docs/wire-format.md, "Fragment ranges in a repair request"); without it the bytes are the
// request as it was before fragments.

#include "racket/detail/hash.hpp"
#include "racket/detail/wire_bytes.hpp"
#include "racket/error.hpp"
#include "racket/stream_name.hpp"
#include "racket/subject.hpp"
#include "racket/wire/format.hpp"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <system_error>

namespace racket::wire {

/// An inclusive range of sequence numbers, `1 <= first <= last`.
struct sequence_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  friend bool operator==(const sequence_range&, const sequence_range&) = default;
};

/// Inclusive fragment indexes of one message (`sequence`) a repair request asks for:
/// `sequence >= 1`, `first <= last`.
struct fragment_range {
  std::uint64_t sequence = 0;
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  friend bool operator==(const fragment_range&, const fragment_range&) = default;
};

/// Most ranges one snapshot request may carry.
inline constexpr std::size_t max_request_ranges = 64;
/// Most fragment ranges one request may carry.
inline constexpr std::size_t max_request_fragment_ranges = 64;
/// Bytes of one fragment range in a request.
inline constexpr std::size_t request_fragment_range_size = 16;
/// Bytes of a snapshot request without stream name, filter and ranges:
/// 17 (header) + 1 (F) + 8 (target_publisher) + 8 (trailer).
inline constexpr std::size_t request_fixed_size = 34;
/// Bytes of one range in a snapshot request.
inline constexpr std::size_t request_range_size = 16;

/// Bytes of a snapshot request: 34 + S + F + 16 R, plus 1 + 16 Q with Q >= 1 fragment ranges.
constexpr std::size_t request_size(std::size_t stream_len, std::size_t filter_len, std::size_t ranges,
                                   std::size_t fragment_ranges = 0) noexcept {
  return request_fixed_size + stream_len + filter_len + request_range_size * ranges +
         (fragment_ranges == 0 ? 0 : 1 + request_fragment_range_size * fragment_ranges);
}

/// The fields of a snapshot request, for `encode_request`.
///
/// - `filter` empty: every subject; otherwise a valid subject filter (`validate_filter`).
/// - `target_publisher` 0: every publisher of the stream answers, and `ranges` must be empty
///   (a full request). Non-zero: only that publisher answers; with `ranges` empty it re-sends
///   every cached subject that matches (a targeted full request), with ranges only the cached
///   subjects whose current sequence lies in one of them (a repair).
/// - `fragments`: fragments of partly received messages of `target_publisher` (non-zero) to
///   re-send; with `ranges` empty the request asks for nothing else (it is not a full request).
struct snapshot_request {
  std::uint64_t requester_id = 0;
  std::string_view stream{};
  std::string_view filter{};
  std::uint64_t target_publisher = 0;
  std::span<const sequence_range> ranges{};
  std::span<const fragment_range> fragments{};
};

/// Encodes `r` into `buffer` and returns the datagram (a view of `buffer`), or an empty span
/// when `r` is not a valid request (stream name, filter, more than `max_request_ranges`
/// ranges or `max_request_fragment_ranges` fragment ranges, ranges without a target, a range
/// with `first == 0` or `first > last`, a fragment range with sequence 0 or `first > last`) or
/// does not fit in `buffer`. Never allocates, never throws.
///
/// ```
/// std::array<std::byte, 512> buf;
/// auto dg = racket::wire::encode_request(buf, {.requester_id = id, .stream = "sensors", .filter = "plant.*"});
/// if (!dg.empty()) transport.send(ep, dg);
/// ```
inline std::span<const std::byte> encode_request(std::span<std::byte> buffer, const snapshot_request& r) noexcept {
  if (!detail::is_valid_stream_name(r.stream) || r.filter.size() > max_name_length ||
      (!r.filter.empty() && validate_filter(r.filter)) || r.ranges.size() > max_request_ranges ||
      (r.target_publisher == 0 && (!r.ranges.empty() || !r.fragments.empty())) ||
      r.fragments.size() > max_request_fragment_ranges)
    return {};
  for (const sequence_range& g : r.ranges)
    if (g.first == 0 || g.first > g.last) return {};
  for (const fragment_range& g : r.fragments)
    if (g.sequence == 0 || g.first > g.last) return {};
  const std::size_t n = request_size(r.stream.size(), r.filter.size(), r.ranges.size(), r.fragments.size());
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
  if (!r.fragments.empty()) {
    *p++ = static_cast<std::byte>(r.fragments.size());
    for (const fragment_range& g : r.fragments) {
      detail::store_u64(p, g.sequence);
      detail::store_u32(p + 8, g.first);
      detail::store_u32(p + 12, g.last);
      p += request_fragment_range_size;
    }
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
  /// 0 without a fragment section; at most `max_request_fragment_ranges`.
  std::size_t fragment_range_count() const noexcept { return fragment_count_; }
  /// Fragment range `i` (`i < fragment_range_count()`): `sequence >= 1`, `first <= last`.
  fragment_range fragment_range_at(std::size_t i) const noexcept {
    assert(i < fragment_count_);
    const std::byte* p = fragments_ + i * request_fragment_range_size;
    return {detail::load_u64(p), detail::load_u32(p + 8), detail::load_u32(p + 12)};
  }
  /// True for a request without ranges nor fragment ranges (every matching cached subject).
  bool full() const noexcept { return range_count_ == 0 && fragment_count_ == 0; }
  /// The whole datagram, trailer included.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  friend request_view decode_request(std::span<const std::byte>, std::error_code&, std::size_t) noexcept;

  std::span<const std::byte> bytes_;
  std::string_view stream_;
  std::string_view filter_;
  const std::byte* ranges_ = nullptr;
  const std::byte* fragments_ = nullptr;
  std::uint64_t requester_id_ = 0;
  std::uint64_t target_publisher_ = 0;
  std::size_t range_count_ = 0;
  std::size_t fragment_count_ = 0;
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
///  8a. more, and fewer than 35 + S + F + 16 R + 16 Q, Q being the byte after the ranges
///                                                             → `errc::truncated`
///  9. trailer != XXH3-64 of the bytes before it               → `errc::bad_checksum`
/// 10. neither 34 + S + F + 16 R nor 35 + S + F + 16 R + 16 Q bytes → `errc::bad_length`
/// 11. the stream name holds a NUL; the filter (F > 0) is not a valid filter; R > 64; R > 0
///     with target_publisher 0; a range with first == 0 or first > last; with a fragment
///     section: Q == 0 or Q > 64, target_publisher 0, a fragment range with sequence 0 or
///     first > last                                            → `errc::bad_record`
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
  const std::size_t base = request_size(s_len, f_len, r_count);
  if (n < base) return fail(errc::truncated);
  // A fragment section, when there are bytes past the ranges: its count Q comes first.
  const std::size_t q_off = base - trailer_size;
  const std::size_t q_count = n > base ? std::to_integer<std::size_t>(d[q_off]) : 0;
  const std::size_t with_fragments = base + 1 + request_fragment_range_size * q_count;
  if (n > base && n < with_fragments) return fail(errc::truncated);
  const std::size_t trailer_off = n - trailer_size;
  if (detail::xxh3(d, trailer_off) != detail::load_u64(d + trailer_off)) return fail(errc::bad_checksum);
  if (n != base && n != with_fragments) return fail(errc::bad_length);
  const bool has_fragments = n != base;

  const std::string_view stream{reinterpret_cast<const char*>(d + header_fixed_size), s_len};
  const std::string_view filter{reinterpret_cast<const char*>(d + f_off + 1), f_len};
  const std::size_t target_off = f_off + 1 + f_len;
  const std::uint64_t target = detail::load_u64(d + target_off);
  const std::byte* const ranges = d + target_off + 8;
  if (std::memchr(stream.data(), 0, s_len) != nullptr || (f_len != 0 && validate_filter(filter)) ||
      r_count > max_request_ranges || (r_count != 0 && target == 0) ||
      (has_fragments && (q_count == 0 || q_count > max_request_fragment_ranges || target == 0)))
    return fail(errc::bad_record);
  for (std::size_t i = 0; i < r_count; ++i) {
    const std::uint64_t first = detail::load_u64(ranges + i * request_range_size);
    const std::uint64_t last = detail::load_u64(ranges + i * request_range_size + 8);
    if (first == 0 || first > last) return fail(errc::bad_record);
  }
  const std::byte* const fragments = d + q_off + 1;
  for (std::size_t i = 0; has_fragments && i < q_count; ++i) {
    const std::byte* g = fragments + i * request_fragment_range_size;
    if (detail::load_u64(g) == 0 || detail::load_u32(g + 8) > detail::load_u32(g + 12)) return fail(errc::bad_record);
  }

  request_view v;
  v.bytes_ = bytes;
  v.stream_ = stream;
  v.filter_ = filter;
  v.ranges_ = ranges;
  v.fragments_ = has_fragments ? fragments : nullptr;
  v.fragment_count_ = has_fragments ? q_count : 0;
  v.requester_id_ = detail::load_u64(d + 8);
  v.target_publisher_ = target;
  v.range_count_ = r_count;
  ec.clear();
  return v;
}

}  // namespace racket::wire
