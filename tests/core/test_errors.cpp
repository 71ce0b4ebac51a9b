// SPDX-License-Identifier: MIT
// Clear errors: every public function given bad input returns a specific racket::errc, and its
// throwing overload throws std::system_error whose what() names the bad value (escaped, so a
// NUL or control byte neither cuts nor garbles it). Network-side errors (unknown interface,
// port in use, payload over the maximum) are checked in tests/net/test_hostile.cpp.
#include "racket/error.hpp"

#include "catch.hpp"

#include "racket/pool.hpp"
#include "racket/stream.hpp"
#include "racket/subject.hpp"

#include <string>
#include <string_view>
#include <system_error>

namespace {

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// Runs f, which must throw std::system_error with `code`; returns its what().
template <class F>
std::string what_of(F&& f, std::error_code code) {
  try {
    f();
  } catch (const std::system_error& e) {
    CHECK(e.code() == code);
    return e.what();
  }
  FAIL("no std::system_error thrown");
  return {};
}

}  // namespace

TEST_CASE("every racket::errc has its own message in the racket category", "[errors]") {
  for (int v = static_cast<int>(racket::errc::invalid_pool_address); v <= static_cast<int>(racket::errc::no_sending_key); ++v) {
    const std::error_code ec = racket::make_error_code(static_cast<racket::errc>(v));
    CHECK(std::string(ec.category().name()) == "racket");
    CHECK(ec.message() != "unknown racket error");
    CHECK_FALSE(ec.message().empty());
  }
}

TEST_CASE("bad pool text: specific code, what() names the text", "[errors]") {
  struct bad {
    const char* prefix;
    const char* ports;
    racket::errc code;
    const char* shown;
  };
  const bad cases[] = {
      {"239.255.0.0", "19090", racket::errc::invalid_pool_address, "'239.255.0.0'"},
      {"10.0.0.0/8", "19090", racket::errc::pool_not_multicast, "'10.0.0.0/8'"},
      {"239.255.0.1/32", "19090", racket::errc::pool_no_host_bits, "'239.255.0.1/32'"},
      {"239.255.0.1/16", "19090", racket::errc::pool_host_bits_set, "'239.255.0.1/16'"},
      {"ff15::%eth0/16", "19090", racket::errc::invalid_pool_address, "'ff15::%eth0/16'"},
      {"239.255.0.0/16", "0-10", racket::errc::invalid_port_range, "port range '0-10'"},
      {"239.255.0.0/16", "19097-19090", racket::errc::invalid_port_range, "'19097-19090'"},
      {"239.255.0.0/16", "70000", racket::errc::invalid_port_range, "'70000'"},
  };
  for (const bad& b : cases) {
    INFO(b.prefix << " " << b.ports);
    std::error_code ec;
    (void)racket::multicast_pool::parse(b.prefix, b.ports, ec);
    CHECK(ec == b.code);
    const std::string what = what_of([&] { racket::multicast_pool p(b.prefix, b.ports); }, b.code);
    INFO(what);
    CHECK(contains(what, b.shown));
  }
  // A NUL is shown escaped, not cut off.
  const std::string what = what_of([] { racket::multicast_pool p(std::string_view("239.0.0.0\0/8", 12), "1"); },
                                   racket::errc::invalid_pool_address);
  CHECK(contains(what, "\\x00/8"));
}

TEST_CASE("bad stream name: specific code, what() names it", "[errors]") {
  const racket::multicast_pool pool;
  std::error_code ec;
  (void)pool.endpoint_for("", ec);
  CHECK(ec == racket::errc::invalid_stream_name);
  CHECK(contains(what_of([&] { (void)pool.endpoint_for(std::string(256, 'n')); }, racket::errc::invalid_stream_name),
                 "nnnn"));
  CHECK(contains(what_of([&] { racket::stream<std::string> s(std::string_view("a\0b", 3), pool); },
                         racket::errc::invalid_stream_name),
                 "'a\\x00b'"));
  auto s = racket::stream<std::string>::make("", pool, ec);
  CHECK(ec == racket::errc::invalid_stream_name);
  CHECK_FALSE(s.valid());
}

TEST_CASE("bad subject and filter: specific code, what() names them", "[errors]") {
  CHECK(contains(what_of([] { racket::subject s("plant..temp"); }, racket::errc::invalid_subject), "'plant..temp'"));
  CHECK(contains(what_of([] { racket::subject s("plant.*"); }, racket::errc::invalid_subject), "'plant.*'"));
  CHECK(contains(what_of([] { racket::subject s(std::string_view("a\0b", 3)); }, racket::errc::invalid_subject),
                 "'a\\x00b'"));
  CHECK(contains(what_of([] { racket::subject_filter f("pl*nt.x"); }, racket::errc::invalid_filter), "'pl*nt.x'"));
  CHECK(contains(what_of([] { racket::subject_filter f(""); }, racket::errc::invalid_filter), "''"));
  // Long input is cut in the message, with its size given.
  const std::string long_subject(300, 's');
  CHECK(contains(what_of([&] { racket::subject s(long_subject); }, racket::errc::invalid_subject), "(300 bytes)"));
  std::error_code ec;
  (void)racket::subject::parse("", ec);
  CHECK(ec == racket::errc::invalid_subject);
  (void)racket::subject_filter::parse("a.**", ec);
  CHECK(ec == racket::errc::invalid_filter);
}
