// SPDX-License-Identifier: MIT
#pragma once

// Compiler hints and tiny helpers for the hot paths, in one place. Knows nothing of Racket.

// Small functions on every message's path (varints, subject checks) that compilers otherwise
// leave out of line.
#if defined(__GNUC__) || defined(__clang__)
#define RACKET_HOT_INLINE [[gnu::always_inline]] inline
#else
#define RACKET_HOT_INLINE inline
#endif

// The rare branches of a hot function, kept out of it: inlined, they cost it registers and
// stack on every call.
#if defined(__GNUC__) || defined(__clang__)
#define RACKET_NOINLINE [[gnu::noinline]]
#else
#define RACKET_NOINLINE
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace racket::detail {

// A hint to fetch the cache line holding `p` for reading; never faults, whatever `p` is.
// Both are forced inline: g++ finds a call whose only effect is a prefetch free of side
// effects and drops it.
RACKET_HOT_INLINE void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

// Prefetches the cache lines of the first bytes (up to 512) of [p, p + n).
RACKET_HOT_INLINE void prefetch_bytes(const void* p, std::size_t n) noexcept {
  const char* c = static_cast<const char*>(p);
  prefetch(c);
  if (n > 64) prefetch(c + 64);
  if (n > 128) prefetch(c + 128);
  if (n > 192) prefetch(c + 192);
  if (n > 256) prefetch(c + 256);
  if (n > 320) prefetch(c + 320);
  if (n > 384) prefetch(c + 384);
  if (n > 448) prefetch(c + 448);
}

// Whether the n bytes at a and b are the same, for sizeof(Word) <= n <= 2 * sizeof(Word): the
// first and the last Word of each side (overlapping when n < 2 * sizeof(Word)).
template <class Word>
RACKET_HOT_INLINE bool same_ends(const char* a, const char* b, std::size_t n) noexcept {
  Word a0, a1, b0, b1;
  std::memcpy(&a0, a, sizeof(Word));
  std::memcpy(&a1, a + n - sizeof(Word), sizeof(Word));
  std::memcpy(&b0, b, sizeof(Word));
  std::memcpy(&b1, b + n - sizeof(Word), sizeof(Word));
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

// Whether a and b hold the same bytes. The keys compared per message (subjects) are mostly 4
// to 16 bytes: two overlapping loads per side, not a call into memcmp.
RACKET_HOT_INLINE bool same_bytes(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  if (n >= 8 && n <= 16) return same_ends<std::uint64_t>(a.data(), b.data(), n);
  if (n >= 4 && n < 8) return same_ends<std::uint32_t>(a.data(), b.data(), n);
  return n == 0 || std::memcmp(a.data(), b.data(), n) == 0;
}

}  // namespace racket::detail
