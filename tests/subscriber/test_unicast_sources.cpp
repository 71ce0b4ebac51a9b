// SPDX-License-Identifier: MIT
// unicast_sources: where a subscriber's requests go back by unicast, per stream and
// publisher, bounded; and the first look at a datagram heard on the unicast port.
#include "racket/detail/subscriber/unicast_sources.hpp"

#include "catch.hpp"

#include "racket/wire.hpp"

#include <algorithm>
#include <string>
#include <vector>

using racket::endpoint;
using racket::detail::unicast_sources;

namespace {
endpoint at(const char* a, std::uint16_t port) { return {asio::ip::make_address(a), port}; }

std::vector<endpoint> sources_of(const unicast_sources& t, std::string_view stream) {
  std::vector<endpoint> out;
  t.for_each(stream, [&](const endpoint& e) { out.push_back(e); });
  return out;
}
}  // namespace

TEST_CASE("unicast_sources: news only when a publisher is new or moved", "[unicast]") {
  unicast_sources t;
  CHECK(t.note("s", 1, at("10.0.0.1", 5000)));
  CHECK_FALSE(t.note("s", 1, at("10.0.0.1", 5000)));
  CHECK(t.note("s", 2, at("10.0.0.2", 5000)));
  CHECK(t.note("s", 1, at("10.0.0.3", 5000)));  // moved
  CHECK(sources_of(t, "s") == std::vector<endpoint>{at("10.0.0.3", 5000), at("10.0.0.2", 5000)});
  CHECK(sources_of(t, "other").empty());
  t.drop("s");
  CHECK(sources_of(t, "s").empty());
}

TEST_CASE("unicast_sources: one address shared by two publishers is asked once", "[unicast]") {
  unicast_sources t;
  t.note("s", 1, at("10.0.0.1", 5000));
  t.note("s", 2, at("10.0.0.1", 5000));
  CHECK(sources_of(t, "s").size() == 1);
}

TEST_CASE("unicast_sources: a full stream replaces its least recently heard source", "[unicast]") {
  unicast_sources t;
  for (std::uint64_t p = 1; p <= unicast_sources::max_per_stream; ++p)
    t.note("s", p, at("10.0.0.1", static_cast<std::uint16_t>(p)));
  t.note("s", 1, at("10.0.0.1", 1));  // heard again: publisher 2 is now the oldest
  CHECK(t.replaced() == 0);
  CHECK(t.note("s", 999, at("10.0.0.9", 9)));
  CHECK(t.replaced() == 1);
  const auto v = sources_of(t, "s");
  CHECK(v.size() == unicast_sources::max_per_stream);
  CHECK(std::find(v.begin(), v.end(), at("10.0.0.1", 2)) == v.end());
  CHECK(std::find(v.begin(), v.end(), at("10.0.0.1", 1)) != v.end());
}

TEST_CASE("unicast_sources: peek reads a data datagram's stream and publisher, refuses the rest", "[unicast]") {
  std::vector<std::byte> buf(racket::wire::default_max_datagram_size);
  racket::wire::datagram_writer w{buf};
  w.begin(0x1122334455667788ull, "plant");
  racket::wire::record r;
  r.sequence = 1;
  r.interval_ms = 1000;
  r.timestamp_ns = 1;
  r.subject = "a.b";
  REQUIRE(w.append(r));
  const auto d = w.finish();
  std::string_view stream;
  std::uint64_t publisher = 0;
  REQUIRE(unicast_sources::peek(d, stream, publisher));
  CHECK(stream == "plant");
  CHECK(publisher == 0x1122334455667788ull);
  CHECK_FALSE(unicast_sources::peek(d.first(17), stream, publisher));
  std::vector<std::byte> other(d.begin(), d.end());
  other[5] = std::byte{4};  // sealed: looked at once opened
  CHECK_FALSE(unicast_sources::peek(other, stream, publisher));
  other[5] = std::byte{1};
  other[16] = std::byte{200};  // a name longer than the datagram
  CHECK_FALSE(unicast_sources::peek(other, stream, publisher));
  CHECK_FALSE(unicast_sources::for_each_announced(d, 65507, [](std::string_view, std::uint64_t) {}));
}
