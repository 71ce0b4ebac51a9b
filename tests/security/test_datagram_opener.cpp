// SPDX-License-Identifier: MIT
#include "racket/detail/security/datagram_opener.hpp"

// The receiving side of keyed streams: a sealed datagram opens once (a replay is refused),
// only within the freshness window, only with a key of the ring, and only for the streams
// of that key; forged datagrams cost no memory; rotation accepts old and new keys; the
// sender table stays bounded.

#include "racket/detail/security/datagram_sealer.hpp"
#include "security/datagram_support.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "catch.hpp"

namespace {

using bytes = std::vector<std::byte>;
using racket::detail::datagram_opener;
using verdict = datagram_opener::verdict;

constexpr std::uint64_t second = 1'000'000'000;
constexpr std::uint64_t t0 = 1'700'000'000 * second;

using racket_test::key_of;

bytes datagram(std::string_view stream) { return racket_test::datagram_of(1, stream, 12); }

bytes sealed(racket::detail::datagram_sealer& s, std::string_view stream, std::uint64_t at) {
  const bytes inner = datagram(stream);
  bytes out(inner.size() + racket::wire::seal_overhead);
  std::error_code ec;
  const auto r = s.seal(inner, out, at, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(r.size() == out.size());
  return out;
}

racket::key_ring ring_of(std::string_view stream, char fill) {
  racket::key_ring r;
  r.add(stream, key_of(fill));
  return r;
}

}  // namespace

TEST_CASE("datagram_opener: opens once, refuses the replay, says which streams the key covers") {
  auto ring = ring_of("plant", '1');
  ring.add("office", key_of('2'));
  racket::detail::datagram_sealer sealer(ring, 9, racket::protection::encrypt);
  datagram_opener opener(ring, 30 * second, 16);
  bytes out(4096);

  const bytes d = sealed(sealer, "plant", t0);
  const auto r = opener.open(d, t0 + second, out);
  REQUIRE(r.what == verdict::opened);
  CHECK(bytes(r.inner.begin(), r.inner.end()) == datagram("plant"));
  CHECK(opener.covers(r.key, "plant"));
  CHECK_FALSE(opener.covers(r.key, "office"));  // plant's key cannot speak for office
  CHECK(opener.keyed("plant"));
  CHECK(opener.keyed("office"));
  CHECK_FALSE(opener.keyed("lobby"));

  CHECK(opener.open(d, t0 + second, out).what == verdict::replayed);
  const bytes d2 = sealed(sealer, "plant", t0);
  const bytes d3 = sealed(sealer, "plant", t0);
  CHECK(opener.open(d3, t0, out).what == verdict::opened);
  CHECK(opener.open(d2, t0, out).what == verdict::opened);  // reordered, inside the window
  CHECK(opener.open(d2, t0, out).what == verdict::replayed);
  CHECK(opener.senders() == 1);
}

TEST_CASE("datagram_opener: outside the freshness window either way, refused") {
  const auto ring = ring_of("plant", '1');
  racket::detail::datagram_sealer sealer(ring, 9, racket::protection::encrypt);
  datagram_opener opener(ring, 30 * second, 16);
  bytes out(4096);
  CHECK(opener.open(sealed(sealer, "plant", t0), t0 + 31 * second, out).what == verdict::not_fresh);
  CHECK(opener.open(sealed(sealer, "plant", t0 + 31 * second), t0, out).what == verdict::not_fresh);
  CHECK(opener.open(sealed(sealer, "plant", t0), t0 + 30 * second, out).what == verdict::opened);
}

TEST_CASE("datagram_opener: the wrong key, an unknown key id, a changed byte: refused, no sender remembered") {
  racket::detail::datagram_sealer wrong(ring_of("plant", '7'), 9, racket::protection::encrypt);
  datagram_opener opener(ring_of("plant", '1'), 30 * second, 16);
  bytes out(4096);
  CHECK(opener.open(sealed(wrong, "plant", t0), t0, out).what == verdict::no_key);

  // A forger who copies the right key id from the wire still has no key.
  racket::detail::datagram_sealer right(ring_of("plant", '1'), 9, racket::protection::encrypt);
  bytes d = sealed(right, "plant", t0);
  for (std::size_t i = racket::wire::sealed_header_size; i < d.size(); i += 7) {
    bytes bad = d;
    bad[i] ^= std::byte{0x20};
    REQUIRE(opener.open(bad, t0, out).what == verdict::not_authentic);
  }
  for (std::uint64_t sender = 100; sender < 200; ++sender) {
    bytes bad = d;
    racket::detail::store_u64(bad.data() + 12, sender);  // a sender id sprayed by a forger
    REQUIRE(opener.open(bad, t0, out).what == verdict::not_authentic);
  }
  CHECK(opener.senders() == 0);
  bytes cut = d;
  cut.resize(40);
  CHECK(opener.open(cut, t0, out).what == verdict::malformed);
  CHECK(opener.open(d, t0, out).what == verdict::opened);  // the genuine one still opens
}

TEST_CASE("datagram_opener: during a rotation old and new keys are accepted, after it only the new") {
  racket::key_ring during;
  during.add("plant", key_of('1')).accept("plant", key_of('2'));
  racket::detail::datagram_sealer old_sender(ring_of("plant", '1'), 1, racket::protection::encrypt);
  racket::detail::datagram_sealer new_sender(ring_of("plant", '2'), 2, racket::protection::encrypt);
  datagram_opener opener(during, 30 * second, 16);
  bytes out(4096);
  CHECK(opener.open(sealed(old_sender, "plant", t0), t0, out).what == verdict::opened);
  CHECK(opener.open(sealed(new_sender, "plant", t0), t0, out).what == verdict::opened);

  racket::key_ring after = during;
  after.remove("plant", key_of('1'));
  datagram_opener later(after, 30 * second, 16);
  CHECK(later.open(sealed(old_sender, "plant", t0), t0, out).what == verdict::no_key);
  CHECK(later.open(sealed(new_sender, "plant", t0), t0, out).what == verdict::opened);
}

TEST_CASE("datagram_opener: the sender table is bounded, the one heard longest ago goes") {
  const auto ring = ring_of("plant", '1');
  datagram_opener opener(ring, 30 * second, 4);
  bytes out(4096);
  std::vector<bytes> first;
  for (std::uint64_t id = 1; id <= 6; ++id) {
    racket::detail::datagram_sealer s(ring, id, racket::protection::encrypt);
    const bytes d = sealed(s, "plant", t0);
    REQUIRE(opener.open(d, t0 + id, out).what == verdict::opened);
    first.push_back(d);
    CHECK(opener.senders() == std::min<std::uint64_t>(id, 4));
  }
  // Senders 5 and 6 are remembered: their replay is refused.
  CHECK(opener.open(first[5], t0 + 10, out).what == verdict::replayed);
  CHECK(opener.open(first[4], t0 + 10, out).what == verdict::replayed);
}

TEST_CASE("datagram_opener: rekey keeps the replay windows of keys that stay, forgets the others") {
  racket::key_ring both;
  both.add("plant", key_of('1')).accept("plant", key_of('2'));
  racket::detail::datagram_sealer one(ring_of("plant", '1'), 1, racket::protection::encrypt);
  racket::detail::datagram_sealer two(ring_of("plant", '2'), 2, racket::protection::encrypt);
  datagram_opener opener(ring_of("plant", '1'), 30 * second, 16);
  bytes out(4096);
  const bytes d1 = sealed(one, "plant", t0);
  const bytes d2 = sealed(two, "plant", t0);
  CHECK(opener.open(d1, t0, out).what == verdict::opened);
  CHECK(opener.open(d2, t0, out).what == verdict::no_key);

  opener.rekey(both);  // key 2 joins at index 1 and key 1 stays: d1 is still a replay
  CHECK(opener.open(d1, t0, out).what == verdict::replayed);
  CHECK(opener.open(d2, t0, out).what == verdict::opened);
  CHECK(opener.senders() == 2);

  opener.rekey(ring_of("plant", '2'));  // key 1 leaves: its sender goes with it
  CHECK(opener.senders() == 1);
  CHECK(opener.open(sealed(one, "plant", t0), t0, out).what == verdict::no_key);
  CHECK(opener.open(d2, t0, out).what == verdict::replayed);  // key 2 moved to index 0, window kept
  CHECK(opener.open(sealed(two, "plant", t0), t0, out).what == verdict::opened);

  opener.rekey(racket::key_ring{});
  CHECK_FALSE(opener.keyed("plant"));
  CHECK(opener.senders() == 0);
}
