// SPDX-License-Identifier: MIT
// Tests of detail::tracer: the time prefix of a trace line and how a datagram is described.
#include "racket/simulation/detail/trace.hpp"

#include "catch.hpp"

#include <asio/ip/address.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

TEST_CASE("trace lines carry the time since start as +seconds.nanoseconds", "[sim][trace]") {
  sim::detail::tracer t;
  CHECK_FALSE(t.on());
  t.line(1s, "unheard");  // no sink: nothing happens

  std::vector<std::string> lines;
  t.set_sink([&](std::string_view l) { lines.emplace_back(l); });
  CHECK(t.on());
  t.line(0ns, "lan lan0");
  t.line(12s + 50us, "send");
  t.line(-1500ms, "before");
  t.line(3600s + 7ns, "later");
  CHECK(lines == std::vector<std::string>{"+0.000000000 lan lan0", "+12.000050000 send", "-1.500000000 before",
                                          "+3600.000000007 later"});

  t.set_sink({});
  CHECK_FALSE(t.on());
  t.line(1s, "unheard");
  CHECK(lines.size() == 4);
}

TEST_CASE("a datagram is described by its group, size and 16-digit hash", "[sim][trace]") {
  const racket::endpoint group{asio::ip::make_address("239.255.0.1"), 19090};
  CHECK(sim::detail::tracer::describe(group, 4, 0xab) == "239.255.0.1:19090 4B #00000000000000ab");
  CHECK(sim::detail::tracer::describe(group, 0, 0xfedcba9876543210ull) == "239.255.0.1:19090 0B #fedcba9876543210");
}
