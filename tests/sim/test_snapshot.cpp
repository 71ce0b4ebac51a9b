// SPDX-License-Identifier: MIT
// Snapshot requests and gap repair on the simulated network (virtual clock, seeded faults):
// late joiners get a 30 s-interval publisher's whole cache in milliseconds, losses are repaired
// in about a round trip, many joiners cause few answers, and hostile requesters are limited.
#include "racket/publisher.hpp"

#include "catch.hpp"

#include "racket/simulation/network.hpp"
#include "racket/subscriber.hpp"
#include "racket/wire.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace sim = racket::sim;
using namespace std::chrono_literals;

namespace {

using sim_publisher = racket::basic_publisher<sim::transport>;
using sim_subscriber = racket::basic_subscriber<sim::transport>;

const racket::multicast_pool pool{};

std::string subject_of(std::size_t i) { return "s." + std::to_string(i); }

std::size_t index_of(std::string_view subject) {
  std::size_t i = 0;
  std::from_chars(subject.data() + 2, subject.data() + subject.size(), i);
  return i;
}

std::string value_of(std::size_t i, int version) { return "v" + std::to_string(version) + "." + std::to_string(i); }

double ms(sim::clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Follows, per subject index, the version of the last value delivered, and counts how many
// subjects hold version `want`.
struct tracker {
  explicit tracker(std::size_t n) : version(n, 0) {}
  std::vector<int> version;
  std::size_t at_want = 0;
  int want = 1;
  std::uint64_t deliveries = 0;

  void on(const racket::message<std::string>& m) {
    ++deliveries;
    const std::size_t i = index_of(m.subject);
    REQUIRE(i < version.size());
    const int v = m.value[1] - '0';
    if (version[i] == want) --at_want;
    version[i] = v;
    if (v == want) ++at_want;
  }
  void expect(int v) {
    want = v;
    at_want = 0;
    for (int x : version) at_want += x == v;
  }
};

// Sends raw datagrams from a node of its own (a hostile or foreign requester) and records what
// it hears on a stream's group and port.
struct raw_node {
  raw_node(sim::network& net, std::size_t lan, const std::string& name, const racket::endpoint& ep)
      : node(net.add_node(name)) {
    net.attach(node, lan, "eth0");
    t = std::make_unique<sim::transport>(node, racket::transport_options{.loopback = false});
    std::error_code ec;
    t->open(racket::address_family::v4, ec);
    REQUIRE_FALSE(ec);
    t->open_receiver(
        ep,
        [this](std::span<const std::byte> d, const racket::receive_info&) {
          heard.emplace_back(d.begin(), d.end());
        },
        ec);
    REQUIRE_FALSE(ec);
    this->ep = ep;
  }
  void request(const racket::wire::snapshot_request& r) {
    std::array<std::byte, 2048> buf;
    const auto d = racket::wire::encode_request(buf, r);
    REQUIRE_FALSE(d.empty());
    t->send(racket::request_endpoint(ep), d);
  }
  // Snapshot records heard so far: (subject, sequence).
  std::vector<std::pair<std::string, std::uint64_t>> snapshot_records() const {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const auto& d : heard) {
      std::error_code ec;
      const auto v = racket::wire::decode(d, ec);
      if (ec) continue;
      for (const auto& r : v)
        if (r.snapshot()) out.emplace_back(std::string(r.subject), r.sequence);
    }
    return out;
  }
  sim::node& node;
  std::unique_ptr<sim::transport> t;
  racket::endpoint ep;
  std::vector<std::vector<std::byte>> heard;
};

struct bed {
  explicit bed(std::uint64_t seed) : net(seed) {
    lan = net.add_lan("lan");
    net.attach(pub_node, lan, "eth0");
  }
  sim::node& add_sub_node(const std::string& name) {
    auto& n = net.add_node(name);
    net.attach(n, lan, "eth0");
    return n;
  }
  sim::network net;
  std::size_t lan = 0;
  sim::node& pub_node = net.add_node("pub");
};

void publish_all(sim_publisher& pub, const racket::stream<std::string>& s, std::size_t n, int version,
                 std::chrono::milliseconds interval = 30s) {
  for (std::size_t i = 0; i < n; ++i) pub.publish(s, subject_of(i), value_of(i, version), interval);
}

}  // namespace

