// SPDX-License-Identifier: MIT
// Announcements (kind 3): the writer byte for byte against the documented vectors, the
// decoder's documented order of errors, bounds, bit flips, truncations and random garbage.
#include "racket/wire/announce.hpp"

#include "catch.hpp"
#include "wire/support.hpp"

#include "racket/wire/decode.hpp"
#include "racket/wire/request.hpp"

#include <array>
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

// Computed from docs/wire-format.md alone (a Python encoder with `xxhsum -H3`), not this library.
constexpr std::string_view publisher_hex =
    "524b544d0303020008070605040302010268310192100000881300000673656e64657205706c616e7403000000d007000000000000"
    "026678000000000000000000000000142a0b65197d8720";
constexpr std::string_view subscriber_hex =
    "524b544d03030100887766554433221102683202070000008813000008726563656976657205706c616e740203612e2a01622f2463"
    "ee356f768b";

std::error_code announce_error(std::span<const std::byte> d, std::size_t max = wire::max_datagram_size_limit) {
  // A copy of exactly d.size() bytes, so that a read past the end shows under ASan.
  std::unique_ptr<std::byte[]> copy(new std::byte[d.size()]);
  std::copy(d.begin(), d.end(), copy.get());
  std::error_code ec;
  (void)wire::decode_announcement(std::span<const std::byte>(copy.get(), d.size()), ec, max);
  return ec;
}


bytes publisher_vector() {
  std::array<std::byte, 256> buf{};
  wire::announcement_writer w(buf, {.role = wire::announce_role::publisher,
                                    .sender_id = 0x0102030405060708,
                                    .host = "h1",
                                    .pid = 4242,
                                    .period_ms = 5000,
                                    .program = "sender"});
  REQUIRE(w.ok());
  REQUIRE(w.add(wire::announced_publication{.stream = "plant", .subject_count = 3, .rate_milli = 2000}));
  REQUIRE(w.add(wire::announced_publication{.stream = "fx", .subject_count = 0, .rate_milli = 0}));
  const auto d = w.finish();
  return bytes(d.begin(), d.end());
}

}  // namespace

TEST_CASE("announcement vectors: the writer is byte exact and the decoder reads the inputs back", "[wire][announce]") {
  CHECK(to_hex(publisher_vector()) == publisher_hex);
  {
    const bytes d = from_hex(publisher_hex);
    std::error_code ec;
    const auto v = wire::decode_announcement(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.role() == wire::announce_role::publisher);
    CHECK(v.sender_id() == 0x0102030405060708);
    CHECK(v.header().host == "h1");
    CHECK(v.header().pid == 4242);
    CHECK(v.header().period_ms == 5000);
    CHECK(v.header().program == "sender");
    REQUIRE(v.entry_count() == 2);
    std::vector<wire::announced_publication> seen;
    v.for_each_publication([&](const wire::announced_publication& e) { seen.push_back(e); });
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].stream == "plant");
    CHECK(seen[0].subject_count == 3);
    CHECK(seen[0].rate_milli == 2000);
    CHECK(seen[1].stream == "fx");
    int none = 0;
    v.for_each_subscription([&](const wire::announced_subscription&) { ++none; });
    CHECK(none == 0);
  }
  {
    std::array<std::byte, 256> buf{};
    wire::announcement_writer w(buf, {.role = wire::announce_role::subscriber,
                                      .sender_id = 0x1122334455667788,
                                      .host = "h2",
                                      .pid = 7,
                                      .period_ms = 5000,
                                      .program = "receiver"});
    wire::announced_subscription s{.stream = "plant"};
    s.filters[0] = "a.*";
    s.filters[1] = "b";
    s.filter_count = 2;
    REQUIRE(w.add(s));
    CHECK(to_hex(w.finish()) == subscriber_hex);

    const bytes d = from_hex(subscriber_hex);
    std::error_code ec;
    const auto v = wire::decode_announcement(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.role() == wire::announce_role::subscriber);
    CHECK(v.header().program == "receiver");
    int n = 0;
    v.for_each_subscription([&](const wire::announced_subscription& e) {
      ++n;
      CHECK(e.stream == "plant");
      REQUIRE(e.filter_count == 2);
      CHECK(e.filters[0] == "a.*");
      CHECK(e.filters[1] == "b");
    });
    CHECK(n == 1);
  }
}

TEST_CASE("docs/wire-format.md spells out the announcement vectors' bytes", "[wire][announce][docs]") {
  CHECK(to_hex(doc_vector(20)) == publisher_hex);
  CHECK(to_hex(doc_vector(21)) == subscriber_hex);
}

