// SPDX-License-Identifier: MIT
#include "racket/stream_name.hpp"

#include "catch.hpp"

#include <string>
#include <string_view>

TEST_CASE("stream names: 1..255 bytes, no NUL, anything else", "[stream_name]") {
  using racket::detail::is_valid_stream_name;
  CHECK(is_valid_stream_name("s"));
  CHECK(is_valid_stream_name("any thing.*"));
  CHECK(is_valid_stream_name("usine.caf\xc3\xa9"));
  CHECK(is_valid_stream_name(std::string(255, 's')));
  CHECK_FALSE(is_valid_stream_name(std::string(256, 's')));
  CHECK_FALSE(is_valid_stream_name(""));
  CHECK_FALSE(is_valid_stream_name(std::string_view("a\0", 2)));
  CHECK_FALSE(is_valid_stream_name(std::string_view("\0", 1)));
}

TEST_CASE("validate_stream_name gives invalid_stream_name, or nothing", "[stream_name]") {
  CHECK_FALSE(racket::validate_stream_name("plant"));
  CHECK(racket::validate_stream_name("") == racket::errc::invalid_stream_name);
  CHECK(racket::validate_stream_name(std::string(256, 'n')) == racket::errc::invalid_stream_name);
  CHECK(racket::validate_stream_name(std::string_view("a\0b", 3)) == racket::errc::invalid_stream_name);
  CHECK(racket::max_stream_name_size == 255);
}
