// SPDX-License-Identifier: MIT
#include "racket/security/stream_key.hpp"

#include <array>
#include <cctype>
#include <cstddef>
#include <string>
#include <system_error>

#include "catch.hpp"

namespace {

const std::string hex64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

std::string what_of(std::string_view text) {
  try {
    (void)racket::stream_key::parse(text);
  } catch (const std::system_error& e) {
    CHECK(e.code() == racket::errc::invalid_key);
    return e.what();
  }
  FAIL("no std::system_error thrown");
  return {};
}

}  // namespace

TEST_CASE("stream_key: 64 hex digits parse to the bytes they spell, and print back") {
  const auto k = racket::stream_key::parse(hex64);
  for (std::size_t i = 0; i < racket::stream_key::size; ++i) REQUIRE(std::to_integer<std::size_t>(k.bytes()[i]) == i);
  CHECK(k.to_hex() == hex64);
}

TEST_CASE("stream_key: upper case and surrounding whitespace (a file's newline) are accepted") {
  std::string upper = hex64;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::error_code ec;
  const auto k = racket::stream_key::parse("  " + upper + "\n", ec);
  CHECK_FALSE(ec);
  CHECK(k == racket::stream_key::parse(hex64));
}

TEST_CASE("stream_key: wrong lengths and non-hex characters are invalid_key, and the message hides the text") {
  std::error_code ec;
  for (const std::string& bad : {std::string{}, hex64.substr(0, 63), hex64 + "0", hex64.substr(0, 62) + "0g",
                                  hex64.substr(0, 31) + " " + hex64.substr(32), std::string(64, 'x')}) {
    (void)racket::stream_key::parse(bad, ec);
    CHECK(ec == racket::errc::invalid_key);
  }
  const std::string short_key = hex64.substr(0, 60);
  const std::string msg = what_of(short_key);
  CHECK(msg.find("60 characters") != std::string::npos);
  CHECK(msg.find(short_key.substr(0, 8)) == std::string::npos);
  const std::string with_g = hex64.substr(0, 10) + "g" + hex64.substr(11);
  const std::string msg2 = what_of(with_g);
  CHECK(msg2.find("character 11") != std::string::npos);
  CHECK(msg2.find("0001020304") == std::string::npos);
}

TEST_CASE("stream_key: from_bytes and equality") {
  std::array<std::byte, racket::stream_key::size> raw{};
  raw[31] = std::byte{1};
  const auto a = racket::stream_key::from_bytes(raw);
  CHECK(a.to_hex() == std::string(62, '0') + "01");
  raw[31] = std::byte{2};
  const auto b = racket::stream_key::from_bytes(raw);
  CHECK_FALSE(a == b);
  auto c = a;
  CHECK(c == a);
  c = b;
  CHECK(c == b);
}
