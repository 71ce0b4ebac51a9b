// SPDX-License-Identifier: MIT
#pragma once

// XXH3-64 with seed 0, the one hash of Racket (subject and name hashes, datagram checksums),
// and which of xxHash's loops computes it; and the seeded hashes of the tables that hold what
// the network names (table_hash, id_hash: a per-process random seed, so nobody can pick
// names or ids that collide in them). Knows nothing of what is hashed or why.
//
// xxHash is used header-only. Two paths go past its public API, for speed:
//   - inputs of at most 16 bytes (subjects and names, hashed per record) call xxHash's short
//     path inline, not through XXH3_64bits and its size dispatch;
//   - datagram checksums hash 0.3-64 KB, where XXH3 runs its vector loop: on x86-64 that loop
//     is also built for AVX2 (with a target attribute, as xxHash's own xxh_x86dispatch.c does)
//     and picked at run time when the CPU has it, since a portable build only assumes SSE2.
//     Only where xxhash.h is first included here: a program that included it before Racket
//     keeps xxHash's default loop.
// Both call xxHash internals whose signatures change between releases (0.8.2 replaced the
// one-stripe XXH3_accumulate_512 argument of XXH3_hashLong_64b_internal by the many-stripe
// XXH3_accumulate), so they are used only with the releases they were checked against:
// 0.8.1, 0.8.2 and 0.8.3 (tests/core/test_hash.cpp checks the values and the AVX2 path; CI
// builds it against each). With any other xxhash.h every hash goes through the public
// XXH3_64bits: the same values, from the loop xxHash picks at compile time.
// Not under ThreadSanitizer: a clang 14 TSan build (-O1) of tests/net/test_threads.cpp stopped
// with SIGSEGV inside xxh3_long_avx2, called from wire::seal, with no race reported before it
// (docs/architecture.md, "ThreadSanitizer and the AVX2 hash"). The portable loop gives the
// same values.
#if !defined(RACKET_NO_XXH3_DISPATCH)
#if defined(__SANITIZE_THREAD__)
#define RACKET_NO_XXH3_DISPATCH 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RACKET_NO_XXH3_DISPATCH 1
#endif
#endif
#endif
#if !defined(XXH_VERSION_NUMBER) && !defined(RACKET_NO_XXH3_DISPATCH) && defined(__x86_64__) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__)
#define RACKET_XXH3_DISPATCH_WANTED 1
#include <immintrin.h>  // the AVX2 types and intrinsics, usable in target("avx2") functions
#ifndef XXH_DISPATCH_AVX2
#define XXH_DISPATCH_AVX2 1
#endif
#ifndef XXH_TARGET_AVX2
#define XXH_TARGET_AVX2 __attribute__((__target__("avx2")))
#endif
#endif

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

// RACKET_XXH3_ACCUMULATE(arch): the accumulate function XXH3_hashLong_64b_internal takes, in
// the releases whose internals Racket calls (RACKET_XXH3_INTERNALS).
#if XXH_VERSION_NUMBER == 801
#define RACKET_XXH3_INTERNALS 1
#define RACKET_XXH3_ACCUMULATE(arch) XXH3_accumulate_512_##arch
#elif XXH_VERSION_NUMBER == 802 || XXH_VERSION_NUMBER == 803
#define RACKET_XXH3_INTERNALS 1
#define RACKET_XXH3_ACCUMULATE(arch) XXH3_accumulate_##arch
#else
#define RACKET_XXH3_INTERNALS 0
#endif

#if defined(RACKET_XXH3_DISPATCH_WANTED) && RACKET_XXH3_INTERNALS
#define RACKET_XXH3_DISPATCH 1
#else
#define RACKET_XXH3_DISPATCH 0
#endif

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <string_view>

