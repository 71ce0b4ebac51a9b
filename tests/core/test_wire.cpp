// SPDX-License-Identifier: MIT
#include "racket/wire.hpp"

#include "catch.hpp"

#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <random>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace wire = racket::wire;
using bytes = std::vector<std::byte>;

bytes to_bytes(std::string_view s) {
  bytes b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = static_cast<std::byte>(s[i]);
  return b;
}

bytes from_hex(std::string_view hex) {
  bytes b;
  const auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    b.push_back(static_cast<std::byte>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  return b;
}

std::string to_hex(std::span<const std::byte> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s += digits[std::to_integer<int>(x) >> 4];
    s += digits[std::to_integer<int>(x) & 15];
  }
  return s;
}

// Test-side little-endian writers, independent of racket::detail::store_*.
void put(bytes& b, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}
void put(bytes& b, std::string_view s) {
  for (char c : s) b.push_back(static_cast<std::byte>(c));
}

// Recomputes the trailer so that a deliberately corrupted field is what decode rejects.
void fix_checksum(bytes& d) {
  REQUIRE(d.size() >= 8);
  const std::size_t n = d.size() - 8;
  const std::uint64_t h = XXH3_64bits(d.data(), n);
  for (int i = 0; i < 8; ++i) d[n + i] = static_cast<std::byte>(h >> (8 * i));
}

struct raw_record {
  std::uint8_t flags = 0;
  int subject_length = -1;  // -1: the subject's size
  int payload_length = -1;  // -1: the payload's size
  std::uint32_t interval_ms = 1000;
  std::uint64_t sequence = 1;
  std::uint64_t timestamp_ns = 5;
  std::uint64_t content_hash = 6;
  std::string subject = "a.b";
  std::string payload = "xy";
};

// Builds a datagram field by field without any validation, checksum fixed up.
struct raw_datagram {
  std::array<std::uint8_t, 4> magic = {0x52, 0x4B, 0x54, 0x4D};
  std::uint8_t version = 1;
  std::uint8_t kind = 1;
  int record_count = -1;  // -1: records.size()
  std::uint64_t publisher_id = 0x1122334455667788;
  int stream_length = -1;
  std::string stream = "st";
  std::vector<raw_record> records = {raw_record{}};
  std::string extra;  // bytes between the records and the trailer

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
      put(d, r.payload_length < 0 ? r.payload.size() : static_cast<std::size_t>(r.payload_length), 2);
      put(d, r.interval_ms, 4);
      put(d, r.sequence, 8);
      put(d, r.timestamp_ns, 8);
      put(d, r.content_hash, 8);
      put(d, r.subject);
      put(d, r.payload);
    }
    put(d, extra);
    put(d, 0, 8);
    fix_checksum(d);
    return d;
  }
};

std::error_code decode_error(std::span<const std::byte> d,
                             std::size_t max_size = wire::max_datagram_size_limit) {
  std::error_code ec = racket::errc::not_open;  // must be overwritten
  const auto view = wire::decode(d, ec, max_size);
  if (ec) {
    CHECK(view.begin() == view.end());
    CHECK(view.record_count() == 0);
  }
  return ec;
}

std::error_code decode_error(const raw_datagram& r) {
  const bytes d = r.encode();
  return decode_error(d);
}

std::error_code err(racket::errc e) { return make_error_code(e); }

wire::record make_record(std::string_view stream, std::string_view subject,
                         std::span<const std::byte> payload, std::uint64_t seq,
                         std::uint8_t flags = 0) {
  return {.flags = flags,
          .interval_ms = static_cast<std::uint32_t>(seq * 10),
          .sequence = seq,
          .timestamp_ns = 1'700'000'000'000'000'000 + seq,
          .content_hash = wire::content_hash(stream, subject, payload),
          .subject = subject,
          .payload = payload};
}

bool same(const wire::record& a, const wire::record& b) {
  return a.flags == b.flags && a.interval_ms == b.interval_ms && a.sequence == b.sequence &&
         a.timestamp_ns == b.timestamp_ns && a.content_hash == b.content_hash &&
         a.subject == b.subject && a.payload.size() == b.payload.size() &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin());
}

// Re-encodes a decoded datagram; a datagram that decodes must re-encode to the same bytes.
bytes reencode(const wire::datagram_view& v) {
  bytes buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  w.begin(v.publisher_id(), v.stream());
  for (const auto& r : v) REQUIRE(w.append(r));
  const auto out = w.finish();
  return {out.begin(), out.end()};
}

bytes sample_datagram() {
  static const bytes payload_a = to_bytes("21.5");
  static const bytes empty;
  bytes buf(wire::default_max_datagram_size);
  wire::datagram_writer w{buf};
  w.begin(42, "sensors");
  REQUIRE(w.append(make_record("sensors", "plant.line3.temp", payload_a, 1)));
  REQUIRE(w.append(make_record("sensors", "plant.line4", empty, 2, wire::flags::tombstone)));
  const auto out = w.finish();
  return {out.begin(), out.end()};
}

}  // namespace

static_assert(std::forward_iterator<wire::datagram_view::iterator>);
static_assert(std::ranges::forward_range<wire::datagram_view>);
static_assert(wire::header_size(7) == 24);
static_assert(wire::record_size(16, 4) == 52);
static_assert(wire::header_size(1) + wire::record_size(1, 0) + wire::trailer_size ==
              wire::min_datagram_size);