TEST_CASE("a late joiner holds 100k subjects of a 30 s-interval publisher within 1 s", "[sim][snapshot]") {
  constexpr std::size_t n = 100'000;
  bed b{1};
  const racket::stream<std::string> s{"snap.late", pool};
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 11}};
  publish_all(pub, s, n, 1);
  b.net.run_for(2s);  // the cache is out long ago; the next resends are ~28 s away
  REQUIRE(pub.stats(s.name()).cached_subjects == n);
  const auto resent_before = pub.stats(s.name()).resent;

  auto& sub_node = b.add_sub_node("sub");
  sim_subscriber sub{sub_node, racket::subscriber_options{.seed = 21}};
  tracker got{n};
  const auto joined = b.net.now();
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) {
    CHECK(m.resend);  // answers are delivered as resends
    got.on(m);
  });
  REQUIRE(b.net.run_until([&] { return got.at_want == n; }, 1s));
  const auto took = b.net.now() - joined;
  std::cout << "[sim] late joiner: " << n << " subjects in " << ms(took) << " ms (virtual)\n";
  CHECK(took < 1s);
  b.net.run_for(100ms);
  const auto ps = pub.stats(s.name());
  // The start-up request, and the "head" request: the first answer record heard cannot tell
  // whether earlier ones were lost, so the joiner asks for what is still numbered below it;
  // that second pass finds nothing (every subject was re-sent with a higher number).
  CHECK(ps.snapshot_requests == 2);
  CHECK(ps.snapshot_answers == 2);
  CHECK(ps.snapshot_records == n);
  CHECK(ps.resent == resent_before);  // not the periodic resends: the answer
  // Paced: 100k records of ~45 bytes at 64 MiB/s take several milliseconds, not zero.
  CHECK(took > 20ms);
  const auto ss = sub.stats(s);
  CHECK(ss.delivered == n);
  CHECK(ss.gaps == 0);
  CHECK(ss.malformed == 0);
  CHECK(ss.snapshot_requests_sent == 1);
  CHECK(ss.repairs_requested == 1);  // the head request
  // Its own requests went to the request group (request_endpoint), which subscribers do not
  // join: the data channel heard none of them.
  CHECK(ss.requests_seen == 0);
}

TEST_CASE("with 5% loss every subject converges within 1 s, for a late joiner and after a burst",
          "[sim][snapshot][loss]") {
  constexpr std::size_t n = 100'000;
  bed b{2};
  const racket::stream<std::string> s{"snap.loss", pool};
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 12}};
  publish_all(pub, s, n, 1);
  b.net.run_for(1s);

  auto& sub_node = b.add_sub_node("sub");
  b.net.set_receive_faults(sub_node, sim::fault_profile{.loss = 0.05, .jitter = 100us});
  sim_subscriber sub{sub_node, racket::subscriber_options{.seed = 22}};
  std::uint64_t loss_events = 0, lost = 0;
  sub.set_loss_handler([&](const racket::loss_event& e) {
    CHECK(e.stream == s.name());
    CHECK(e.publisher_id == pub.id());
    CHECK(e.first <= e.last);
    ++loss_events;
    lost += e.last - e.first + 1;
  });
  tracker got{n};
  auto t0 = b.net.now();
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.on(m); });
  const bool ok = b.net.run_until([&] { return got.at_want == n; }, 1s);
  {
    const auto ps = pub.stats(s.name());
    const auto ss = sub.stats(s);
    INFO("held " << got.at_want << " gaps " << ss.gaps << " repairs " << ss.repairs_requested << " answers "
                 << ps.snapshot_answers << " records " << ps.snapshot_records << " requests " << ps.snapshot_requests
                 << " limited " << ps.snapshot_requests_limited << " probes " << ps.tail_probes);
    REQUIRE(ok);
  }
  std::cout << "[sim] late joiner, 5% loss: " << n << " subjects in " << ms(b.net.now() - t0) << " ms\n";

  // A burst of updates to every subject: 5% of it is lost on the way to the subscriber.
  got.expect(2);
  t0 = b.net.now();
  publish_all(pub, s, n, 2);
  REQUIRE(b.net.run_until([&] { return got.at_want == n; }, 1s));
  const auto took = b.net.now() - t0;
  const auto ps = pub.stats(s.name());
  const auto ss = sub.stats(s);
  std::cout << "[sim] burst of " << n << " updates, 5% loss: converged in " << ms(took) << " ms; gaps " << ss.gaps
            << ", repair requests " << ss.repairs_requested << ", answer passes " << ps.snapshot_answers
            << ", records re-sent " << ps.snapshot_records << '\n';
  CHECK(took < 1s);
  CHECK(ss.gaps > 0);
  CHECK(ss.repairs_requested > 0);
  CHECK(loss_events > 0);
  CHECK(lost >= ss.gaps);  // equal unless more than 128 holes had to be merged
  // Repairs re-send what was lost (and some neighbours), not the whole cache every time.
  CHECK(ps.snapshot_records < 4 * n);

  // Quiet afterwards: no more repair traffic once everything has converged.
  b.net.run_for(500ms);
  const auto answers = pub.stats(s.name()).snapshot_answers;
  b.net.run_for(2s);
  CHECK(pub.stats(s.name()).snapshot_answers == answers);
}

