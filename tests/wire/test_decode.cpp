// SPDX-License-Identifier: MIT
// Reading data datagrams: decode's checks in their documented order, datagram_view, padding, the vectors.
#include "racket/wire/decode.hpp"

#include "catch.hpp"
#include "wire/support.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <random>
#include <ranges>
#include <span>
#include <string>
#include <system_error>
#include <vector>

using namespace wire_test;

static_assert(std::forward_iterator<wire::datagram_view::iterator>);
static_assert(std::ranges::forward_range<wire::datagram_view>);

TEST_CASE("hex test vectors: the bytes decode to the inputs", "[wire]") {
  for (const auto& tv : test_vectors()) {
    CAPTURE(tv.number);
    const bytes& expected = tv.expected;
    std::error_code ec;
    const auto v = wire::decode(expected, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.publisher_id() == tv.publisher_id);
    CHECK(v.stream() == tv.stream);
    CHECK(v.padding_size() == tv.padding);
    REQUIRE(v.record_count() == tv.records.size());
    auto it = v.begin();
    for (const auto& r : tv.records) {
      CHECK(it->flags == r.flags);
      CHECK(it->interval_ms == r.interval_ms);
      CHECK(it->sequence == r.sequence);
      CHECK(it->timestamp_ns == r.timestamp_ns);
      CHECK(it->subject == r.subject);
      CHECK(bytes(it->payload.begin(), it->payload.end()) == r.payload);
      CHECK(wire::content_hash(v.stream(), it->subject, it->payload) == r.content_hash);
      ++it;
    }
    CHECK(it == v.end());
  }
}

TEST_CASE("vector 2 uses every delta form", "[wire]") {
  // The flags bytes as written, record by record: 00 everything explicit (the first record);
  // 30 sequence_next + same_interval (with a 2-byte P); 31 the same on a tombstone; 22 a resend
  // with an explicit negative sequence delta (-4) and a negative timestamp delta; 00 an explicit
  // interval 0 and sequence delta +5; 30 both implied again.
  const auto tv = test_vectors()[1];
  REQUIRE(tv.number == 2);
  std::error_code ec;
  const auto v = wire::decode(tv.expected, ec);
  REQUIRE_FALSE(ec);
  const int expected_flags[] = {0x00, 0x30, 0x31, 0x22, 0x00, 0x30};
  int i = 0;
  std::uint64_t prev_ts = 0;
  for (const auto& r : v) {
    CAPTURE(i);
    const auto* start = reinterpret_cast<const std::byte*>(r.subject.data());
    // Walk back from the subject over the varints: the flags byte is the first of the record.
    const std::size_t fixed = 2 + (r.payload.size() < 128 ? 1 : 2) +
                              ((expected_flags[i] & 0x20) ? 0 : racket::detail::varint_size(r.interval_ms)) +
                              ((expected_flags[i] & 0x10) ? 0 : 1) +
                              racket::detail::varint_size(racket::detail::zigzag(r.timestamp_ns - prev_ts));
    CHECK(std::to_integer<int>(*(start - fixed)) == expected_flags[i]);
    if (i == 3) {
      CHECK(r.resend());
      CHECK(r.sequence == 5);
      CHECK(to_hex(std::span(start - fixed, 5)) == "220b0407" + std::string("99"));  // P 4, delta zigzag(-4) = 07
      CHECK(r.timestamp_ns < prev_ts);
    }
    prev_ts = r.timestamp_ns;
    ++i;
  }
  CHECK(i == 6);
}

TEST_CASE("the smallest valid datagram has 31 bytes", "[wire]") {
  raw_datagram r;
  r.stream = "s";
  r.records[0].flags = 0x30;  // sequence 1, interval 0
  r.records[0].timestamp_field = 0;
  r.records[0].subject = "a";
  r.records[0].payload = "";
  const bytes d = r.encode();
  CHECK(d.size() == wire::min_datagram_size);
  CHECK_FALSE(decode_error(d));
  std::error_code ec;
  const auto v = wire::decode(d, ec);
  CHECK(v.begin()->sequence == 1);
  CHECK(v.begin()->interval_ms == 0);
  CHECK(v.begin()->timestamp_ns == 0);
  CHECK(reencode(v) == d);
}

