// SPDX-License-Identifier: MIT
// What a rescan decides, on interface lists built by hand (no getifaddrs, no sockets):
// detail::choose_interfaces (which interfaces to use now) and detail::diff_interfaces (what
// changed against the current selection).
#include "racket/transport/detail/interface_diff.hpp"

#include "catch.hpp"

#include <asio/ip/address.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace {

using racket::address_family;
using racket::interface_info;
using racket::detail::interface_diff;

interface_info itf(std::string name, unsigned index, bool up = true, bool with_v4 = true) {
  interface_info i;
  i.name = std::move(name);
  i.index = index;
  i.up = up;
  i.loopback = index == 1;
  i.multicast = index != 1;
  if (with_v4) i.v4.push_back(asio::ip::make_address_v4("10.0.0." + std::to_string(index)));
  i.v6.push_back(asio::ip::make_address_v6("fe80::" + std::to_string(index)));
  return i;
}

std::vector<std::string> names_of(const std::vector<interface_info>& list) {
  std::vector<std::string> out;
  for (const auto& i : list) out.push_back(i.name);
  return out;
}

constexpr std::size_t none = interface_diff::none;

}  // namespace

TEST_CASE("interface_diff: without names, every interface that can carry the family, in list order",
          "[interface_diff]") {
  const std::vector<interface_info> all = {itf("lo", 1), itf("eth0", 2), itf("eth1", 3, false), itf("eth2", 4, true, false)};
  const auto v4 = racket::detail::choose_interfaces(all, {}, address_family::v4);
  CHECK(names_of(v4.chosen) == std::vector<std::string>{"lo", "eth0"});
  CHECK_FALSE(v4.missing);
  const auto v6 = racket::detail::choose_interfaces(all, {}, address_family::v6);
  CHECK(names_of(v6.chosen) == std::vector<std::string>{"eth0", "eth2"});  // never lo; eth1 is down
}

TEST_CASE("interface_diff: with names, those that exist in the order named, once each, down ones too",
          "[interface_diff]") {
  const std::vector<interface_info> all = {itf("lo", 1), itf("eth0", 2), itf("eth1", 3, false)};
  const auto c = racket::detail::choose_interfaces(all, {"eth1", "nosuch", "lo", "eth1", "gone"}, address_family::v4);
  CHECK(names_of(c.chosen) == std::vector<std::string>{"eth1", "lo"});
  REQUIRE(c.missing);
  CHECK(*c.missing == "nosuch");  // the first one missing
}

TEST_CASE("interface_diff: kept, removed and new interfaces", "[interface_diff]") {
  const std::vector<interface_info> current = {itf("lo", 1), itf("eth0", 2), itf("veth0", 5)};
  const std::vector<interface_info> next = {itf("lo", 1), itf("veth0", 5), itf("veth1", 7)};
  const interface_diff d = racket::detail::diff_interfaces(current, next);
  CHECK(d.removed == std::vector<std::size_t>{1});
  CHECK(d.previous == std::vector<std::size_t>{0, 2, none});
}

TEST_CASE("interface_diff: a name on a new index, or an index under a new name, is another interface",
          "[interface_diff]") {
  const std::vector<interface_info> current = {itf("lo", 1), itf("veth0", 5), itf("veth1", 6)};
  const std::vector<interface_info> next = {itf("lo", 1), itf("veth0", 8), itf("vethX", 6)};
  const interface_diff d = racket::detail::diff_interfaces(current, next);
  CHECK(d.removed == std::vector<std::size_t>{1, 2});
  CHECK(d.previous == std::vector<std::size_t>{0, none, none});
}

TEST_CASE("interface_diff: a reordered selection keeps every interface", "[interface_diff]") {
  const std::vector<interface_info> current = {itf("eth0", 2), itf("lo", 1)};
  const std::vector<interface_info> next = {itf("lo", 1), itf("eth0", 2)};
  const interface_diff d = racket::detail::diff_interfaces(current, next);
  CHECK(d.removed.empty());
  CHECK(d.previous == std::vector<std::size_t>{1, 0});
  CHECK(racket::detail::diff_interfaces({}, next).previous == std::vector<std::size_t>{none, none});
  CHECK(racket::detail::diff_interfaces(current, {}).removed == std::vector<std::size_t>{0, 1});
}

TEST_CASE("interface_diff: an interface became usable when it could not carry the family before and now can",
          "[interface_diff]") {
  const interface_info down = itf("eth0", 2, false);
  const interface_info up = itf("eth0", 2);
  const interface_info up_without_v4 = itf("eth0", 2, true, false);
  CHECK(racket::detail::became_usable(down, up, address_family::v4));
  CHECK(racket::detail::became_usable(up_without_v4, up, address_family::v4));
  CHECK_FALSE(racket::detail::became_usable(up, up, address_family::v4));     // was usable already
  CHECK_FALSE(racket::detail::became_usable(down, down, address_family::v4));  // still is not
  CHECK_FALSE(racket::detail::became_usable(up, down, address_family::v4));    // went down
  CHECK(racket::detail::became_usable(down, up, address_family::v6));
}