TEST_CASE("the lost tail of a burst is found by the publisher's tail probes", "[sim][snapshot][loss]") {
  bed b{3};
  const racket::stream<std::string> s{"snap.tail", pool};
  auto& sub_node = b.add_sub_node("sub");
  sim_subscriber sub{sub_node, racket::subscriber_options{.seed = 23}};
  tracker got{10};
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.on(m); });
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 13}};
  publish_all(pub, s, 10, 1);
  b.net.run_for(200ms);
  REQUIRE(got.at_want == 10);
  // The last update is lost, and the first probe (10 ms later) too: the second one finds it.
  got.expect(2);
  b.net.partition({&b.pub_node}, {&sub_node});
  pub.publish(s, subject_of(7), value_of(7, 2), 30s);
  b.net.run_for(20ms);
  b.net.heal();
  const auto t0 = b.net.now();
  REQUIRE(b.net.run_until([&] { return got.version[7] == 2; }, 1s));
  CHECK(b.net.now() - t0 < 50ms);
  CHECK(pub.stats(s.name()).tail_probes >= 2);
}

TEST_CASE("a hundred subscribers joining at once cause at most a few answers", "[sim][snapshot]") {
  constexpr std::size_t n = 5'000;
  constexpr int joiners = 100;
  bed b{4};
  const racket::stream<std::string> s{"snap.crowd", pool};
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 14}};
  publish_all(pub, s, n, 1);
  b.net.run_for(1s);

  std::vector<std::unique_ptr<sim_subscriber>> subs;
  std::vector<tracker> got(joiners, tracker{n});
  std::vector<racket::subscription> handles;
  for (int k = 0; k < joiners; ++k) {
    auto& node = b.add_sub_node("sub" + std::to_string(k));
    subs.push_back(std::make_unique<sim_subscriber>(node, racket::subscriber_options{.seed = 100u + k}));
    handles.push_back(subs.back()->subscribe(s, "*", [&, k](const racket::message<std::string>& m) { got[k].on(m); }));
  }
  const auto t0 = b.net.now();
  REQUIRE(b.net.run_until(
      [&] {
        for (const auto& g : got)
          if (g.at_want != n) return false;
        return true;
      },
      1s));
  auto ps = pub.stats(s.name());
  std::cout << "[sim] " << joiners << " joiners: all hold " << n << " subjects after " << ms(b.net.now() - t0)
            << " ms; requests " << ps.snapshot_requests << ", answer passes " << ps.snapshot_answers << '\n';
  b.net.run_for(100ms);  // and the joiners' head requests
  ps = pub.stats(s.name());
  std::cout << "[sim] " << joiners << " joiners, 100 ms later: requests " << ps.snapshot_requests
            << ", answer passes " << ps.snapshot_answers << ", records " << ps.snapshot_records << '\n';
  CHECK(ps.snapshot_requests <= 2 * joiners);
  CHECK(ps.snapshot_answers <= 3);
  CHECK(ps.snapshot_records <= 3 * n);
}

