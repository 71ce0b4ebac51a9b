// SPDX-License-Identifier: MIT
// What the wire's bytes are: constants, sizes, the subject check, content_hash, peek_kind.
#include "racket/wire/format.hpp"

#include "catch.hpp"
#include "wire/support.hpp"

#include <cstddef>
#include <string>
#include <string_view>

using namespace wire_test;

static_assert(wire::version == 3);
static_assert(wire::header_size(7) == 24);
// Worst case: flags, L, P (1..3 bytes), 5-byte interval, two 10-byte deltas, subject, payload.
static_assert(wire::record_size(16, 4) == 1 + 1 + 1 + 5 + 10 + 10 + 16 + 4);
static_assert(wire::record_size(1, 127) == 28 + 1 + 127);
static_assert(wire::record_size(1, 128) == 29 + 1 + 128);
static_assert(wire::record_size(1, 16383) == 29 + 1 + 16383);
static_assert(wire::record_size(1, 16384) == 30 + 1 + 16384);
static_assert(wire::record_size(255, 65535) == 30 + 255 + 65535);
static_assert(wire::min_datagram_size == 31);
static_assert(wire::header_size(1) + wire::record_min_overhead + 1 + wire::trailer_size == wire::min_datagram_size);

TEST_CASE("the wire's subject check accepts published subjects only", "[wire]") {
  using racket::detail::is_valid_wire_subject;
  CHECK(is_valid_wire_subject("a"));
  CHECK(is_valid_wire_subject("plant.line3.temp"));
  CHECK(is_valid_wire_subject("usine.caf\xc3\xa9"));
  CHECK(is_valid_wire_subject(std::string(255, 'x')));
  CHECK_FALSE(is_valid_wire_subject(std::string(256, 'x')));
  CHECK_FALSE(is_valid_wire_subject(""));
  CHECK_FALSE(is_valid_wire_subject("."));
  CHECK_FALSE(is_valid_wire_subject(".a"));
  CHECK_FALSE(is_valid_wire_subject("a."));
  CHECK_FALSE(is_valid_wire_subject("a..b"));
  CHECK_FALSE(is_valid_wire_subject("a.*"));
  CHECK_FALSE(is_valid_wire_subject("a.b*c"));
  CHECK_FALSE(is_valid_wire_subject(std::string_view("a.\0b", 4)));
}

TEST_CASE("content_hash is XXH3-64 over the length-prefixed concatenation", "[wire]") {
  const auto check = [](std::string_view stream, std::string_view subject, const bytes& payload) {
    bytes c;
    put(c, stream.size(), 1);
    put(c, stream);
    put(c, subject.size(), 1);
    put(c, subject);
    c.insert(c.end(), payload.begin(), payload.end());
    CHECK(wire::content_hash(stream, subject, payload) == XXH3_64bits(c.data(), c.size()));
  };
  check("sensors", "plant.temp", to_bytes("21.5"));
  check("s", "a", {});
  check(std::string(255, 's'), std::string(255, 'a'), bytes(1, std::byte{7}));  // streaming path
  check("s", "a", bytes(5000, std::byte{0xAB}));                                // names, then the payload in place
  check(std::string(255, 's'), std::string(255, 'a'), bytes(1025, std::byte{3}));  // the longest names
  bytes varied(3 << 20);  // a large message's payload, not one repeated byte
  for (std::size_t i = 0; i < varied.size(); ++i) varied[i] = static_cast<std::byte>((i * 2654435761u) >> 13);
  check("files", "maps.tile.42", varied);
  for (std::size_t n = 500; n < 520; ++n) check("st", "a.b", bytes(n, std::byte{1}));  // threshold

  // The length prefixes keep field boundaries apart.
  CHECK(wire::content_hash("ab", "c", {}) != wire::content_hash("a", "bc", {}));
  const bytes p = to_bytes("c");
  CHECK(wire::content_hash("a", "b", p) != wire::content_hash("a", "bc", {}));
}

TEST_CASE("size helpers and max_payload at the boundary", "[wire]") {
  // 1452 - 24 (header) - 8 (trailer) - 16 (subject) - 27 (worst case without P) = 1377: P
  // takes 2 bytes of it.
  CHECK(wire::max_payload(1452, 7, 16) == 1375);
  CHECK(wire::header_size(7) + wire::record_size(16, 1375) + wire::trailer_size == 1452);
  // The smallest datagram a worst-case record with a one-byte subject and no payload fits.
  constexpr std::size_t smallest = 18 + 29 + 8;
  CHECK(wire::max_payload(smallest - 1, 1, 1) == 0);
  CHECK(wire::max_payload(smallest, 1, 1) == 0);
  CHECK(wire::max_payload(smallest + 1, 1, 1) == 1);
  CHECK(wire::max_payload(10, 1, 1) == 0);
  CHECK(wire::max_payload(wire::max_datagram_size_limit, 1, 1) == 65507 - 18 - 8 - 30 - 1);
  CHECK(wire::max_payload(200000, 1, 1) == 65535);  // capped by P <= 65535
  // Around the varint steps of P: the largest P whose record (with its P varint) fits.
  for (std::size_t size = smallest; size < smallest + 16400 + 40; ++size) {
    const std::size_t mp = wire::max_payload(size, 1, 1);
    CAPTURE(size, mp);
    CHECK(wire::header_size(1) + wire::record_size(1, mp) + wire::trailer_size <= size);
    CHECK(wire::header_size(1) + wire::record_size(1, mp + 1) + wire::trailer_size > size);
    if (size > smallest + 16400) size += 997;  // a few more further out
  }
}

TEST_CASE("peek_kind looks at magic, version and kind only", "[wire][snapshot]") {
  CHECK(wire::peek_kind(bytes{}) == wire::kind{0});
  CHECK(wire::peek_kind(from_hex("524b544d03")) == wire::kind{0});            // too short
  CHECK(wire::peek_kind(from_hex("524b544d0302")) == wire::kind::snapshot_request);
  CHECK(wire::peek_kind(from_hex("524b544d0301ffff")) == wire::kind::data);
  CHECK(wire::peek_kind(from_hex("524b544d0102")) == wire::kind{0});           // version 1
  CHECK(wire::peek_kind(from_hex("524b544d0202")) == wire::kind{0});           // version 2
  CHECK(wire::peek_kind(from_hex("524b544d0402")) == wire::kind{0});           // another version
  CHECK(wire::peek_kind(from_hex("524b544e0302")) == wire::kind{0});           // another magic
  CHECK(wire::peek_kind(from_hex("524b544d0309")) == wire::kind{9});           // unknown kind: as is
}