TEST_CASE("the other kinds' decoders reject an announcement as bad_kind, and older receivers drop it",
          "[wire][announce]") {
  const bytes d = from_hex(publisher_hex);
  CHECK(wire::peek_kind(d) == wire::announcement_kind);
  std::error_code ec;
  (void)wire::decode(d, ec);
  CHECK(ec == err(racket::errc::bad_kind));
  (void)wire::decode_request(d, ec);
  CHECK(ec == err(racket::errc::bad_kind));
  CHECK(announce_error(from_hex("524b544d03020000efcdab89674523010773656e736f727307706c616e742e2a0000000000000000"
                              "41853d475edb38b8")) == err(racket::errc::bad_kind));
}

TEST_CASE("announcement_writer refuses bad headers and entries, and splits when full", "[wire][announce]") {
  std::array<std::byte, 1452> buf{};
  const wire::announce_header good{.role = wire::announce_role::publisher, .sender_id = 1, .host = "h", .pid = 1,
                                   .period_ms = 5000, .program = ""};
  {
    auto h = good;
    h.host = "";
    CHECK_FALSE(wire::announcement_writer(buf, h).ok());
    h.host = std::string_view("a\0b", 3);
    CHECK_FALSE(wire::announcement_writer(buf, h).ok());
    h = good;
    h.period_ms = 0;
    CHECK_FALSE(wire::announcement_writer(buf, h).ok());
    h.period_ms = wire::max_announce_period_ms + 1;
    CHECK_FALSE(wire::announcement_writer(buf, h).ok());
    h = good;
    h.role = static_cast<wire::announce_role>(9);
    CHECK_FALSE(wire::announcement_writer(buf, h).ok());
    CHECK_FALSE(wire::announcement_writer(std::span<std::byte>(buf.data(), 30), good).ok());
  }
  wire::announcement_writer w(buf, good);
  REQUIRE(w.ok());
  CHECK(w.finish().empty());  // no entry: nothing to send
  CHECK_FALSE(w.add(wire::announced_publication{.stream = ""}));
  CHECK_FALSE(w.add(wire::announced_subscription{.stream = "s"}));  // wrong role
  const std::string name(5, 'x');
  std::size_t added = 0;
  while (w.add(wire::announced_publication{.stream = name, .subject_count = 1})) ++added;
  CHECK(added == wire::max_announce_entries);  // 64 × 18 bytes fit 1452: the count decides
  CHECK_FALSE(announce_error(w.finish()));

  const std::string long_name(255, 'y');
  wire::announcement_writer big(buf, good);
  added = 0;
  while (big.add(wire::announced_publication{.stream = long_name})) ++added;
  CHECK(added == (1452 - 36 - 8) / (1 + 255 + 12));  // the size decides
  const auto d = big.finish();
  CHECK(d.size() <= 1452);
  CHECK_FALSE(announce_error(d));

  wire::announcement_writer sub(buf, {.role = wire::announce_role::subscriber, .sender_id = 1, .host = "h", .pid = 1,
                                      .period_ms = 5000});
  wire::announced_subscription e{.stream = "s"};
  e.filters[0] = "a**";
  e.filter_count = 1;
  CHECK_FALSE(sub.add(e));
  e.filters[0] = "";
  CHECK_FALSE(sub.add(e));
  e.filters[0] = "a.*";
  e.filter_count = wire::max_announce_filters + 1;
  CHECK_FALSE(sub.add(e));
  e.filter_count = 1;
  CHECK(sub.add(e));
  e.filter_count = 0;  // a subscription listed without filters
  CHECK(sub.add(e));
  CHECK_FALSE(announce_error(sub.finish()));
}

