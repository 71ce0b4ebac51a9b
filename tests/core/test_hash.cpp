// SPDX-License-Identifier: MIT
#include "racket/detail/hash.hpp"

#include "catch.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

using racket::detail::xxh3;

namespace {
// XXH3-64 (seed 0) by xxHash's scalar loop: the reference the dispatched loop must match.
std::uint64_t scalar_xxh3(const void* data, std::size_t size) {
  if (size <= XXH3_MIDSIZE_MAX) return XXH3_64bits(data, size);
  return XXH3_hashLong_64b_internal(data, size, XXH3_kSecret, sizeof(XXH3_kSecret), XXH3_accumulate_512_scalar,
                                    XXH3_scrambleAcc_scalar);
}
}  // namespace

TEST_CASE("xxh3: the same value as xxHash's scalar loop, at every size up to 4 KiB and at 64 KiB", "[hash]") {
  std::vector<std::byte> buf(65536 + 64);
  std::uint64_t x = 0x243F6A8885A308D3ull;
  for (auto& b : buf) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<std::byte>(x >> 56);
  }
  INFO("AVX2 loop in use: " << racket::detail::xxh3_uses_avx2());
  for (std::size_t size = 0; size <= 4096; ++size) {
    for (const std::size_t offset : {std::size_t{0}, std::size_t{3}}) {  // aligned or not
      const std::byte* p = buf.data() + offset;
      INFO("size " << size << ", offset " << offset);
      REQUIRE(xxh3(p, size) == scalar_xxh3(p, size));
    }
  }
  REQUIRE(xxh3(buf.data(), 65536) == scalar_xxh3(buf.data(), 65536));
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RACKET_NO_XXH3_DISPATCH)
  // Here the AVX2 loop is in use exactly where the CPU has AVX2.
  CHECK(racket::detail::xxh3_uses_avx2() == (__builtin_cpu_supports("avx2") != 0));
#endif
  // A published value: XXH3-64 of the empty input.
  CHECK(xxh3(nullptr, 0) == 0x2D06800538D394C2ull);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
namespace {
// Whether XGETBV can read XINUSE (ECX = 1): the OS enabled XSAVE (CPUID.1:ECX bit 27) and the
// CPU has XGETBV with ECX = 1 (CPUID.(EAX=0DH,ECX=1):EAX bit 2).
bool can_read_xinuse() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1u), "c"(0u));
  if ((c & (1u << 27)) == 0) return false;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xDu), "c"(1u));
  return (a & (1u << 2)) != 0;
}

// XINUSE bit 2: set while the upper halves of the YMM registers are not in their initial
// state (what vzeroupper restores).
bool ymm_upper_in_use() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1u));
  return (lo & (1u << 2)) != 0;
}
}  // namespace

TEST_CASE("xxh3: the AVX2 loop leaves the upper halves of the YMM registers clean", "[hash]") {
  // Left dirty, every legacy-SSE instruction after a checksum pays a merge with them (g++ 12
  // emitted no vzeroupper there by itself).
  if (!racket::detail::xxh3_uses_avx2() || !can_read_xinuse()) {
    WARN("no AVX2 loop or no XGETBV(1) here: nothing to check");
    return;
  }
  std::vector<std::byte> buf(1452, std::byte{0x5A});
  for (const std::size_t size : {std::size_t{241}, std::size_t{1452}}) {
    const std::uint64_t h = xxh3(buf.data(), size);
    const bool dirty = ymm_upper_in_use();
    INFO("size " << size << ", hash " << h);
    CHECK_FALSE(dirty);
  }
}
#endif
