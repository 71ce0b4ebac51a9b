// SPDX-License-Identifier: MIT
// detail::large_probes: which large message's last fragment goes again, and when.
#include "racket/detail/publisher/large_probes.hpp"

#include "catch.hpp"
#include "room_fakes.hpp"

#include <cstdint>
#include <utility>
#include <vector>

using namespace room_test;

namespace {

// What the large probes read of a stream.
struct stream {
  std::uint64_t next_sequence = 1;
};

using probes = racket::detail::large_probes<stream, time_point>;

}  // namespace

TEST_CASE("large_probes: the newest message is probed 3 times, 1, 4 and 13 delays after its last fragment",
          "[publisher][large_probes]") {
  probes p{10ms};
  stream s;
  s.next_sequence = 8;  // message 7 is the stream's newest
  std::vector<std::pair<stream*, std::uint64_t>> out;
  const auto probe = [&](stream& x, std::uint64_t sequence) {
    out.emplace_back(&x, sequence);
    return true;
  };
  CHECK(p.next_due() == time_point::max());
  CHECK(p.start(s, 7, at(0ms)));
  CHECK(p.next_due() == at(10ms));
  p.fire(at(9ms), probe);
  CHECK(out.empty());
  p.fire(at(10ms), probe);
  CHECK(out == std::vector<std::pair<stream*, std::uint64_t>>{{&s, 7}});
  CHECK(p.next_due() == at(40ms));  // then 3 times the delay
  p.fire(at(40ms), probe);
  CHECK(p.next_due() == at(130ms));  // then 9 times
  p.fire(at(130ms), probe);
  CHECK(out.size() == 3);
  CHECK(p.empty());  // the third was the last
  CHECK(p.next_due() == time_point::max());
}

TEST_CASE("large_probes: none for an older message, none once a newer one went, one per stream, none when off",
          "[publisher][large_probes]") {
  stream s;
  s.next_sequence = 8;
  int probed = 0;
  const auto probe = [&](stream&, std::uint64_t) {
    ++probed;
    return true;
  };
  probes p{10ms};
  CHECK_FALSE(p.start(s, 6, at(0ms)));  // not the stream's newest
  CHECK(p.empty());

  CHECK(p.start(s, 7, at(0ms)));
  CHECK(p.start(s, 7, at(5ms)));  // starts over, in place
  CHECK(p.next_due() == at(15ms));
  s.next_sequence = 9;  // something newer went out
  p.fire(at(15ms), probe);
  CHECK(probed == 0);
  CHECK(p.empty());

  probes off{0ms};
  CHECK_FALSE(off.start(s, 8, at(0ms)));
  CHECK(off.empty());
}

TEST_CASE("large_probes: a message held no more ends its probes", "[publisher][large_probes]") {
  probes p{10ms};
  stream a;
  stream b;
  a.next_sequence = 3;
  b.next_sequence = 5;
  CHECK(p.start(a, 2, at(0ms)));
  CHECK(p.start(b, 4, at(0ms)));
  std::vector<stream*> probed;
  p.fire(at(10ms), [&](stream& x, std::uint64_t) {
    probed.push_back(&x);
    return &x == &b;  // a's message is gone
  });
  CHECK(probed.size() == 2);
  CHECK(p.next_due() == at(40ms));  // b's only
  probed.clear();
  p.fire(at(40ms), [&](stream& x, std::uint64_t) {
    probed.push_back(&x);
    return true;
  });
  CHECK(probed == std::vector<stream*>{&b});
  p.clear();
  CHECK(p.empty());
}