TEST_CASE("detail validators accept published subjects and stream names only", "[wire]") {
  using racket::detail::is_valid_wire_stream_name;
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
  CHECK(is_valid_wire_stream_name("s"));
  CHECK(is_valid_wire_stream_name("any thing.*"));
  CHECK(is_valid_wire_stream_name(std::string(255, 's')));
  CHECK_FALSE(is_valid_wire_stream_name(std::string(256, 's')));
  CHECK_FALSE(is_valid_wire_stream_name(""));
  CHECK_FALSE(is_valid_wire_stream_name(std::string_view("a\0", 2)));
}

TEST_CASE("content_hash is XXH3-64 over the length-prefixed concatenation", "[wire]") {
  const auto check = [](std::string_view stream, std::string_view subject, const bytes& payload) {
    bytes cat;
    put(cat, stream.size(), 1);
    put(cat, stream);
    put(cat, subject.size(), 1);
    put(cat, subject);
    cat.insert(cat.end(), payload.begin(), payload.end());
    CHECK(wire::content_hash(stream, subject, payload) == XXH3_64bits(cat.data(), cat.size()));
  };
  check("sensors", "plant.temp", to_bytes("21.5"));
  check("s", "a", {});
  check(std::string(255, 's'), std::string(255, 'a'), bytes(1, std::byte{7}));  // streaming path
  check("s", "a", bytes(5000, std::byte{0xAB}));                                // streaming path
  for (std::size_t n = 500; n < 520; ++n) check("st", "a.b", bytes(n, std::byte{1}));  // threshold

  // The length prefixes keep field boundaries apart.
  CHECK(wire::content_hash("ab", "c", {}) != wire::content_hash("a", "bc", {}));
  const bytes p = to_bytes("c");
  CHECK(wire::content_hash("a", "b", p) != wire::content_hash("a", "bc", {}));
}

TEST_CASE("size helpers and max_payload at the boundary", "[wire]") {
  CHECK(wire::max_payload(1452, 7, 16) == 1452 - 24 - 48 - 8);
  CHECK(wire::max_payload(wire::min_datagram_size, 1, 1) == 0);
  CHECK(wire::max_payload(wire::min_datagram_size + 1, 1, 1) == 1);
  CHECK(wire::max_payload(10, 1, 1) == 0);
  CHECK(wire::max_payload(wire::max_datagram_size_limit, 1, 1) == 65507 - 59);
  CHECK(wire::max_payload(200000, 1, 1) == 65535);  // capped by the u16 length field

  for (std::size_t size : {std::size_t{59}, std::size_t{100}, std::size_t{1452}, std::size_t{65507}}) {
    for (std::size_t s_len : {std::size_t{1}, std::size_t{9}}) {
      for (std::size_t l_len : {std::size_t{1}, std::size_t{13}}) {
        CAPTURE(size, s_len, l_len);
        const std::string stream(s_len, 's');
        const std::string subject(l_len, 'a');
        const std::size_t mp = wire::max_payload(size, s_len, l_len);
        if (wire::header_size(s_len) + wire::record_size(l_len, 0) + wire::trailer_size > size) {
          CHECK(mp == 0);
          continue;
        }
        bytes buf(size);
        const bytes payload(mp + 1, std::byte{0x5A});
        wire::datagram_writer w{buf};
        w.begin(1, stream);
        CHECK_FALSE(w.fits(l_len, mp + 1));
        CHECK_FALSE(w.append(make_record(stream, subject, payload, 1)));
        CHECK(w.empty());
        const std::span<const std::byte> fitting{payload.data(), mp};
        REQUIRE(w.append(make_record(stream, subject, fitting, 1)));
        CHECK(w.size() == size);
        std::error_code ec;
        const auto v = wire::decode(w.finish(), ec, size);
        REQUIRE_FALSE(ec);
        CHECK(v.begin()->payload.size() == mp);
      }
    }
  }
}

TEST_CASE("one record round trips", "[wire]") {
  const bytes payload = to_bytes("21.5");
  std::array<std::byte, wire::default_max_datagram_size> buf{};
  wire::datagram_writer w{buf};
  w.begin(0xDEADBEEFCAFEF00D, "sensors");
  CHECK(w.empty());
  CHECK(w.size() == wire::header_size(7) + wire::trailer_size);
  const auto rec = make_record("sensors", "plant.line3.temp", payload, 9);
  REQUIRE(w.append(rec));
  CHECK(w.record_count() == 1);
  CHECK_FALSE(w.empty());
  CHECK(w.size() == 24 + 52 + 8);
  const auto d = w.finish();
  CHECK(d.size() == 84);
  CHECK(d.data() == buf.data());

  std::error_code ec = racket::errc::bad_magic;
  const auto v = wire::decode(d, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.version() == 1);
  CHECK(v.datagram_kind() == wire::kind::data);
  CHECK(v.record_count() == 1);
  CHECK(v.publisher_id() == 0xDEADBEEFCAFEF00D);
  CHECK(v.stream() == "sensors");
  CHECK(v.bytes().data() == d.data());
  CHECK(v.bytes().size() == d.size());
  REQUIRE(std::distance(v.begin(), v.end()) == 1);
  const wire::record& r = *v.begin();  // a value: binding it to a reference is safe
  CHECK(same(r, rec));
  CHECK_FALSE(r.tombstone());
  CHECK_FALSE(r.resend());
  // Views point into the datagram, not into the caller's record.
  CHECK(reinterpret_cast<const std::byte*>(r.subject.data()) == d.data() + 24 + 32);
  CHECK(r.payload.data() == d.data() + 24 + 32 + 16);
}

