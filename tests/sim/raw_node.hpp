// SPDX-License-Identifier: MIT
// A simulated network with one LAN (`lan_bed`), and a node of its own on it with a bare transport: it sends raw datagrams (a forger,
// a hostile requester) and records what it hears on the endpoints it listens on (a wire tap).
// For the simulation tests; knows nothing of publishers or subscribers.
#pragma once

#include "racket/simulation/network.hpp"
#include "racket/wire.hpp"

#include "catch.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace racket_test {

// A simulated network with one LAN, and nodes attached to it by name.
struct lan_bed {
  explicit lan_bed(std::uint64_t seed) : net(seed) { lan = net.add_lan("lan"); }
  racket::sim::node& add(const std::string& name) {
    auto& n = net.add_node(name);
    net.attach(n, lan, "eth0");
    return n;
  }
  racket::sim::network net;
  std::size_t lan = 0;
};

struct raw_node {
  raw_node(racket::sim::network& net, std::size_t lan, const std::string& name) : node(net.add_node(name)) {
    net.attach(node, lan, "eth0");
    t = std::make_unique<racket::sim::transport>(node, racket::transport_options{.loopback = false});
    std::error_code ec;
    t->open(racket::address_family::v4, ec);
    REQUIRE_FALSE(ec);
  }

  // Records every datagram heard on `at` (in `heard`, and its bytes in `heard_bytes`).
  raw_node& listen(const racket::endpoint& at) {
    std::error_code ec;
    t->open_receiver(
        at,
        [this](std::span<const std::byte> d, const racket::receive_info&) {
          heard.emplace_back(d.begin(), d.end());
          heard_bytes += d.size();
        },
        ec);
    REQUIRE_FALSE(ec);
    return *this;
  }

  void send(const racket::endpoint& to, std::span<const std::byte> d) { t->send(to, d); }

  // A full snapshot request of `requester` for `stream` to the stream's request group;
  // returns its size.
  std::size_t request(std::uint64_t requester, std::string_view stream, const racket::endpoint& stream_ep) {
    std::array<std::byte, 512> buf{};
    const auto d = racket::wire::encode_request(buf, racket::wire::snapshot_request{.requester_id = requester, .stream = stream});
    REQUIRE_FALSE(d.empty());
    send(racket::request_endpoint(stream_ep), d);
    return d.size();
  }

  racket::sim::node& node;
  std::unique_ptr<racket::sim::transport> t;
  std::vector<std::vector<std::byte>> heard;
  std::uint64_t heard_bytes = 0;
};

}  // namespace racket_test
