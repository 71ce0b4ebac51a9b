// SPDX-License-Identifier: MIT
#include "racket/wire.hpp"

#include "catch.hpp"

#include <array>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
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

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// The payload of the long vectors: byte k is k mod 251.
bytes pattern(std::size_t n) {
  bytes b(n);
  for (std::size_t k = 0; k < n; ++k) b[k] = static_cast<std::byte>(k % 251);
  return b;
}

// Test-side little-endian and varint writers, independent of racket::detail.
void put(bytes& b, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xFF));
}
void put(bytes& b, std::string_view s) {
  for (char c : s) b.push_back(static_cast<std::byte>(c));
}
void put_varint(bytes& b, std::uint64_t v) {
  do {
    std::uint8_t x = v & 0x7F;
    v >>= 7;
    if (v != 0) x |= 0x80;
    b.push_back(std::byte{x});
  } while (v != 0);
}
std::string varint_text(std::uint64_t v) {
  bytes b;
  put_varint(b, v);
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
// delta modulo 2^64 as int64, zigzag-encoded (spelled out differently from the library).
std::uint64_t zz(std::uint64_t delta) {
  const auto n = static_cast<std::int64_t>(delta);
  return n >= 0 ? static_cast<std::uint64_t>(n) * 2 : ~(delta * 2);
}

// Recomputes the trailer so that a deliberately corrupted field is what decode rejects.
void fix_checksum(bytes& d) {
  REQUIRE(d.size() >= 8);
  const std::size_t n = d.size() - 8;
  const std::uint64_t h = XXH3_64bits(d.data(), n);
  for (int i = 0; i < 8; ++i) d[n + i] = static_cast<std::byte>(h >> (8 * i));
}

// An independent encoder of version 3 (docs/wire-format.md), to check the writer against:
// `padding` zero bytes go between the last record and the trailer.
bytes reference_datagram(std::uint64_t pub, std::string_view stream, const std::vector<wire::record>& recs,
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

wire::record make_record(std::span<const std::byte> payload, std::string_view subject, std::uint64_t seq,
                         std::uint8_t flags = 0) {
  return {.flags = flags,
          .interval_ms = static_cast<std::uint32_t>(seq * 10),
          .sequence = seq,
          .timestamp_ns = 1'700'000'000'000'000'000 + seq,
          .subject = subject,
          .payload = payload};
}

bool same(const wire::record& a, const wire::record& b) {
  return a.flags == b.flags && a.interval_ms == b.interval_ms && a.sequence == b.sequence &&
         a.timestamp_ns == b.timestamp_ns && a.subject == b.subject && a.payload.size() == b.payload.size() &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin());
}

// Re-encodes a decoded datagram with the writer.
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
  REQUIRE(w.append(make_record(payload_a, "plant.line3.temp", 1)));
  REQUIRE(w.append(make_record(empty, "plant.line4", 2, wire::flags::tombstone)));
  wire::record older = make_record(payload_a, "plant.line5", 1, wire::flags::resend);
  older.timestamp_ns -= 5000;
  REQUIRE(w.append(older));
  const auto out = w.finish();
  return {out.begin(), out.end()};
}

// Flips each bit of `good` in turn (one at a time, on a copy): each must be rejected.
void require_every_bit_flip_rejected(std::span<const std::byte> good) {
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    bytes d(good.begin(), good.end());
    d[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
    CAPTURE(bit);
    REQUIRE(decode_error(d));
  }
}

}  // namespace

static_assert(std::forward_iterator<wire::datagram_view::iterator>);
static_assert(std::ranges::forward_range<wire::datagram_view>);
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
  check("s", "a", bytes(5000, std::byte{0xAB}));                                // streaming path
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