TEST_CASE("many records round trip: mixed flags, empty payload, longest subject, largest payload", "[wire]") {
  const std::string stream(255, 'S');
  const std::string long_subject = [] {
    std::string s;
    while (s.size() < 254) s += "abcdefg.";
    s.resize(255);
    if (s.back() == '.') s.back() = 'z';
    return s;
  }();
  REQUIRE(long_subject.size() == 255);
  const bytes small = to_bytes("v");
  const bytes empty;
  bytes big(wire::max_payload(wire::max_datagram_size_limit, 255, 255) - 1000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::byte>(i * 7);

  std::vector<wire::record> recs = {
      make_record(stream, "a", small, 1),
      make_record(stream, "a.b.c", empty, 2),
      make_record(stream, "gone.subject", empty, 3, wire::flags::tombstone),
      make_record(stream, long_subject, small, 4, wire::flags::resend),
      make_record(stream, "both", empty, 5, wire::flags::tombstone | wire::flags::resend),
      make_record(stream, long_subject, big, 6),
  };
  recs[0].sequence = ~std::uint64_t{0};
  recs[0].timestamp_ns = ~std::uint64_t{0};
  recs[0].interval_ms = ~std::uint32_t{0};

  bytes buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  w.begin(~std::uint64_t{0}, stream);
  for (const auto& r : recs) REQUIRE(w.append(r));
  const auto d = w.finish();

  std::error_code ec;
  const auto v = wire::decode(d, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.publisher_id() == ~std::uint64_t{0});
  CHECK(v.stream() == stream);
  REQUIRE(v.record_count() == recs.size());
  std::size_t i = 0;
  for (const auto& r : v) {
    CAPTURE(i);
    REQUIRE(i < recs.size());
    CHECK(same(r, recs[i]));
    ++i;
  }
  CHECK(i == recs.size());
  auto it = std::next(v.begin(), 2);
  CHECK(it->tombstone());
  CHECK_FALSE(it->resend());
  ++it;
  CHECK(it->resend());
  CHECK_FALSE(it->tombstone());
  ++it;
  CHECK((it->tombstone() && it->resend()));

  // Multi-pass: a copy iterates independently.
  auto a = v.begin();
  auto b = a++;
  CHECK(b == v.begin());
  CHECK(a != b);
  CHECK(b->sequence == recs[0].sequence);
  CHECK(a->sequence == recs[1].sequence);

  // The largest payload that fits a 65507-byte datagram fills it exactly.
  w.begin(1, "s");
  const bytes biggest(wire::max_payload(wire::max_datagram_size_limit, 1, 1), std::byte{3});
  REQUIRE(w.append(make_record("s", "a", biggest, 1)));
  CHECK(w.size() == wire::max_datagram_size_limit);
  const auto d2 = w.finish();
  CHECK(d2.size() == wire::max_datagram_size_limit);
  wire::decode(d2, ec);
  CHECK_FALSE(ec);
}

TEST_CASE("append returns false exactly when the next record would not fit", "[wire]") {
  const bytes payload(40, std::byte{9});
  for (std::size_t cap : {std::size_t{59}, std::size_t{150}, std::size_t{1452}, std::size_t{1453}}) {
    CAPTURE(cap);
    bytes buf(cap);
    wire::datagram_writer w{buf};
    w.begin(3, "stream");
    std::uint64_t seq = 1;
    std::size_t appended = 0;
    for (;;) {
      // Alternate sizes so both the exact and the inexact boundary get hit.
      const std::span<const std::byte> p{payload.data(), seq % 3 == 0 ? 0u : 40u};
      const std::string subject = "sub." + std::to_string(seq);
      const std::size_t before = w.size();
      const bool fits = before + wire::record_size(subject.size(), p.size()) <= cap;
      CHECK(w.fits(subject.size(), p.size()) == fits);
      const bool ok = w.append(make_record("stream", subject, p, seq));
      REQUIRE(ok == fits);
      if (!ok) {
        CHECK(w.size() == before);
        CHECK(w.record_count() == appended);
        break;
      }
      ++appended;
      CHECK(w.size() == before + wire::record_size(subject.size(), p.size()));
      CHECK(w.size() <= cap);
      ++seq;
    }
    if (appended == 0) {
      CHECK(cap < wire::header_size(6) + wire::record_size(5, 40) + wire::trailer_size);
      continue;
    }
    const auto d = w.finish();
    CHECK(d.size() <= cap);
    std::error_code ec;
    const auto v = wire::decode(d, ec, cap);
    REQUIRE_FALSE(ec);
    CHECK(v.record_count() == appended);
    CHECK(static_cast<std::size_t>(std::distance(v.begin(), v.end())) == appended);
  }

  bytes buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  w.begin(1, "s");
  CHECK_FALSE(w.fits(256, 0));
  CHECK_FALSE(w.fits(1, 65536));
  CHECK(w.fits(255, 0));

  // A buffer larger than the hard limit is only filled up to it.
  bytes huge(wire::max_datagram_size_limit + 100);
  wire::datagram_writer wh{huge};
  CHECK(wh.capacity() == wire::max_datagram_size_limit);
  wh.begin(1, "s");
  CHECK_FALSE(wh.fits(1, wire::max_payload(wire::max_datagram_size_limit, 1, 1) + 1));
}

TEST_CASE("the writer starts over after finish", "[wire]") {
  const bytes p1 = to_bytes("first");
  const bytes p2 = to_bytes("2");
  bytes buf(wire::default_max_datagram_size);
  wire::datagram_writer w{buf};
  w.begin(1, "one");
  REQUIRE(w.append(make_record("one", "x.y", p1, 1)));
  REQUIRE(w.append(make_record("one", "x.z", p1, 2)));
  const bytes first = [&] { auto d = w.finish(); return bytes(d.begin(), d.end()); }();

  w.begin(2, "two.stream");
  CHECK(w.empty());
  CHECK(w.record_count() == 0);
  CHECK(w.size() == wire::header_size(10) + wire::trailer_size);
  REQUIRE(w.append(make_record("two.stream", "q", p2, 7)));
  const auto second = w.finish();
  std::error_code ec;
  const auto v = wire::decode(second, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.stream() == "two.stream");
  CHECK(v.publisher_id() == 2);
  CHECK(v.record_count() == 1);
  CHECK(v.begin()->sequence == 7);
  const auto v1 = wire::decode(first, ec);
  REQUIRE_FALSE(ec);
  CHECK(v1.record_count() == 2);
}

namespace {

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
  std::uint64_t publisher_id;
  std::string stream;
  std::vector<vector_record> records;
  std::uint64_t checksum;  // pinned, computed with xxhsum -H3
  std::string_view hex;
};

// The vectors of docs/wire-format.md. The expected bytes and hashes were produced by an
// independent Python encoder (struct.pack) with the xxhsum CLI and the system libxxhash.
std::vector<test_vector> test_vectors() {
  return {
      {0x0123456789ABCDEF,
       "sensors",
       {{0, 1000, 1, 1700000000000000000, "plant.line3.temp", to_bytes("21.5"), 0x63f147c6184c5f24}},
       0xc29936f2dc4a85c2,
       "524b544d01010100efcdab89674523010773656e736f727300100400e803000001000000000000000000"
       "2a36fe9c9717245f4c18c647f163706c616e742e6c696e65332e74656d7032312e35c2854adcf23699c2"},
      {0xFEDCBA9876543210,
       "status",
       {{0, 500, 7, 1700000000123456789, "dev.a.state", to_bytes("up"), 0x12be9179529f65dc},
        {wire::flags::tombstone, 0, 8, 1700000000223456789, "dev.b.state", {}, 0xff682781a8215111},
        {wire::flags::resend, 500, 5, 1700000000323456789, "dev.c.state", to_bytes("down"),
         0x23717d03f6e7cace}},
       0xdae7059a49cc22e1,
       "524b544d010103001032547698badcfe06737461747573000b0200f40100000700000000000000"
       "15cd853dfe9c9717dc659f527991be126465762e612e73746174657570010b0000000000000800"
       "00000000000015ae7b43fe9c9717115121a8812768ff6465762e622e7374617465020b0400f401"
       "00000500000000000000158f7149fe9c9717cecae7f6037d71236465762e632e7374617465646f"
       "776ee122cc499a05e7da"},
      {0x0000000000000001,
       "telemetry",
       {{0, 0, 42, 1, "usine.caf\xc3\xa9.temp\xc3\xa9rature", from_hex("00017f80feff"),
         0x712ed6f2120cd4ab}},
       0x6512a4366cbae5cd,
       "524b544d0101010001000000000000000974656c656d6574727900180600000000002a0000000000"
       "00000100000000000000abd40c12f2d62e717573696e652e636166c3a92e74656d70c3a972617475"
       "726500017f80feffcde5ba6c36a41265"},
      // Vector 4: vector 1's message answering a snapshot request (flag snapshot, sequence 9).
      {0x0123456789ABCDEF,
       "sensors",
       {{wire::flags::snapshot, 1000, 9, 1700000000000000000, "plant.line3.temp", to_bytes("21.5"),
         0x63f147c6184c5f24}},
       0xdf318a977ba73578,
       "524b544d01010100efcdab89674523010773656e736f727304100400e803000009000000000000000000"
       "2a36fe9c9717245f4c18c647f163706c616e742e6c696e65332e74656d7032312e357835a77b978a31df"},
  };
}

}  // namespace

