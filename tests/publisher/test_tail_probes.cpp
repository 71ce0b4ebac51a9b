// SPDX-License-Identifier: MIT
// detail::tail_probes: a quiet stream's newest record, sent again three times.
#include "racket/detail/publisher/tail_probes.hpp"

#include "catch.hpp"
#include "room_fakes.hpp"

#include <string>
#include <vector>

using namespace room_test;

namespace {

// What the tail probes read of a stream.
struct stream {
  std::uint64_t next_sequence = 1;
  racket::detail::tail_probe<time_point> probe;
  racket::detail::publisher_stream_counters counters;
};

using probes = racket::detail::tail_probes<stream, no_clock>;

struct sent {
  stream* s;
  std::uint8_t flags;
  std::uint64_t sequence;
  std::string subject;
  std::string payload;
};

// The record a stream sends: `sequence` is the stream's next.
racket::wire::record record(stream& s, std::string_view subject, std::string_view payload, std::uint8_t flags = 0) {
  racket::wire::record r;
  r.flags = flags;
  r.interval_ms = 100;
  r.sequence = s.next_sequence++;
  r.timestamp_ns = 9;
  r.subject = subject;
  r.payload = bytes_of(payload);
  return r;
}

}  // namespace

TEST_CASE("tail_probes: a quiet stream's newest record goes again 3 times, 1, 4 and 13 delays after",
          "[publisher][tail_probes]") {
  probes p{10ms};
  stream s;
  std::vector<sent> out;
  auto send = [&](stream& x, const racket::wire::record& r) {
    out.push_back({&x, r.flags, r.sequence, std::string(r.subject), string_of(r.payload)});
  };

  std::string subject = "plant.temp";
  std::string payload = "21.5";
  p.note(s, record(s, "plant.old", "1"));
  p.note(s, record(s, subject, payload));
  CHECK(p.restart(s, at(0ms)));
  subject = "overwritten";  // the probe holds its own copy now
  payload = "xx";
  CHECK_FALSE(p.restart(s, at(1ms)));  // nothing new since

  CHECK(p.fire(at(9ms), send) == at(10ms));
  CHECK(out.empty());
  CHECK(p.fire(at(10ms), send) == at(40ms));  // then 3 times the delay
  REQUIRE(out.size() == 1);
  CHECK(out[0].flags == racket::wire::flags::resend);
  CHECK(out[0].sequence == 2);
  CHECK(out[0].subject == "plant.temp");
  CHECK(out[0].payload == "21.5");
  CHECK(p.fire(at(39ms), send) == at(40ms));
  CHECK(p.fire(at(40ms), send) == at(130ms));  // then 9 times
  CHECK(p.fire(at(130ms), send) == time_point::max());  // the third was the last
  CHECK(out.size() == 3);
  CHECK(s.counters.tail_probes.load() == 3);
  CHECK(p.fire(at(10s), send) == time_point::max());
  CHECK(out.size() == 3);
}

TEST_CASE("tail_probes: resends are not noted, no probe goes once a newer number went out, a new record starts over",
          "[publisher][tail_probes]") {
  probes p{10ms};
  stream s;
  int sends = 0;
  auto send = [&](stream&, const racket::wire::record&) { ++sends; };
  auto first = record(s, "a.b", "1");
  p.note(s, first);
  CHECK(p.restart(s, at(0ms)));
  auto again = first;  // a periodic resend: its own old number
  again.flags = racket::wire::flags::resend;
  p.note(s, again);
  CHECK_FALSE(p.restart(s, at(1ms)));  // not the newest record

  ++s.next_sequence;  // a number taken after the probe's, by a record the probes did not see
  CHECK(p.fire(at(10ms), send) == at(40ms));
  CHECK(sends == 0);  // the probe is not the newest: not sent, but it counts as one of three

  p.note(s, record(s, "a.d", "2"));
  CHECK(p.restart(s, at(20ms)));  // starts over: three more from 30 ms
  CHECK(p.fire(at(30ms), send) == at(60ms));
  CHECK(sends == 1);
}

TEST_CASE("tail_probes: a tombstone probes as a tombstone, and a zero delay turns probes off", "[publisher][tail_probes]") {
  stream s;
  std::vector<std::uint8_t> flags;
  auto send = [&](stream&, const racket::wire::record& r) { flags.push_back(r.flags); };
  {
    probes p{10ms};
    p.note(s, record(s, "a.b", "", racket::wire::flags::tombstone));
    CHECK(p.restart(s, at(0ms)));
    p.fire(at(10ms), send);
    CHECK(flags == std::vector<std::uint8_t>{racket::wire::flags::tombstone | racket::wire::flags::resend});
  }
  {
    stream q;
    probes off{0ms};
    off.note(q, record(q, "a.b", "1"));
    CHECK_FALSE(off.restart(q, at(0ms)));
    CHECK(off.fire(at(1s), send) == time_point::max());
  }
}
