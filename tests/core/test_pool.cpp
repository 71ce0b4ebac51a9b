// SPDX-License-Identifier: MIT
#include "racket/pool.hpp"

#include "catch.hpp"

#include <asio/ip/address.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace {

using racket::errc;
using racket::multicast_pool;

std::error_code parse_error(std::string_view prefix, std::string_view ports) {
  std::error_code ec = make_error_code(errc::not_open);  // must be overwritten
  (void)multicast_pool::parse(prefix, ports, ec);
  return ec;
}

// The std::system_error f throws (code and what()); an empty code if none.
template <typename F>
std::pair<std::error_code, std::string> thrown_by(F f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return {e.code(), e.what()};
  }
  return {};
}

// The error the throwing constructor reports, and its what().
std::pair<std::error_code, std::string> thrown(std::string_view prefix, std::string_view ports) {
  return thrown_by([&] { multicast_pool pool(prefix, ports); });
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Is addr inside pool's prefix? Compares the first prefix_length bits.
bool in_prefix(const multicast_pool& pool, const asio::ip::address& addr) {
  if (pool.is_v4() != addr.is_v4()) return false;
  if (pool.is_v4()) {
    const std::uint32_t mask = ~std::uint32_t{0} << pool.host_bits();
    return (addr.to_v4().to_uint() & mask) == pool.base().to_v4().to_uint();
  }
  const auto a = addr.to_v6().to_bytes();
  const auto b = pool.base().to_v6().to_bytes();
  for (unsigned bit = 0; bit < pool.prefix_length(); ++bit) {
    const unsigned m = 0x80u >> (bit % 8);
    if ((a[bit / 8] & m) != (b[bit / 8] & m)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("default pool is 239.255.0.0/16 ports 19090-19097", "[pool]") {
  const multicast_pool pool;
  CHECK(pool.is_v4());
  CHECK_FALSE(pool.is_v6());
  CHECK(pool.base() == asio::ip::make_address("239.255.0.0"));
  CHECK(pool.prefix_length() == 16);
  CHECK(pool.host_bits() == 16);
  CHECK(pool.first_port() == 19090);
  CHECK(pool.last_port() == 19097);
  CHECK(pool.port_count() == 8);
  CHECK(pool.to_string() == "239.255.0.0/16 19090-19097");
  CHECK(pool == multicast_pool("239.255.0.0/16", "19090-19097"));
}

TEST_CASE("valid pools are accepted", "[pool]") {
  std::error_code ec = make_error_code(errc::not_open);

  SECTION("IPv4 /16 with a dash range") {
    const auto pool = multicast_pool::parse("239.255.0.0/16", "19090-19097", ec);
    REQUIRE_FALSE(ec);
    CHECK(pool.to_string() == "239.255.0.0/16 19090-19097");
  }
  SECTION("IPv4 with a dotted range") {
    const auto pool = multicast_pool::parse("239.1.2.0/24", "20000..20009", ec);
    REQUIRE_FALSE(ec);
    CHECK(pool.first_port() == 20000);
    CHECK(pool.last_port() == 20009);
    CHECK(pool.port_count() == 10);
    CHECK(pool.host_bits() == 8);
  }
  SECTION("single port") {
    const auto pool = multicast_pool::parse("239.1.2.0/24", "19100", ec);
    REQUIRE_FALSE(ec);
    CHECK(pool.first_port() == 19100);
    CHECK(pool.last_port() == 19100);
    CHECK(pool.port_count() == 1);
    CHECK(pool.to_string() == "239.1.2.0/24 19100-19100");
  }
  SECTION("full port range 1-65535") {
    const auto pool = multicast_pool::parse("224.0.0.0/4", "1-65535", ec);
    REQUIRE_FALSE(ec);
    CHECK(pool.port_count() == 65535);
    CHECK(pool.host_bits() == 28);
  }
  SECTION("IPv4 /31 leaves one host bit") {
    const auto pool = multicast_pool::parse("239.255.0.2/31", "19090", ec);
    REQUIRE_FALSE(ec);
    CHECK(pool.host_bits() == 1);
  }
  SECTION("IPv6 /16") {
    const auto pool = multicast_pool::parse("ff15::/16", "19090-19097", ec);
    REQUIRE_FALSE(ec);
    CHECK(pool.is_v6());
    CHECK_FALSE(pool.is_v4());
    CHECK(pool.host_bits() == 112);
    CHECK(pool.to_string() == "ff15::/16 19090-19097");
  }
  SECTION("IPv6 /8 and /127, upper-case hex") {
    CHECK(multicast_pool::parse("FF00::/8", "1", ec).host_bits() == 120);
    CHECK_FALSE(ec);
    CHECK(multicast_pool::parse("ff15::2/127", "1", ec).host_bits() == 1);
    CHECK_FALSE(ec);
  }
  SECTION("to_string round-trips through parse") {
    for (auto [prefix, ports] : {std::pair{"239.1.2.0/24", "19100"},
                                 std::pair{"ff15::ab00/120", "20000..20099"}}) {
      const auto pool = multicast_pool::parse(prefix, ports, ec);
      REQUIRE_FALSE(ec);
      const auto text = pool.to_string();
      const auto space = text.find(' ');
      REQUIRE(space != std::string::npos);
      const auto again = multicast_pool::parse(text.substr(0, space), text.substr(space + 1), ec);
      REQUIRE_FALSE(ec);
      CHECK(again == pool);
    }
  }
}

TEST_CASE("pool prefix text is checked", "[pool]") {
  SECTION("malformed prefix text is invalid_pool_address") {
    for (auto text : {"239.255.0.0", "239.255.0.0/abc", "/16", "239.255.0.0/16 ", " 239.255.0.0/16",
                      "239.255.0.0/", "239.255.0.0/+16", "239.255.0.0/-16", "239.255.0.0/16/8",
                      "239.255.0.0/33", "239.255.0.0/99999999999", "ff15::/129", "239.255.0/16",
                      "239.255.0.0.0/16", "hello/16", "", "/", "ff15::%eth0/16", "ff15::%1/16",
                      "239.255.0.0/1 6", "239.255.0.0/0x10"}) {
      INFO("prefix '" << text << "'");
      CHECK(parse_error(text, "19090-19097") == errc::invalid_pool_address);
    }
  }
  SECTION("an embedded NUL is refused") {
    using namespace std::string_view_literals;
    CHECK(parse_error("239.255.0.0\0junk/16"sv, "19090") == errc::invalid_pool_address);
    CHECK(parse_error("239.255.0.0/16\0"sv, "19090") == errc::invalid_pool_address);
  }
  SECTION("prefixes outside the multicast range are pool_not_multicast") {
    for (auto text : {"0.0.0.0/0", "10.0.0.0/8", "224.0.0.0/3", "192.168.1.0/24", "240.0.0.0/8",
                      "fe80::/16", "ff00::/7", "::/0", "::ffff:239.255.0.0/112", "2001:db8::/32"}) {
      INFO("prefix '" << text << "'");
      CHECK(parse_error(text, "19090-19097") == errc::pool_not_multicast);
    }
  }
  SECTION("prefixes without host bits are pool_no_host_bits") {
    CHECK(parse_error("239.255.0.0/32", "19090") == errc::pool_no_host_bits);
    CHECK(parse_error("ff15::/128", "19090") == errc::pool_no_host_bits);
  }
  SECTION("a base with bits beyond the prefix is pool_host_bits_set") {
    CHECK(parse_error("239.255.0.1/16", "19090") == errc::pool_host_bits_set);
    CHECK(parse_error("239.255.1.0/16", "19090") == errc::pool_host_bits_set);
    CHECK(parse_error("ff15::1/16", "19090") == errc::pool_host_bits_set);
    CHECK(parse_error("ff15:8000::/16", "19090") == errc::pool_host_bits_set);
    CHECK(parse_error("ff15::1/127", "19090") == errc::pool_host_bits_set);
    CHECK(parse_error("ff15::1:0/96", "19090") == errc::pool_host_bits_set);
  }
  SECTION("prefix errors are reported before port errors") {
    CHECK(parse_error("10.0.0.0/8", "0") == errc::pool_not_multicast);
  }
}

TEST_CASE("pool port text is checked", "[pool]") {
  for (auto text : {"19097-19090", "0-10", "0", "65535-65536", "65536", "70000", "1-70000", "", "abc",
                    "1..", "..5", "-5", "5-", "1...5", "1-2-3", "1..2..3", " 1-5", "1-5 ", "1 - 5",
                    "+1-5", "1-+5", "0x10", "19090-19097x", "19090,19091", "99999999999999999999"}) {
    INFO("ports '" << text << "'");
    CHECK(parse_error("239.255.0.0/16", text) == errc::invalid_port_range);
  }
  std::error_code ec;
  CHECK(multicast_pool::parse("239.255.0.0/16", "65535", ec).first_port() == 65535);
  CHECK_FALSE(ec);
  CHECK(multicast_pool::parse("239.255.0.0/16", "1..1", ec).last_port() == 1);
  CHECK_FALSE(ec);
  CHECK(multicast_pool::parse("239.255.0.0/16", "019090-019097", ec).port_count() == 8);
  CHECK_FALSE(ec);
}

TEST_CASE("error_code overloads return the default pool and clear ec on success", "[pool]") {
  std::error_code ec;
  const auto bad = multicast_pool::parse("ff15::/16", "0", ec);
  CHECK(ec == errc::invalid_port_range);
  CHECK(ec.category() == racket::error_category());
  CHECK(bad == multicast_pool{});

  const auto good = multicast_pool::parse("ff15::/16", "1", ec);
  CHECK_FALSE(ec);
  CHECK(good.is_v6());
  CHECK_FALSE(good == multicast_pool{});
}

TEST_CASE("throwing constructor names the bad text", "[pool]") {
  SECTION("bad prefix") {
    auto [ec, what] = thrown("10.0.0.0/8", "19090-19097");
    CHECK(ec == errc::pool_not_multicast);
    CHECK(contains(what, "multicast pool '10.0.0.0/8'"));
  }
  SECTION("bad ports") {
    auto [ec, what] = thrown("239.255.0.0/16", "0-10");
    CHECK(ec == errc::invalid_port_range);
    CHECK(contains(what, "'0-10'"));
  }
  SECTION("host bits set") {
    auto [ec, what] = thrown("239.255.0.1/16", "19090");
    CHECK(ec == errc::pool_host_bits_set);
    CHECK(contains(what, "239.255.0.1/16"));
  }
  SECTION("unprintable bytes are escaped, not cut") {
    using namespace std::string_view_literals;
    auto [ec, what] = thrown("239.255.0.0\0x/16"sv, "19090");
    CHECK(ec == errc::invalid_pool_address);
    CHECK(contains(what, "239.255.0.0\\x00x/16"));
  }
  REQUIRE_THROWS_AS(multicast_pool("fe80::/16", "19090"), std::system_error);
  REQUIRE_THROWS_AS(multicast_pool("239.255.0.0/16", ""), std::system_error);
}

TEST_CASE("multicast_pool::from applies the same rules", "[pool]") {
  const auto v4 = asio::ip::make_address("239.255.0.0");
  const auto v6 = asio::ip::make_address("ff15::");
  std::error_code ec = make_error_code(errc::not_open);

  SECTION("valid") {
    const auto pool = multicast_pool::from(v4, 16, 19090, 19097, ec);
    REQUIRE_FALSE(ec);
    CHECK(pool == multicast_pool{});
    CHECK(multicast_pool::from(v6, 16, 1, 1) == multicast_pool("ff15::/16", "1"));
  }
  SECTION("each rule") {
    (void)multicast_pool::from(v4, 33, 1, 1, ec);
    CHECK(ec == errc::invalid_pool_address);
    (void)multicast_pool::from(v6, 129, 1, 1, ec);
    CHECK(ec == errc::invalid_pool_address);
    (void)multicast_pool::from(asio::ip::make_address("ff15::%1"), 16, 1, 1, ec);
    CHECK(ec == errc::invalid_pool_address);
    (void)multicast_pool::from(asio::ip::make_address("10.0.0.0"), 8, 1, 1, ec);
    CHECK(ec == errc::pool_not_multicast);
    (void)multicast_pool::from(asio::ip::make_address("224.0.0.0"), 3, 1, 1, ec);
    CHECK(ec == errc::pool_not_multicast);
    (void)multicast_pool::from(v6, 7, 1, 1, ec);
    CHECK(ec == errc::pool_not_multicast);
    (void)multicast_pool::from(v4, 32, 1, 1, ec);
    CHECK(ec == errc::pool_no_host_bits);
    (void)multicast_pool::from(v4, 8, 1, 1, ec);
    CHECK(ec == errc::pool_host_bits_set);
    (void)multicast_pool::from(v4, 16, 0, 10, ec);
    CHECK(ec == errc::invalid_port_range);
    (void)multicast_pool::from(v4, 16, 19097, 19090, ec);
    CHECK(ec == errc::invalid_port_range);
  }
  SECTION("throwing overload names the value") {
    auto [ec1, what1] = thrown_by([&] { (void)multicast_pool::from(asio::ip::make_address("10.0.0.0"), 8, 1, 1); });
    CHECK(ec1 == errc::pool_not_multicast);
    CHECK(contains(what1, "multicast pool '10.0.0.0/8'"));
    auto [ec2, what2] = thrown_by([&] { (void)multicast_pool::from(v4, 16, 19097, 19090); });
    CHECK(ec2 == errc::invalid_port_range);
    CHECK(contains(what2, "'19097-19090'"));
  }
}

TEST_CASE("stream names are validated", "[pool]") {
  using namespace std::string_view_literals;
  CHECK(racket::validate_stream_name("") == errc::invalid_stream_name);
  CHECK_FALSE(racket::validate_stream_name("x"));
  CHECK_FALSE(racket::validate_stream_name(std::string(255, 'n')));
  CHECK(racket::validate_stream_name(std::string(256, 'n')) == errc::invalid_stream_name);
  CHECK(racket::validate_stream_name("ab\0cd"sv) == errc::invalid_stream_name);
  CHECK(racket::validate_stream_name("\0"sv) == errc::invalid_stream_name);
  CHECK_FALSE(racket::validate_stream_name("caf\xc3\xa9 / \x01\xff"));

  const multicast_pool pool;
  std::error_code ec;
  CHECK(pool.endpoint_for("", ec) == racket::endpoint{});
  CHECK(ec == errc::invalid_stream_name);
  (void)pool.endpoint_for(std::string(256, 'n'), ec);
  CHECK(ec == errc::invalid_stream_name);
  (void)pool.endpoint_for(std::string(255, 'n'), ec);
  CHECK_FALSE(ec);
  REQUIRE_THROWS_AS(pool.endpoint_for(""), std::system_error);
  auto [thrown_ec, what] = thrown_by([&] { (void)pool.endpoint_for("bad\0name"sv); });
  CHECK(thrown_ec == errc::invalid_stream_name);
  CHECK(contains(what, "stream name 'bad\\x00name'"));
}

// Expected values were computed independently of pool.hpp: the hash by a C
// program linked against the system libxxhash (XXH3_64bits, not inlined),
// group and port by a Python script using the ipaddress module
// (docs/wire-format.md, "Stream to group and port" lists them with the hashes).
TEST_CASE("fixed stream mapping vectors", "[pool]") {
  struct vector {
    std::string_view name, prefix, ports, group;
    std::uint16_t port;
  };
  const vector vectors[] = {
      {"plant.line3.temp", "239.255.0.0/16", "19090-19097", "239.255.120.127", 19093},
      {"sensors", "239.1.2.0/24", "19100", "239.1.2.28", 19100},
      {"telemetry/market", "ff15::/16", "19090-19097", "ff15::187b:9d6:2488:2aa8", 19096},
      {"device.status", "ff15::ab00/120", "20000-20099", "ff15::abdc", 20081},
      {"a", "224.0.0.0/4", "1-65535", "238.150.78.31", 6526},
      {"caf\xc3\xa9.prix", "ff05::/96", "19090-19097", "ff05::f303:6655", 19096},
      {"device.status", "ff02::/64", "19090", "ff02::a0f1:52fd:106b:25dc", 19090},
      {"plant.line3.temp", "ff15::/16", "1-65535", "ff15::ddae:30fb:8557:787f", 3755},
  };
  for (const auto& v : vectors) {
    INFO("stream '" << v.name << "' pool " << v.prefix << " " << v.ports);
    const multicast_pool pool(v.prefix, v.ports);
    std::error_code ec = make_error_code(errc::not_open);
    const auto where = pool.endpoint_for(v.name, ec);
    REQUIRE_FALSE(ec);
    CHECK(where.group == asio::ip::make_address(std::string(v.group)));
    CHECK(where.port == v.port);
    CHECK(pool.endpoint_for(v.name) == where);
  }
}

TEST_CASE("every stream maps inside its pool", "[pool]") {
  const multicast_pool pools[] = {
      multicast_pool{},
      multicast_pool("239.1.2.0/24", "19100"),
      multicast_pool("239.255.0.2/31", "5-6"),
      multicast_pool("224.0.0.0/4", "1-65535"),
      multicast_pool("ff15::/16", "19090..19097"),
      multicast_pool("ff15::ab00/120", "20000-20099"),
      multicast_pool("ff05::/96", "40000-40002"),
      multicast_pool("ff15::2/127", "65535"),
  };
  for (const auto& pool : pools) {
    INFO("pool " << pool.to_string());
    std::set<std::string> groups;
    for (int i = 0; i < 2000; ++i) {
      const auto name = "stream." + std::to_string(i);
      const auto where = pool.endpoint_for(name);
      REQUIRE(in_prefix(pool, where.group));
      REQUIRE(where.port >= pool.first_port());
      REQUIRE(where.port <= pool.last_port());
      if (where.group.is_v6()) REQUIRE(where.group.to_v6().scope_id() == 0);
      groups.insert(where.group.to_string());
    }
    // Small pools are filled; large ones see (almost) no collisions in 2000 names.
    const std::size_t reachable = pool.host_bits() >= 12 ? 2000 : (std::size_t{1} << pool.host_bits());
    CHECK(groups.size() >= reachable * 9 / 10);
  }
}

TEST_CASE("streams spread over groups and ports", "[pool]") {
  const multicast_pool pool;  // /16, 8 ports
  std::set<std::uint16_t> ports;
  std::set<asio::ip::address> groups;
  int per_port[8] = {};
  for (int i = 0; i < 1000; ++i) {
    const auto where = pool.endpoint_for("dist/" + std::to_string(i));
    ports.insert(where.port);
    groups.insert(where.group);
    ++per_port[where.port - pool.first_port()];
  }
  CHECK(ports.size() == 8);
  for (int count : per_port) {
    CHECK(count > 60);  // expected 125 each
    CHECK(count < 190);
  }
  CHECK(groups.size() > 980);  // ~7.5 collisions expected among 1000 of 65536
}

TEST_CASE("the mapping depends on the name only, and is deterministic", "[pool]") {
  const multicast_pool a;
  const multicast_pool b("239.255.0.0/16", "19090..19097");
  CHECK(a.endpoint_for("x") == b.endpoint_for("x"));
  CHECK(a.endpoint_for("x") == a.endpoint_for(std::string("x")));
  CHECK_FALSE(a.endpoint_for("x") == a.endpoint_for("y"));
}

// docs/wire-format.md, "Announcement (kind 3)": the announce channel is the mapping of the
// reserved name racket.announce (XXH3-64 0x64663534b95a3faa, computed with xxhsum).
TEST_CASE("the announce channel is the pool mapping of racket.announce", "[pool][announce]") {
  const multicast_pool v4{};
  CHECK(multicast_pool::announce_stream_name == "racket.announce");
  CHECK(v4.announce_endpoint() == v4.endpoint_for("racket.announce"));
  CHECK(v4.announce_endpoint() == racket::endpoint{asio::ip::make_address("239.255.63.170"), 19094});
  const multicast_pool v6{"ff15::/16", "19090-19097"};
  CHECK(v6.announce_endpoint() == racket::endpoint{asio::ip::make_address("ff15::6466:3534:b95a:3faa"), 19094});
  const multicast_pool small{"239.1.2.0/28", "20000"};
  CHECK(small.announce_endpoint() == racket::endpoint{asio::ip::make_address("239.1.2.10"), 20000});
}
