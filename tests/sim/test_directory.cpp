// SPDX-License-Identifier: MIT
// Discovery on the simulated network, to the virtual millisecond: publishers and subscribers
// announce their streams on the pool's announce channel, a directory on another node lists
// them (subject counts, rates, filters), and forgets a publisher some periods after it is gone.
#include "racket/directory.hpp"

#include "catch.hpp"

#include "racket/publisher.hpp"
#include "racket/simulation/network.hpp"
#include "racket/subscriber.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;
using sim_subscriber = racket::basic_subscriber<sim::transport>;
using sim_directory = racket::basic_directory<sim::transport>;

const racket::multicast_pool pool{};

struct bed {
  bed() : net(7) {
    const auto lan = net.add_lan("lan");
    net.attach(pub_node, lan, "eth0");
    net.attach(sub_node, lan, "eth0");
    net.attach(dir_node, lan, "eth0");
  }
  sim::network net;
  sim::node& pub_node = net.add_node("pub");
  sim::node& sub_node = net.add_node("sub");
  sim::node& dir_node = net.add_node("dir");
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(sim::clock::now().time_since_epoch()).count();
}

const racket::directory_entry* find(const std::vector<racket::directory_entry>& v, const std::string& stream,
                                    racket::participant_role role) {
  const auto it = std::find_if(v.begin(), v.end(), [&](const racket::directory_entry& e) {
    return e.stream == stream && e.role == role;
  });
  return it == v.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("a publisher appears with its subject count and rate, and disappears after expiry once gone",
          "[sim][directory]") {
  bed b;
  sim_directory dir{b.dir_node, pool, racket::directory_options{.expiry_factor = 3}};
  std::vector<std::pair<std::int64_t, racket::directory_entry>> appeared;
  std::vector<std::pair<std::int64_t, racket::directory_entry>> gone;
  dir.set_appear_handler([&](const racket::directory_entry& e) { appeared.emplace_back(now_ms(), e); });
  dir.set_disappear_handler([&](const racket::directory_entry& e) { gone.emplace_back(now_ms(), e); });

  racket::stream<std::string> plant{"plant", pool};
  racket::stream<std::string> fx{"fx", pool};
  auto pub = std::make_unique<sim_publisher>(
      b.pub_node, racket::publisher_options{.seed = 5,
                                            .announce_period = 1000ms,
                                            .host_name = "pub-host",
                                            .process_id = 4242,
                                            .program_name = "sim-sender"});
  const std::uint64_t pub_id = pub->id();
  const auto t0 = now_ms();
  pub->publish(plant, "a.one", std::string("1"), 10s);
  pub->publish(plant, "a.two", std::string("2"), 10s);
  pub->publish(plant, "a.three", std::string("3"), 10s);
  pub->publish(fx, "eur", std::string("x"));  // an event: no cached subject
  b.net.run_for(250ms);

  // The first announcement comes 100-200 ms after the first publish and names both streams.
  REQUIRE(appeared.size() == 2);
  CHECK(appeared[0].first - t0 >= 100);
  CHECK(appeared[0].first - t0 <= 200);
  auto snap = dir.snapshot();
  REQUIRE(snap.size() == 2);
  const auto* p = find(snap, "plant", racket::participant_role::publisher);
  REQUIRE(p != nullptr);
  CHECK(p->subjects == 3);
  CHECK(p->id == pub_id);
  CHECK(p->host == "pub-host");
  CHECK(p->pid == 4242);
  CHECK(p->program == "sim-sender");
  CHECK(p->period == 1000ms);
  const auto* f = find(snap, "fx", racket::participant_role::publisher);
  REQUIRE(f != nullptr);
  CHECK(f->subjects == 0);

  // 20 messages a second on "plant" for 3 s: the rate announced says so (±1 period's jitter).
  for (int i = 0; i < 60; ++i) {
    pub->publish(plant, "a.one", std::to_string(i), 10s);
    b.net.run_for(50ms);
  }
  snap = dir.snapshot();
  p = find(snap, "plant", racket::participant_role::publisher);
  REQUIRE(p != nullptr);
  CHECK(p->rate > 15.0);
  CHECK(p->rate < 25.0);
  CHECK(p->announcements >= 3);
  CHECK(p->age < 1300ms);
  CHECK(gone.empty());

  // Gone: both entries disappear 3 periods (3 s) after the last announcement heard.
  const auto closed_at = now_ms();
  pub.reset();
  b.net.run_for(2000ms);
  CHECK(gone.empty());
  CHECK(dir.snapshot().size() == 2);
  b.net.run_for(2000ms);
  REQUIRE(gone.size() == 2);
  CHECK(gone[0].first - closed_at > 1800);  // last heard at most 1.2 periods before closing
  CHECK(gone[0].first - closed_at <= 3000);
  CHECK(gone[0].second.age >= 3000ms);
  CHECK(dir.snapshot().empty());
  const auto st = dir.stats();
  CHECK(st.appeared == 2);
  CHECK(st.disappeared == 2);
  CHECK(st.entries == 0);
  CHECK(st.malformed == 0);
}

TEST_CASE("a subscriber announces its filters, and a period of 0 announces nothing", "[sim][directory]") {
  bed b;
  sim_directory dir{b.dir_node, pool};
  racket::stream<std::string> plant{"plant", pool};
  sim_subscriber sub{b.sub_node, racket::subscriber_options{.seed = 3, .announce_period = 500ms}};
  auto s1 = sub.subscribe(plant, "a.*", [](const racket::message<std::string>&) {});
  auto s2 = sub.subscribe(plant, "b", [](const racket::message<std::string>&) {});
  auto s3 = sub.subscribe(plant, "a.*", [](const racket::message<std::string>&) {});  // listed once
  sim_publisher quiet{b.pub_node, racket::publisher_options{.seed = 9, .announce_period = 0ms}};
  quiet.publish(plant, "c", std::string("v"), 1s);
  b.net.run_for(1200ms);

  auto snap = dir.snapshot();
  REQUIRE(snap.size() == 1);
  CHECK(snap[0].role == racket::participant_role::subscriber);
  CHECK(snap[0].stream == "plant");
  CHECK(snap[0].filters == std::vector<std::string>{"a.*", "b"});

  // Unsubscribed: no longer announced, so it expires (3 × 500 ms after it was last heard).
  s1.unsubscribe();
  s2.unsubscribe();
  s3.unsubscribe();
  b.net.run_for(2000ms);
  CHECK(dir.snapshot().empty());
}

TEST_CASE("many streams go out in several announcements, all of them listed", "[sim][directory]") {
  bed b;
  sim_directory dir{b.dir_node, pool};
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 1, .announce_period = 1000ms}};
  std::vector<racket::stream<std::string>> streams;
  for (int i = 0; i < 150; ++i) streams.emplace_back("stream.number." + std::to_string(i), pool);
  for (const auto& s : streams) pub.publish(s, "x", std::string("v"), 5s);
  b.net.run_for(300ms);
  CHECK(dir.snapshot().size() == 150);
  CHECK(dir.stats().announcements >= 3);  // 64 entries at most per datagram
}
