// SPDX-License-Identifier: MIT
// The wire's byte primitives (racket/detail/wire_bytes.hpp): little-endian integers, varints, zigzag,
// the all-zero scan.
#include "racket/detail/wire_bytes.hpp"

#include "catch.hpp"
#include "wire/support.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

using namespace wire_test;

TEST_CASE("varint and zigzag helpers", "[wire]") {
  using racket::detail::unzigzag;
  using racket::detail::varint_size;
  using racket::detail::zigzag;
  const std::uint64_t m = ~std::uint64_t{0};
  for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{127}, std::uint64_t{128},
                          std::uint64_t{16383}, std::uint64_t{16384}, std::uint64_t{0xFFFFFFFF},
                          std::uint64_t{1} << 63, m - 1, m}) {
    CAPTURE(v);
    CHECK(varint_size(v) == varint_text(v).size());
    bytes b(10);
    CHECK(racket::detail::store_varint(b.data(), v) == b.data() + varint_size(v));
    b.resize(varint_size(v));
    CHECK(to_hex(b) == to_hex(to_bytes(varint_text(v))));
    const std::byte* p = b.data();
    CHECK(racket::detail::load_varint(p) == v);
    CHECK(p == b.data() + b.size());
    CHECK(zigzag(v) == zz(v));
    CHECK(unzigzag(zigzag(v)) == v);
  }
  CHECK(varint_text(300) == "\xac\x02");
  CHECK(varint_size(m) == 10);
  CHECK(zigzag(0) == 0);
  CHECK(zigzag(m) == 1);  // -1
  CHECK(zigzag(1) == 2);
  CHECK(zigzag(m - 1) == 3);  // -2
  CHECK(zigzag(std::uint64_t{1} << 63) == m);  // INT64_MIN
  CHECK(zigzag((std::uint64_t{1} << 63) - 1) == m - 1);  // INT64_MAX
}

// The decoder reads varints of three or more bytes a word at a time when ten bytes are left,
// byte by byte otherwise: both must agree with the encoder and with the canonical rules.
TEST_CASE("wire: varints of every length, read word-wise and byte-wise", "[wire]") {
  std::uint64_t x = 0x243F6A8885A308D3ull;
  std::vector<std::uint64_t> values = {0, 1, 127, 128, 16383, 16384, (1ull << 21) - 1, 1ull << 21, (1ull << 56) - 1,
                                       1ull << 56, (1ull << 63) - 1, 1ull << 63, ~0ull};
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    values.push_back(x >> (x % 64));  // every magnitude
  }
  for (const std::uint64_t v : values) {
    for (const std::size_t slack : {std::size_t{0}, std::size_t{16}}) {  // byte-wise, then word-wise
      std::array<std::byte, 32> buf{};
      std::byte* end = racket::detail::store_varint(buf.data(), v);
      const auto len = static_cast<std::size_t>(end - buf.data());
      REQUIRE(len == racket::detail::varint_size(v));
      const std::byte* p = buf.data();
      std::uint64_t got = 0;
      REQUIRE(racket::detail::read_varint(p, buf.data() + len + slack, got) == racket::errc{});
      CHECK(got == v);
      CHECK(p == end);
      const std::byte* q = buf.data();
      CHECK(racket::detail::load_varint(q) == v);
      CHECK(q == end);
    }
  }
  // Non-canonical: a trailing zero group (2..10 bytes), a 10th byte other than 1, 11 bytes.
  for (std::size_t len = 2; len <= 10; ++len) {
    for (const std::size_t slack : {std::size_t{0}, std::size_t{16}}) {
      std::array<std::byte, 32> buf{};
      for (std::size_t k = 0; k + 1 < len; ++k) buf[k] = std::byte{0x81};
      buf[len - 1] = std::byte{0x00};
      const std::byte* p = buf.data();
      std::uint64_t got = 0;
      INFO("length " << len << ", slack " << slack);
      CHECK(racket::detail::read_varint(p, buf.data() + len + slack, got) == racket::errc::bad_record);
    }
  }
  for (const unsigned tenth : {2u, 0x7Fu, 0x80u, 0x81u}) {
    for (const std::size_t slack : {std::size_t{1}, std::size_t{16}}) {
      std::array<std::byte, 32> buf{};
      for (std::size_t k = 0; k < 9; ++k) buf[k] = std::byte{0xFF};
      buf[9] = static_cast<std::byte>(tenth);
      const std::byte* p = buf.data();
      std::uint64_t got = 0;
      INFO("10th byte " << tenth);
      CHECK(racket::detail::read_varint(p, buf.data() + 10 + slack, got) == racket::errc::bad_record);
    }
  }
  // Cut off: every prefix of a 10-byte varint runs past the end.
  std::array<std::byte, 32> buf{};
  racket::detail::store_varint(buf.data(), ~0ull);
  for (std::size_t cut = 0; cut < 10; ++cut) {
    const std::byte* p = buf.data();
    std::uint64_t got = 0;
    CHECK(racket::detail::read_varint(p, buf.data() + cut, got) == racket::errc::bad_length);
  }
}


TEST_CASE("little-endian loads and stores at any alignment, and the all-zero scan", "[wire]") {
  std::array<std::byte, 24> b{};
  racket::detail::store_u16(b.data() + 1, 0x1234);
  racket::detail::store_u32(b.data() + 3, 0x89ABCDEF);
  racket::detail::store_u64(b.data() + 7, 0x0123456789ABCDEF);
  CHECK(to_hex(std::span(b).first(16)) == "003412efcdab89efcdab896745230100");
  CHECK(racket::detail::load_u16(b.data() + 1) == 0x1234);
  CHECK(racket::detail::load_u32(b.data() + 3) == 0x89ABCDEF);
  CHECK(racket::detail::load_u64(b.data() + 7) == 0x0123456789ABCDEF);

  // Every length and start (the word loop and the byte tail), and each byte set in turn.
  std::array<std::byte, 48> z{};
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t n = 0; start + n <= z.size(); ++n) {
      CAPTURE(start, n);
      CHECK(racket::detail::all_zero(z.data() + start, n));
      for (std::size_t i = 0; i < n; ++i) {
        z[start + i] = std::byte{0x80};
        CHECK_FALSE(racket::detail::all_zero(z.data() + start, n));
        z[start + i] = std::byte{0};
      }
      if (start + n < z.size()) {  // the byte after the range is not looked at
        z[start + n] = std::byte{1};
        CHECK(racket::detail::all_zero(z.data() + start, n));
        z[start + n] = std::byte{0};
      }
    }
  }
}
