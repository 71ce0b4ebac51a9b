// SPDX-License-Identifier: MIT
// Writing data datagrams: datagram_writer and seal, checked against an independent encoder and the vectors.
#include "racket/wire/writer.hpp"

#include "catch.hpp"
#include "wire/support.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace wire_test;

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

TEST_CASE("hex test vectors: encoding is byte exact", "[wire]") {
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
  }
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

// The record sizes docs/wire-format.md states ("Record" and "Size limits"), computed with the
// writer: a live record after another of the same datagram (next sequence, same interval, P
// below 128), and how many records of one publisher batch (one timestamp) fill 1452 bytes.
TEST_CASE("record sizes: the figures docs/wire-format.md gives are the writer's", "[wire][docs]") {
  const std::uint64_t stamp = 1'700'000'000'000'000'000;
  const bytes payload(64, std::byte{1});
  std::array<std::byte, wire::default_max_datagram_size> buf{};
  wire::datagram_writer w{buf};
  w.begin(1, "sensors");
  REQUIRE(w.append({.interval_ms = 1000, .sequence = 1000, .timestamp_ns = stamp, .subject = "plant.temp.000",
                    .payload = payload}));
  const auto next = [&](std::uint64_t delta_ns) {
    return wire::record{.interval_ms = 1000,
                        .sequence = 1001,
                        .timestamp_ns = stamp + delta_ns,
                        .subject = "plant.temp.001",
                        .payload = payload};
  };
  // flags, L, P and the timestamp delta: 4 bytes up to 63 ns, 5 up to 8191 ns, 6 up to 1048575 ns
  // (and back in time: 4 down to -64 ns, 5 from -65).
  const std::pair<std::uint64_t, std::size_t> deltas[] = {
      {0, 4},       {1, 4},       {63, 4}, {64, 5}, {8191, 5}, {8192, 6}, {1048575, 6}, {1048576, 7},
      {0 - 1ull, 4}, {0 - 64ull, 4}, {0 - 65ull, 5}};
  for (const auto& [delta, overhead] : deltas) {
    CAPTURE(delta);
    CHECK(w.encoded_size(next(delta)) == overhead + 14 + 64);
  }
  CHECK(wire::record_min_overhead == 4);
  CHECK(wire::record_max_overhead == 30);

  // Records of one batch: one stamp, sequence + 1, interval 1000 ms (2 bytes), 14-byte subjects
  // on a 7-byte stream. The first record carries its interval, its absolute sequence (2 bytes
  // below 8192, 3 below 1048576) and its absolute timestamp (9 bytes): 16 or 17 bytes besides
  // subject and payload; every other one 4.
  for (const std::size_t payload_size : {std::size_t{64}, std::size_t{16}}) {
    for (const std::uint64_t first : {std::uint64_t{1000}, std::uint64_t{100000}}) {
      CAPTURE(payload_size, first);
      const bytes p(payload_size, std::byte{2});
      w.begin(1, "sensors");
      std::size_t n = 0;
      for (;; ++n) {
        const std::string digits = std::to_string(1000 + n);
        const std::string subject = "plant.temp." + digits.substr(digits.size() - 3);
        REQUIRE(subject.size() == 14);
        const wire::record r{
            .interval_ms = 1000, .sequence = first + n, .timestamp_ns = stamp, .subject = subject, .payload = p};
        const std::size_t size = w.encoded_size(r);
        CHECK(size == (n == 0 ? (first < 8192 ? 16 : 17) : 4) + 14 + payload_size);
        if (!w.append(r)) break;
      }
      CHECK(n == (payload_size == 64 ? 17 : 41));
    }
  }
  // Version 1 took 32 bytes besides subject and payload, in every record.
  static_assert((wire::default_max_datagram_size - wire::header_size(7) - wire::trailer_size) / (32 + 14 + 64) == 12);
  static_assert((wire::default_max_datagram_size - wire::header_size(7) - wire::trailer_size) / (32 + 14 + 16) == 22);
}