TEST_CASE("decode errors: header checks", "[wire]") {
  using racket::errc;
  const bytes good = raw_datagram{}.encode();
  REQUIRE_FALSE(decode_error(good));

  SECTION("oversize") {
    CHECK(decode_error(good, good.size() - 1) == err(errc::oversize));
    CHECK_FALSE(decode_error(good, good.size()));
    const bytes huge(wire::max_datagram_size_limit + 1, std::byte{0x52});
    CHECK(decode_error(huge) == err(errc::oversize));
    const bytes big(wire::default_max_datagram_size + 1);
    CHECK(decode_error(big, wire::default_max_datagram_size) == err(errc::oversize));
  }
  SECTION("truncated below the magic, bad_magic once four bytes are present") {
    CHECK(decode_error(bytes{}) == err(errc::truncated));
    CHECK(decode_error(from_hex("524b54")) == err(errc::truncated));
    CHECK(decode_error(from_hex("00")) == err(errc::truncated));
    CHECK(decode_error(from_hex("524b5400")) == err(errc::bad_magic));
    CHECK(decode_error(from_hex("524b544e0201")) == err(errc::bad_magic));
    raw_datagram r;
    r.magic = {0x4D, 0x54, 0x4B, 0x52};  // byte-swapped
    CHECK(decode_error(r) == err(errc::bad_magic));
  }
  SECTION("bad_version, versions 1 and 2 included") {
    CHECK(decode_error(from_hex("524b544d")) == err(errc::truncated));
    CHECK(decode_error(from_hex("524b544d01")) == err(errc::bad_version));
    CHECK(decode_error(from_hex("524b544d02")) == err(errc::bad_version));
    CHECK(decode_error(from_hex("524b544d04")) == err(errc::bad_version));
    for (std::uint8_t ver : {0, 1, 2, 4, 255}) {
      raw_datagram r;
      r.version = ver;
      CHECK(decode_error(r) == err(errc::bad_version));
    }
    // Version 1's vector 1, a valid v1 datagram: no longer decoded.
    const bytes v1 = from_hex(
        "524b544d01010100efcdab89674523010773656e736f727300100400e803000001000000000000000000"
        "2a36fe9c9717245f4c18c647f163706c616e742e6c696e65332e74656d7032312e35c2854adcf23699c2");
    CHECK(decode_error(v1) == err(errc::bad_version));
    CHECK(wire::peek_kind(v1) == wire::kind{0});
  }
  SECTION("a valid version-2 datagram is bad_version") {
    // Version 2's vector 1 (the same record layout, version byte 2, its own checksum).
    const bytes v2 = from_hex(
        "524b544d02010100efcdab89674523010773656e736f7273101004e8078080d0e2c6bfce972f706c616e742e"
        "6c696e65332e74656d7032312e357d5c3c5a85774c5b");
    REQUIRE(XXH3_64bits(v2.data(), v2.size() - 8) == 0x5b4c77855a3c5c7d);  // intact as v2
    CHECK(decode_error(v2) == err(errc::bad_version));
    CHECK(wire::peek_kind(v2) == wire::kind{0});
    // Byte 4 set to 3 (and the checksum fixed) makes it version 3's vector 1.
    bytes v3 = v2;
    v3[4] = std::byte{3};
    fix_checksum(v3);
    CHECK_FALSE(decode_error(v3));
    CHECK(to_hex(v3) == to_hex(test_vectors()[0].expected));
  }
  SECTION("bad_kind") {
    CHECK(decode_error(from_hex("524b544d03")) == err(errc::truncated));
    CHECK(decode_error(from_hex("524b544d0302")) == err(errc::bad_kind));
    for (std::uint8_t k : {0, 2, 3, 255}) {
      raw_datagram r;
      r.kind = k;
      CHECK(decode_error(r) == err(errc::bad_kind));
    }
  }
  SECTION("truncated fixed header") {
    for (std::size_t n = 6; n < 17; ++n) {
      CAPTURE(n);
      CHECK(decode_error(std::span(good).first(n)) == err(errc::truncated));
    }
  }
  SECTION("stream name length zero is bad_length") {
    raw_datagram r;
    r.stream = "";
    CHECK(decode_error(r) == err(errc::bad_length));
  }
  SECTION("stream name or trailer past the end is truncated") {
    raw_datagram r;
    r.records.clear();
    r.stream = "abc";
    bytes d = r.encode();  // 17 + 3 + 8 = 28 bytes
    REQUIRE(d.size() == 28);
    d[16] = std::byte{4};  // header + trailer = 29 > 28
    CHECK(decode_error(d) == err(errc::truncated));
    d[16] = std::byte{255};
    CHECK(decode_error(d) == err(errc::truncated));
  }
  SECTION("bad_checksum") {
    for (std::size_t i : {std::size_t{6}, std::size_t{12}, std::size_t{17}, good.size() - 9,
                          good.size() - 8, good.size() - 1}) {
      CAPTURE(i);
      bytes d = good;
      d[i] ^= std::byte{0x10};
      CHECK(decode_error(d) == err(errc::bad_checksum));
    }
  }
  SECTION("record_count zero is bad_record") {
    raw_datagram r;
    r.record_count = 0;
    CHECK(decode_error(r) == err(errc::bad_record));
    r.records.clear();
    CHECK(decode_error(r) == err(errc::bad_record));
  }
  SECTION("stream name holding a NUL is bad_record") {
    raw_datagram r;
    r.stream = std::string("a\0b", 3);
    CHECK(decode_error(r) == err(errc::bad_record));
  }
}

