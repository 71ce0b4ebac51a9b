// SPDX-License-Identifier: MIT
// peer_list: "host:port" parsing, resolution results (the last good addresses kept), and the
// failure counting and reporting rule. No sockets.
#include "racket/detail/peers/peer_list.hpp"

#include "catch.hpp"

#include <string>
#include <vector>

using racket::endpoint;
using racket::detail::parse_peer;
using racket::detail::peer_list;
using racket::detail::peer_spec;

namespace {
asio::ip::address addr(const char* a) { return asio::ip::make_address(a); }
}  // namespace

TEST_CASE("peer_list: parses literals and names", "[peers]") {
  peer_spec p;
  REQUIRE(parse_peer("127.0.0.1:9000", p));
  CHECK(p.literal);
  CHECK(p.address == addr("127.0.0.1"));
  CHECK(p.port == 9000);
  REQUIRE(parse_peer("[::1]:65535", p));
  CHECK(p.literal);
  CHECK(p.address == addr("::1"));
  CHECK(p.port == 65535);
  CHECK(p.host == "::1");
  REQUIRE(parse_peer("node-2.example.org:19090", p));
  CHECK_FALSE(p.literal);
  CHECK(p.host == "node-2.example.org");
  CHECK(p.port == 19090);
}

TEST_CASE("peer_list: refuses what is not host:port", "[peers]") {
  peer_spec p;
  for (const char* bad : {"", "host", "host:", ":9000", "host:0", "host:65536", "host:12x", "host:-1", "::1:9000",
                          "[::1]9000", "[]:9000", "[nonsense]:9000", "bad host:9000", "a/b:1", "[::1:9000"})
    CHECK_FALSE(parse_peer(bad, p));
}

TEST_CASE("peer_list: assign names the first bad entry and keeps nothing", "[peers]") {
  peer_list list;
  std::string bad;
  CHECK_FALSE(list.assign({"127.0.0.1:1", "oops", "x:0"}, bad));
  CHECK(bad == "oops");
  CHECK(list.empty());
  REQUIRE(list.assign({"127.0.0.1:1", "[::1]:2", "db.local:3"}, bad));
  REQUIRE(list.size() == 3);
  CHECK(list[0].endpoints == std::vector<endpoint>{{addr("127.0.0.1"), 1}});
  CHECK(list[1].endpoints == std::vector<endpoint>{{addr("::1"), 2}});
  CHECK(list[2].endpoints.empty());  // a name: none until resolved
  CHECK(list.has_names());
  CHECK(list[2].text == "db.local:3");
}

TEST_CASE("peer_list: a resolution sets the addresses, a failure keeps the last good ones", "[peers]") {
  peer_list list;
  std::string bad;
  REQUIRE(list.assign({"db.local:3"}, bad));
  CHECK(list.resolved(0, {addr("10.0.0.1"), addr("10.0.0.1"), addr("fd00::1")}));
  CHECK(list[0].endpoints == std::vector<endpoint>{{addr("10.0.0.1"), 3}, {addr("fd00::1"), 3}});
  CHECK_FALSE(list.resolved(0, {addr("10.0.0.1"), addr("fd00::1")}));  // unchanged

  CHECK(list.resolve_failed(0));        // the first failure is reported
  CHECK_FALSE(list.resolve_failed(0));  // not again until one succeeds
  CHECK_FALSE(list.resolved(0, {}));    // nothing back counts as a failure
  CHECK(list.resolve_errors() == 3);
  CHECK(list[0].endpoints.size() == 2);  // kept
  CHECK(list.resolved(0, {addr("10.0.0.2")}));
  CHECK(list.resolve_failed(0));  // reported again after a success
}

TEST_CASE("peer_list: a name's addresses are bounded", "[peers]") {
  peer_list list;
  std::string bad;
  REQUIRE(list.assign({"many:7"}, bad));
  std::vector<asio::ip::address> lots;
  for (unsigned i = 1; i <= 100; ++i) lots.push_back(asio::ip::address_v4(0x0a000000u + i));
  list.resolved(0, lots);
  CHECK(list[0].endpoints.size() == peer_list::max_addresses_per_peer);
}

TEST_CASE("peer_list: send failures are counted each, reported once until a success", "[peers]") {
  peer_list list;
  std::string bad;
  REQUIRE(list.assign({"127.0.0.1:1", "127.0.0.1:2"}, bad));
  CHECK(list.send_failed(0));
  CHECK_FALSE(list.send_failed(0));
  CHECK(list.send_failed(1));  // each peer on its own
  list.send_ok(0);
  CHECK(list.send_failed(0));
  CHECK(list.send_errors() == 4);
  CHECK(list[0].send_errors == 3);
  CHECK(list[1].send_errors == 1);
}
