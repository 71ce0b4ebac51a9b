// SPDX-License-Identifier: MIT
// Keyed streams end to end on the simulated network (virtual clock; issue 21): values and
// snapshot answers travel sealed, nothing of a keyed stream leaves in clear or is announced; a
// subscriber with the wrong key, or none, delivers nothing and counts what it refused; a
// datagram injected in clear, a replay, and a request in clear are refused and counted; a
// rotation accepts old and new keys; authenticate-only leaves values readable. Needs libsodium.
#include "racket/publisher.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "racket/subscriber.hpp"
#include "racket/wire.hpp"
#include "sim/raw_node.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;
using sim_subscriber = racket::basic_subscriber<sim::transport>;
using bytes = std::vector<std::byte>;
using racket_test::raw_node;

const racket::multicast_pool pool{};

racket::stream_key key_of(char fill) { return racket::stream_key::parse(std::string(64, fill)); }

racket::key_ring ring(std::string_view stream, char fill) {
  racket::key_ring r;
  r.add(stream, key_of(fill));
  return r;
}

bool contains(const bytes& d, std::string_view text) {
  return std::search(d.begin(), d.end(), reinterpret_cast<const std::byte*>(text.data()),
                     reinterpret_cast<const std::byte*>(text.data()) + text.size()) != d.end();
}

using racket_test::lan_bed;
using bed = lan_bed;

struct collector {
  std::vector<std::string> values;
  auto handler() {
    return [this](const racket::message<std::string>& m) { values.push_back(std::string(m.subject) + "=" + m.value); };
  }
};

}  // namespace

TEST_CASE("keyed: values and snapshot answers travel sealed, and nothing of the stream in clear or announced",
          "[sim][security]") {
  bed b{1};
  const racket::stream<std::string> s{"secret.plant", pool};
  raw_node wire_tap(b.net, b.lan, "tap");
  wire_tap.listen(s.endpoint());
  raw_node announce_tap(b.net, b.lan, "atap");
  announce_tap.listen(pool.announce_endpoint());
  sim_publisher pub{b.add("pub"), {.seed = 1, .announce_period = 200ms, .keys = ring(s.name(), '1')}};
  pub.publish(s, "line1.temp", "21.5 degrees"s, 30s);
  b.net.run_for(1s);

  // A late joiner: its snapshot request goes sealed, and so does the answer.
  sim_subscriber sub{b.add("sub"), {.seed = 2, .announce_period = 200ms, .keys = ring(s.name(), '1')}};
  collector got;
  auto h = sub.subscribe(s, "*", got.handler());
  REQUIRE(b.net.run_until([&] { return got.values.size() == 1; }, 500ms));
  CHECK(got.values[0] == "line1.temp=21.5 degrees");
  pub.publish(s, "line1.temp", "22.0 degrees"s, 30s);
  REQUIRE(b.net.run_until([&] { return got.values.size() == 2; }, 500ms));
  b.net.run_for(1s);

  const auto ps = pub.stats(s.name());
  CHECK(ps.snapshot_requests >= 1);  // the sealed request was opened and answered
  CHECK(ps.snapshot_records >= 1);
  CHECK(ps.requests_rejected == 0);
  const auto ss = sub.stats(s);
  CHECK(ss.rejected == 0);
  CHECK(ss.replayed == 0);
  CHECK(ss.unsealed == 0);
  CHECK(ss.malformed == 0);
  REQUIRE_FALSE(wire_tap.heard.empty());
  for (const bytes& d : wire_tap.heard) {
    REQUIRE(d.size() > 6);
    CHECK(racket::wire::peek_kind(d) == racket::wire::kind::sealed);
    CHECK_FALSE(contains(d, "degrees"));
    CHECK_FALSE(contains(d, "line1.temp"));
  }
  for (const bytes& d : announce_tap.heard) CHECK_FALSE(contains(d, "secret.plant"));
}

TEST_CASE("keyed: the wrong key or none delivers nothing, and the refusals are counted", "[sim][security]") {
  bed b{2};
  const racket::stream<std::string> s{"secret.wrong", pool};
  sim_publisher pub{b.add("pub"), {.seed = 1, .keys = ring(s.name(), '1')}};
  sim_subscriber wrong{b.add("wrong"), {.seed = 2, .keys = ring(s.name(), '2')}};
  sim_subscriber none{b.add("none"), {.seed = 3}};
  collector got_wrong, got_none;
  auto h1 = wrong.subscribe(s, "*", got_wrong.handler());
  auto h2 = none.subscribe(s, "*", got_none.handler());
  b.net.run_for(100ms);
  for (int i = 0; i < 10; ++i) {
    pub.publish(s, "a.b", "v"s + std::to_string(i), 1s);
    b.net.run_for(10ms);  // a datagram each
  }
  b.net.run_for(3s);
  CHECK(got_wrong.values.empty());
  CHECK(got_none.values.empty());
  CHECK(wrong.stats(s).rejected >= 10);  // no key of its ring has the publisher's key id
  CHECK(wrong.stats(s).delivered == 0);
  CHECK(none.stats(s).rejected >= 10);  // a subscriber without keys cannot open them either
  CHECK(none.stats(s).malformed == 0);
  // The publisher ignored the wrong key's request: it did not open.
  CHECK(pub.stats(s.name()).snapshot_requests == 0);
}