TEST_CASE("decode errors: record checks", "[wire]") {
  using racket::errc;
  const std::uint64_t m = ~std::uint64_t{0};
  SECTION("record_count larger than the records present is bad_length") {
    raw_datagram r;
    r.record_count = 2;
    CHECK(decode_error(r) == err(errc::bad_length));
    r.record_count = 65535;
    CHECK(decode_error(r) == err(errc::bad_length));
  }
  SECTION("flags or L missing is bad_length (a)") {
    raw_datagram r;
    r.records.clear();
    r.record_count = 1;
    CHECK(decode_error(r) == err(errc::bad_length));
    r.extra = std::string(1, '\x00');
    CHECK(decode_error(r) == err(errc::bad_length));
  }
  SECTION("a varint running into the trailer is bad_length (b)") {
    // flags, L, then each varint cut short in turn.
    for (const std::string& tail : {std::string(""), std::string("\x82"), std::string("\x02\xe8"),
                                    std::string("\x02\xe8\x07"), std::string("\x02\xe8\x07\x02"),
                                    std::string("\x02\xe8\x07\x02\xff\xff\xff")}) {
      CAPTURE(to_hex(to_bytes(tail)));
      raw_datagram r;
      r.records.clear();
      r.record_count = 1;
      r.extra = std::string("\x00\x03", 2) + tail;
      CHECK(decode_error(r) == err(errc::bad_length));
    }
    // Nine continuation bytes and then the trailer.
    raw_datagram r;
    r.records.clear();
    r.record_count = 1;
    r.extra = std::string("\x30\x03", 2) + "\x02" + std::string(9, '\xff');
    CHECK(decode_error(r) == err(errc::bad_length));
  }
  SECTION("a non-canonical varint is bad_record (b)") {
    const std::vector<std::string> bad = {
        std::string("\x80\x00", 2),                              // 0 in two bytes
        std::string("\x82\x00", 2),                              // 2 in two bytes
        std::string("\xe8\x87\x00", 3),                          // 1000 in three bytes
        std::string(9, '\x80') + std::string("\x00", 1),         // 10 bytes, last 0
        std::string(9, '\xff') + "\x02",                         // 10th byte 2: past 2^64
        std::string(9, '\xff') + "\x7f",                         // 10th byte 0x7f
        std::string(9, '\xff') + "\x81\x00",                     // 11 bytes
        std::string(10, '\x80') + std::string("\x01", 1),        // 11 bytes
    };
    for (const auto& v : bad) {
      CAPTURE(to_hex(to_bytes(v)));
      for (int field = 0; field < 4; ++field) {  // as P, interval, sequence delta, timestamp delta
        CAPTURE(field);
        std::string fields[4] = {"\x02", "\xe8\x07", "\x02", "\x0a"};
        fields[field] = v;
        raw_datagram r;
        r.records[0].flags = 0;
        r.records[0].fields = fields[0] + fields[1] + fields[2] + fields[3];
        r.extra = std::string(30, 'z');  // so that the varint does not run into the trailer
        CHECK(decode_error(r) == err(errc::bad_record));
      }
    }
    // The longest canonical varints are fine: 10 bytes ending in 01.
    raw_datagram r;
    r.records[0].flags = 0;
    r.records[0].sequence_field = m;  // zigzag: delta 2^63, sequence 2^63
    r.records[0].timestamp_field = m;
    REQUIRE(varint_text(m) == std::string(9, '\xff') + "\x01");
    CHECK_FALSE(decode_error(r));
  }
  SECTION("P > 65535 or interval > 0xFFFFFFFF is bad_record (b), before the bounds") {
    raw_datagram r;
    r.records[0].payload_length = 65536;
    CHECK(decode_error(r) == err(errc::bad_record));
    r.records[0].payload_length = m;
    CHECK(decode_error(r) == err(errc::bad_record));
    raw_datagram i;
    i.records[0].interval = 0x100000000;
    CHECK(decode_error(i) == err(errc::bad_record));
    i.records[0].interval = m;
    CHECK(decode_error(i) == err(errc::bad_record));
    i.records[0].interval = 0xFFFFFFFF;
    CHECK_FALSE(decode_error(i));
  }
  SECTION("subject or payload running into the trailer is bad_length (c)") {
    raw_datagram r;
    r.records[0].payload_length = 3;  // payload has 2 bytes
    CHECK(decode_error(r) == err(errc::bad_length));
    r.records[0].payload_length = 65535;
    CHECK(decode_error(r) == err(errc::bad_length));
    raw_datagram s;
    s.records[0].payload = "";
    s.records[0].subject_length = 4;  // subject has 3 bytes
    CHECK(decode_error(s) == err(errc::bad_length));
    s.records[0].subject_length = 255;
    CHECK(decode_error(s) == err(errc::bad_length));
  }
  SECTION("subject length zero is bad_record") {
    raw_datagram r;
    r.records[0].subject = "";
    CHECK(decode_error(r) == err(errc::bad_record));
  }
  SECTION("flag bits 0x08, 0x40, 0x80, and resend with snapshot, are bad_record") {
    for (std::uint8_t f : {0x08, 0x40, 0x80, 0x18, 0x58, 0xF0, 0x06, 0x07, 0x16, 0x0C}) {
      CAPTURE(int{f});
      raw_datagram r;
      r.records[0].payload = "";
      r.records[0].flags = f;
      CHECK(decode_error(r) == err(errc::bad_record));
    }
    for (std::uint8_t f : {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x10, 0x20, 0x30, 0x35, 0x33}) {
      CAPTURE(int{f});
      raw_datagram r;
      r.records[0].payload = "";
      r.records[0].flags = f;
      CHECK_FALSE(decode_error(r));
    }
  }
  SECTION("sequence 0 after the deltas is bad_record") {
    raw_datagram r;
    r.records[0].flags = 0;
    r.records[0].sequence_field = 0;  // delta 0 from 0
    CHECK(decode_error(r) == err(errc::bad_record));
    raw_datagram back;  // 5, then -5
    back.records.push_back(raw_record{});
    back.records[0].flags = 0;
    back.records[0].sequence_field = 10;
    back.records[1].flags = 0;
    back.records[1].sequence_field = 9;  // zigzag(-5)
    CHECK(decode_error(back) == err(errc::bad_record));
    back.records[1].sequence_field = 7;  // -4: sequence 1
    CHECK_FALSE(decode_error(back));
    raw_datagram wrap;  // 2^64 - 1, then sequence_next wraps to 0
    wrap.records.push_back(raw_record{});
    wrap.records[0].flags = 0;
    wrap.records[0].sequence_field = 1;  // zigzag(-1)
    raw_datagram alone;
    alone.records = {wrap.records[0]};
    CHECK_FALSE(decode_error(alone));  // sequence 2^64 - 1
    wrap.records[1].flags = 0x10;
    CHECK(decode_error(wrap) == err(errc::bad_record));
    wrap.records[1].flags = 0;
    wrap.records[1].sequence_field = 4;  // +2 wraps to 1
    CHECK_FALSE(decode_error(wrap));
  }
  SECTION("an invalid subject is bad_record") {
    const std::vector<std::string> subjects = {"a..b", ".a", "a.", ".", "a.*", "*", "a.b*",
                                               std::string("x\0y", 3)};
    for (const auto& s : subjects) {
      CAPTURE(s);
      raw_datagram r;
      r.records[0].subject = s;
      CHECK(decode_error(r) == err(errc::bad_record));
    }
  }
  SECTION("a tombstone with a payload is bad_record") {
    raw_datagram r;
    r.records[0].flags = wire::flags::tombstone | 0x10;
    CHECK(decode_error(r) == err(errc::bad_record));
    r.records[0].payload = "";
    CHECK_FALSE(decode_error(r));
  }
  SECTION("the second record is checked too") {
    raw_datagram r;
    r.records.push_back(raw_record{});
    CHECK_FALSE(decode_error(r));
    r.records[1].flags = 0x80;
    CHECK(decode_error(r) == err(errc::bad_record));
  }
  SECTION("nonzero bytes left over after the records are bad_length; zero bytes are padding") {
    raw_datagram r;
    r.extra = "z";
    CHECK(decode_error(r) == err(errc::bad_length));
    r.extra = std::string(100, 'z');
    CHECK(decode_error(r) == err(errc::bad_length));
    r.extra = std::string(99, '\0') + "z";
    CHECK(decode_error(r) == err(errc::bad_length));
    r.extra = std::string(100, '\0');
    CHECK_FALSE(decode_error(r));
    raw_datagram two;
    two.records.push_back(raw_record{});
    two.record_count = 1;  // the second record is left over
    CHECK(decode_error(two) == err(errc::bad_length));
  }
  SECTION("explicit forms a writer would not use still decode") {
    // Explicit sequence delta +1 and an explicit interval equal to the previous one: valid
    // (receivers are lenient here), and the writer's re-encoding is shorter and equal in value.
    raw_datagram r;
    r.records.push_back(raw_record{});
    r.records[0].flags = 0;
    r.records[0].sequence_field = 2;  // +1 explicit
    r.records[1].flags = 0;
    r.records[1].sequence_field = 2;
    r.records[1].interval = 1000;  // as the previous
    const bytes d = r.encode();
    std::error_code ec;
    const auto v = wire::decode(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.begin()->sequence == 1);
    CHECK(std::next(v.begin())->sequence == 2);
    CHECK(std::next(v.begin())->interval_ms == 1000);
    CHECK(reencode(v).size() == d.size() - 4);
  }
}

