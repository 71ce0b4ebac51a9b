// SPDX-License-Identifier: MIT
// Unicast peers end to end on real UDP, inside a private network namespace: a publisher with
// `unicast_peers` and a subscriber with `unicast_port`, with multicast on and off, keyed
// streams sealed on the unicast path too, a peer that cannot be reached, bad entries, and a
// late joiner that gets the current values by a snapshot through unicast alone.
#include "racket/racket.hpp"

#include "catch.hpp"
#include "net/net_test.hpp"

#include <asio/ip/udp.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace {

using racket::test::run_for;
using racket::test::run_until;
using namespace std::chrono_literals;

const racket::multicast_pool pool{"239.255.0.0/16", "19090-19097"};

std::string peer(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

racket::key_ring ring(std::string_view stream) {
  racket::key_ring r;
  r.add(stream, racket::stream_key::parse(std::string(64, 'a')));
  return r;
}

}  // namespace

TEST_CASE("unicast peers: values arrive with multicast off on both sides", "[unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"peers.only", pool};
  racket::subscriber sub{io, {.interfaces = {"lo"}, .unicast_port = 19401, .multicast = false}};
  racket::subscriber group_only{io, {.interfaces = {"lo"}}};
  std::vector<std::string> got, got_group;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.push_back(m.value); });
  auto g = group_only.subscribe(s, "*", [&](const racket::message<std::string>& m) { got_group.push_back(m.value); });
  racket::publisher pub{io, {.interfaces = {"lo"}, .unicast_peers = {peer(19401)}, .multicast = false}};
  pub.publish(s, "a.b", std::string("one"));
  pub.publish(s, "a.b", std::string("two"));
  REQUIRE(run_until(io, [&] { return got.size() == 2; }));
  CHECK(got == std::vector<std::string>{"one", "two"});
  run_for(io, 200ms);
  CHECK(got_group.empty());  // nothing went to the group
  CHECK(sub.transport_statistics().join_errors == 0);
  CHECK(pub.peer_stats().peer_send_errors == 0);
}

TEST_CASE("unicast peers: a value that arrives both ways is delivered once", "[unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"peers.both", pool};
  racket::subscriber sub{io, {.interfaces = {"lo"}, .unicast_port = 19402}};
  std::vector<std::string> got;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.push_back(m.value); });
  racket::publisher pub{io, {.interfaces = {"lo"}, .unicast_peers = {peer(19402)}}};
  for (int i = 0; i < 5; ++i) pub.publish(s, "x" + std::to_string(i), std::to_string(i));
  REQUIRE(run_until(io, [&] { return got.size() == 5 && sub.stats(s).duplicates >= 5; }));
  run_for(io, 200ms);
  CHECK(got.size() == 5);
  CHECK(sub.stats(s).datagrams_received >= 2);  // both paths counted on the stream
}

TEST_CASE("unicast peers: a keyed stream leaves sealed to its peers", "[unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"peers.keyed", pool};
  // A raw peer sees what goes on the wire.
  asio::ip::udp::socket raw(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 19404));
  raw.non_blocking(true);
  racket::subscriber sub{io, {.interfaces = {"lo"}, .keys = ring(s.name()), .unicast_port = 19403, .multicast = false}};
  std::vector<std::string> got;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.push_back(m.value); });
  racket::publisher pub{io, {.interfaces = {"lo"},
                             .unicast_peers = {peer(19403), peer(19404)},
                             .multicast = false,
                             .keys = ring(s.name())}};
  pub.publish(s, "secret.value", std::string("hush"));
  REQUIRE(run_until(io, [&] { return got.size() == 1; }));
  CHECK(got[0] == "hush");
  std::vector<std::byte> buf(65536);
  std::size_t datagrams = 0, sealed = 0;
  REQUIRE(run_until(io, [&] {
    std::error_code ec;
    for (;;) {
      const std::size_t n = raw.receive(asio::buffer(buf), 0, ec);
      if (ec) break;
      ++datagrams;
      if (n > 5 && buf[5] == std::byte{4}) ++sealed;  // kind 4: sealed
    }
    return datagrams >= 1;
  }));
  CHECK(sealed == datagrams);
}