TEST_CASE("keyed: a datagram injected in clear and a replayed one are refused and counted", "[sim][security]") {
  bed b{3};
  const racket::stream<std::string> s{"secret.replay", pool};
  raw_node attacker(b.net, b.lan, "attacker");
  attacker.listen(s.endpoint());
  sim_publisher pub{b.add("pub"), {.seed = 1, .keys = ring(s.name(), '1')}};
  sim_subscriber sub{b.add("sub"), {.seed = 2, .keys = ring(s.name(), '1')}};
  collector got;
  auto h = sub.subscribe(s, "*", got.handler());
  b.net.run_for(100ms);
  pub.publish(s, "door", "closed"s, 0ms);  // an event: a replay would deliver it again
  REQUIRE(b.net.run_until([&] { return got.values.size() == 1; }, 500ms));
  REQUIRE(attacker.heard.size() == 1);
  const bytes recorded = attacker.heard[0];

  // Replayed at once: inside the window, already seen.
  attacker.send(s.endpoint(), recorded);
  b.net.run_for(100ms);
  CHECK(sub.stats(s).replayed == 1);
  // Replayed to a subscriber that never saw it, a minute later: outside the freshness window.
  b.net.run_for(1s);  // the publisher's tail probes (re-sends of the event) are over
  sim_subscriber late{b.add("late"), {.seed = 3, .keys = ring(s.name(), '1')}};
  collector got_late;
  auto h2 = late.subscribe(s, "*", got_late.handler());
  b.net.run_for(60s);
  REQUIRE(got_late.values.empty());
  attacker.send(s.endpoint(), recorded);
  b.net.run_for(100ms);
  CHECK(got_late.values.empty());
  CHECK(late.stats(s).replayed == 1);

  // In clear: a valid data datagram of the keyed stream, with the publisher's id.
  std::array<std::byte, 512> buf{};
  racket::wire::datagram_writer w{buf};
  w.begin(pub.id(), s.name());
  const std::string payload = "open";
  REQUIRE(w.append(racket::wire::record{.interval_ms = 0,
                                        .sequence = 999,
                                        .timestamp_ns = 1,
                                        .subject = "door",
                                        .payload = std::as_bytes(std::span(payload))}));
  attacker.send(s.endpoint(), w.finish());
  b.net.run_for(100ms);
  CHECK(sub.stats(s).unsealed == 1);
  CHECK(got.values == std::vector<std::string>{"door=closed"});
  CHECK(got_late.values.empty());
}

TEST_CASE("keyed: a request in clear gets no answer, and is counted", "[sim][security]") {
  bed b{4};
  const racket::stream<std::string> s{"secret.requests", pool};
  raw_node attacker(b.net, b.lan, "attacker");
  attacker.listen(s.endpoint());
  sim_publisher pub{b.add("pub"), {.seed = 1, .keys = ring(s.name(), '1')}};
  pub.publish(s, "a", "value"s, 30s);
  b.net.run_for(1s);
  const auto heard_before = attacker.heard.size();
  attacker.request(77, s.name(), s.endpoint());
  b.net.run_for(1s);
  CHECK(pub.stats(s.name()).requests_rejected == 1);
  CHECK(pub.stats(s.name()).snapshot_answers == 0);
  CHECK(attacker.heard.size() == heard_before);  // no answer went out
}

TEST_CASE("keyed: during a rotation old and new keys are delivered, after it only the new", "[sim][security]") {
  bed b{5};
  const racket::stream<std::string> s{"secret.rotate", pool};
  sim_publisher old_pub{b.add("old"), {.seed = 1, .keys = ring(s.name(), '1')}};
  racket::key_ring both;
  both.add(s.name(), key_of('1')).add(s.name(), key_of('2'));  // sends with the new one
  sim_publisher new_pub{b.add("new"), {.seed = 2, .keys = both}};
  racket::key_ring accepting;
  accepting.add(s.name(), key_of('1')).accept(s.name(), key_of('2'));
  sim_subscriber during{b.add("during"), {.seed = 3, .keys = accepting}};
  racket::key_ring after = accepting;
  after.remove(s.name(), key_of('1'));
  after.add(s.name(), key_of('2'));
  sim_subscriber later{b.add("later"), {.seed = 4, .keys = after}};
  collector got_during, got_later;
  auto h1 = during.subscribe(s, "*", got_during.handler());
  auto h2 = later.subscribe(s, "*", got_later.handler());
  b.net.run_for(100ms);
  old_pub.publish(s, "from.old", "1"s, 0ms);
  new_pub.publish(s, "from.new", "2"s, 0ms);
  b.net.run_for(500ms);
  std::sort(got_during.values.begin(), got_during.values.end());
  CHECK(got_during.values == std::vector<std::string>{"from.new=2", "from.old=1"});
  CHECK(got_later.values == std::vector<std::string>{"from.new=2"});
  CHECK(later.stats(s).rejected >= 1);
}