TEST_CASE("decode checks run in the documented order", "[wire]") {
  using racket::errc;
  raw_datagram r;
  r.magic[0] = 0;
  r.version = 9;
  r.kind = 9;
  r.stream = "";
  const bytes all_bad = r.encode();
  CHECK(decode_error(all_bad, all_bad.size() - 1) == err(errc::oversize));
  CHECK(decode_error(all_bad) == err(errc::bad_magic));
  r.magic[0] = 0x52;
  CHECK(decode_error(r) == err(errc::bad_version));
  r.version = 3;
  CHECK(decode_error(r) == err(errc::bad_kind));
  r.kind = 1;
  CHECK(decode_error(r) == err(errc::bad_length));  // S == 0
  r.stream = "s";
  bytes d = r.encode();
  d[0] = std::byte{0};  // checksum now wrong too, but the magic is checked first
  CHECK(decode_error(d) == err(errc::bad_magic));

  // Checksum before any record check.
  raw_datagram q;
  q.records[0].flags = 0x80;
  bytes e = q.encode();
  e.back() ^= std::byte{1};
  CHECK(decode_error(e) == err(errc::bad_checksum));

  // record_count 0 before stream NUL and records.
  raw_datagram z;
  z.record_count = 0;
  z.stream = std::string("\0", 1);
  z.records[0].flags = 0x80;
  CHECK(decode_error(z) == err(errc::bad_record));

  // Within a record: (b) varints before (c) bounds before (d) field checks.
  raw_datagram b;
  b.records[0].flags = 0x80;
  b.records[0].payload_length = 1000;
  CHECK(decode_error(b) == err(errc::bad_length));  // bounds (c) before the flag check (d)
  b.records[0].payload_length = 70000;
  CHECK(decode_error(b) == err(errc::bad_record));  // P > 65535 (b) before the bounds (c)
  raw_datagram c;
  c.records[0].flags = 0x80;
  c.records[0].subject = "";
  c.records[0].fields = std::string("\x02\xe8\x87\x00\x0a", 5);  // non-canonical interval
  c.records[0].subject_length = 200;
  CHECK(decode_error(c) == err(errc::bad_record));
  c.records[0].fields = std::string("\x02\xe8\x07\x0a", 4);
  CHECK(decode_error(c) == err(errc::bad_length));  // subject too long (c) before flags (d)
  raw_datagram t;  // a varint running into the trailer before anything else in the record
  t.records.clear();
  t.record_count = 1;
  t.extra = std::string("\x80\x00\x82", 3);
  CHECK(decode_error(t) == err(errc::bad_length));
  // The first failing record decides, even if a later one would fail differently.
  raw_datagram two;
  two.records.push_back(raw_record{});
  two.records[0].flags = 0x40;
  two.records[1].payload_length = 5000;
  CHECK(decode_error(two) == err(errc::bad_record));
}

