// SPDX-License-Identifier: MIT
#include "racket/detail/hash.hpp"

#include "catch.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using racket::detail::xxh3;

namespace {
// XXH3-64 (seed 0) by xxHash's scalar loop: the reference the dispatched loop must match. Only
// through the internals Racket calls itself; with another release, xxh3 is XXH3_64bits anyway.
std::uint64_t scalar_xxh3(const void* data, std::size_t size) {
#if RACKET_XXH3_INTERNALS
  if (size > XXH3_MIDSIZE_MAX)
    return XXH3_hashLong_64b_internal(data, size, XXH3_kSecret, sizeof(XXH3_kSecret), RACKET_XXH3_ACCUMULATE(scalar),
                                      XXH3_scrambleAcc_scalar);
#endif
  return XXH3_64bits(data, size);
}

// The same pseudo-random bytes in every test (and every release of xxHash).
std::vector<std::byte> test_bytes() {
  std::vector<std::byte> buf(65536 + 64);
  std::uint64_t x = 0x243F6A8885A308D3ull;
  for (auto& b : buf) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<std::byte>(x >> 56);
  }
  return buf;
}
}  // namespace

TEST_CASE("xxh3: fixed values, the same with every xxHash release and on every path", "[hash]") {
  // XXH3-64 of test_bytes() at `offset`, `size` bytes long: from XXH3_64bits of xxHash 0.8.1
  // (0.8.2 and 0.8.3 give the same). Sizes on both sides of every path: the inline short path
  // (0-16), xxHash's 17-128 and 129-240 paths, and the long loop (AVX2 where dispatched).
  struct sample {
    std::size_t size, offset;
    std::uint64_t hash;
  };
  const sample samples[] = {
      {0, 0, 0x2D06800538D394C2ull},
      {0, 3, 0x2D06800538D394C2ull},
      {1, 0, 0xC0D1E3A09A6AB844ull},
      {1, 3, 0x5CCFBDE21992D720ull},
      {3, 0, 0x40FFB44DDC6A1AE4ull},
      {3, 3, 0x7F88E9A2BE4ACE69ull},
      {4, 0, 0xC67C86EEA81241B8ull},
      {4, 3, 0x21E3DDEC1D2132E5ull},
      {8, 0, 0x8BBB553473F39D0Dull},
      {8, 3, 0x58D4667D7D91B0CAull},
      {9, 0, 0x21E8E1BB56E8FBBBull},
      {9, 3, 0xC2820B971ED02E2Cull},
      {16, 0, 0xF16CDB36E7FB7C86ull},
      {16, 3, 0x1C7F409CC223E213ull},
      {17, 0, 0xF81D8C46A785BAD9ull},
      {17, 3, 0x7A18717227DC354Dull},
      {128, 0, 0x0AB589B07C0B2288ull},
      {128, 3, 0xBB41CF899804CE9Full},
      {129, 0, 0x7DBD0C5B2622D756ull},
      {129, 3, 0x8F6771BB37C17A0Dull},
      {240, 0, 0xFEDB3D4C4F935A6Eull},
      {240, 3, 0x458B1DC3CF74ADC7ull},
      {241, 0, 0x0D78BC9C748024A7ull},
      {241, 3, 0x19D9DDE9DF851AFDull},
      {1024, 0, 0x46182DAFF2F9D8E1ull},
      {1024, 3, 0x3A1E0BBAC2639C29ull},
      {1452, 0, 0xE390C4C09C7470ABull},
      {1452, 3, 0x67BACDAB687CAE13ull},
      {4096, 0, 0xBFDFBC769ECBD97Bull},
      {4096, 3, 0xF086837EB9CA42DDull},
      {65536, 0, 0x7E730E9CBEB54AD3ull},
      {65536, 3, 0x4408689143C240A3ull},
  };
  const std::vector<std::byte> buf = test_bytes();
  INFO("xxHash " << XXH_VERSION_NUMBER << ", AVX2 loop in use: " << racket::detail::xxh3_uses_avx2());
  for (const sample& s : samples) {
    INFO("size " << s.size << ", offset " << s.offset);
    CHECK(xxh3(buf.data() + s.offset, s.size) == s.hash);
    CHECK(XXH3_64bits(buf.data() + s.offset, s.size) == s.hash);
  }
  // A published value: XXH3-64 of the empty input.
  CHECK(xxh3(nullptr, 0) == 0x2D06800538D394C2ull);
  // The string_view and span overloads hash the same bytes.
  CHECK(xxh3(std::string_view{"plant.line3.temp"}) == xxh3("plant.line3.temp", 16));
  CHECK(xxh3(std::span<const std::byte>(buf.data(), 1452)) == 0xE390C4C09C7470ABull);
}