TEST_CASE("a hostile requester is rate limited and answer bytes stay bounded", "[sim][snapshot][hostile]") {
  constexpr std::size_t n = 1'000;
  bed b{5};
  const racket::stream<std::string> s{"snap.hostile", pool};
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 15}};
  publish_all(pub, s, n, 1);
  b.net.run_for(1s);
  raw_node evil{b.net, b.lan, "evil", s.endpoint()};
  const auto base = pub.stats(s.name());

  SECTION("one requester id, a thousand requests a second") {
    for (int i = 0; i < 1000; ++i) {
      b.net.post_after(std::chrono::milliseconds(i), [&] {
        evil.request({.requester_id = 0xBAD, .stream = s.name()});
      });
    }
    b.net.run_for(1100ms);
    const auto ps = pub.stats(s.name());
    const auto requests = ps.snapshot_requests - base.snapshot_requests;
    const auto limited = ps.snapshot_requests_limited - base.snapshot_requests_limited;
    const auto answers = ps.snapshot_answers - base.snapshot_answers;
    std::cout << "[sim] hostile: " << requests << " requests, " << limited << " limited, " << answers
              << " answer passes, " << (ps.bytes_sent - base.bytes_sent) << " bytes sent\n";
    CHECK(requests == 1000);
    // Burst 10 plus 20 per second: at most ~32 admitted in 1 s.
    CHECK(limited >= 1000 - 32);
    CHECK(answers <= 32);
    CHECK(ps.snapshot_records - base.snapshot_records <= answers * n);
    // Each answer costs at most the cache's bytes (plus datagram headers).
    CHECK(ps.bytes_sent - base.bytes_sent <= (answers + 1) * n * 40 + 1'000'000);
  }

  SECTION("a flood of fresh requester ids is bounded by merging and pacing") {
    for (int i = 0; i < 20'000; ++i) {
      b.net.post_after(std::chrono::microseconds(50 * i), [&, i] {
        evil.request({.requester_id = 0x5000'0000ull + static_cast<std::uint64_t>(i), .stream = s.name()});
      });
    }
    b.net.run_for(1100ms);
    const auto ps = pub.stats(s.name());
    const auto answers = ps.snapshot_answers - base.snapshot_answers;
    const auto bytes = ps.bytes_sent - base.bytes_sent;
    std::cout << "[sim] hostile id flood: " << ps.snapshot_requests - base.snapshot_requests << " requests, "
              << ps.snapshot_requests_limited - base.snapshot_requests_limited << " limited, " << answers
              << " answer passes, " << bytes << " bytes sent\n";
    // Every id is new, so the per-requester limit does not bite (idle ids are forgotten, so
    // the table stays within max_snapshot_requesters); the per-stream spacing does: requests
    // merge into at most one pass per snapshot_answer_spacing (10 ms).
    CHECK(answers <= 1100 / 10 + 1);
    CHECK(ps.snapshot_records - base.snapshot_records <= answers * n);
    CHECK(bytes <= (answers + 1) * n * 40 + 1'000'000);
  }
}

TEST_CASE("a range request re-sends exactly the cached subjects whose sequence is in range", "[sim][snapshot]") {
  bed b{6};
  const racket::stream<std::string> s{"snap.ranges", pool};
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 16}};
  for (std::size_t i = 0; i < 10; ++i) pub.publish(s, subject_of(i), value_of(i, 1), 30s);  // sequences 1..10
  pub.publish(s, "event", std::string("e"));  // 11: one-shot, not cached
  b.net.run_for(1s);
  raw_node peer{b.net, b.lan, "peer", s.endpoint()};
  using range = racket::wire::sequence_range;
  using heard = std::vector<std::pair<std::string, std::uint64_t>>;

  const range ranges[] = {{3, 4}, {8, 8}, {11, 11}, {500, 600}};
  peer.request({.requester_id = 1, .stream = s.name(), .target_publisher = pub.id(), .ranges = ranges});
  b.net.run_for(100ms);
  // Subjects 2, 3 and 7 had sequences 3, 4, 8; they get new ones (12, 13, 14). The event
  // (11) is not cached; nothing has 500..600.
  CHECK(peer.snapshot_records() == heard{{"s.2", 12}, {"s.3", 13}, {"s.7", 14}});

  // The old sequence numbers now name nothing: asking again re-sends nothing.
  peer.heard.clear();
  peer.request({.requester_id = 1, .stream = s.name(), .target_publisher = pub.id(), .ranges = ranges});
  b.net.run_for(100ms);
  CHECK(peer.snapshot_records().empty());

  // The new numbers do; a filter narrows a range request.
  const range fresh[] = {{12, 14}};
  peer.request({.requester_id = 1, .stream = s.name(), .filter = "s.3", .target_publisher = pub.id(), .ranges = fresh});
  b.net.run_for(100ms);
  CHECK(peer.snapshot_records() == heard{{"s.3", 15}});

  // A request for another publisher, or another stream, is not answered.
  peer.heard.clear();
  const range all[] = {{1, 1000}};
  peer.request({.requester_id = 1, .stream = s.name(), .target_publisher = pub.id() ^ 1, .ranges = all});
  peer.request({.requester_id = 1, .stream = "snap.other"});
  b.net.run_for(100ms);
  CHECK(peer.snapshot_records().empty());

  // A full request with a filter re-sends the matching cached subjects only.
  peer.request({.requester_id = 1, .stream = s.name(), .filter = "s.5"});
  b.net.run_for(100ms);
  CHECK(peer.snapshot_records() == heard{{"s.5", 16}});
  const auto ps = pub.stats(s.name());
  CHECK(ps.snapshot_requests == 4);  // the two not for it are not counted
  CHECK(ps.snapshot_records == 5);
}

