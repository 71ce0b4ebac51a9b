// SPDX-License-Identifier: MIT
// Subscriber rules on the simulated network, to the exact virtual millisecond: expiry timing,
// the cap on tracked subjects, gap counting, and the resend schedule of the publisher.
#include "racket/subscriber.hpp"

#include "catch.hpp"
#include "sim_test.hpp"

#include "racket/publisher.hpp"
#include "racket/simulation/network.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;
using sim_subscriber = racket::basic_subscriber<sim::transport>;

using bed = sim_test::pub_sub_lan;

const racket::multicast_pool pool{};

}  // namespace

TEST_CASE("a subject expires expiry_factor intervals after its last refresh", "[sim][subscriber]") {
  bed b;
  racket::stream<std::string> s{"exp", pool};
  sim_subscriber sub{b.sub_node, racket::subscriber_options{.expiry_factor = 3}};
  std::vector<sim::clock::time_point> expired_at;
  auto h = sub.subscribe(
      s, "*", [](const racket::message<std::string>&) {},
      [&](const racket::removal& r) {
        if (r.reason == racket::removal_reason::expired) expired_at.push_back(sim::clock::now());
      });
  auto pub = std::make_unique<sim_publisher>(b.pub_node, racket::publisher_options{.resend_jitter = 0, .seed = 5});
  pub->publish(s, "k", std::string("v"), 100ms);
  b.net.run_for(1s);
  CHECK(expired_at.empty());
  CHECK(pub->stats("exp").resent >= 9);
  // Crash the publisher's node: the last refresh is the last resend before the crash.
  b.net.crash(b.pub_node);
  const auto crashed = b.net.now();
  pub.reset();
  REQUIRE(b.net.run_until([&] { return !expired_at.empty(); }, 2s));
  const auto after = expired_at[0] - crashed;
  CHECK(after > 200ms);   // the last refresh was at most one interval before the crash
  CHECK(after <= 301ms);  // 3 intervals after that refresh (plus the network's 50 us delay)
  CHECK(sub.stats(s).expired == 1);
}

TEST_CASE("the cap on tracked subjects evicts and counts", "[sim][subscriber]") {
  bed b;
  racket::stream<std::string> s{"cap", pool};
  sim_subscriber sub{b.sub_node, racket::subscriber_options{.max_subjects_per_stream = 50}};
  int delivered = 0, evicted = 0;
  int mismatched = 0;
  auto h = sub.subscribe(
      s, "*",
      [&](const racket::message<std::string>& m) {
        ++delivered;
        // Evictions happen in the middle of a packed datagram: each delivery must still carry
        // its own subject (the fuzzer found deliveries pointing at a reused slot's subject).
        mismatched += m.value != m.subject;
      },
      [&](const racket::removal& r) { evicted += r.reason == racket::removal_reason::evicted; });
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 9}};
  for (int i = 0; i < 500; ++i) pub.publish(s, "k" + std::to_string(i), "k" + std::to_string(i), 10s);
  b.net.run_for(100ms);
  CHECK(delivered == 500);
  CHECK(mismatched == 0);
  const auto st = sub.stats(s);
  CHECK(st.tracked_subjects == 50);
  CHECK(st.evicted == 450);
  CHECK(evicted == 450);
  int held = 0;
  sub.for_each_value(s, [&](std::string_view, racket::byte_view) { ++held; });
  CHECK(held == 50);
}

TEST_CASE("lost live messages are counted as gaps, and resends are not", "[sim][subscriber]") {
  bed b;
  racket::stream<std::string> s{"gaps", pool};
  sim_subscriber sub{b.sub_node};
  std::vector<std::string> delivered;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { delivered.emplace_back(m.subject); });
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 3}};
  pub.publish(s, "a", std::string("1"), 100ms);  // expires after 300 ms: survives the partition
  b.net.run_for(10ms);
  // Lose everything for a while: three live updates vanish, resends too.
  b.net.partition({&b.pub_node}, {&b.sub_node});
  pub.publish(s, "b", std::string("1"));
  pub.publish(s, "c", std::string("1"));
  pub.publish(s, "d", std::string("1"));
  b.net.run_for(150ms);
  b.net.heal();
  b.net.run_for(200ms);  // resends of "a" (old sequence) arrive, before it expires: no gap from them
  CHECK(sub.stats(s).gaps == 0);
  pub.publish(s, "e", std::string("1"));
  b.net.run_for(10ms);
  CHECK(sub.stats(s).gaps == 3);
  CHECK(delivered == std::vector<std::string>{"a", "e"});  // b, c, d were one-shot and lost
}

