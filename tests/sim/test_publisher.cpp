// SPDX-License-Identifier: MIT
// The publisher's resend schedule on the simulated network, to the virtual millisecond:
// every cached subject is re-sent on its own interval, whatever the order and spread of the
// intervals published, and a republish with a shorter interval takes effect at once.
#include "racket/publisher.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "racket/wire.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;

const racket::multicast_pool pool{};

// A LAN with a publisher node and a listener that records, per subject, the virtual times
// (ms) at which resends of it arrived.
struct bed {
  explicit bed(const racket::endpoint& ep) : net(5) {
    const auto lan = net.add_lan("lan");
    net.attach(pub_node, lan, "eth0");
    net.attach(rx_node, lan, "eth0");
    rx = std::make_unique<sim::transport>(rx_node, racket::transport_options{});
    std::error_code ec;
    rx->open(racket::address_family::v4, ec);
    REQUIRE_FALSE(ec);
    rx->open_receiver(
        ep,
        [this](std::span<const std::byte> d, const racket::receive_info&) {
          std::error_code e;
          const auto v = racket::wire::decode(d, e);
          if (e) return;
          const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  sim::clock::now().time_since_epoch())
                                  .count();
          std::vector<std::string> resent;
          for (const racket::wire::record& r : v)
            if (r.resend()) {
              resends[std::string(r.subject)].push_back(now_ms);
              resent.emplace_back(r.subject);
            }
          if (!resent.empty()) resend_datagrams.push_back(std::move(resent));
        },
        ec);
    REQUIRE_FALSE(ec);
  }
  sim::network net;
  sim::node& pub_node = net.add_node("pub");
  sim::node& rx_node = net.add_node("rx");
  std::unique_ptr<sim::transport> rx;
  std::map<std::string, std::vector<std::int64_t>> resends;
  std::vector<std::vector<std::string>> resend_datagrams;  // the resent subjects of each datagram with any
};

}  // namespace

TEST_CASE("each subject is re-sent on its own interval, in whatever order the intervals came",
          "[sim][publisher][resend]") {
  racket::stream<std::string> s{"intervals", pool};
  bed b(s.endpoint());
  sim_publisher pub{b.pub_node, racket::publisher_options{.resend_jitter = 0, .seed = 3, .tail_probe_delay = 0ms}};
  // Longest first: the first deadline filed lies far beyond the others (and beyond the
  // resend wheel's 4 s revolution), then shorter ones, then one of 10 ms (less than twice the
  // 20 ms coalescing window, so it may not go early by the whole window).
  const std::vector<std::pair<std::string, std::chrono::milliseconds>> subjects{
      {"a.long", 9000ms}, {"a.mid", 1500ms}, {"a.short", 300ms}, {"a.tiny", 10ms}, {"a.second", 1000ms}};
  for (const auto& [subject, interval] : subjects) pub.publish(s, subject, std::string("v"), interval);
  const auto t0 = std::chrono::duration_cast<std::chrono::milliseconds>(sim::clock::now().time_since_epoch()).count();
  b.net.run_for(20s);
  for (const auto& [subject, interval] : subjects) {
    INFO(subject);
    const auto& times = b.resends[subject];
    const auto n = 20000 / interval.count();
    // Every resend n arrives within the coalescing window before its due time t0 + n * interval
    // (never after it by more than the network's delivery delay), and none is missing.
    REQUIRE(static_cast<std::int64_t>(times.size()) >= n - 1);
    REQUIRE(static_cast<std::int64_t>(times.size()) <= n);
    for (std::size_t k = 0; k < times.size(); ++k) {
      const auto due = t0 + static_cast<std::int64_t>(k + 1) * interval.count();
      const auto window = std::min<std::int64_t>(20, interval.count() / 2);
      CHECK(times[k] >= due - window - 1);
      CHECK(times[k] <= due + 2);
    }
  }
}

TEST_CASE("a republish with a shorter interval moves the next resend earlier", "[sim][publisher][resend]") {
  racket::stream<std::string> s{"shorter", pool};
  bed b(s.endpoint());
  sim_publisher pub{b.pub_node, racket::publisher_options{.resend_jitter = 0, .seed = 4, .tail_probe_delay = 0ms}};
  pub.publish(s, "x", std::string("1"), 5000ms);
  b.net.run_for(1000ms);
  CHECK(b.resends["x"].empty());
  const auto t1 = std::chrono::duration_cast<std::chrono::milliseconds>(sim::clock::now().time_since_epoch()).count();
  pub.publish(s, "x", std::string("2"), 200ms);
  b.net.run_for(1000ms);
  const auto& times = b.resends["x"];
  REQUIRE(times.size() >= 4);
  CHECK(times.size() <= 5);
  CHECK(times[0] >= t1 + 200 - 21);
  CHECK(times[0] <= t1 + 202);
}

// The stream "pack" (4 bytes) in datagrams of 1519 bytes leaves 1490 for records: two of the
// payloads below fit together when they add up to 1400 (with about 25 bytes of record
// headers), not when they add up to 1500. Published (and so fired) in the order 700, 800,
// 600, 500, a datagram closed by the first record that does not fit takes three: {700},
// {800, 600}, {500}. Largest first, each datagram topped up: {800, 600}, {700, 500}.
TEST_CASE("a pass's resends are packed largest first, each datagram topped up with what still fits",
          "[sim][publisher][resend]") {
  racket::stream<std::string> s{"pack", pool};
  bed b(s.endpoint());
  sim_publisher pub{b.pub_node, racket::publisher_options{.max_datagram_size = 1519,
                                                          .resend_jitter = 0,
                                                          .seed = 5,
                                                          .tail_probe_delay = 0ms}};
  const std::vector<std::pair<std::string, std::size_t>> subjects{{"a", 700}, {"b", 800}, {"c", 600}, {"d", 500}};
  for (const auto& [subject, size] : subjects) pub.publish(s, subject, std::string(size, 'x'), 1000ms);
  b.net.run_for(1500ms);
  REQUIRE(b.resend_datagrams.size() == 2);
  std::vector<std::vector<std::string>> got = b.resend_datagrams;
  for (auto& d : got) std::sort(d.begin(), d.end());
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::vector<std::string>>{{"a", "d"}, {"b", "c"}});
}

// More resends of one stream in a pass than are packed together (64): every one still goes,
// once per interval, and the datagrams are fuller than one per record.
TEST_CASE("a pass with hundreds of one stream's resends sends each of them once", "[sim][publisher][resend]") {
  racket::stream<std::string> s{"many", pool};
  bed b(s.endpoint());
  sim_publisher pub{b.pub_node, racket::publisher_options{.resend_jitter = 0, .seed = 6, .tail_probe_delay = 0ms}};
  constexpr int subjects = 300;
  for (int i = 0; i < subjects; ++i)
    pub.publish(s, "k" + std::to_string(i), std::string(40 + static_cast<std::size_t>(i * 37 % 300), 'y'), 1000ms);
  b.net.run_for(3500ms);  // three rounds of resends
  REQUIRE(b.resends.size() == static_cast<std::size_t>(subjects));
  for (const auto& [subject, times] : b.resends) {
    INFO(subject);
    CHECK(times.size() == 3);
  }
  std::size_t records = 0;
  for (const auto& d : b.resend_datagrams) records += d.size();
  CHECK(records == 3 * subjects);
  // 300 records of 40-339 bytes (60 KB with their headers) need 42.2 datagrams a round at
  // least: packed, they take 43; in the order published, each datagram closed by the first
  // record that does not fit, 46.
  CHECK(b.resend_datagrams.size() <= 3 * 44);
}
