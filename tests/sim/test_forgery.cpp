// SPDX-License-Identifier: MIT
// Forged records on an unkeyed stream (issue 21, "no silencing without keys"), on the
// simulated network: one datagram with a real publisher's id and a sequence 10^12 ahead, or
// with an id of its own and a stamp a year ahead, shadows the real publisher's updates for
// about a second (its own clock's slack) or max_clock_skew at most, never until it expires,
// and claims no gaps.
#include "racket/subscriber.hpp"

#include "catch.hpp"

#include "racket/publisher.hpp"
#include "racket/simulation/network.hpp"
#include "racket/wire.hpp"
#include "sim/raw_node.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace sim = racket::sim;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;
using sim_subscriber = racket::basic_subscriber<sim::transport>;

const racket::multicast_pool pool{};

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(sim::clock::now().time_since_epoch()).count());
}

// Sends one datagram, one record: `value` on `subject` as `publisher` with `sequence` and
// `stamp`, an interval of a day (it would take three days to expire).
void forge(racket_test::raw_node& n, const racket::stream<std::string>& s, std::uint64_t publisher,
           std::uint64_t sequence, std::uint64_t stamp, const std::string& subject, const std::string& value) {
  std::array<std::byte, 512> buf{};
  racket::wire::datagram_writer w{buf};
  w.begin(publisher, s.name());
  REQUIRE(w.append(racket::wire::record{.interval_ms = 86'400'000,
                                        .sequence = sequence,
                                        .timestamp_ns = stamp,
                                        .subject = subject,
                                        .payload = std::as_bytes(std::span(value))}));
  n.send(s.endpoint(), w.finish());
}

using racket_test::lan_bed;
using bed = lan_bed;

}  // namespace

TEST_CASE("forgery: a real publisher's id with a sequence 10^12 ahead silences it for about a second, no gaps",
          "[sim][security]") {
  bed b{1};
  const racket::stream<std::string> s{"plant.forged", pool};
  sim_publisher pub{b.add("pub"), {.seed = 1}};
  sim_subscriber sub{b.add("sub"), {.seed = 2}};
  racket_test::raw_node f(b.net, b.lan, "forger");
  std::string last;
  auto h = sub.subscribe(s, "temp", [&](const racket::message<std::string>& m) { last = m.value; });
  pub.publish(s, "temp", "20"s, 30s);
  REQUIRE(b.net.run_until([&] { return last == "20"; }, 500ms));

  forge(f, s, pub.id(), 1'000'000'000'000, now_ns(), "temp", "forged");
  REQUIRE(b.net.run_until([&] { return last == "forged"; }, 500ms));
  // The real publisher goes on updating every 100 ms: within about a second its value is back.
  const auto forged_at = b.net.now();
  int update = 0;
  while (last != std::to_string(21 + update - 1) && b.net.now() - forged_at < 5s) {
    pub.publish(s, "temp", std::to_string(21 + update++), 30s);
    b.net.run_for(100ms);
  }
  const auto silenced = b.net.now() - forged_at;
  INFO("silenced for " << std::chrono::duration<double>(silenced).count() << " s");
  CHECK(silenced <= 1300ms);  // the publisher's own clock slack (1 s) plus an update period
  CHECK(silenced >= 900ms);   // and not at once: the documented remaining risk
  const auto st = sub.stats(s);
  CHECK(st.gaps < 100);             // was 999,999,999,999
  CHECK(st.sequence_jumps >= 1);
}

TEST_CASE("forgery: another id with a stamp a year ahead shadows the subject for at most max_clock_skew",
          "[sim][security]") {
  bed b{2};
  const racket::stream<std::string> s{"plant.future", pool};
  sim_publisher pub{b.add("pub"), {.seed = 1}};
  sim_subscriber sub{b.add("sub"), {.max_clock_skew = 2s, .seed = 2}};
  racket_test::raw_node f(b.net, b.lan, "forger");
  std::string last;
  auto h = sub.subscribe(s, "temp", [&](const racket::message<std::string>& m) { last = m.value; });
  pub.publish(s, "temp", "20"s, 30s);
  REQUIRE(b.net.run_until([&] { return last == "20"; }, 500ms));
  forge(f, s, 0xF0F0F0F0, 1, now_ns() + 365ull * 86'400'000'000'000ull, "temp", "forged");
  REQUIRE(b.net.run_until([&] { return last == "forged"; }, 500ms));
  const auto forged_at = b.net.now();
  int update = 0;
  while (last != std::to_string(21 + update - 1) && b.net.now() - forged_at < 10s) {
    pub.publish(s, "temp", std::to_string(21 + update++), 30s);
    b.net.run_for(100ms);
  }
  const auto silenced = b.net.now() - forged_at;
  INFO("silenced for " << std::chrono::duration<double>(silenced).count() << " s");
  CHECK(silenced <= 2200ms);
  CHECK(silenced >= 1800ms);
}