TEST_CASE("old-kind robustness: data decoders reject requests as bad_kind, and subscribers ignore them",
          "[sim][snapshot]") {
  bed b{7};
  const racket::stream<std::string> s{"snap.kinds", pool};
  auto& sub_node = b.add_sub_node("sub");
  sim_subscriber sub{sub_node, racket::subscriber_options{.seed = 27}};
  int delivered = 0;
  raw_node peer{b.net, b.lan, "peer", s.endpoint()};
  // Requests go to the stream's request group (docs/wire-format.md, "Where requests go"):
  // a node listening there hears the subscriber's start-up request.
  raw_node listener{b.net, b.lan, "listener", racket::request_endpoint(s.endpoint())};
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>&) { ++delivered; });
  b.net.run_for(10ms);

  std::array<std::byte, 256> buf;
  const auto req = racket::wire::encode_request(buf, {.requester_id = 9, .stream = s.name(), .filter = "a.*"});
  std::error_code ec;
  (void)racket::wire::decode(req, ec);  // a receiver that knows only data datagrams
  CHECK(ec == racket::errc::bad_kind);

  for (int i = 0; i < 5; ++i) peer.t->send(s.endpoint(), req);
  b.net.run_for(10ms);
  const auto st = sub.stats(s);
  // Only the peer's five, sent to the data group: the subscriber's own went to the request
  // group, which subscribers do not join.
  CHECK(st.requests_seen == 5);
  CHECK(st.malformed == 0);
  CHECK(st.datagrams_received == 0);
  CHECK(delivered == 0);
  // The subscriber's own start-up request reached the request group: a full request with
  // its filter.
  bool saw = false;
  for (const auto& d : listener.heard) {
    if (racket::wire::peek_kind(d) != racket::wire::kind::snapshot_request) continue;
    const auto v = racket::wire::decode_request(d, ec);
    REQUIRE_FALSE(ec);
    CHECK(v.requester_id() == sub.requester_id());
    CHECK(v.stream() == s.name());
    CHECK(v.filter() == "*");
    CHECK(v.full());
    saw = true;
  }
  CHECK(saw);
}

TEST_CASE("without request_snapshots a late joiner waits for the periodic resends", "[sim][snapshot]") {
  bed b{8};
  const racket::stream<std::string> s{"snap.off", pool};
  sim_publisher pub{b.pub_node, racket::publisher_options{.seed = 18}};
  publish_all(pub, s, 100, 1, 2s);
  b.net.run_for(1s);
  auto& sub_node = b.add_sub_node("sub");
  sim_subscriber sub{sub_node, racket::subscriber_options{.request_snapshots = false, .seed = 28}};
  tracker got{100};
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.on(m); });
  b.net.run_for(500ms);
  CHECK(got.at_want < 100);
  CHECK(sub.stats(s).snapshot_requests_sent == 0);
  CHECK(pub.stats(s.name()).snapshot_requests == 0);
  REQUIRE(b.net.run_until([&] { return got.at_want == 100; }, 3s));
}