namespace racket::detail {

#if RACKET_XXH3_DISPATCH
// XXH3_hashLong_64b_internal's body, with its accumulator aligned for AVX2: that function
// aligns it to XXH_ACC_ALIGN, which follows the vector width the header was compiled for (16
// bytes for SSE2), while the AVX2 loop reads it as 32-byte vectors. Optimised builds happened
// to fold those reads into instructions that take any address; -O0 and ThreadSanitizer load
// them with vmovdqa and crashed (SIGSEGV) on the misaligned half of the stack slots.
__attribute__((__target__("avx2"))) inline std::uint64_t xxh3_long_avx2(const void* data, std::size_t size) noexcept {
  alignas(64) xxh_u64 acc[XXH_ACC_NB] = XXH3_INIT_ACC;
  XXH3_hashLong_internal_loop(acc, static_cast<const xxh_u8*>(data), size, XXH3_kSecret, sizeof(XXH3_kSecret),
                              RACKET_XXH3_ACCUMULATE(avx2), XXH3_scrambleAcc_avx2);
  const std::uint64_t h = XXH3_mergeAccs(acc, XXH3_kSecret + 11 /* XXH_SECRET_MERGEACCS_START */,
                                         static_cast<xxh_u64>(size) * XXH_PRIME64_1);
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

// XXH3-64 of `head` followed by `data`, as if they were one buffer, by the AVX2 loop: what a
// large message's content hash is (a few name bytes, then megabytes of payload), without
// xxHash's streaming API, whose update runs the loop the header was compiled for (SSE2: half
// the AVX2 speed, the largest hashing cost of a fragmented message). The long hash is a loop
// over 1 KiB blocks (the default secret's 16 stripes) carrying only its accumulator from one
// block to the next: the head and the data's first bytes are copied into whole blocks here,
// accumulated and scrambled, and the loop then goes on over the rest of `data` in place, which
// starts on a block boundary of the joined input. Preconditions: head_size <= 512,
// size > 1024 (so the rest is longer than a stripe).
inline constexpr std::size_t xxh3_prefixed_max_head = 512;
inline constexpr std::size_t xxh3_block_bytes = 1024;

__attribute__((__target__("avx2"))) inline std::uint64_t xxh3_prefixed_avx2(const void* head, std::size_t head_size,
                                                                           const void* data,
                                                                           std::size_t size) noexcept {
  constexpr std::size_t secret_size = sizeof(XXH3_kSecret);
  constexpr std::size_t stripes_per_block = (secret_size - XXH_STRIPE_LEN) / XXH_SECRET_CONSUME_RATE;
  static_assert(stripes_per_block * XXH_STRIPE_LEN == xxh3_block_bytes);
  alignas(64) xxh_u64 acc[XXH_ACC_NB] = XXH3_INIT_ACC;
  alignas(64) xxh_u8 first[xxh3_block_bytes];
  const std::size_t taken = xxh3_block_bytes - head_size;  // data bytes that complete the first block
  std::memcpy(first, head, head_size);
  std::memcpy(first + head_size, data, taken);
#if XXH_VERSION_NUMBER == 801
  XXH3_accumulate(acc, first, XXH3_kSecret, stripes_per_block, XXH3_accumulate_512_avx2);
#else
  XXH3_accumulate_avx2(acc, first, XXH3_kSecret, stripes_per_block);
#endif
  XXH3_scrambleAcc_avx2(acc, XXH3_kSecret + secret_size - XXH_STRIPE_LEN);
  XXH3_hashLong_internal_loop(acc, static_cast<const xxh_u8*>(data) + taken, size - taken, XXH3_kSecret, secret_size,
                              RACKET_XXH3_ACCUMULATE(avx2), XXH3_scrambleAcc_avx2);
  const std::uint64_t h = XXH3_mergeAccs(acc, XXH3_kSecret + 11 /* XXH_SECRET_MERGEACCS_START */,
                                         static_cast<xxh_u64>(head_size + size) * XXH_PRIME64_1);
  _mm256_zeroupper();  // as in xxh3_long_avx2
  return h;
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
#if RACKET_XXH3_INTERNALS
  // Subjects and names (most under 17 bytes, hashed per record): xxHash's short path inline,
  // not a call through XXH3_64bits and its size dispatch.
  if (size <= 16) return XXH3_len_0to16_64b(static_cast<const xxh_u8*>(data), size, XXH3_kSecret, 0);
#endif
#if RACKET_XXH3_DISPATCH
  if (size > XXH3_MIDSIZE_MAX && cpu_has_avx2()) return xxh3_long_avx2(data, size);
#endif
  return XXH3_64bits(data, size);
}

inline std::uint64_t xxh3(std::string_view s) noexcept { return xxh3(s.data(), s.size()); }

// XXH3-64 (seed 0) of `head` followed by `data`, as one input, for head_size <= 512 (names
// before a payload). Large inputs take the AVX2 loop where xxh3 would; everything else
// xxHash's streaming API. The same value either way.
inline std::uint64_t xxh3_prefixed(const void* head, std::size_t head_size, const void* data,
                                   std::size_t size) noexcept {
#if RACKET_XXH3_DISPATCH
  if (head_size <= xxh3_prefixed_max_head && size > xxh3_block_bytes && cpu_has_avx2())
    return xxh3_prefixed_avx2(head, head_size, data, size);
#endif
  XXH3_state_t state;
  XXH3_INITSTATE(&state);
  XXH3_64bits_reset(&state);
  XXH3_64bits_update(&state, head, head_size);
  XXH3_64bits_update(&state, data, size);
  return XXH3_64bits_digest(&state);
}

inline std::uint64_t xxh3(std::span<const std::byte> s) noexcept { return xxh3(s.data(), s.size()); }

// The seed of the tables that hold what the network names (subjects, stream names, publisher
// and requester ids: docs/security.md, "Hash flooding"): random per process, so a sender cannot
// choose keys that collide and make lookups linear. RACKET_HASH_SEED (a decimal number) in
// the environment fixes it, to replay a run exactly. Never on the wire: the mapping of stream
// names to groups and the content hashes use xxh3 above, seed 0.
inline std::uint64_t table_seed() noexcept {
  static const std::uint64_t seed = []() -> std::uint64_t {
    if (const char* fixed = std::getenv("RACKET_HASH_SEED")) return std::strtoull(fixed, nullptr, 10);
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }();
  return seed;
}

// XXH3-64 of a name with the table seed.
inline std::uint64_t table_hash(std::string_view s) noexcept {
  const std::uint64_t seed = table_seed();
#if RACKET_XXH3_INTERNALS
  if (s.size() <= 16) return XXH3_len_0to16_64b(reinterpret_cast<const xxh_u8*>(s.data()), s.size(), XXH3_kSecret, seed);
#endif
  return XXH3_64bits_withSeed(s.data(), s.size(), seed);
}

// For unordered maps keyed by a name (transparent: probed with a string_view).
struct table_name_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(table_hash(s)); }
};

// For unordered maps keyed by an id a sender picks (publisher, requester): the id mixed with
// the table seed (splitmix64's finaliser), not std::hash's identity, whose buckets an id's
// low bits choose.
struct id_hash {
  std::size_t operator()(std::uint64_t id) const noexcept {
    std::uint64_t z = id ^ table_seed();
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return static_cast<std::size_t>(z ^ (z >> 31));
  }
};

}  // namespace racket::detail