TEST_CASE("one publisher alternating between streams and their copies sends each on its own stream",
          "[sim][publisher]") {
  bed b;
  racket::stream<std::string> one{"alt.one", pool};
  racket::stream<std::string> two{"alt.two", pool};
  // Same name as `one`, made separately: another key, the same stream on the wire.
  racket::stream<std::string> one_again{"alt.one", pool};
  sim_subscriber sub{b.sub_node};
  std::vector<std::string> got_one, got_two;
  auto h1 = sub.subscribe(one, "*", [&](const racket::message<std::string>& m) { got_one.push_back(m.value); });
  auto h2 = sub.subscribe(two, "*", [&](const racket::message<std::string>& m) { got_two.push_back(m.value); });
  sim_publisher pub{b.pub_node};
  const racket::stream<std::string> two_copy = two;
  pub.publish(one, "x", std::string("1a"));
  pub.publish(two, "x", std::string("2a"));
  pub.publish(two_copy, "x", std::string("2b"));
  pub.publish(one_again, "x", std::string("1b"));
  pub.publish(one, "x", std::string("1c"));
  pub.publish(two, "x", std::string("2c"));
  REQUIRE(b.net.run_until([&] { return got_one.size() + got_two.size() == 6; }, 1s));
  CHECK(got_one == std::vector<std::string>{"1a", "1b", "1c"});
  CHECK(got_two == std::vector<std::string>{"2a", "2b", "2c"});
  CHECK(pub.stats("alt.one").published == 3);
  CHECK(pub.stats("alt.two").published == 3);
}

TEST_CASE("resends of many subjects share datagrams and keep their schedule", "[sim][publisher]") {
  bed b;
  racket::stream<std::string> s{"many", pool};
  sim_subscriber sub{b.sub_node};
  auto h = sub.subscribe(s, "*", [](const racket::message<std::string>&) {});
  sim_publisher pub{b.pub_node, racket::publisher_options{.resend_jitter = 0.05, .seed = 11}};
  for (int i = 0; i < 2000; ++i) pub.publish(s, "sensor." + std::to_string(i), std::string(40, 'x'), 1s);
  b.net.run_for(100ms);
  const auto first = pub.stats("many");
  CHECK(first.published == 2000);
  CHECK(first.cached_subjects == 2000);
  b.net.run_for(10s);
  const auto later = pub.stats("many");
  // Ten intervals: each subject resent about 9-10 times (jitter only delays, up to 5%).
  CHECK(later.resent >= 2000 * 9);
  CHECK(later.resent <= 2000 * 10);
  // Packed: far fewer datagrams than records (a 1452-byte datagram holds ~15 such records).
  CHECK(later.datagrams_sent * 8 < later.resent + later.published);
  const auto st = sub.stats(s);
  CHECK(st.delivered == 2000);
  CHECK(st.duplicates >= later.resent - 100);
}

TEST_CASE("a publisher with a hundred thousand cached subjects uses one timer", "[sim][publisher]") {
  bed b;
  racket::stream<std::string> s{"scale", pool};
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 17}};
  for (int i = 0; i < 100000; ++i) pub.publish(s, "s." + std::to_string(i), std::string("v"), 2s);
  b.net.run_for(50ms);
  const auto pending_before = b.net.pending_events();
  CHECK(pending_before <= 4);  // one resend timer (and maybe in-flight datagrams), not 100k
  b.net.run_for(4100ms);
  CHECK(pub.stats("scale").resent >= 100000 * 2 - 1000);
  CHECK(pub.stats("scale").cached_subjects == 100000);
}

TEST_CASE("a subscription dropped by another's handler in mid-datagram gets no further calls", "[sim][subscriber]") {
  // Deliveries of one datagram hold plain pointers to their subscriptions; one dropped during
  // the batch is kept alive until the batch ends, then released (with what its handler holds).
  bed b;
  racket::stream<std::string> s{"drop", pool};
  sim_subscriber sub{b.sub_node};
  auto token = std::make_shared<int>(0);
  const std::weak_ptr<int> watch = token;
  int first = 0, second = 0;
  racket::subscription h2;
  auto h1 = sub.subscribe(s, "*", [&](const racket::message<std::string>&) {
    if (++first == 3) h2.unsubscribe();
  });
  h2 = sub.subscribe(s, "*", [&second, t = std::move(token)](const racket::message<std::string>&) { ++second; });
  b.net.run_for(10ms);  // the replays run: live deliveries are on
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 9}};
  for (int i = 0; i < 10; ++i) pub.publish(s, "k" + std::to_string(i), std::string("v"), 10s);
  b.net.run_for(100ms);
  CHECK(first == 10);
  CHECK(second >= 2);
  CHECK(second <= 3);
  CHECK(watch.expired());
  const auto st = sub.stats(s);
  CHECK(st.delivered == static_cast<std::uint64_t>(first + second));
  CHECK(st.tracked_subjects == 10);
  h1.unsubscribe();
  CHECK(sub.stats(s).tracked_subjects == 0);  // the last subscription took the stream's state
}
