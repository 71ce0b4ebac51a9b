// SPDX-License-Identifier: MIT
// What the wire's tests share: byte helpers, an encoder of version 3 and a field-by-field
// datagram builder written independently of racket::detail, the decode-error helpers, and the
// data test vectors of docs/wire-format.md (with a reader of the full hex that document gives).
#pragma once

#include "catch.hpp"
#include "doc_vectors.hpp"
#include "racket/detail/hash.hpp"
#include "racket/error.hpp"
#include "racket/wire/decode.hpp"
#include "racket/wire/format.hpp"
#include "racket/wire/writer.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace wire_test {

namespace wire = racket::wire;
using bytes = std::vector<std::byte>;

inline bytes to_bytes(std::string_view s) {
  bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

inline bytes from_hex(std::string_view hex) {
  bytes b;
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    b.push_back(static_cast<std::byte>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return b;
}

inline std::string to_hex(std::span<const std::byte> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s += digits[std::to_integer<int>(x) >> 4];
    s += digits[std::to_integer<int>(x) & 15];
  }
  return s;
}

inline bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The payload of the long vectors: byte k is k mod 251.
inline bytes pattern(std::size_t n) {
  bytes b(n);
  for (std::size_t k = 0; k < n; ++k) b[k] = static_cast<std::byte>(k % 251);
  return b;
}

// Test-side little-endian and varint writers, independent of racket::detail.
inline void put(bytes& b, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}
inline void put(bytes& b, std::string_view s) {
  for (char c : s) b.push_back(static_cast<std::byte>(c));
}
inline void put_varint(bytes& b, std::uint64_t v) {
  do {
    std::uint8_t x = v & 0x7F;
    v >>= 7;
    if (v != 0) x |= 0x80;
    b.push_back(std::byte{x});
  } while (v != 0);
}
inline std::string varint_text(std::uint64_t v) {
  bytes b;
  put_varint(b, v);
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
// delta modulo 2^64 as int64, zigzag-encoded (spelled out differently from the library).
inline std::uint64_t zz(std::uint64_t delta) {
  const auto n = static_cast<std::int64_t>(delta);
  return n >= 0 ? static_cast<std::uint64_t>(n) * 2 : ~(delta * 2);
}

// Recomputes the trailer so that a deliberately corrupted field is what decode rejects.
inline void fix_checksum(bytes& d) {
  REQUIRE(d.size() >= 8);
  const std::size_t n = d.size() - 8;
  const std::uint64_t h = XXH3_64bits(d.data(), n);
  for (int i = 0; i < 8; ++i) d[n + i] = static_cast<std::byte>(h >> (8 * i));
}

// An independent encoder of version 3 (docs/wire-format.md), to check the writer against:
// `padding` zero bytes go between the last record and the trailer.
inline bytes reference_datagram(std::uint64_t pub, std::string_view stream, const std::vector<wire::record>& recs,
                         std::size_t padding = 0) {
  bytes d;
  put(d, "RKTM");
  put(d, 3, 1);
  put(d, 1, 1);
  put(d, recs.size(), 2);
  put(d, pub, 8);
  put(d, stream.size(), 1);
  put(d, stream);
  std::uint64_t seq = 0, ts = 0, interval = 0;
  for (const auto& r : recs) {
    const bool next = r.sequence - seq == 1;
    const bool same = r.interval_ms == interval;
    put(d, r.flags | (next ? 0x10 : 0) | (same ? 0x20 : 0), 1);
    put(d, r.subject.size(), 1);
    put_varint(d, r.payload.size());
    if (!same) put_varint(d, r.interval_ms);
    if (!next) put_varint(d, zz(r.sequence - seq));
    put_varint(d, zz(r.timestamp_ns - ts));
    put(d, r.subject);
    d.insert(d.end(), r.payload.begin(), r.payload.end());
    seq = r.sequence;
    ts = r.timestamp_ns;
    interval = r.interval_ms;
  }
  d.insert(d.end(), padding, std::byte{0});
  put(d, 0, 8);
  fix_checksum(d);
  return d;
}

struct raw_record {
  std::uint8_t flags = 0x10;  // the flags byte as written; default: sequence_next (sequence 1)
  int subject_length = -1;    // -1: the subject's size
  std::optional<std::uint64_t> payload_length;  // P; default: the payload's size
  std::uint64_t interval = 1000;                // written unless flags has 0x20
  std::uint64_t sequence_field = 2;             // zigzag delta, written unless flags has 0x10
  std::uint64_t timestamp_field = 10;           // zigzag delta, always written
  std::optional<std::string> fields;            // if set: replaces every varint, verbatim
  std::string subject = "a.b";
  std::string payload = "xy";
};

// Builds a datagram field by field without any validation, checksum fixed up.
struct raw_datagram {
  std::array<std::uint8_t, 4> magic = {0x52, 0x4B, 0x54, 0x4D};
  std::uint8_t version = 3;
  std::uint8_t kind = 1;
  int record_count = -1;  // -1: records.size()
  std::uint64_t publisher_id = 0x1122334455667788;
  int stream_length = -1;
  std::string stream = "st";
  std::vector<raw_record> records = {raw_record{}};
  std::string extra;  // bytes between the records and the trailer (padding when all 0x00)

  bytes encode() const {
    bytes d;
    for (auto m : magic) d.push_back(std::byte{m});
    put(d, version, 1);
    put(d, kind, 1);
    put(d, record_count < 0 ? records.size() : static_cast<std::size_t>(record_count), 2);
    put(d, publisher_id, 8);
    put(d, stream_length < 0 ? stream.size() : static_cast<std::size_t>(stream_length), 1);
    put(d, stream);
    for (const auto& r : records) {
      put(d, r.flags, 1);
      put(d, r.subject_length < 0 ? r.subject.size() : static_cast<std::size_t>(r.subject_length), 1);
      if (r.fields) {
        put(d, *r.fields);
      } else {
        put_varint(d, r.payload_length.value_or(r.payload.size()));
        if ((r.flags & 0x20) == 0) put_varint(d, r.interval);
        if ((r.flags & 0x10) == 0) put_varint(d, r.sequence_field);
        put_varint(d, r.timestamp_field);
      }
      put(d, r.subject);
      put(d, r.payload);
    }
    put(d, extra);
    put(d, 0, 8);
    fix_checksum(d);
    return d;
  }
};

inline std::error_code decode_error(std::span<const std::byte> d,
                             std::size_t max_size = wire::max_datagram_size_limit) {
  std::error_code ec = racket::errc::not_open;  // must be overwritten
  const auto view = wire::decode(d, ec, max_size);
  if (ec) {
    CHECK(view.begin() == view.end());
    CHECK(view.record_count() == 0);
  }
  return ec;
}

inline std::error_code decode_error(const raw_datagram& r) {
  const bytes d = r.encode();
  return decode_error(d);
}

inline std::error_code err(racket::errc e) { return make_error_code(e); }

inline wire::record make_record(std::span<const std::byte> payload, std::string_view subject, std::uint64_t seq,
                         std::uint8_t flags = 0) {
  return {.flags = flags,
          .interval_ms = static_cast<std::uint32_t>(seq * 10),
          .sequence = seq,
          .timestamp_ns = 1'700'000'000'000'000'000 + seq,
          .subject = subject,
          .payload = payload};
}

inline bool same(const wire::record& a, const wire::record& b) {
  return a.flags == b.flags && a.interval_ms == b.interval_ms && a.sequence == b.sequence &&
         a.timestamp_ns == b.timestamp_ns && a.subject == b.subject && a.payload.size() == b.payload.size() &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin());
}

// Re-encodes a decoded datagram with the writer.
inline bytes reencode(const wire::datagram_view& v) {
  bytes buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  w.begin(v.publisher_id(), v.stream());
  for (const auto& r : v) REQUIRE(w.append(r));
  const auto out = w.finish();
  return {out.begin(), out.end()};
}

inline bytes sample_datagram() {
  static const bytes payload_a = to_bytes("21.5");
  static const bytes empty;
  bytes buf(wire::default_max_datagram_size);
  wire::datagram_writer w{buf};
  w.begin(42, "sensors");
  REQUIRE(w.append(make_record(payload_a, "plant.line3.temp", 1)));
  REQUIRE(w.append(make_record(empty, "plant.line4", 2, wire::flags::tombstone)));
  wire::record older = make_record(payload_a, "plant.line5", 1, wire::flags::resend);
  older.timestamp_ns -= 5000;
  REQUIRE(w.append(older));
  const auto out = w.finish();
  return {out.begin(), out.end()};
}

// Flips each bit of `good` in turn (one at a time, on a copy): each must be rejected.
inline void require_every_bit_flip_rejected(std::span<const std::byte> good) {
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    bytes d(good.begin(), good.end());
    d[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    CAPTURE(bit);
    REQUIRE(decode_error(d));
  }
}

struct vector_record {
  std::uint8_t flags;
  std::uint32_t interval_ms;
  std::uint64_t sequence;
  std::uint64_t timestamp_ns;
  std::string subject;
  bytes payload;
  std::uint64_t content_hash;  // pinned, computed with xxhsum -H3 (not this library)
};

struct test_vector {
  int number;
  std::uint64_t publisher_id;
  std::string stream;
  std::vector<vector_record> records;
  std::uint64_t checksum;  // pinned, computed with xxhsum -H3
  bytes expected;
  std::size_t padding = 0;  // zero bytes between the last record and the trailer
};

// The data vectors of docs/wire-format.md. The expected bytes and hashes were produced by an
// independent Python encoder (docs/vectors/make_vectors.py) with the xxhsum CLI.
inline std::vector<test_vector> test_vectors() {
  using wire::flags::resend;
  using wire::flags::snapshot;
  using wire::flags::tombstone;
  return {
      {1,
       0x0123456789ABCDEF,
       "sensors",
       {{0, 1000, 1, 1700000000000000000, "plant.line3.temp", to_bytes("21.5"), 0x63f147c6184c5f24}},
       0x8ed6d7b2098e5c5e,
       from_hex("524b544d03010100efcdab89674523010773656e736f7273"
                "101004e8078080d0e2c6bfce972f706c616e742e6c696e65332e74656d7032312e35"
                "5e5c8e09b2d7d68e")},
      {2,
       0xFEDCBA9876543210,
       "status",
       {{0, 500, 7, 1700000000123456789, "dev.a.state", to_bytes("up"), 0x12be9179529f65dc},
        {0, 500, 8, 1700000000123457789, "dev.b.state", pattern(130), 0x3bf60e76d1d494d9},
        {tombstone, 500, 9, 1700000000123459789, "dev.c.state", {}, 0x0a282cbfa15749f8},
        {resend, 500, 5, 1699999999000000000, "dev.d.state", to_bytes("down"), 0x14a611757b162c61},
        {0, 0, 10, 1700000000200000000, "dev.e.event", to_bytes("x"), 0xce65a18f18dc12ec},
        {0, 0, 11, 1700000000200000001, "dev.f.event", {}, 0x98b6f968cbd99eaf}},
       0xf74a835868b58eef,
       cat({from_hex("524b544d030106001032547698badcfe06737461747573"
                     "000b02f4030eaab4aed8c7bfce972f6465762e612e73746174657570"
                     "300b8201d00f6465762e622e7374617465"),
            pattern(130),
            from_hex("310b00a01f6465762e632e7374617465"
                     "220b0407998bb5af086465762e642e7374617465646f776e"
                     "000b01000a80b0b4f8086465762e652e6576656e7478"
                     "300b00026465762e662e6576656e74"
                     "ef8eb56858834af7")})},
      {3,
       0x0000000000000001,
       "telemetry",
       {{0, 0, 42, 1, "usine.caf\xc3\xa9.temp\xc3\xa9rature", from_hex("00017f80feff"), 0x712ed6f2120cd4ab}},
       0xfceadad07402c4e6,
       from_hex("524b544d0301010001000000000000000974656c656d65747279"
                "20180654027573696e652e636166c3a92e74656d70c3a972617475726500017f80feff"
                "e6c40274d0daeafc")},
      // Vector 4: vector 1's message answering a snapshot request (flag snapshot, sequence 9).
      {4,
       0x0123456789ABCDEF,
       "sensors",
       {{snapshot, 1000, 9, 1700000000000000000, "plant.line3.temp", to_bytes("21.5"), 0x63f147c6184c5f24}},
       0xeb477037b62420f3,
       from_hex("524b544d03010100efcdab89674523010773656e736f7273"
                "041004e807128080d0e2c6bfce972f706c616e742e6c696e65332e74656d7032312e35"
                "f32024b6377047eb")},
      // Vector 7: 3-byte and largest 2-byte payload lengths.
      {7,
       0x0000000000000002,
       "bulk",
       {{0, 60000, 1, 1700000000000000000, "blob.a", pattern(20000), 0x0b4d76a888481443},
        {0, 60000, 2, 1700000000000000000, "blob.b", pattern(16383), 0x429944eda40b9b27}},
       0x3fc6424cc851823c,
       cat({from_hex("524b544d0301020002000000000000000462756c6b"
                     "1006a09c01e0d4038080d0e2c6bfce972f626c6f622e61"),
            pattern(20000), from_hex("3006ff7f00626c6f622e62"), pattern(16383), from_hex("3c8251c84c42c63f")})},
      // Vector 8: vector 1 padded by one byte.
      {8,
       0x0123456789ABCDEF,
       "sensors",
       {{0, 1000, 1, 1700000000000000000, "plant.line3.temp", to_bytes("21.5"), 0x63f147c6184c5f24}},
       0xa26100bbf729abdc,
       from_hex("524b544d03010100efcdab89674523010773656e736f7273"
                "101004e8078080d0e2c6bfce972f706c616e742e6c696e65332e74656d7032312e35"
                "00"
                "dcab29f7bb0061a2"),
       1},
      // Vector 9: two records padded to a 128-byte segment (59 bytes of padding).
      {9,
       0x0123456789ABCDEF,
       "sensors",
       {{0, 1000, 20, 1700000000000000000, "plant.a", to_bytes("1"), 0xe849b86093f43a70},
        {0, 1000, 21, 1700000000000001500, "plant.b", to_bytes("22"), 0x8fb40ea0a4465ef4}},
       0x22074acbf960cfbe,
       cat({from_hex("524b544d03010200efcdab89674523010773656e736f7273"
                     "000701e807288080d0e2c6bfce972f706c616e742e6131"
                     "300702b817706c616e742e623232"),
            bytes(59), from_hex("becf60f9cb4a0722")}),
       59},
  };
}


// The full hex docs/wire-format.md gives for vector `number` (tests/doc_vectors.hpp).
inline bytes doc_vector(int number) { return racket_test::doc_vector(std::to_string(number)); }

}  // namespace wire_test
