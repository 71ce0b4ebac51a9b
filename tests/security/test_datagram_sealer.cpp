// SPDX-License-Identifier: MIT
#include "racket/detail/security/datagram_sealer.hpp"

#include "security/datagram_support.hpp"

// The sending side of keyed streams: which datagrams are sealed (kind 1 and 2 of a keyed
// stream), which pass in clear, one counter per key shared by the streams of that key, and a
// keyed stream without a sending key refusing to send.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"

namespace {

using bytes = std::vector<std::byte>;

using racket_test::key_of;

bytes datagram(std::uint8_t kind, std::string_view stream, std::size_t body = 20) {
  return racket_test::datagram_of(kind, stream, body);
}

}  // namespace

TEST_CASE("datagram_sealer: the stream name at its fixed offset, for data and requests only") {
  using racket::detail::datagram_stream;
  CHECK(datagram_stream(datagram(1, "plant")) == "plant");
  CHECK(datagram_stream(datagram(2, "plant.eu")) == "plant.eu");
  CHECK(datagram_stream(datagram(3, "plant")).empty());
  bytes cut = datagram(1, "plant", 0);
  cut.resize(cut.size() - 1);
  CHECK(datagram_stream(cut).empty());
  CHECK(datagram_stream(bytes(17)).empty());
}

TEST_CASE("datagram_sealer: keyed streams are sealed, others pass in clear, streams of one key share its counter") {
  racket::key_ring ring;
  ring.add("a", key_of('1')).add("b", key_of('1')).add("c", key_of('2'));
  racket::detail::datagram_sealer sealer(ring, 77, racket::protection::encrypt);
  bytes out(2048);
  std::error_code ec;

  const bytes clear = datagram(1, "other");
  auto r = sealer.seal(clear, out, 5, ec);
  REQUIRE_FALSE(ec);
  CHECK(r.data() == clear.data());  // the same bytes: nothing copied

  const bytes announcement = datagram(3, "a");
  CHECK(sealer.seal(announcement, out, 5, ec).data() == announcement.data());

  std::uint64_t last_counter = 0;
  for (const char* stream : {"a", "b", "a", "c"}) {
    INFO(stream);
    const bytes inner = datagram(1, stream);
    r = sealer.seal(inner, out, 1234, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(r.size() == inner.size() + racket::wire::seal_overhead);
    const auto h = racket::wire::decode_sealed_header(r, ec);
    REQUIRE_FALSE(ec);
    CHECK(h.sender_id == 77);
    CHECK(h.timestamp_ns == 1234);
    CHECK(h.inner_kind == 1);
    CHECK(h.suite == sealer.suite());
    if (std::string_view(stream) != "c") {
      CHECK(h.key_id == racket::key_id_of(key_of('1')));
      CHECK(h.counter == last_counter + 1);  // a and b: one key, one counter, no nonce twice
      last_counter = h.counter;
    } else {
      CHECK(h.key_id == racket::key_id_of(key_of('2')));
      CHECK(h.counter == 1);
    }
  }
  const bytes request = datagram(2, "c");
  r = sealer.seal(request, out, 1, ec);
  REQUIRE_FALSE(ec);
  CHECK(racket::wire::decode_sealed_header(r, ec).inner_kind == 2);
  CHECK(racket::wire::decode_sealed_header(r, ec).counter == 2);
}

TEST_CASE("datagram_sealer: a stream with accepted keys only sends nothing") {
  racket::key_ring ring;
  ring.accept("quiet", key_of('3'));
  racket::detail::datagram_sealer sealer(ring, 1, racket::protection::encrypt);
  CHECK(sealer.keyed("quiet"));
  CHECK(sealer.mute("quiet"));
  CHECK_FALSE(sealer.keyed("loud"));
  bytes out(256);
  std::error_code ec;
  CHECK(sealer.seal(datagram(1, "quiet"), out, 1, ec).empty());
  CHECK(ec == racket::errc::invalid_key);
}

TEST_CASE("datagram_sealer: authenticate-only keeps the inner datagram readable") {
  if (!racket::aes256gcm_available()) {
    racket::key_ring ring;
    CHECK_THROWS_AS(racket::detail::datagram_sealer(ring, 1, racket::protection::authenticate_only), std::system_error);
    return;
  }
  racket::key_ring ring;
  ring.add("a", key_of('4'));
  racket::detail::datagram_sealer sealer(ring, 1, racket::protection::authenticate_only);
  CHECK(sealer.suite() == racket::wire::seal_suite::aes256gcm_authenticate_only);
  const bytes inner = datagram(1, "a");
  bytes out(512);
  std::error_code ec;
  const auto r = sealer.seal(inner, out, 1, ec);
  REQUIRE_FALSE(ec);
  CHECK(bytes(r.begin() + racket::wire::sealed_header_size, r.end() - racket::wire::seal_tag_size) == inner);
}

TEST_CASE("datagram_sealer: rekey seals with the new ring, and a key that comes back keeps its counter") {
  racket::key_ring first;
  first.add("a", key_of('1'));
  racket::detail::datagram_sealer sealer(first, 9, racket::protection::encrypt);
  bytes out(512);
  std::error_code ec;
  const bytes inner = datagram(1, "a");
  for (int i = 0; i < 3; ++i) REQUIRE_FALSE(sealer.seal(inner, out, 1, ec).empty());

  racket::key_ring second;
  second.add("a", key_of('2'));
  sealer.rekey(second);
  auto h = racket::wire::decode_sealed_header(sealer.seal(inner, out, 1, ec), ec);
  REQUIRE_FALSE(ec);
  CHECK(h.key_id == racket::key_id_of(key_of('2')));
  CHECK(h.counter == 1);

  sealer.rekey(first);  // back to key 1: its counter goes on from 3, no nonce twice
  h = racket::wire::decode_sealed_header(sealer.seal(inner, out, 1, ec), ec);
  REQUIRE_FALSE(ec);
  CHECK(h.key_id == racket::key_id_of(key_of('1')));
  CHECK(h.counter == 4);

  racket::key_ring none;  // "a" no longer keyed: in clear
  sealer.rekey(none);
  CHECK_FALSE(sealer.keyed("a"));
  CHECK(sealer.seal(inner, out, 1, ec).data() == inner.data());
  racket::key_ring quiet;
  quiet.accept("a", key_of('1'));
  sealer.rekey(quiet);
  CHECK(sealer.mute("a"));
}
