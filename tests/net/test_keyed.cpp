// SPDX-License-Identifier: MIT
// Keyed streams over real UDP multicast on lo (issue 21): a value sealed by the publisher is
// delivered to the subscriber with the key; the same datagrams, captured by a plain socket and
// sent again, flipped, cut short, or sealed with a retired key, are refused and counted; a
// subscriber without the key delivers nothing. Every test sends, so every test runs in a
// private network namespace (tests/tools/in_netns.sh) and REQUIREs the guard first.
#include "racket/racket.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include "racket/transport/udp.hpp"

#include <asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using racket::test::run_for;
using racket::test::run_until;
using namespace std::chrono_literals;
using namespace std::string_literals;
using bytes = std::vector<std::byte>;

const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};

racket::stream_key key_of(char fill) { return racket::stream_key::parse(std::string(64, fill)); }

racket::key_ring ring(std::string_view stream, char fill) {
  racket::key_ring r;
  r.add(stream, key_of(fill));
  return r;
}

}  // namespace

TEST_CASE("keyed over udp: delivered with the key, and replayed, flipped, cut, retired-key and keyless datagrams refused",
          "[net][security]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  const racket::stream<std::string> s{"keyed.udp", pool};
  // A plain transport that hears the stream's group, as an attacker on the LAN would.
  racket::udp_transport tap(io, {.interfaces = {"lo"}, .loopback = true});
  tap.open(racket::address_family::v4);
  std::vector<bytes> heard;
  (void)tap.open_receiver(s.endpoint(),
                          [&](std::span<const std::byte> d, const racket::receive_info&) { heard.emplace_back(d.begin(), d.end()); });

  racket::subscriber sub{io, {.interfaces = {"lo"}, .seed = 2, .keys = ring(s.name(), '1')}};
  racket::subscriber keyless{io, {.interfaces = {"lo"}, .seed = 3}};
  std::vector<std::string> got, got_keyless;
  auto h1 = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.push_back(m.value); });
  auto h2 = keyless.subscribe(s, "*", [&](const racket::message<std::string>& m) { got_keyless.push_back(m.value); });
  run_for(io, 100ms);
  {
    racket::publisher pub{io, {.interfaces = {"lo"}, .seed = 1, .tail_probe_delay = 0ms, .keys = ring(s.name(), '1')}};
    pub.publish(s, "door", "closed"s, 0ms);
    REQUIRE(run_until(io, [&] { return got.size() == 1 && !heard.empty(); }, 2000ms));
    run_for(io, 100ms);
  }
  CHECK(got == std::vector<std::string>{"closed"});
  REQUIRE(heard.size() == 1);
  const bytes sealed = heard[0];
  CHECK(racket::wire::peek_kind(sealed) == racket::wire::kind::sealed);
  CHECK(got_keyless.empty());
  CHECK(keyless.stats(s).rejected == 1);

  // Replayed as it was: seen already (refused on its counter, before any cryptography).
  tap.send(s.endpoint(), sealed);
  // Cut short: not even a sealed header.
  tap.send(s.endpoint(), bytes(sealed.begin(), sealed.begin() + 40));
  REQUIRE(run_until(io, [&] { return sub.stats(s).replayed == 1 && sub.stats(s).rejected == 1; }, 2000ms));

  // Every byte after the clear header flipped in turn, to a subscriber that has not seen the
  // datagram (so its counter is new to it): not authentic, every one.
  racket::subscriber fresh{io, {.interfaces = {"lo"}, .seed = 5, .keys = ring(s.name(), '1')}};
  std::vector<std::string> got_fresh;
  auto h3 = fresh.subscribe(s, "*", [&](const racket::message<std::string>& m) { got_fresh.push_back(m.value); });
  run_for(io, 100ms);
  std::size_t flipped = 0;
  for (std::size_t i = racket::wire::sealed_header_size; i < sealed.size(); ++i, ++flipped) {
    bytes bad = sealed;
    bad[i] ^= std::byte{0x01};
    tap.send(s.endpoint(), bad);
    if (flipped % 32 == 31) run_for(io, 5ms);  // let the receiver keep up
  }
  const bool all_counted = run_until(io, [&] { return fresh.stats(s).rejected == flipped; }, 3000ms);
  INFO("rejected " << fresh.stats(s).rejected << " of " << flipped << ", kernel drops "
                   << fresh.transport_statistics().kernel_drops);
  CHECK(all_counted);
  CHECK(got_fresh.empty());
  CHECK(got == std::vector<std::string>{"closed"});

  // A publisher still sealing with a key the subscriber retired: refused.
  {
    racket::publisher old{io, {.interfaces = {"lo"}, .seed = 4, .tail_probe_delay = 0ms, .keys = ring(s.name(), '9')}};
    old.publish(s, "door", "open"s, 0ms);
    REQUIRE(run_until(io, [&] { return sub.stats(s).rejected == 2; }, 2000ms));
  }
  CHECK(got == std::vector<std::string>{"closed"});
  CHECK(got_keyless.empty());
}