TEST_CASE("hex test vectors: encoding is byte exact and decodes to the inputs", "[wire]") {
  for (const auto& tv : test_vectors()) {
    CAPTURE(tv.stream);
    bytes buf(wire::default_max_datagram_size);
    wire::datagram_writer w{buf};
    w.begin(tv.publisher_id, tv.stream);
    for (const auto& r : tv.records) {
      const auto h = wire::content_hash(tv.stream, r.subject, r.payload);
      CHECK(h == r.content_hash);
      REQUIRE(w.append({.flags = r.flags,
                        .interval_ms = r.interval_ms,
                        .sequence = r.sequence,
                        .timestamp_ns = r.timestamp_ns,
                        .content_hash = h,
                        .subject = r.subject,
                        .payload = r.payload}));
    }
    const auto d = w.finish();
    CHECK(to_hex(d) == tv.hex);

    const bytes expected = from_hex(tv.hex);
    std::uint64_t trailer = 0;
    for (int i = 0; i < 8; ++i)
      trailer |= std::uint64_t{std::to_integer<std::uint8_t>(expected[expected.size() - 8 + i])} << (8 * i);
    CHECK(trailer == tv.checksum);

    std::error_code ec;
    const auto v = wire::decode(expected, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.publisher_id() == tv.publisher_id);
    CHECK(v.stream() == tv.stream);
    REQUIRE(v.record_count() == tv.records.size());
    auto it = v.begin();
    for (const auto& r : tv.records) {
      CHECK(it->flags == r.flags);
      CHECK(it->interval_ms == r.interval_ms);
      CHECK(it->sequence == r.sequence);
      CHECK(it->timestamp_ns == r.timestamp_ns);
      CHECK(it->content_hash == r.content_hash);
      CHECK(it->subject == r.subject);
      CHECK(bytes(it->payload.begin(), it->payload.end()) == r.payload);
      ++it;
    }
    CHECK(it == v.end());
  }
}