TEST_CASE("every single bit flip is rejected", "[wire]") {
  const bytes good = sample_datagram();
  REQUIRE_FALSE(decode_error(good));
  require_every_bit_flip_rejected(good);
}

TEST_CASE("every truncation is rejected with the documented error", "[wire]") {
  using racket::errc;
  const bytes good = sample_datagram();
  const std::size_t header_and_trailer = wire::header_size(7) + wire::trailer_size;
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    // Exactly-sized heap copy so that a sanitizer sees any read past the end.
    std::unique_ptr<std::byte[]> copy(new std::byte[n]);
    std::copy_n(good.begin(), n, copy.get());
    const std::error_code ec = decode_error(std::span<const std::byte>(copy.get(), n));
    if (n < header_and_trailer)
      CHECK(ec == err(errc::truncated));
    else
      CHECK(ec == err(errc::bad_checksum));
  }
  // With the checksum fixed up, a cut datagram fails a record check, never decodes.
  for (std::size_t n = header_and_trailer; n < good.size(); ++n) {
    CAPTURE(n);
    bytes d(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    fix_checksum(d);
    const std::error_code ec = decode_error(d);
    CHECK((ec == err(errc::bad_length) || ec == err(errc::bad_record)));
  }
}

TEST_CASE("random garbage never crashes and never decodes unless valid", "[wire]") {
  std::mt19937_64 rng(20240611);
  const bytes good = sample_datagram();
  std::size_t decoded = 0;
  std::size_t rejected_after_checksum = 0;
  for (int i = 0; i < 100000; ++i) {
    const int mode = i % 4;
    std::size_t n = rng() % 160;
    if (i % 1000 == 0) n = rng() % (wire::max_datagram_size_limit + 2);
    bytes d(n);
    for (auto& b : d) b = static_cast<std::byte>(rng());
    if (mode >= 1 && n >= 17) {  // a plausible header so the later checks are reached
      const bytes head = from_hex("524b544d0301");
      std::copy(head.begin(), head.end(), d.begin());
      d[16] = static_cast<std::byte>(1 + rng() % 8);
    }
    if (mode == 2 && n > 0) {  // a mutated valid datagram
      d = good;
      for (int k = 0, m = 1 + static_cast<int>(rng() % 4); k < m; ++k)
        d[rng() % d.size()] = static_cast<std::byte>(rng() % 4 == 0 ? 0 : rng());
      if (rng() % 4 == 0) d.resize(rng() % (d.size() + 20));
    }
    if (mode >= 2 && d.size() >= 8) fix_checksum(d);  // reach the record checks

    std::unique_ptr<std::byte[]> copy(new std::byte[d.size()]);
    std::copy(d.begin(), d.end(), copy.get());
    const std::span<const std::byte> in(copy.get(), d.size());
    std::error_code ec;
    const auto v = wire::decode(in, ec);
    // The record-collecting overload agrees: the same verdict, the same records, and none
    // (not the ones before a bad record) when it fails.
    std::vector<wire::record> parsed;
    std::error_code ec_parsed;
    (void)wire::decode(in, ec_parsed, wire::max_datagram_size_limit, parsed);
    REQUIRE(ec_parsed == ec);
    REQUIRE(parsed.size() == (ec ? 0 : v.record_count()));
    if (!ec) REQUIRE(std::ranges::equal(v, parsed, same));
    if (!ec) {
      ++decoded;
      // It was a valid datagram: the writer encodes the same records to the same bytes, or
      // (explicit forms the writer does not use) to fewer bytes that decode to equal records.
      const bytes again = reencode(v);
      CHECK(again.size() <= d.size());
      std::error_code ec2;
      const auto w = wire::decode(again, ec2);
      REQUIRE_FALSE(ec2);
      CHECK(std::ranges::equal(v, w, same));
      for (const auto& r : v) {
        CHECK(racket::detail::is_valid_wire_subject(r.subject));
        CHECK(r.sequence != 0);
        CHECK((r.flags & ~wire::flags::known) == 0);
      }
    } else if (ec != make_error_code(racket::errc::bad_checksum) && mode >= 2) {
      ++rejected_after_checksum;
    }
  }
  // The mutated inputs really exercised both outcomes.
  CHECK(decoded > 100);
  CHECK(rejected_after_checksum > 1000);
}