TEST_CASE("keyed: authenticate-only leaves values readable on the wire, and still delivers", "[sim][security]") {
  if (!racket::aes256gcm_available()) {
    bed b{6};
    CHECK_THROWS_AS((sim_publisher{b.add("pub"), {.keys = ring("x", '1'), .protection = racket::protection::authenticate_only}}),
                    std::system_error);
    return;
  }
  bed b{6};
  const racket::stream<std::string> s{"signed.plant", pool};
  raw_node tap(b.net, b.lan, "tap");
  tap.listen(s.endpoint());
  sim_publisher pub{b.add("pub"),
                    {.seed = 1, .keys = ring(s.name(), '1'), .protection = racket::protection::authenticate_only}};
  sim_subscriber sub{b.add("sub"), {.seed = 2, .keys = ring(s.name(), '1')}};
  collector got;
  auto h = sub.subscribe(s, "*", got.handler());
  b.net.run_for(100ms);
  pub.publish(s, "line", "readable"s, 0ms);
  REQUIRE(b.net.run_until([&] { return got.values.size() == 1; }, 500ms));
  REQUIRE(tap.heard.size() == 1);
  CHECK(racket::wire::peek_kind(tap.heard[0]) == racket::wire::kind::sealed);
  CHECK(contains(tap.heard[0], "readable"));
}

TEST_CASE("keyed: a stream with accepted keys only cannot be published on", "[sim][security]") {
  bed b{7};
  racket::key_ring r;
  r.accept("listen.only", key_of('1'));
  sim_publisher pub{b.add("pub"), {.seed = 1, .keys = r}};
  const racket::stream<std::string> s{"listen.only", pool};
  std::error_code ec;
  pub.publish(s, "a", "b"s, 1s, ec);
  CHECK(ec == racket::errc::no_sending_key);
  CHECK_THROWS_AS(pub.publish(s, "a", "b"s, 1s), std::system_error);
}

TEST_CASE("keyed: set_keys rotates a running publisher and subscriber without a restart", "[sim][security]") {
  bed b{8};
  const racket::stream<std::string> s{"secret.live", pool};
  sim_publisher pub{b.add("pub"), {.seed = 1, .keys = ring(s.name(), '1')}};
  sim_subscriber sub{b.add("sub"), {.seed = 2, .keys = ring(s.name(), '1')}};
  sim_subscriber stale{b.add("stale"), {.seed = 3, .keys = ring(s.name(), '1')}};  // never rotated
  collector got, got_stale;
  auto h1 = sub.subscribe(s, "*", got.handler());
  auto h2 = stale.subscribe(s, "*", got_stale.handler());
  b.net.run_for(100ms);
  pub.publish(s, "step", "1"s, 0ms);
  b.net.run_for(200ms);

  // The three steps of docs/security.md, "Rotation", on running objects.
  racket::key_ring accepting;
  accepting.add(s.name(), key_of('1')).accept(s.name(), key_of('2'));
  sub.set_keys(accepting);
  racket::key_ring sending;
  sending.accept(s.name(), key_of('1')).add(s.name(), key_of('2'));
  pub.set_keys(sending);
  b.net.run_for(10ms);
  pub.publish(s, "step", "2"s, 0ms);
  b.net.run_for(200ms);
  racket::key_ring after;
  after.add(s.name(), key_of('2'));
  sub.set_keys(after);
  pub.set_keys(after);
  b.net.run_for(10ms);
  pub.publish(s, "step", "3"s, 0ms);
  b.net.run_for(200ms);

  CHECK(got.values == std::vector<std::string>{"step=1", "step=2", "step=3"});
  CHECK(sub.stats(s).rejected == 0);
  // The publisher really moved to key 2: the subscriber left on key 1 got only the first.
  CHECK(got_stale.values == std::vector<std::string>{"step=1"});
  CHECK(stale.stats(s).rejected >= 2);

  // Only objects made with keys can change them.
  sim_publisher plain_pub{b.add("plain_pub"), {.seed = 4}};
  sim_subscriber plain_sub{b.add("plain_sub"), {.seed = 5}};
  std::error_code ec;
  plain_pub.set_keys(after, ec);
  CHECK(ec == racket::errc::invalid_option);
  plain_sub.set_keys(after, ec);
  CHECK(ec == racket::errc::invalid_option);
  CHECK_THROWS_AS(plain_pub.set_keys(after), std::system_error);
  CHECK_THROWS_AS(plain_sub.set_keys(after), std::system_error);
}