TEST_CASE("decode_announcement errors, in the documented order", "[wire][announce]") {
  using racket::errc;
  const bytes good = from_hex(publisher_hex);
  const std::size_t role_off = 17 + 2;
  CHECK(announce_error(good, good.size() - 1) == err(errc::oversize));
  CHECK(announce_error(from_hex("524b54")) == err(errc::truncated));
  CHECK(announce_error(from_hex("524b544e0303")) == err(errc::bad_magic));
  CHECK(announce_error(from_hex("524b544d0203")) == err(errc::bad_version));
  CHECK(announce_error(from_hex("524b544d0304")) == err(errc::bad_kind));
  {
    bytes d = good;
    d[16] = std::byte{0};
    CHECK(announce_error(d) == err(errc::bad_length));
  }
  CHECK(announce_error(std::span<const std::byte>(good.data(), role_off + 9)) == err(errc::truncated));
  {
    bytes d = good;
    d[role_off + 9] = std::byte{200};  // program length beyond the datagram
    CHECK(announce_error(d) == err(errc::truncated));
  }
  {
    bytes d = good;
    d[30] ^= std::byte{1};
    CHECK(announce_error(d) == err(errc::bad_checksum));
  }
  const auto with = [&](std::size_t at, std::uint8_t value) {
    bytes d = good;
    d[at] = std::byte{value};
    fix_checksum(d);
    return announce_error(d);
  };
  CHECK(with(role_off, 0) == err(errc::bad_record));   // role
  CHECK(with(role_off, 3) == err(errc::bad_record));
  CHECK(with(6, 0) == err(errc::bad_record));          // E = 0
  CHECK(with(6, 65) == err(errc::bad_record));         // E > 64
  {
    bytes d = good;
    for (int i = 0; i < 4; ++i) d[role_off + 5 + static_cast<std::size_t>(i)] = std::byte{0};
    fix_checksum(d);
    CHECK(announce_error(d) == err(errc::bad_record));  // period 0
  }
  CHECK(with(17, 0) == err(errc::bad_record));          // NUL in the host
  CHECK(with(6, 3) == err(errc::truncated));            // a third entry runs into the trailer
  CHECK(with(6, 1) == err(errc::bad_length));           // bytes left after the first entry
  const std::size_t first_entry = role_off + 10 + 6;
  CHECK(with(first_entry, 0) == err(errc::bad_record));     // S = 0
  CHECK(with(first_entry + 1, 0) == err(errc::bad_record)); // NUL in the stream name

  const bytes sub = from_hex(subscriber_hex);
  const auto sub_with = [&](std::size_t at, std::uint8_t value) {
    bytes d = sub;
    d[at] = std::byte{value};
    fix_checksum(d);
    return announce_error(d);
  };
  const std::size_t n_off = 17 + 2 + 10 + 8 + 6;  // the entry's filter count
  CHECK(sub_with(n_off, 17) == err(errc::bad_record));
  CHECK(sub_with(n_off, 3) == err(errc::truncated));
  CHECK(sub_with(n_off, 1) == err(errc::bad_length));
  CHECK(sub_with(n_off + 1, 0) == err(errc::bad_record));  // an empty filter
  CHECK(sub_with(n_off + 3, '*') == err(errc::bad_record)); // "a**" is not a filter
}

TEST_CASE("announcements: every bit flip and every truncation is rejected", "[wire][announce]") {
  for (const bytes& good : {from_hex(publisher_hex), from_hex(subscriber_hex)}) {
    REQUIRE_FALSE(announce_error(good));
    for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
      bytes d = good;
      d[bit / 8] ^= std::byte{static_cast<unsigned char>(1u << (bit % 8))};
      CAPTURE(bit);
      REQUIRE(announce_error(d));
    }
    for (std::size_t n = 0; n < good.size(); ++n) {
      CAPTURE(n);
      const auto e = announce_error(std::span<const std::byte>(good.data(), n));
      CHECK((e == err(racket::errc::truncated) || e == err(racket::errc::bad_checksum) ||
             e == err(racket::errc::bad_length)));
    }
  }
}

TEST_CASE("announcements: random garbage never crashes and re-encodes when it decodes", "[wire][announce]") {
  std::mt19937_64 rng(11);
  const bytes goods[2] = {from_hex(publisher_hex), from_hex(subscriber_hex)};
  std::size_t decoded = 0;
  for (int i = 0; i < 40000; ++i) {
    bytes d = goods[i % 2];
    for (int k = 0, m = 1 + static_cast<int>(rng() % 3); k < m; ++k)
      d[6 + rng() % (d.size() - 6)] = static_cast<std::byte>(rng() % 3 == 0 ? rng() % 4 : rng());
    if (rng() % 4 == 0) d.resize(rng() % (d.size() + 20));
    if (d.size() >= 8) fix_checksum(d);
    std::unique_ptr<std::byte[]> copy(new std::byte[d.size()]);
    std::copy(d.begin(), d.end(), copy.get());
    std::error_code ec;
    const auto v = wire::decode_announcement(std::span<const std::byte>(copy.get(), d.size()), ec);
    if (ec) continue;
    ++decoded;
    std::array<std::byte, 2048> buf{};
    wire::announcement_writer w(buf, v.header());
    REQUIRE(w.ok());
    v.for_each_publication([&](const wire::announced_publication& e) { REQUIRE(w.add(e)); });
    v.for_each_subscription([&](const wire::announced_subscription& e) { REQUIRE(w.add(e)); });
    CHECK(to_hex(w.finish()) == to_hex(d));
  }
  CHECK(decoded > 50);
}