TEST_CASE("an empty view has no records", "[wire]") {
  const wire::datagram_view v;
  CHECK(v.begin() == v.end());
  CHECK(v.record_count() == 0);
  CHECK(v.stream().empty());
  std::error_code ec;
  const auto bad = wire::decode(bytes{}, ec);
  CHECK(ec);
  CHECK(bad.begin() == bad.end());
}

TEST_CASE("snapshot records: flag 0x04 alone or with tombstone decodes", "[wire][snapshot]") {
  for (std::uint8_t f : {std::uint8_t{0x04}, std::uint8_t{0x05}}) {
    CAPTURE(int{f});
    raw_datagram r;
    r.records[0].payload = "";
    r.records[0].flags = f | 0x10;
    const bytes d = r.encode();
    std::error_code ec;
    const auto v = wire::decode(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.begin()->snapshot());
    CHECK_FALSE(v.begin()->resend());
    CHECK(v.begin()->flags == f);
    CHECK(reencode(v) == d);
  }
}

// ---------------------------------------------------------------------------------------------
// Padding (version 3): zero bytes between the last record and the trailer

namespace {

// sample_datagram()'s records, finished with finish_unsealed() and seal() to `total` bytes.
bytes padded_sample(std::size_t total) {
  const bytes plain = sample_datagram();
  const std::size_t body = plain.size() - wire::trailer_size;
  bytes buf(std::max(total, plain.size()), std::byte{0xEE});  // not zero: seal must write the padding
  std::copy(plain.begin(), plain.end() - wire::trailer_size, buf.begin());
  const auto d = wire::seal(buf, body, total);
  REQUIRE(d.data() == buf.data());
  REQUIRE(d.size() == total);
  buf.resize(total);
  return buf;
}

}  // namespace

