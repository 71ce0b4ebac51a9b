// SPDX-License-Identifier: MIT
// stream_registry alone: streams made once, found by key or by name and endpoint, a name at
// another endpoint refused, and the transport's refusal passed on.
#include "racket/detail/publisher/stream_registry.hpp"

#include "catch.hpp"

#include <asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace {

struct fake_stream {
  std::string name;
  racket::endpoint ep;
  std::uint32_t ordinal = 0;
};

racket::endpoint ep(const char* group) { return {asio::ip::make_address(group), 19090}; }

}  // namespace

TEST_CASE("stream_registry: made once on first use, found again by key, name or lookup", "[stream_registry]") {
  racket::detail::stream_registry<fake_stream> reg;
  std::vector<racket::address_family> opened;
  auto open = [&](racket::address_family f, std::error_code&) { opened.push_back(f); };
  std::error_code ec;
  fake_stream* a = reg.find_or_add(7, "a", ep("239.255.0.1"), ec, open);
  REQUIRE(a != nullptr);
  CHECK_FALSE(ec);
  CHECK(a->name == "a");
  CHECK(a->ordinal == 0);
  fake_stream* b = reg.find_or_add(0, "b", ep("ff15::1"), ec, open);
  REQUIRE(b != nullptr);
  CHECK(b->ordinal == 1);
  CHECK(opened == std::vector{racket::address_family::v4, racket::address_family::v6});
  CHECK(reg.size() == 2);
  // Again: by the last one's name (no key), by a key after a lookup, by lookup alone.
  CHECK(reg.find_or_add(0, "b", ep("ff15::1"), ec, open) == b);
  CHECK(reg.find_or_add(7, "a", ep("239.255.0.1"), ec, open) == a);
  CHECK(reg.find_or_add(7, "a", ep("239.255.0.1"), ec, open) == a);
  CHECK(reg.find_or_add(0, "b", ep("ff15::1"), ec, open) == b);
  CHECK(opened.size() == 2);  // nothing opened again
  CHECK(reg.find("a") == a);
  CHECK(reg.find("zz") == nullptr);
  int n = 0;
  reg.for_each([&](fake_stream&) { ++n; });
  CHECK(n == 2);
}

TEST_CASE("stream_registry: a name at another endpoint, and a family the transport refuses", "[stream_registry]") {
  racket::detail::stream_registry<fake_stream> reg;
  std::error_code ec;
  auto ok = [](racket::address_family, std::error_code&) {};
  REQUIRE(reg.find_or_add(0, "a", ep("239.255.0.1"), ec, ok) != nullptr);
  (void)reg.find_or_add(0, "b", ep("239.255.0.2"), ec, ok);  // the last one is now b
  CHECK(reg.find_or_add(0, "a", ep("ff15::1"), ec, ok) == nullptr);
  CHECK(ec == racket::errc::family_mismatch);
  ec.clear();
  auto refuse = [](racket::address_family, std::error_code& e) { e = make_error_code(racket::errc::no_interfaces); };
  CHECK(reg.find_or_add(0, "c", ep("ff15::2"), ec, refuse) == nullptr);
  CHECK(ec == racket::errc::no_interfaces);
  CHECK(reg.size() == 2);  // nothing made
  CHECK(reg.find("c") == nullptr);
}
