// SPDX-License-Identifier: MIT
// A large message over real UDP multicast on lo: fragmented by the publisher (full datagrams,
// GSO runs where the kernel has them), reassembled by the subscriber, delivered whole. Sends,
// so it runs in a private network namespace (tests/tools/in_netns.sh) and REQUIREs the guard.
#include "racket/racket.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include "racket/detail/hash.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using racket::test::run_until;
using namespace std::chrono_literals;

const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};

}  // namespace

TEST_CASE("a 4 MiB message over lo arrives whole", "[net][large]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"large.udp", pool};
  racket::subscriber sub{io, {.interfaces = {"lo"}}};
  std::vector<std::string> got;
  std::vector<std::uint64_t> sequences;
  auto h = sub.subscribe(s, "files.*", [&](const racket::message<std::string>& m) {
    got.push_back(m.value);
    sequences.push_back(m.sequence);
  });
  racket::publisher pub{io, {.interfaces = {"lo"}}};
  std::string payload(std::size_t{4} << 20, '\0');
  std::uint32_t x = 12345;
  for (char& c : payload) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  pub.publish(s, "files.blob", payload, 0ms);
  REQUIRE(run_until(io, [&] { return !got.empty(); }, 10000ms));
  REQUIRE(got.size() == 1);
  CHECK(got[0].size() == payload.size());
  CHECK(racket::detail::xxh3(got[0]) == racket::detail::xxh3(payload));
  CHECK(got[0] == payload);
  CHECK(sequences[0] == 1);
  const auto ps = pub.stats("large.udp");
  CHECK(ps.fragments_sent >= (std::size_t{4} << 20) / racket::wire::default_max_datagram_size);
  const auto ss = sub.stats(s);
  CHECK(ss.messages_reassembled == 1);
  CHECK(ss.messages_lost == 0);
}