TEST_CASE("padding: a padded datagram decodes to the same records as the unpadded one", "[wire][padding]") {
  const bytes plain = sample_datagram();
  std::error_code ec;
  const auto pv = wire::decode(plain, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(pv.record_count() == 3);
  REQUIRE(pv.padding_size() == 0);
  const std::vector<wire::record> want(pv.begin(), pv.end());
  REQUIRE(want[0].subject == "plant.line3.temp");
  REQUIRE(want[1].tombstone());
  REQUIRE(want[2].resend());
  const std::size_t body = plain.size() - wire::trailer_size;

  for (std::size_t padding : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{8}, std::size_t{9},
                              std::size_t{15}, std::size_t{16}, std::size_t{59}, std::size_t{90}, std::size_t{1000},
                              wire::max_datagram_size_limit - plain.size()}) {
    CAPTURE(padding);
    const bytes d = padded_sample(plain.size() + padding);
    // Independently: the unpadded body, `padding` zero bytes, XXH3-64 of everything before.
    bytes expected(plain.begin(), plain.end() - wire::trailer_size);
    expected.insert(expected.end(), padding, std::byte{0});
    put(expected, XXH3_64bits(expected.data(), expected.size()), 8);
    REQUIRE(to_hex(d) == to_hex(expected));

    const auto v = wire::decode(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.padding_size() == padding);
    CHECK(v.record_count() == 3);
    CHECK(v.publisher_id() == 42);
    CHECK(v.stream() == "sensors");
    CHECK(v.bytes().size() == plain.size() + padding);
    std::size_t i = 0;
    for (const auto& r : v) {
      CAPTURE(i);
      REQUIRE(i < want.size());
      CHECK(same(r, want[i]));
      // The views point into the padded datagram, at the same offsets as in the plain one.
      CHECK(reinterpret_cast<const std::byte*>(r.subject.data()) - d.data() ==
            reinterpret_cast<const std::byte*>(want[i].subject.data()) - plain.data());
      ++i;
    }
    CHECK(i == 3);
    // The last record ends where the padding starts.
    const auto last = std::next(v.begin(), 2);
    CHECK(last->payload.data() + last->payload.size() == d.data() + body);
    // Re-encoding drops the padding.
    CHECK(reencode(v) == plain);
    // The padding counts towards the size limit.
    CHECK(decode_error(d, d.size() - 1) == err(racket::errc::oversize));
  }
}

