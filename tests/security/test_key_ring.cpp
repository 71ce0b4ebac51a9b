// SPDX-License-Identifier: MIT
#include "racket/security/key_ring.hpp"

// The key ring: sending and accepted keys per stream, the steps of a rotation, invalid
// stream names refused with the name in the message. Needs no libsodium.

#include <string>
#include <system_error>

#include "catch.hpp"

namespace {
racket::stream_key key_of(char fill) { return racket::stream_key::parse(std::string(64, fill)); }
}  // namespace

TEST_CASE("key_ring: add sends with and accepts a key, accept only accepts, a stream not named is not keyed") {
  racket::key_ring ring;
  CHECK(ring.empty());
  ring.add("plant", key_of('1')).accept("office", key_of('2'));
  CHECK_FALSE(ring.empty());
  const auto* plant = ring.find("plant");
  REQUIRE(plant != nullptr);
  REQUIRE(plant->sending.has_value());
  CHECK(*plant->sending == key_of('1'));
  CHECK(plant->accepted.size() == 1);
  const auto* office = ring.find("office");
  REQUIRE(office != nullptr);
  CHECK_FALSE(office->sending.has_value());
  CHECK(office->accepted.size() == 1);
  CHECK(ring.find("lobby") == nullptr);
  int n = 0;
  ring.for_each([&](std::string_view, const racket::key_ring::stream_keys&) { ++n; });
  CHECK(n == 2);
}

TEST_CASE("key_ring: a rotation's three steps") {
  racket::key_ring ring;
  ring.add("plant", key_of('1'));
  ring.accept("plant", key_of('2'));  // 1: everyone accepts the new key
  CHECK(ring.find("plant")->accepted.size() == 2);
  CHECK(*ring.find("plant")->sending == key_of('1'));
  ring.add("plant", key_of('2'));  // 2: senders switch; the old key stays accepted
  CHECK(*ring.find("plant")->sending == key_of('2'));
  CHECK(ring.find("plant")->accepted.size() == 2);
  ring.remove("plant", key_of('1'));  // 3: the old key goes
  CHECK(ring.find("plant")->accepted.size() == 1);
  CHECK(ring.find("plant")->accepted.front() == key_of('2'));
  ring.remove("plant", key_of('2'));
  REQUIRE(ring.find("plant") != nullptr);  // still keyed: nothing of it is accepted now
  CHECK_FALSE(ring.find("plant")->sending.has_value());
  ring.forget("plant");
  CHECK(ring.empty());
}

TEST_CASE("key_ring: invalid stream names are refused, the name in the message") {
  racket::key_ring ring;
  std::error_code ec;
  ring.add("", key_of('1'), ec);
  CHECK(ec == racket::errc::invalid_stream_name);
  ring.accept(std::string(256, 'x'), key_of('1'), ec);
  CHECK(ec == racket::errc::invalid_stream_name);
  CHECK(ring.empty());
  try {
    ring.add(std::string("a\0b", 3), key_of('1'));
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == racket::errc::invalid_stream_name);
    CHECK(std::string(e.what()).find("stream name 'a") != std::string::npos);
  }
}