TEST_CASE("a max_payload record fits an empty datagram whatever its fields", "[wire]") {
  const std::uint64_t top = std::uint64_t{1} << 63;  // the sequence and timestamp with the longest varint
  for (std::size_t size : {std::size_t{31}, std::size_t{64}, std::size_t{100}, std::size_t{600},
                           std::size_t{1452}, std::size_t{9000}, std::size_t{65507}}) {
    for (std::size_t s_len : {std::size_t{1}, std::size_t{9}, std::size_t{255}}) {
      for (std::size_t l_len : {std::size_t{1}, std::size_t{13}, std::size_t{255}}) {
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
        const wire::record worst{.interval_ms = 0xFFFFFFFF,
                                 .sequence = top,
                                 .timestamp_ns = top,
                                 .subject = subject,
                                 .payload = std::span<const std::byte>(payload).first(mp)};
        w.begin(1, stream);
        REQUIRE(w.encoded_size(worst) == wire::record_size(l_len, mp));
        REQUIRE(w.append(worst));
        CHECK(w.size() == wire::header_size(s_len) + wire::record_size(l_len, mp) + wire::trailer_size);
        std::error_code ec;
        const auto v = wire::decode(w.finish(), ec, size);
        REQUIRE_FALSE(ec);
        CHECK(same(*v.begin(), worst));
        // One byte more does not fit as a worst-case record (unless P is at its limit).
        if (mp < wire::max_payload_length) {
          wire::record bigger = worst;
          bigger.payload = payload;
          w.begin(1, stream);
          CHECK_FALSE(w.fits(bigger));
          CHECK_FALSE(w.append(bigger));
          CHECK(w.empty());
        }
        // Every other record with this payload takes fewer bytes, so it fits too.
        w.begin(1, stream);
        CHECK(w.append({.sequence = 1, .subject = subject, .payload = std::span<const std::byte>(payload).first(mp)}));
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
  const auto rec = make_record(payload, "plant.line3.temp", 9);
  // flags, L, P, interval 90, zigzag(9) = 18, a 9-byte timestamp: 14 bytes, then 16 + 4.
  CHECK(w.encoded_size(rec) == 14 + 16 + 4);
  REQUIRE(w.append(rec));
  CHECK(w.record_count() == 1);
  CHECK_FALSE(w.empty());
  CHECK(w.size() == 24 + 34 + 8);
  const auto d = w.finish();
  CHECK(d.size() == 66);
  CHECK(d.data() == buf.data());
  CHECK(to_hex(d) == to_hex(reference_datagram(0xDEADBEEFCAFEF00D, "sensors", {rec})));

  std::error_code ec = racket::errc::bad_magic;
  const auto v = wire::decode(d, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.version() == 3);
  CHECK(v.padding_size() == 0);
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
  CHECK(reinterpret_cast<const std::byte*>(r.subject.data()) == d.data() + 24 + 14);
  CHECK(r.payload.data() == d.data() + 24 + 14 + 16);
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
      make_record(small, "a", 1),
      make_record(empty, "a.b.c", 2),
      make_record(empty, "gone.subject", 3, wire::flags::tombstone),
      make_record(small, long_subject, 4, wire::flags::resend),
      make_record(empty, "both", 5, wire::flags::tombstone | wire::flags::resend),
      make_record(big, long_subject, 6),
      make_record(small, "snap", 7, wire::flags::snapshot),
  };
  recs[0].sequence = ~std::uint64_t{0};
  recs[0].timestamp_ns = ~std::uint64_t{0};
  recs[0].interval_ms = ~std::uint32_t{0};

  bytes buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  w.begin(~std::uint64_t{0}, stream);
  for (const auto& r : recs) REQUIRE(w.append(r));
  const auto d = w.finish();
  CHECK(to_hex(d) == to_hex(reference_datagram(~std::uint64_t{0}, stream, recs)));

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
  it = std::next(it, 2);
  CHECK(it->snapshot());
  CHECK(it->flags == wire::flags::snapshot);  // the encoding bits are not part of `flags`

  // Multi-pass: a copy iterates independently, each holding its own delta state.
  auto a = v.begin();
  auto b = a++;
  CHECK(b == v.begin());
  CHECK(a != b);
  CHECK(b->sequence == recs[0].sequence);
  CHECK(a->sequence == recs[1].sequence);
  auto c = a;
  ++c;
  ++c;
  CHECK(c->sequence == recs[3].sequence);
  CHECK(a->sequence == recs[1].sequence);
  ++a;
  ++a;
  CHECK(a == c);
  CHECK(same(*a, *c));

  // The largest payload that fits a 65507-byte datagram fills it exactly as a worst-case record.
  w.begin(1, "s");
  const bytes biggest(wire::max_payload(wire::max_datagram_size_limit, 1, 1), std::byte{3});
  wire::record worst = make_record(biggest, "a", 1);
  worst.sequence = std::uint64_t{1} << 63;
  worst.timestamp_ns = std::uint64_t{1} << 63;
  worst.interval_ms = 0xFFFFFFFF;
  REQUIRE(w.append(worst));
  CHECK(w.size() == wire::max_datagram_size_limit);
  const auto d2 = w.finish();
  CHECK(d2.size() == wire::max_datagram_size_limit);
  wire::decode(d2, ec);
  CHECK_FALSE(ec);
}

TEST_CASE("append returns false exactly when the next record would not fit", "[wire]") {
  const bytes payload(40, std::byte{9});
  for (std::size_t cap : {std::size_t{31}, std::size_t{59}, std::size_t{150}, std::size_t{1452}, std::size_t{1453}}) {
    CAPTURE(cap);
    bytes buf(cap);
    wire::datagram_writer w{buf};
    w.begin(3, "stream");
    std::vector<wire::record> done;
    std::vector<std::string> subjects;
    subjects.reserve(1000);
    std::uint64_t seq = 1;
    for (;;) {
      // Alternate sizes and deltas so both the exact and the inexact boundary get hit.
      const std::span<const std::byte> p{payload.data(), seq % 3 == 0 ? 0u : 40u};
      subjects.push_back("sub." + std::to_string(seq));
      wire::record r = make_record(p, subjects.back(), seq % 5 == 0 ? seq + 1000 : seq);
      if (seq % 2 == 0) r.interval_ms = 7;
      const std::size_t before = w.size();
      std::vector<wire::record> with = done;
      with.push_back(r);
      const std::size_t expected = reference_datagram(3, "stream", with).size();
      const bool fits = expected <= cap;
      CHECK(w.fits(r) == fits);
      CHECK(w.encoded_size(r) == expected - before);
      const bool ok = w.append(r);
      REQUIRE(ok == fits);
      if (!ok) {
        CHECK(w.size() == before);
        CHECK(w.record_count() == done.size());
        break;
      }
      done.push_back(r);
      CHECK(w.size() == expected);
      CHECK(w.size() <= cap);
      ++seq;
    }
    if (done.empty()) {
      CHECK(cap < 60);
      continue;
    }
    const auto d = w.finish();
    CHECK(d.size() <= cap);
    CHECK(to_hex(d) == to_hex(reference_datagram(3, "stream", done)));
    std::error_code ec;
    const auto v = wire::decode(d, ec, cap);
    REQUIRE_FALSE(ec);
    CHECK(v.record_count() == done.size());
    CHECK(static_cast<std::size_t>(std::distance(v.begin(), v.end())) == done.size());
  }

  bytes buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  w.begin(1, "s");
  const bytes too_big(65536);
  CHECK(w.encoded_size({.sequence = 1, .subject = "a", .payload = too_big}) == 0);
  CHECK_FALSE(w.fits({.sequence = 1, .subject = "a", .payload = too_big}));

  // A buffer larger than the hard limit is only filled up to it.
  bytes huge(wire::max_datagram_size_limit + 100);
  wire::datagram_writer wh{huge};
  CHECK(wh.capacity() == wire::max_datagram_size_limit);
  wh.begin(1, "s");
  const bytes over(wire::max_payload(wire::max_datagram_size_limit, 1, 1) + 28);
  CHECK_FALSE(wh.append({.sequence = 1, .subject = "a", .payload = over}));
}

TEST_CASE("the writer starts over after finish, deltas included", "[wire]") {
  const bytes p1 = to_bytes("first");
  const bytes p2 = to_bytes("2");
  bytes buf(wire::default_max_datagram_size);
  wire::datagram_writer w{buf};
  w.begin(1, "one");
  REQUIRE(w.append(make_record(p1, "x.y", 1)));
  REQUIRE(w.append(make_record(p1, "x.z", 2)));
  const bytes first = [&] { auto d = w.finish(); return bytes(d.begin(), d.end()); }();

  w.begin(2, "two.stream");
  CHECK(w.empty());
  CHECK(w.record_count() == 0);
  CHECK(w.size() == wire::header_size(10) + wire::trailer_size);
  const auto q = make_record(p2, "q", 3);
  REQUIRE(w.append(q));
  const auto second = w.finish();
  // The first record of a datagram has absolute values: sequence 3 is not "previous + 1".
  CHECK(to_hex(second) == to_hex(reference_datagram(2, "two.stream", {q})));
  std::error_code ec;
  const auto v = wire::decode(second, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.stream() == "two.stream");
  CHECK(v.publisher_id() == 2);
  CHECK(v.record_count() == 1);
  CHECK(v.begin()->sequence == 3);
  CHECK(v.begin()->timestamp_ns == q.timestamp_ns);
  const auto v1 = wire::decode(first, ec);
  REQUIRE_FALSE(ec);
  CHECK(v1.record_count() == 2);
}

TEST_CASE("random records round trip and match the reference encoder", "[wire]") {
  std::mt19937_64 rng(20261122);
  const std::uint64_t m = ~std::uint64_t{0};
  const std::uint64_t edges[] = {0, 1, 2, std::uint64_t{1} << 63, m, m - 1, (std::uint64_t{1} << 63) - 1, 127, 128};
  const bytes big = pattern(65535);
  std::vector<std::string> subjects;
  for (int i = 0; i < 64; ++i) {
    std::string s = "s" + std::to_string(i);
    const std::size_t len = i == 0 ? 255 : i == 1 ? 1 : 1 + rng() % 40;
    while (s.size() < len) s += (s.size() % 7 == 6) ? '.' : static_cast<char>('a' + rng() % 26);
    s.resize(len);
    if (s.back() == '.') s.back() = 'z';
    if (len == 1) s = "q";
    REQUIRE(racket::detail::is_valid_wire_subject(s));
    subjects.push_back(s);
  }
  bytes buf(wire::max_datagram_size_limit);
  wire::datagram_writer w{buf};
  std::size_t total_records = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::string stream(1 + rng() % (round % 50 == 0 ? 255 : 12), 'k');
    const std::uint64_t pub = rng();
    w.begin(pub, stream);
    std::vector<wire::record> recs;
    std::uint64_t seq = 0, ts = 0;
    std::uint32_t interval = 0;
    const std::size_t n = 1 + rng() % 40;
    for (std::size_t i = 0; i < n; ++i) {
      wire::record r;
      static constexpr std::uint8_t flag_sets[] = {0, 0, 0, wire::flags::tombstone, wire::flags::resend,
                                                   wire::flags::snapshot, wire::flags::tombstone | wire::flags::resend,
                                                   wire::flags::tombstone | wire::flags::snapshot};
      r.flags = flag_sets[rng() % 8];
      switch (rng() % 4) {  // sequence: next, an edge delta, an edge value, random
        case 0: r.sequence = seq + 1; break;
        case 1: r.sequence = seq + edges[rng() % 9]; break;
        case 2: r.sequence = edges[rng() % 9]; break;
        default: r.sequence = rng(); break;
      }
      if (r.sequence == 0) r.sequence = 1;
      switch (rng() % 4) {
        case 0: r.timestamp_ns = ts + edges[rng() % 9]; break;
        case 1: r.timestamp_ns = edges[rng() % 9]; break;
        case 2: r.timestamp_ns = ts + rng() % 100000; break;
        default: r.timestamp_ns = rng(); break;
      }
      switch (rng() % 4) {
        case 0: r.interval_ms = interval; break;
        case 1: r.interval_ms = 0xFFFFFFFF; break;
        case 2: r.interval_ms = 0; break;
        default: r.interval_ms = static_cast<std::uint32_t>(rng() >> (rng() % 64)); break;
      }
      r.subject = subjects[rng() % subjects.size()];
      std::size_t plen = 0;
      switch (rng() % 5) {
        case 0: plen = 0; break;
        case 1: plen = rng() % 130; break;
        case 2: plen = 16380 + rng() % 8; break;
        case 3: plen = rng() % 2000; break;
        default: plen = rng() % 64; break;
      }
      if (round % 97 == 0 && i == 0) plen = wire::max_payload(wire::max_datagram_size_limit, stream.size(), r.subject.size());
      if (r.tombstone()) plen = 0;
      r.payload = std::span<const std::byte>(big).first(std::min(plen, big.size()));
      if (!w.append(r)) break;
      recs.push_back(r);
      seq = r.sequence;
      ts = r.timestamp_ns;
      interval = r.interval_ms;
    }
    if (recs.empty()) continue;
    total_records += recs.size();
    // Every third datagram padded (by up to 300 bytes, or to the limit), the rest finished.
    std::size_t padding = 0;
    if (round % 3 == 0) {
      const std::size_t room = wire::max_datagram_size_limit - w.size();
      padding = round % 99 == 0 ? room : std::min<std::size_t>(rng() % 300, room);
    }
    const auto d = padding == 0 && round % 2 == 0
                       ? w.finish()
                       : wire::seal(buf, w.finish_unsealed(), w.size() + padding);
    REQUIRE(to_hex(d) == to_hex(reference_datagram(pub, stream, recs, padding)));
    std::error_code ec;
    const auto v = wire::decode(d, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(v.padding_size() == padding);
    REQUIRE(v.record_count() == recs.size());
    std::size_t i = 0;
    for (const auto& r : v) {
      CAPTURE(round, i);
      REQUIRE(same(r, recs[i]));
      ++i;
    }
    REQUIRE(i == recs.size());
    // The overload that hands over the records parsed while validating: the same records.
    std::vector<wire::record> parsed{wire::record{}};  // cleared by decode
    const auto v2 = wire::decode(d, ec, wire::max_datagram_size_limit, parsed);
    REQUIRE_FALSE(ec);
    REQUIRE(v2.record_count() == recs.size());
    REQUIRE(parsed.size() == recs.size());
    for (std::size_t k = 0; k < recs.size(); ++k) {
      CAPTURE(round, k);
      REQUIRE(same(parsed[k], recs[k]));
    }
  }
  CHECK(total_records > 10000);
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
std::vector<test_vector> test_vectors() {
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

}  // namespace

TEST_CASE("hex test vectors: encoding is byte exact and decodes to the inputs", "[wire]") {
  for (const auto& tv : test_vectors()) {
    CAPTURE(tv.number);
    bytes buf(wire::max_datagram_size_limit);
    wire::datagram_writer w{buf};
    w.begin(tv.publisher_id, tv.stream);
    for (const auto& r : tv.records) {
      CHECK(wire::content_hash(tv.stream, r.subject, r.payload) == r.content_hash);
      REQUIRE(w.append({.flags = r.flags,
                        .interval_ms = r.interval_ms,
                        .sequence = r.sequence,
                        .timestamp_ns = r.timestamp_ns,
                        .subject = r.subject,
                        .payload = r.payload}));
    }
    // Unpadded vectors with finish(), padded ones with finish_unsealed() and seal().
    std::span<const std::byte> d;
    if (tv.padding == 0) {
      d = w.finish();
    } else {
      const std::size_t body = w.finish_unsealed();
      CHECK(body + wire::trailer_size + tv.padding == tv.expected.size());
      d = wire::seal(buf, body, body + wire::trailer_size + tv.padding);
    }
    CHECK(to_hex(d) == to_hex(tv.expected));

    const bytes& expected = tv.expected;
    std::uint64_t trailer = 0;
    for (int i = 0; i < 8; ++i)
      trailer |= std::uint64_t{std::to_integer<std::uint8_t>(expected[expected.size() - 8 + i])} << (8 * i);
    CHECK(trailer == tv.checksum);

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

TEST_CASE("seal: finish_unsealed then seal round trips through decode", "[wire][padding]") {
  const bytes p1 = to_bytes("21.5");
  const bytes p2 = to_bytes("22.0");
  const std::vector<wire::record> recs = {make_record(p1, "plant.a", 1), make_record(p2, "plant.b", 2)};
  for (std::size_t capacity : {std::size_t{128}, std::size_t{1452}, wire::max_datagram_size_limit}) {
    bytes buf(capacity);
    wire::datagram_writer w{buf};
    // flags, L, P, interval, a 9-byte timestamp, subject, payload; then flags, L, P, interval,
    // a 1-byte timestamp delta (the sequence is the next one), subject, payload.
    const std::size_t body_expected = wire::header_size(3) + (13 + 7 + 4) + (5 + 7 + 4);
    for (std::size_t total : {body_expected + wire::trailer_size, body_expected + wire::trailer_size + 1,
                              body_expected + wire::trailer_size + 64, capacity}) {
      CAPTURE(capacity, total);
      if (total > capacity) continue;
      w.begin(5, "seg");
      for (const auto& r : recs) REQUIRE(w.append(r));
      REQUIRE(w.size() == body_expected + wire::trailer_size);
      const std::size_t body = w.finish_unsealed();
      CHECK(body == body_expected);
      CHECK(body == w.size() - wire::trailer_size);
      const auto d = wire::seal(buf, body, total);
      CHECK(d.data() == buf.data());
      REQUIRE(d.size() == total);
      CHECK(to_hex(d) == to_hex(reference_datagram(5, "seg", recs, total - body - wire::trailer_size)));
      std::uint64_t trailer = 0;
      for (int i = 0; i < 8; ++i)
        trailer |= std::uint64_t{std::to_integer<std::uint8_t>(d[total - 8 + i])} << (8 * i);
      CHECK(trailer == XXH3_64bits(d.data(), total - 8));
      std::error_code ec;
      const auto v = wire::decode(d, ec, capacity);
      REQUIRE_FALSE(ec);
      CHECK(v.padding_size() == total - body - wire::trailer_size);
      REQUIRE(v.record_count() == 2);
      CHECK(same(*v.begin(), recs[0]));
      CHECK(same(*std::next(v.begin()), recs[1]));
      CHECK(std::next(v.begin(), 2) == v.end());
    }
  }
  // Sealing again, shorter, over an earlier padded one: the old padding beyond is not part of it.
  bytes buf(200);
  wire::datagram_writer w{buf};
  w.begin(5, "seg");
  REQUIRE(w.append(recs[0]));
  const std::size_t body = w.finish_unsealed();
  (void)wire::seal(buf, body, 200);
  const auto d = wire::seal(buf, body, body + 8 + 3);
  CHECK(to_hex(d) == to_hex(reference_datagram(5, "seg", {recs[0]}, 3)));
}

TEST_CASE("seal with total == body + 8 is what finish() writes", "[wire][padding]") {
  const bytes payload = to_bytes("x");
  bytes a(wire::default_max_datagram_size, std::byte{0x11});
  bytes b(wire::default_max_datagram_size, std::byte{0x22});
  wire::datagram_writer wa{a};
  wire::datagram_writer wb{b};
  for (int n = 1; n <= 20; n += 3) {
    CAPTURE(n);
    wa.begin(77, "eq");
    wb.begin(77, "eq");
    std::vector<std::string> subjects;
    subjects.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      subjects.push_back("s." + std::to_string(i));
      const auto r = make_record(payload, subjects.back(), static_cast<std::uint64_t>(i + 1));
      REQUIRE(wa.append(r));
      REQUIRE(wb.append(r));
    }
    const std::size_t size = wa.size();
    const auto fa = wa.finish();
    const std::size_t body = wb.finish_unsealed();
    CHECK(body + wire::trailer_size == size);
    const auto fb = wire::seal(b, body, body + wire::trailer_size);
    CHECK(fa.size() == size);
    CHECK(to_hex(fa) == to_hex(fb));
    std::error_code ec;
    const auto v = wire::decode(fb, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.padding_size() == 0);
    CHECK(v.record_count() == static_cast<std::size_t>(n));
    // The bytes after the datagram were not touched.
    CHECK(a[size] == std::byte{0x11});
    CHECK(b[size] == std::byte{0x22});
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
// Python encoder (docs/vectors/make_vectors.py) and the xxhsum CLI.
std::vector<request_vector> request_vectors() {
  return {
      {0x0123456789ABCDEF, "sensors", "plant.*", 0, {}, 0xb838db5e473d8541,
       "524b544d03020000efcdab89674523010773656e736f727307706c616e742e2a0000000000000000"
       "41853d475edb38b8"},
      {0xFEDCBA9876543210, "status", "", 0x1122334455667788, {{5, 7}, {10, 10}}, 0x12054b8c571ddb2c,
       "524b544d030202001032547698badcfe067374617475730088776655443322110500000000000000"
       "07000000000000000a000000000000000a000000000000002cdb1d578c4b0512"},
  };
}

// Builds a request field by field without validation, checksum fixed up.
struct raw_request {
  std::uint8_t version = 3;
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

TEST_CASE("the data decoder rejects a request as bad_kind, and the reverse", "[wire][snapshot]") {
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
  CHECK(wire::peek_kind(from_hex("524b544d03")) == wire::kind{0});            // too short
  CHECK(wire::peek_kind(from_hex("524b544d0302")) == wire::kind::snapshot_request);
  CHECK(wire::peek_kind(from_hex("524b544d0301ffff")) == wire::kind::data);
  CHECK(wire::peek_kind(from_hex("524b544d0102")) == wire::kind{0});           // version 1
  CHECK(wire::peek_kind(from_hex("524b544d0202")) == wire::kind{0});           // version 2
  CHECK(wire::peek_kind(from_hex("524b544d0402")) == wire::kind{0});           // another version
  CHECK(wire::peek_kind(from_hex("524b544e0302")) == wire::kind{0});           // another magic
  CHECK(wire::peek_kind(from_hex("524b544d0309")) == wire::kind{9});           // unknown kind: as is
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
  CHECK(request_error(from_hex("524b544e0302")) == err(errc::bad_magic));
  CHECK(request_error(from_hex("524b544d")) == err(errc::truncated));
  CHECK(request_error(from_hex("524b544d01")) == err(errc::bad_version));
  CHECK(request_error(from_hex("524b544d02")) == err(errc::bad_version));
  CHECK(request_error(from_hex("524b544d04")) == err(errc::bad_version));
  CHECK(request_error(from_hex("524b544d03")) == err(errc::truncated));
  CHECK(request_error(from_hex("524b544d0301")) == err(errc::bad_kind));
  CHECK(request_error(from_hex("524b544d0303")) == err(errc::bad_kind));
  CHECK(request_error(from_hex("524b544d0302")) == err(errc::truncated));
  for (std::uint8_t ver : {1, 2}) {
    CAPTURE(int{ver});
    raw_request r;
    r.version = ver;  // a version-1 or version-2 request (the same layout)
    CHECK(request_error(r) == err(errc::bad_version));
  }
  {
    // Version 2's vector 5, intact: bad_version, and peek_kind does not route it.
    const bytes v2 = from_hex(
        "524b544d02020000efcdab89674523010773656e736f727307706c616e742e2a0000000000000000"
        "112804127c8bd81f");
    REQUIRE(XXH3_64bits(v2.data(), v2.size() - 8) == 0x1fd88b7c12042811);
    CHECK(request_error(v2) == err(errc::bad_version));
    CHECK(wire::peek_kind(v2) == wire::kind{0});
  }
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
        const bytes head = from_hex("524b544d0302");
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