TEST_CASE("padding: a nonzero byte anywhere in it is bad_length", "[wire][padding]") {
  using racket::errc;
  const std::size_t plain_size = sample_datagram().size();
  for (std::size_t padding : {std::size_t{1}, std::size_t{8}, std::size_t{37}}) {
    const bytes good = padded_sample(plain_size + padding);
    REQUIRE_FALSE(decode_error(good));
    const std::size_t start = plain_size - wire::trailer_size;
    for (std::size_t i = start; i < start + padding; ++i) {
      for (std::uint8_t x : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xFF}}) {
        CAPTURE(padding, i, int{x});
        bytes d = good;
        d[i] = std::byte{x};
        CHECK(decode_error(d) == err(errc::bad_checksum));  // the checksum covers the padding
        fix_checksum(d);
        CHECK(decode_error(d) == err(errc::bad_length));
      }
    }
  }
  // Every single bit flip of a padded datagram is rejected, too.
  require_every_bit_flip_rejected(padded_sample(plain_size + 21));
}

TEST_CASE("padding: a record count too large reads the padding as a record", "[wire][padding]") {
  using racket::errc;
  // Zero bytes as a record: flags 0, L 0, P 0, interval 0, sequence delta 0, timestamp delta 0.
  // It is too short (a, b), or it is complete and has L = 0 (d).
  raw_datagram r;
  r.record_count = 2;
  r.extra = std::string(1, '\0');
  CHECK(decode_error(r) == err(errc::bad_length));
  r.extra = std::string(5, '\0');
  CHECK(decode_error(r) == err(errc::bad_length));  // the timestamp delta is missing
  r.extra = std::string(6, '\0');
  CHECK(decode_error(r) == err(errc::bad_record));
  r.extra = std::string(40, '\0');
  CHECK(decode_error(r) == err(errc::bad_record));
  r.record_count = 1;
  CHECK_FALSE(decode_error(r));
}

// docs/wire-format.md gives every data vector's bytes in full (vector 7's, 36446 bytes, in an
// appendix): they are the bytes pinned above, and they decode.
TEST_CASE("docs/wire-format.md spells out every data vector's bytes", "[wire][docs]") {
  for (const auto& tv : test_vectors()) {
    CAPTURE(tv.number);
    const bytes doc = doc_vector(tv.number);
    CHECK(doc.size() == tv.expected.size());
    CHECK(doc == tv.expected);
    std::error_code ec;
    const auto v = wire::decode(doc, ec);
    CHECK_FALSE(ec);
    CHECK(v.record_count() == tv.records.size());
  }
}