TEST_CASE("unicast peers: an unreachable peer is counted and reported, the others still get theirs",
          "[unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"peers.dead", pool};
  racket::subscriber sub{io, {.interfaces = {"lo"}, .unicast_port = 19405, .multicast = false}};
  std::vector<std::string> got;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.push_back(m.value); });
  racket::publisher pub{io, {.interfaces = {"lo"}, .unicast_peers = {"10.77.0.1:9", peer(19405)}, .multicast = false}};
  std::vector<std::string> reported;
  pub.set_error_handler([&](const std::error_code&, std::string_view what) { reported.emplace_back(what); });
  pub.publish(s, "a", std::string("1"));
  pub.publish(s, "b", std::string("2"));
  REQUIRE(run_until(io, [&] { return got.size() == 2 && !reported.empty(); }));
  CHECK(pub.peer_stats().peer_send_errors >= 1);  // the two may share a datagram
  CHECK(reported.size() == 1);  // once, until a send to it succeeds
  CHECK(reported[0] == "10.77.0.1:9");
}

TEST_CASE("unicast peers: bad options throw invalid_option naming the entry", "[unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  for (const char* bad : {"nohost", "127.0.0.1:0", "::1:9000", "[::1]:x"}) {
    INFO(bad);
    try {
      racket::publisher pub{io, {.interfaces = {"lo"}, .unicast_peers = {peer(1), bad}}};
      FAIL("no exception");
    } catch (const std::system_error& e) {
      CHECK(e.code() == racket::errc::invalid_option);
      CHECK(std::string(e.what()).find(bad) != std::string::npos);
    }
  }
  CHECK_THROWS_AS((racket::publisher{io, {.interfaces = {"lo"}, .multicast = false}}), std::system_error);
  CHECK_THROWS_AS((racket::subscriber{io, {.interfaces = {"lo"}, .multicast = false}}), std::system_error);
}

TEST_CASE("unicast peers: a late joiner with multicast off gets the current values by a snapshot",
          "[unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"peers.late", pool};
  racket::publisher pub{io, {.interfaces = {"lo"},
                             .unicast_peers = {peer(19406)},
                             .multicast = false,
                             .announce_period = 300ms}};
  pub.publish(s, "cached.one", std::string("v1"), 60s);
  pub.publish(s, "cached.two", std::string("v2"), 60s);
  run_for(io, 300ms);  // the first datagrams went to a port nobody listened on
  racket::subscriber sub{io, {.interfaces = {"lo"}, .unicast_port = 19406, .multicast = false}};
  std::vector<std::string> got;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.push_back(m.value); });
  // Only a snapshot can deliver before the 60 s resend: asked of the publisher its
  // announcement came from, answered by unicast.
  REQUIRE(run_until(io, [&] { return got.size() == 2; }, 5000ms));
  CHECK(sub.stats(s).snapshot_requests_sent >= 1);
}

TEST_CASE("unicast peers: a gap is repaired by asking the publisher's unicast source", "[unicast][net]") {
  REQUIRE_PRIVATE_NETNS();
  asio::io_context io;
  racket::stream<std::string> s{"peers.repair", pool};
  racket::subscriber sub{io, {.interfaces = {"lo"}, .unicast_port = 19407, .multicast = false}};
  std::vector<std::string> got;
  auto h = sub.subscribe(s, "*", [&](const racket::message<std::string>& m) { got.push_back(m.value); });
  // A publisher of our own making, on a known port: sequence 1, then 3 (2 is "lost").
  asio::ip::udp::socket raw(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 19408));
  raw.non_blocking(true);
  const std::uint64_t id = 0xABCDEF0123456789ull;
  const auto send_seq = [&](std::uint64_t seq, const char* subject) {
    std::vector<std::byte> buf(racket::wire::default_max_datagram_size);
    racket::wire::datagram_writer w{buf};
    w.begin(id, s.name());
    racket::wire::record r;
    r.sequence = seq;
    r.interval_ms = 60000;
    r.timestamp_ns = seq;
    r.subject = subject;
    REQUIRE(w.append(r));
    const auto d = w.finish();
    raw.send_to(asio::buffer(d.data(), d.size()), asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 19407));
  };
  send_seq(1, "a.one");
  REQUIRE(run_until(io, [&] { return got.size() == 1; }));
  send_seq(3, "a.three");
  std::vector<std::byte> buf(65536);
  bool snapshot = false, repair = false;
  REQUIRE(run_until(io, [&] {
    std::error_code ec;
    for (;;) {
      const std::size_t n = raw.receive(asio::buffer(buf), 0, ec);
      if (ec) break;
      const auto req = racket::wire::decode_request(std::span<const std::byte>(buf.data(), n), ec);
      if (ec) continue;
      if (req.full() && req.stream() == s.name()) snapshot = true;
      if (req.target_publisher() == id && req.range_count() > 0) repair = true;
    }
    return snapshot && repair;
  }));
  CHECK(sub.stats(s).repairs_requested >= 1);
}
