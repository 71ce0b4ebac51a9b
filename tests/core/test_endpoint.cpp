// SPDX-License-Identifier: MIT
// endpoint: text form, hashing, and the request group snapshot requests go to.
#include "racket/endpoint.hpp"

#include "catch.hpp"

#include "racket/pool.hpp"

#include <asio/version.hpp>

#include <string>
#include <vector>

using racket::endpoint;
using racket::request_endpoint;

namespace {
endpoint ep(const char* group, std::uint16_t port) { return endpoint{asio::ip::make_address(group), port}; }

// Whether `a` lies in the pool's prefix.
bool in_pool(const racket::multicast_pool& pool, const asio::ip::address& a) {
  if (a.is_v4() != pool.base().is_v4()) return false;
  const unsigned bits = a.is_v4() ? 32 : 128;
  std::vector<unsigned char> ab, bb;
  if (a.is_v4()) {
    for (auto c : a.to_v4().to_bytes()) ab.push_back(c);
    for (auto c : pool.base().to_v4().to_bytes()) bb.push_back(c);
  } else {
    for (auto c : a.to_v6().to_bytes()) ab.push_back(c);
    for (auto c : pool.base().to_v6().to_bytes()) bb.push_back(c);
  }
  for (unsigned i = 0; i < pool.prefix_length() && i < bits; ++i) {
    const unsigned byte = i / 8, bit = 7 - i % 8;
    if (((ab[byte] >> bit) & 1) != ((bb[byte] >> bit) & 1)) return false;
  }
  return true;
}
}  // namespace

TEST_CASE("to_string: address:port, an IPv6 group in brackets", "[endpoint]") {
  CHECK(ep("239.255.1.2", 19090).to_string() == "239.255.1.2:19090");
  CHECK(ep("224.0.0.1", 0).to_string() == "224.0.0.1:0");
  CHECK(ep("255.255.255.255", 65535).to_string() == "255.255.255.255:65535");
  CHECK(ep("ff15::1", 19090).to_string() == "[ff15::1]:19090");
  CHECK(ep("ff15:1234:5678:9abc:def0:1234:5678:9abc", 65535).to_string() ==
        "[ff15:1234:5678:9abc:def0:1234:5678:9abc]:65535");
  CHECK(endpoint{}.to_string() == "0.0.0.0:0");
}

TEST_CASE("request_endpoint flips the lowest address bit and keeps the port", "[endpoint]") {
  CHECK(request_endpoint(ep("239.255.4.6", 19090)) == ep("239.255.4.7", 19090));
  CHECK(request_endpoint(ep("239.255.4.7", 19091)) == ep("239.255.4.6", 19091));
  CHECK(request_endpoint(ep("ff15::a", 19090)) == ep("ff15::b", 19090));
  CHECK(request_endpoint(ep("ff15::1:ff", 7)) == ep("ff15::1:fe", 7));
  CHECK(request_endpoint(ep("239.255.4.6", 19090)).to_string() == "239.255.4.7:19090");
}

TEST_CASE("the request group is another group of the same pool, and flipping twice is the identity",
          "[endpoint][pool]") {
  // The narrowest pools: one host bit.
  const racket::multicast_pool v4{"239.255.9.0/31", "19090-19091"};
  const racket::multicast_pool v6{"ff15::100/127", "19090"};
  for (const auto* pool : {&v4, &v6}) {
    for (int i = 0; i < 50; ++i) {
      const endpoint data = pool->endpoint_for("stream-" + std::to_string(i));
      const endpoint req = request_endpoint(data);
      CHECK(req.group != data.group);
      CHECK(req.port == data.port);
      CHECK(request_endpoint(req) == data);
      CHECK(in_pool(*pool, data.group));
      CHECK(in_pool(*pool, req.group));
    }
  }
}

TEST_CASE("endpoint.hpp's asio is the release the configure step reported", "[endpoint]") {
  INFO("ASIO_VERSION " << ASIO_VERSION);
#ifdef RACKET_TEST_ASIO_VERSION
  // CI builds some configurations against another asio than the system's: this checks that the
  // configure log's "racket: asio X.Y.Z" names the headers really compiled in.
  CHECK(ASIO_VERSION == RACKET_TEST_ASIO_VERSION);
#else
  WARN("the configure step could not tell the asio version: nothing to compare");
#endif
  CHECK(ASIO_VERSION >= 102200);  // RACKET_ASIO_MIN_VERSION, 1.22
}