TEST_CASE("xxh3: the same value as xxHash's scalar loop, at every size up to 4 KiB and at 64 KiB", "[hash]") {
  const std::vector<std::byte> buf = test_bytes();
  INFO("AVX2 loop in use: " << racket::detail::xxh3_uses_avx2());
  for (std::size_t size = 0; size <= 4096; ++size) {
    for (const std::size_t offset : {std::size_t{0}, std::size_t{3}}) {  // aligned or not
      const std::byte* p = buf.data() + offset;
      INFO("size " << size << ", offset " << offset);
      REQUIRE(xxh3(p, size) == scalar_xxh3(p, size));
    }
  }
  REQUIRE(xxh3(buf.data(), 65536) == scalar_xxh3(buf.data(), 65536));
#if RACKET_XXH3_DISPATCH
  // Here the AVX2 loop is in use exactly where the CPU has it.
  CHECK(racket::detail::xxh3_uses_avx2() == (__builtin_cpu_supports("avx2") != 0));
#endif
}

TEST_CASE("xxh3_prefixed: the hash of head and data joined, at every head size and across block edges", "[hash]") {
  // A large message's content hash: names (0..512 bytes) then the payload, hashed in place.
  const std::vector<std::byte> buf = test_bytes();
  INFO("AVX2 loop in use: " << racket::detail::xxh3_uses_avx2());
  std::vector<std::byte> joined;
  for (std::size_t head = 0; head <= 512; head += (head < 20 ? 1 : 37)) {
    for (const std::size_t size : {std::size_t{1}, std::size_t{64}, std::size_t{1024}, std::size_t{1025},
                                   std::size_t{1088}, std::size_t{2047}, std::size_t{2048}, std::size_t{2049},
                                   std::size_t{1024 * 3 - head}, std::size_t{5000}, std::size_t{65536}}) {
      const std::byte* data = buf.data() + 7;  // not aligned
      joined.assign(buf.data() + 40000, buf.data() + 40000 + head);
      joined.insert(joined.end(), data, data + size);
      INFO("head " << head << ", data " << size);
      REQUIRE(racket::detail::xxh3_prefixed(buf.data() + 40000, head, data, size) ==
              scalar_xxh3(joined.data(), joined.size()));
    }
  }
}

// Calls f with the stack moved down by `shift` bytes, so its frame lands at another alignment.
template <class F>
[[gnu::noinline]] void with_stack_shifted(std::size_t shift, F&& f) {
  volatile char* pad = static_cast<volatile char*>(__builtin_alloca(shift + 1));
  pad[0] = 0;
  f();
  pad[shift] = 0;  // keeps the allocation alive across the call
}

TEST_CASE("xxh3: the AVX2 loop gives the same value at every stack alignment", "[hash]") {
  // Its accumulator must be 32-byte aligned whatever the caller's frame: xxHash's own
  // function aligns it for the header's default vector width (16 bytes for SSE2), and builds
  // that load it with aligned moves (-O0, ThreadSanitizer) crashed on half the frames.
  const std::vector<std::byte> buf = test_bytes();
  const std::uint64_t want = scalar_xxh3(buf.data(), 1024);
  for (std::size_t shift = 0; shift <= 64; shift += 8) {
    INFO("stack shifted by " << shift << " bytes; AVX2 loop in use: " << racket::detail::xxh3_uses_avx2());
    std::uint64_t got = 0;
    with_stack_shifted(shift, [&] { got = xxh3(buf.data(), 1024); });
    REQUIRE(got == want);
  }
}

TEST_CASE("xxh3: the releases Racket was checked against get the fast paths", "[hash]") {
  INFO("xxHash " << XXH_VERSION_NUMBER);
#if XXH_VERSION_NUMBER >= 801 && XXH_VERSION_NUMBER <= 803
  // Losing them would still give the right values, only slower: this is what notices.
  CHECK(RACKET_XXH3_INTERNALS == 1);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(__AVX2__) && \
    !defined(RACKET_NO_XXH3_DISPATCH)
  CHECK(RACKET_XXH3_DISPATCH == 1);
#endif
#else
  WARN("xxHash " << XXH_VERSION_NUMBER << " is not one Racket was checked against: every hash goes through XXH3_64bits");
  CHECK(RACKET_XXH3_INTERNALS == 0);
  CHECK(RACKET_XXH3_DISPATCH == 0);
#endif
#ifdef RACKET_TEST_XXHASH_VERSION
  // The release compiled in is the one the configure step reported (and CI asked for).
  CHECK(XXH_VERSION_NUMBER == RACKET_TEST_XXHASH_VERSION);
#endif
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

TEST_CASE("table hashes are seeded per process, and ids a sender picks spread over buckets", "[core][hash][security]") {
  using racket::detail::table_hash;
  using racket::detail::table_seed;
  for (const std::string& s : std::vector<std::string>{"a", "plant.line3.temp", std::string(16, 'x'), std::string(17, 'y'), std::string(300, 'z')}) {
    INFO(s.size());
    CHECK(table_hash(s) == XXH3_64bits_withSeed(s.data(), s.size(), table_seed()));
    if (table_seed() != 0) CHECK(table_hash(s) != racket::detail::xxh3(s));
  }
  // std::hash<uint64_t> is the identity: ids that are multiples of 1024 all land in bucket 0 of
  // a 1024-bucket table. Mixed with the seed they spread.
  const racket::detail::id_hash h;
  std::set<std::size_t> buckets;
  for (std::uint64_t i = 0; i < 1024; ++i) buckets.insert(h(i * 1024) % 1024);
  CHECK(buckets.size() > 500);
}