TEST_CASE("the smallest valid datagram has 59 bytes", "[wire]") {
  raw_datagram r;
  r.stream = "s";
  r.records[0].subject = "a";
  r.records[0].payload = "";
  const bytes d = r.encode();
  CHECK(d.size() == wire::min_datagram_size);
  CHECK_FALSE(decode_error(d));
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
    CHECK(decode_error(from_hex("524b544e0101")) == err(errc::bad_magic));
    raw_datagram r;
    r.magic = {0x4D, 0x54, 0x4B, 0x52};  // byte-swapped
    CHECK(decode_error(r) == err(errc::bad_magic));
  }
  SECTION("bad_version") {
    CHECK(decode_error(from_hex("524b544d")) == err(errc::truncated));
    CHECK(decode_error(from_hex("524b544d02")) == err(errc::bad_version));
    for (std::uint8_t ver : {0, 2, 255}) {
      raw_datagram r;
      r.version = ver;
      CHECK(decode_error(r) == err(errc::bad_version));
    }
  }
  SECTION("bad_kind") {
    CHECK(decode_error(from_hex("524b544d01")) == err(errc::truncated));
    CHECK(decode_error(from_hex("524b544d0102")) == err(errc::bad_kind));
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
  SECTION("record_count larger than the records present is bad_length") {
    raw_datagram r;
    r.record_count = 2;
    CHECK(decode_error(r) == err(errc::bad_length));
    r.record_count = 65535;
    CHECK(decode_error(r) == err(errc::bad_length));
  }
  SECTION("a partial record header is bad_length") {
    raw_datagram r;
    r.records.clear();
    r.record_count = 1;
    r.extra = std::string(31, '\x01');
    CHECK(decode_error(r) == err(errc::bad_length));
  }
  SECTION("subject or payload past the records area is bad_length") {
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
  SECTION("unknown flag bits, and resend with snapshot, are bad_record") {
    for (std::uint8_t f : {0x08, 0x10, 0x20, 0x40, 0x80, 0x06, 0x07, 0x0C}) {
      CAPTURE(int{f});
      raw_datagram r;
      r.records[0].payload = "";
      r.records[0].flags = f;
      CHECK(decode_error(r) == err(errc::bad_record));
    }
  }
  SECTION("sequence zero is bad_record") {
    raw_datagram r;
    r.records[0].sequence = 0;
    CHECK(decode_error(r) == err(errc::bad_record));
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
    r.records[0].flags = wire::flags::tombstone;
    CHECK(decode_error(r) == err(errc::bad_record));
    r.records[0].payload = "";
    CHECK_FALSE(decode_error(r));
  }
  SECTION("the second record is checked too") {
    raw_datagram r;
    r.records.push_back(raw_record{});
    CHECK_FALSE(decode_error(r));
    r.records[1].sequence = 0;
    CHECK(decode_error(r) == err(errc::bad_record));
  }
  SECTION("bytes left over after the records are bad_length") {
    raw_datagram r;
    r.extra = "z";
    CHECK(decode_error(r) == err(errc::bad_length));
    r.extra = std::string(100, 'z');
    CHECK(decode_error(r) == err(errc::bad_length));
    raw_datagram two;
    two.records.push_back(raw_record{});
    two.record_count = 1;  // the second record is left over
    CHECK(decode_error(two) == err(errc::bad_length));
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
  r.version = 1;
  CHECK(decode_error(r) == err(errc::bad_kind));
  r.kind = 1;
  CHECK(decode_error(r) == err(errc::bad_length));  // S == 0
  r.stream = "s";
  bytes d = r.encode();
  d[0] = std::byte{0};  // checksum now wrong too, but the magic is checked first
  CHECK(decode_error(d) == err(errc::bad_magic));

  // Checksum before any record check.
  raw_datagram q;
  q.records[0].sequence = 0;
  bytes e = q.encode();
  e.back() ^= std::byte{1};
  CHECK(decode_error(e) == err(errc::bad_checksum));

  // record_count 0 before stream NUL and records; bounds before field checks.
  raw_datagram z;
  z.record_count = 0;
  z.stream = std::string("\0", 1);
  CHECK(decode_error(z) == err(errc::bad_record));
  raw_datagram b;
  b.records[0].sequence = 0;
  b.records[0].payload_length = 1000;
  CHECK(decode_error(b) == err(errc::bad_length));
}

TEST_CASE("every single bit flip is rejected", "[wire]") {
  const bytes good = sample_datagram();
  REQUIRE_FALSE(decode_error(good));
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    bytes d = good;
    d[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    CAPTURE(bit);
    REQUIRE(decode_error(d));
  }
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
      const bytes head = from_hex("524b544d0101");
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
    if (!ec) {
      ++decoded;
      CHECK(reencode(v) == d);  // it was a valid datagram
      for (const auto& r : v) {
        CHECK(racket::detail::is_valid_wire_subject(r.subject));
        CHECK(r.sequence != 0);
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
    r.records[0].flags = f;
    const bytes d = r.encode();
    std::error_code ec;
    const auto v = wire::decode(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.begin()->snapshot());
    CHECK_FALSE(v.begin()->resend());
    CHECK(reencode(v) == d);
  }
}

// ---------------------------------------------------------------------------------------------
// Snapshot requests (kind 2)

namespace {

struct request_vector {
  std::uint64_t requester_id;
  std::string stream;
  std::string filter;
  std::uint64_t target;
  std::vector<wire::sequence_range> ranges;
  std::uint64_t checksum;  // pinned, computed with xxhsum -H3 (not this library)
  std::string_view hex;
};

// The request vectors of docs/wire-format.md (vectors 5 and 6), from the same independent
// Python encoder (struct.pack) and the xxhsum CLI.
std::vector<request_vector> request_vectors() {
  return {
      {0x0123456789ABCDEF, "sensors", "plant.*", 0, {}, 0x16ad6f40741b5218,
       "524b544d01020000efcdab89674523010773656e736f727307706c616e742e2a0000000000000000"
       "18521b74406fad16"},
      {0xFEDCBA9876543210, "status", "", 0x1122334455667788, {{5, 7}, {10, 10}}, 0x65f67db98d6cc795,
       "524b544d010202001032547698badcfe067374617475730088776655443322110500000000000000"
       "07000000000000000a000000000000000a0000000000000095c76c8db97df665"},
  };
}

// Builds a request field by field without validation, checksum fixed up.
struct raw_request {
  std::uint8_t version = 1;
  std::uint8_t kind = 2;
  int range_count = -1;  // -1: ranges.size()
  std::uint64_t requester_id = 0x1122334455667788;
  int stream_length = -1;
  std::string stream = "st";
  int filter_length = -1;
  std::string filter = "a.*";
  std::uint64_t target = 7;
  std::vector<wire::sequence_range> ranges = {{3, 4}};
  std::string extra;

  bytes encode() const {
    bytes d;
    put(d, "RKTM");
    put(d, version, 1);
    put(d, kind, 1);
    put(d, range_count < 0 ? ranges.size() : static_cast<std::size_t>(range_count), 2);
    put(d, requester_id, 8);
    put(d, stream_length < 0 ? stream.size() : static_cast<std::size_t>(stream_length), 1);
    put(d, stream);
    put(d, filter_length < 0 ? filter.size() : static_cast<std::size_t>(filter_length), 1);
    put(d, filter);
    put(d, target, 8);
    for (const auto& g : ranges) {
      put(d, g.first, 8);
      put(d, g.last, 8);
    }
    put(d, extra);
    put(d, 0, 8);
    fix_checksum(d);
    return d;
  }
};

std::error_code request_error(std::span<const std::byte> d, std::size_t max_size = wire::max_datagram_size_limit) {
  std::error_code ec = racket::errc::not_open;  // must be overwritten
  const auto v = wire::decode_request(d, ec, max_size);
  if (ec) {
    CHECK(v.stream().empty());
    CHECK(v.range_count() == 0);
  }
  return ec;
}

std::error_code request_error(const raw_request& r) { return request_error(r.encode()); }

bytes encode(const wire::snapshot_request& r) {
  bytes buf(2048);
  const auto d = wire::encode_request(buf, r);
  return {d.begin(), d.end()};
}

}  // namespace

static_assert(wire::request_size(1, 0, 0) == 35);
static_assert(wire::request_size(255, 255, wire::max_request_ranges) == 1568);

TEST_CASE("request hex vectors: encoding is byte exact and decodes to the inputs", "[wire][snapshot]") {
  for (const auto& tv : request_vectors()) {
    CAPTURE(tv.stream);
    const bytes d = encode({.requester_id = tv.requester_id,
                            .stream = tv.stream,
                            .filter = tv.filter,
                            .target_publisher = tv.target,
                            .ranges = tv.ranges});
    CHECK(to_hex(d) == tv.hex);
    const bytes expected = from_hex(tv.hex);
    CHECK(expected.size() == wire::request_size(tv.stream.size(), tv.filter.size(), tv.ranges.size()));
    std::uint64_t trailer = 0;
    for (int i = 0; i < 8; ++i)
      trailer |= std::uint64_t{std::to_integer<std::uint8_t>(expected[expected.size() - 8 + i])} << (8 * i);
    CHECK(trailer == tv.checksum);

    CHECK(wire::peek_kind(expected) == wire::kind::snapshot_request);
    std::error_code ec;
    const auto v = wire::decode_request(expected, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.requester_id() == tv.requester_id);
    CHECK(v.stream() == tv.stream);
    CHECK(v.filter() == tv.filter);
    CHECK(v.target_publisher() == tv.target);
    CHECK(v.full() == tv.ranges.empty());
    REQUIRE(v.range_count() == tv.ranges.size());
    for (std::size_t i = 0; i < tv.ranges.size(); ++i) CHECK(v.range(i) == tv.ranges[i]);
    CHECK(v.bytes().size() == expected.size());
  }
}

TEST_CASE("a version-1 data decoder rejects a request as bad_kind, and the reverse", "[wire][snapshot]") {
  using racket::errc;
  for (const auto& tv : request_vectors()) {
    const bytes d = from_hex(tv.hex);
    CHECK(decode_error(d) == err(errc::bad_kind));
  }
  const bytes data = sample_datagram();
  CHECK(wire::peek_kind(data) == wire::kind::data);
  CHECK(request_error(data) == err(errc::bad_kind));
}

TEST_CASE("peek_kind looks at magic, version and kind only", "[wire][snapshot]") {
  CHECK(wire::peek_kind(bytes{}) == wire::kind{0});
  CHECK(wire::peek_kind(from_hex("524b544d01")) == wire::kind{0});            // too short
  CHECK(wire::peek_kind(from_hex("524b544d0102")) == wire::kind::snapshot_request);
  CHECK(wire::peek_kind(from_hex("524b544d0101ffff")) == wire::kind::data);
  CHECK(wire::peek_kind(from_hex("524b544d0202")) == wire::kind{0});           // another version
  CHECK(wire::peek_kind(from_hex("524b544e0102")) == wire::kind{0});           // another magic
  CHECK(wire::peek_kind(from_hex("524b544d0109")) == wire::kind{9});           // unknown kind: as is
}

TEST_CASE("encode_request refuses invalid requests and small buffers", "[wire][snapshot]") {
  const wire::sequence_range one[] = {{1, 1}};
  bytes buf(2048);
  CHECK(wire::encode_request(buf, {.stream = ""}).empty());
  CHECK(wire::encode_request(buf, {.stream = std::string_view("a\0b", 3)}).empty());
  CHECK(wire::encode_request(buf, {.stream = "s", .filter = "a..b"}).empty());
  CHECK(wire::encode_request(buf, {.stream = "s", .filter = "a*"}).empty());
  CHECK(wire::encode_request(buf, {.stream = "s", .ranges = one}).empty());  // ranges need a target
  const wire::sequence_range zero[] = {{0, 1}};
  const wire::sequence_range backwards[] = {{5, 4}};
  CHECK(wire::encode_request(buf, {.stream = "s", .target_publisher = 1, .ranges = zero}).empty());
  CHECK(wire::encode_request(buf, {.stream = "s", .target_publisher = 1, .ranges = backwards}).empty());
  std::vector<wire::sequence_range> many(65, {1, 1});
  CHECK(wire::encode_request(buf, {.stream = "s", .target_publisher = 1, .ranges = many}).empty());
  many.resize(64);
  CHECK(wire::encode_request(buf, {.stream = "s", .target_publisher = 1, .ranges = many}).size() ==
        wire::request_size(1, 0, 64));
  bytes small(35);
  CHECK(wire::encode_request(small, {.stream = "s"}).size() == 35);
  CHECK(wire::encode_request(std::span<std::byte>(small).first(34), {.stream = "s"}).empty());
  // The longest request: 255-byte stream and filter, 64 ranges.
  const std::string name(255, 'n');
  std::string filter = "f";
  while (filter.size() < 253) filter += ".f";
  filter += ".*";
  REQUIRE(filter.size() == 255);
  const bytes longest = encode({.requester_id = 1, .stream = name, .filter = filter, .target_publisher = 2, .ranges = many});
  CHECK(longest.size() == 1568);
  std::error_code ec;
  const auto v = wire::decode_request(longest, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.filter() == filter);
  CHECK(v.range_count() == 64);
}

TEST_CASE("decode_request errors, in the documented order", "[wire][snapshot]") {
  using racket::errc;
  CHECK_FALSE(request_error(raw_request{}));
  {
    const bytes d = raw_request{}.encode();
    CHECK(request_error(d, d.size() - 1) == err(errc::oversize));
  }
  CHECK(request_error(from_hex("524b54")) == err(errc::truncated));
  CHECK(request_error(from_hex("524b544e0102")) == err(errc::bad_magic));
  CHECK(request_error(from_hex("524b544d")) == err(errc::truncated));
  CHECK(request_error(from_hex("524b544d02")) == err(errc::bad_version));
  CHECK(request_error(from_hex("524b544d01")) == err(errc::truncated));
  CHECK(request_error(from_hex("524b544d0101")) == err(errc::bad_kind));
  CHECK(request_error(from_hex("524b544d0103")) == err(errc::bad_kind));
  CHECK(request_error(from_hex("524b544d0102")) == err(errc::truncated));
  {
    raw_request r;
    r.stream_length = 0;
    CHECK(request_error(r) == err(errc::bad_length));
  }
  {
    // 17 + S bytes: the filter length byte is missing.
    const bytes d = raw_request{}.encode();
    CHECK(request_error(std::span<const std::byte>(d).first(19)) == err(errc::truncated));
  }
  {
    raw_request r;  // range_count says more than is there: truncated before the checksum
    r.range_count = 2;
    CHECK(request_error(r) == err(errc::truncated));
    r.range_count = 65535;
    CHECK(request_error(r) == err(errc::truncated));
    raw_request f;
    f.filter_length = 200;
    CHECK(request_error(f) == err(errc::truncated));
  }
  {
    bytes d = raw_request{}.encode();
    d[10] ^= std::byte{1};
    CHECK(request_error(d) == err(errc::bad_checksum));
  }
  {
    raw_request r;
    r.extra = "x";
    CHECK(request_error(r) == err(errc::bad_length));
  }
  {
    raw_request r;
    r.stream = std::string("a\0b", 3);
    CHECK(request_error(r) == err(errc::bad_record));
  }
  for (const char* f : {"a..b", ".a", "a.", "a*", "a.**", "*b"}) {
    CAPTURE(f);
    raw_request r;
    r.filter = f;
    CHECK(request_error(r) == err(errc::bad_record));
  }
  {
    raw_request r;
    r.filter = std::string("a\0", 2);
    CHECK(request_error(r) == err(errc::bad_record));
  }
  {
    raw_request r;
    r.ranges.assign(65, {1, 2});
    CHECK(request_error(r) == err(errc::bad_record));
    r.ranges.resize(64);
    CHECK_FALSE(request_error(r));
  }
  {
    raw_request r;
    r.target = 0;
    CHECK(request_error(r) == err(errc::bad_record));
    r.ranges.clear();
    CHECK_FALSE(request_error(r));  // a full request to every publisher
  }
  {
    raw_request r;
    r.ranges = {{1, 2}, {0, 3}};
    CHECK(request_error(r) == err(errc::bad_record));
    r.ranges = {{1, 2}, {9, 8}};
    CHECK(request_error(r) == err(errc::bad_record));
    r.ranges = {{UINT64_MAX, UINT64_MAX}, {1, 1}};  // any order, overlaps allowed
    CHECK_FALSE(request_error(r));
  }
  {
    raw_request r;  // an empty filter is every subject
    r.filter = "";
    CHECK_FALSE(request_error(r));
  }
}

TEST_CASE("requests: every bit flip and every truncation is rejected", "[wire][snapshot]") {
  using racket::errc;
  const bytes good = from_hex(request_vectors()[1].hex);
  REQUIRE_FALSE(request_error(good));
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    bytes d = good;
    d[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    CAPTURE(bit);
    REQUIRE(request_error(d));
  }
  for (std::size_t n = 0; n < good.size(); ++n) {
    CAPTURE(n);
    std::unique_ptr<std::byte[]> copy(new std::byte[n]);
    std::copy_n(good.begin(), n, copy.get());
    CHECK(request_error(std::span<const std::byte>(copy.get(), n)) == err(errc::truncated));
  }
}

TEST_CASE("requests: random garbage never crashes and never decodes unless valid", "[wire][snapshot]") {
  std::mt19937_64 rng(7);
  const bytes good = from_hex(request_vectors()[1].hex);
  std::size_t decoded = 0;
  for (int i = 0; i < 50000; ++i) {
    bytes d;
    if (i % 2 == 0) {
      d.resize(rng() % 120);
      for (auto& b : d) b = static_cast<std::byte>(rng());
      if (d.size() >= 17) {
        const bytes head = from_hex("524b544d0102");
        std::copy(head.begin(), head.end(), d.begin());
        d[6] = static_cast<std::byte>(rng() % 3);
        d[7] = std::byte{0};
        d[16] = static_cast<std::byte>(1 + rng() % 8);
      }
    } else {
      d = good;
      for (int k = 0, m = 1 + static_cast<int>(rng() % 3); k < m; ++k)
        d[rng() % d.size()] = static_cast<std::byte>(rng() % 3 == 0 ? 0 : rng());
      if (rng() % 4 == 0) d.resize(rng() % (d.size() + 20));
    }
    if (d.size() >= 8) fix_checksum(d);
    std::unique_ptr<std::byte[]> copy(new std::byte[d.size()]);
    std::copy(d.begin(), d.end(), copy.get());
    std::error_code ec;
    const auto v = wire::decode_request(std::span<const std::byte>(copy.get(), d.size()), ec);
    if (ec) continue;
    ++decoded;
    // A request that decodes re-encodes to the same bytes.
    std::vector<wire::sequence_range> ranges;
    for (std::size_t k = 0; k < v.range_count(); ++k) ranges.push_back(v.range(k));
    CHECK(encode({.requester_id = v.requester_id(),
                  .stream = v.stream(),
                  .filter = v.filter(),
                  .target_publisher = v.target_publisher(),
                  .ranges = ranges}) == d);
  }
  CHECK(decoded > 100);
}

TEST_CASE("range_set keeps sorted disjoint ranges and merges the smallest holes past its cap", "[wire][snapshot]") {
  using range = wire::sequence_range;
  racket::detail::range_set s{4};
  s.add(10, 12);
  s.add(1, 1);
  s.add(13, 13);  // adjacent: joins 10..12
  s.add(5, 6);
  CHECK(s.ranges() == std::vector<range>{{1, 1}, {5, 6}, {10, 13}});
  s.add(2, 9);  // bridges everything
  CHECK(s.ranges() == std::vector<range>{{1, 13}});
  s.remove(1);
  s.remove(13);
  s.remove(7);
  CHECK(s.ranges() == std::vector<range>{{2, 6}, {8, 12}});
  CHECK(s.contains(2));
  CHECK_FALSE(s.contains(7));
  CHECK(s.count() == 10);
  s.clear();
  for (std::uint64_t v : {100, 200, 210, 300, 1000, 1001 + 1}) s.add(v, v);
  // 6 ranges, cap 4: the holes 200..210 (10) and 1000..1002 (2) are merged away first.
  CHECK(s.ranges() == std::vector<range>{{100, 100}, {200, 210}, {300, 300}, {1000, 1002}});
  s.add(UINT64_MAX - 1, UINT64_MAX);
  s.add(UINT64_MAX, UINT64_MAX);
  CHECK(s.ranges().back() == range{UINT64_MAX - 1, UINT64_MAX});
  CHECK(s.size() <= 4);
}
