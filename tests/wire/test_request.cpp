// SPDX-License-Identifier: MIT
// Snapshot and repair requests (kind 2): encode_request, decode_request and its documented order, the vectors.
#include "racket/wire/request.hpp"

#include "catch.hpp"
#include "wire/fragment_support.hpp"
#include "wire/support.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

using namespace wire_test;

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
    // Bytes after the ranges start a fragment section: their first is its count Q, so one
    // byte 'x' (Q = 120) promises 1920 more: truncated before the checksum.
    raw_request r;
    r.extra = "x";
    CHECK(request_error(r) == err(errc::truncated));
    // Q = 1 and one byte more than its range: bad_length after the checksum.
    r.extra = std::string("\x01", 1) + std::string(17, 'y');
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

// docs/wire-format.md gives both request vectors' bytes in full: they are the ones pinned above.
TEST_CASE("docs/wire-format.md spells out the request vectors' bytes", "[wire][snapshot][docs]") {
  int number = 5;  // request_vectors() holds vectors 5 and 6, in order
  for (const auto& tv : request_vectors()) {
    CAPTURE(number);
    CHECK(to_hex(doc_vector(number)) == tv.hex);
    ++number;
  }
  CHECK(number == 7);
}

namespace {

// A fragment section as raw bytes: Q, then (u64 sequence, u32 first, u32 last) each.
std::string fragment_section(std::size_t q, const std::vector<wire::fragment_range>& ranges) {
  bytes b;
  put(b, q, 1);
  for (const auto& g : ranges) {
    put(b, g.sequence, 8);
    put(b, g.first, 4);
    put(b, g.last, 4);
  }
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

TEST_CASE("vector F4: a repair request naming fragments, both ways", "[wire][snapshot][fragment]") {
  const bytes doc = doc_fragment_vector("F4");
  REQUIRE(doc.size() == 90);
  CHECK(racket::detail::load_u64(doc.data() + doc.size() - 8) == 0xd79e561fe67a1a19);
  const wire::sequence_range ranges[] = {{40, 41}};
  const wire::fragment_range fragments[] = {{42, 1, 1}, {43, 0, 4}};
  const wire::snapshot_request r{.requester_id = 0xFEDCBA9876543210,
                                 .stream = "sensors",
                                 .target_publisher = 0x0123456789ABCDEF,
                                 .ranges = ranges,
                                 .fragments = fragments};
  CHECK(wire::request_size(7, 0, 1, 2) == 90);
  bytes buf(256);
  CHECK(to_hex(wire::encode_request(buf, r)) == to_hex(doc));
  std::error_code ec;
  const wire::request_view v = wire::decode_request(doc, ec);
  REQUIRE_FALSE(ec);
  CHECK(v.requester_id() == 0xFEDCBA9876543210);
  CHECK(v.stream() == "sensors");
  CHECK(v.filter().empty());
  CHECK(v.target_publisher() == 0x0123456789ABCDEF);
  REQUIRE(v.range_count() == 1);
  CHECK(v.range(0) == ranges[0]);
  REQUIRE(v.fragment_range_count() == 2);
  CHECK(v.fragment_range_at(0) == fragments[0]);
  CHECK(v.fragment_range_at(1) == fragments[1]);
  CHECK_FALSE(v.full());
  // Fragments alone: not a full request.
  const bytes alone = encode({.requester_id = 1, .stream = "s", .target_publisher = 2, .fragments = fragments});
  const wire::request_view a = wire::decode_request(alone, ec);
  REQUIRE_FALSE(ec);
  CHECK(a.range_count() == 0);
  CHECK(a.fragment_range_count() == 2);
  CHECK_FALSE(a.full());
  // Without fragments the bytes are the request as before (vector 6 unchanged).
  CHECK(wire::request_size(6, 0, 2) == wire::request_size(6, 0, 2, 0));
}

TEST_CASE("fragment sections that encode_request and decode_request refuse", "[wire][snapshot][fragment]") {
  using racket::errc;
  bytes buf(2048);
  const wire::fragment_range good[] = {{5, 0, 3}};
  const wire::fragment_range zero_seq[] = {{0, 0, 3}};
  const wire::fragment_range backwards[] = {{5, 4, 3}};
  CHECK(wire::encode_request(buf, {.stream = "s", .fragments = good}).empty());  // needs a target
  CHECK(wire::encode_request(buf, {.stream = "s", .target_publisher = 1, .fragments = zero_seq}).empty());
  CHECK(wire::encode_request(buf, {.stream = "s", .target_publisher = 1, .fragments = backwards}).empty());
  std::vector<wire::fragment_range> many(65, {1, 0, 0});
  CHECK(wire::encode_request(buf, {.stream = "s", .target_publisher = 1, .fragments = many}).empty());
  many.resize(64);
  CHECK(wire::encode_request(buf, {.stream = "s", .target_publisher = 1, .fragments = many}).size() ==
        wire::request_size(1, 0, 0, 64));

  const auto error_with = [](std::uint64_t target, const std::string& extra) {
    raw_request r;
    r.target = target;
    r.extra = extra;
    return request_error(r);
  };
  CHECK_FALSE(error_with(7, fragment_section(1, {{5, 0, 3}})));
  CHECK(error_with(7, fragment_section(0, {})) == err(errc::bad_record));          // Q = 0 spelled out
  CHECK(error_with(7, fragment_section(65, std::vector<wire::fragment_range>(65, {1, 0, 0}))) ==
        err(errc::bad_record));                                                      // Q > 64
  CHECK(error_with(7, fragment_section(1, {{0, 0, 3}})) == err(errc::bad_record));  // sequence 0
  CHECK(error_with(7, fragment_section(1, {{5, 4, 3}})) == err(errc::bad_record));  // first > last
  CHECK(error_with(7, fragment_section(2, {{5, 0, 3}})) == err(errc::truncated));   // Q says 2, 1 there
  {
    raw_request r;  // fragments need a target (R must then be 0 too)
    r.target = 0;
    r.ranges.clear();
    r.extra = fragment_section(1, {{5, 0, 3}});
    CHECK(request_error(r) == err(errc::bad_record));
  }
}
