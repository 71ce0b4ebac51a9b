// SPDX-License-Identifier: MIT
#pragma once

// xxHash is used header-only: every hash in Racket is XXH3-64 with seed 0.
//
// Datagram checksums hash 0.3-64 KB, where XXH3 runs its vector loop: on x86-64 that loop is
// also built for AVX2 (with a target attribute, as xxHash's own xxh_x86dispatch.c does) and
// picked at run time when the CPU has it, since a portable build only assumes SSE2. The result
// is the same XXH3 value either way. Only where xxhash.h is first included here: a program
// that included it before Racket keeps xxHash's default loop.
#if !defined(XXH_VERSION_NUMBER) && !defined(RACKET_NO_XXH3_DISPATCH) && defined(__x86_64__) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__)
#define RACKET_XXH3_DISPATCH 1
#include <immintrin.h>  // the AVX2 types and intrinsics, usable in target("avx2") functions
#ifndef XXH_DISPATCH_AVX2
#define XXH_DISPATCH_AVX2 1
#endif
#ifndef XXH_TARGET_AVX2
#define XXH_TARGET_AVX2 __attribute__((__target__("avx2")))
#endif
#else
#define RACKET_XXH3_DISPATCH 0
#endif

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace racket::detail {

#if RACKET_XXH3_DISPATCH
__attribute__((__target__("avx2"))) inline std::uint64_t xxh3_long_avx2(const void* data, std::size_t size) noexcept {
  const std::uint64_t h = XXH3_hashLong_64b_internal(data, size, XXH3_kSecret, sizeof(XXH3_kSecret),
                                                     XXH3_accumulate_512_avx2, XXH3_scrambleAcc_avx2);
  // Clean the upper halves of the YMM registers before returning to code built for SSE2.
  // g++ 12 emits no vzeroupper here when it keeps XXH3_mergeAccs out of line (it did in
  // Racket's own programs), and with the upper state dirty every legacy-SSE instruction
  // that follows (the subject checks, the decoder's vector moves) carries a false
  // dependency and a merge: the decoder's hottest instructions were SSE ones right after it.
  _mm256_zeroupper();
  return h;
}

inline bool cpu_has_avx2() noexcept {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

// Whether inputs longer than 240 bytes are hashed by the AVX2 loop.
inline bool xxh3_uses_avx2() noexcept {
#if RACKET_XXH3_DISPATCH
  return cpu_has_avx2();
#elif defined(__AVX2__)
  return true;
#else
  return false;
#endif
}

inline std::uint64_t xxh3(const void* data, std::size_t size) noexcept {
  // Subjects and names (most under 17 bytes, hashed per record): xxHash's short path inline,
  // not a call through XXH3_64bits and its size dispatch.
  if (size <= 16) return XXH3_len_0to16_64b(static_cast<const xxh_u8*>(data), size, XXH3_kSecret, 0);
#if RACKET_XXH3_DISPATCH
  if (size > XXH3_MIDSIZE_MAX && cpu_has_avx2()) return xxh3_long_avx2(data, size);
#endif
  return XXH3_64bits(data, size);
}

inline std::uint64_t xxh3(std::string_view s) noexcept { return xxh3(s.data(), s.size()); }

inline std::uint64_t xxh3(std::span<const std::byte> s) noexcept { return xxh3(s.data(), s.size()); }

}  // namespace racket::detail
