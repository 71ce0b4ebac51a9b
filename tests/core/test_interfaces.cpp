// SPDX-License-Identifier: MIT
// Interface enumeration and selection: reads the machine's interfaces, never sends.
#include "racket/transport/interfaces.hpp"

#include "catch.hpp"

#include <algorithm>
#include <string>
#include <system_error>

namespace {

const racket::interface_info* find(const std::vector<racket::interface_info>& all, const std::string& name) {
  const auto it = std::find_if(all.begin(), all.end(), [&](const auto& i) { return i.name == name; });
  return it == all.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("interfaces: list finds lo with index 1 and the loopback flag", "[interfaces]") {
  std::error_code ec;
  const auto all = racket::list_interfaces(ec);
  REQUIRE_FALSE(ec);
  const auto* lo = find(all, "lo");
  REQUIRE(lo != nullptr);
  CHECK(lo->index == 1);
  CHECK(lo->loopback);
  // Sorted by kernel index, each name once.
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].index < all[i].index);
  CHECK(racket::list_interfaces().size() == all.size());
}

TEST_CASE("interfaces: lo carries IPv4 multicast when up, never IPv6", "[interfaces]") {
  racket::interface_info lo{.name = "lo", .index = 1, .up = true, .loopback = true, .multicast = false,
                            .v4 = {asio::ip::make_address_v4("127.0.0.1")},
                            .v6 = {asio::ip::make_address_v6("::1")}};
  CHECK(racket::can_carry_multicast(lo, racket::address_family::v4));
  CHECK_FALSE(racket::can_carry_multicast(lo, racket::address_family::v6));
  lo.up = false;
  CHECK_FALSE(racket::can_carry_multicast(lo, racket::address_family::v4));

  racket::interface_info eth{.name = "eth0", .index = 2, .up = true, .loopback = false, .multicast = true,
                             .v4 = {}, .v6 = {asio::ip::make_address_v6("fe80::1")}};
  CHECK_FALSE(racket::can_carry_multicast(eth, racket::address_family::v4));  // no IPv4 address
  CHECK(racket::can_carry_multicast(eth, racket::address_family::v6));
  eth.multicast = false;
  CHECK_FALSE(racket::can_carry_multicast(eth, racket::address_family::v6));
}

TEST_CASE("interfaces: select by name", "[interfaces]") {
  std::error_code ec;
  const auto all = racket::list_interfaces(ec);
  REQUIRE_FALSE(ec);
  const auto* lo = find(all, "lo");
  REQUIRE(lo != nullptr);
  if (!lo->up || lo->v4.empty()) {
    WARN("lo is down here: by-name selection of lo not checked");
    return;
  }
  const auto sel = racket::select_interfaces({"lo", "lo"}, racket::address_family::v4, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(sel.size() == 1);  // duplicates ignored
  CHECK(sel[0].name == "lo");
  CHECK(sel[0].index == 1);
  CHECK(std::find(sel[0].v4.begin(), sel[0].v4.end(), asio::ip::make_address_v4("127.0.0.1")) != sel[0].v4.end());

  // The automatic selection for IPv4 includes lo; for IPv6 it never does.
  const auto auto_v4 = racket::select_interfaces({}, racket::address_family::v4, ec);
  REQUIRE_FALSE(ec);
  CHECK(find(auto_v4, "lo") != nullptr);
  const auto auto_v6 = racket::select_interfaces({}, racket::address_family::v6, ec);
  CHECK(find(auto_v6, "lo") == nullptr);
  CHECK((ec ? ec == racket::errc::no_interfaces : !auto_v6.empty()));
}

TEST_CASE("interfaces: lo alone cannot carry IPv6 multicast", "[interfaces]") {
  std::error_code ec;
  const auto sel = racket::select_interfaces({"lo"}, racket::address_family::v6, ec);
  CHECK(ec == racket::errc::no_interfaces);
  CHECK(sel.empty());
  try {
    (void)racket::select_interfaces({"lo"}, racket::address_family::v6);
    FAIL("select_interfaces did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == racket::errc::no_interfaces);
    CHECK(std::string(e.what()).find("IPv6") != std::string::npos);
  }
}

TEST_CASE("interfaces: unknown name is refused and named", "[interfaces]") {
  std::error_code ec;
  const auto sel = racket::select_interfaces({"lo", "rknosuch9"}, racket::address_family::v4, ec);
  CHECK(ec == racket::errc::unknown_interface);
  CHECK(sel.empty());
  try {
    (void)racket::select_interfaces({"rknosuch9"}, racket::address_family::v4);
    FAIL("select_interfaces did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == racket::errc::unknown_interface);
    CHECK(std::string(e.what()).find("interface 'rknosuch9'") != std::string::npos);
  }
}
