// SPDX-License-Identifier: MIT
#pragma once

// The wire's byte primitives: little-endian fixed-width loads and stores, canonical unsigned
// LEB128 varints (their size, writing one, a fast read of validated bytes and a checked read of
// hostile ones), zigzag, and the all-zero scan of padding. Knows nothing of datagrams, records
// or where these fields sit in them.

#include "racket/detail/config.hpp"
#include "racket/error.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace racket::detail {

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
